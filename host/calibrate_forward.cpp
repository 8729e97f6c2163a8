// SPDX-License-Identifier: Apache-2.0
#include "host/calibrate_forward.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "core/simd/x86.hpp"

namespace nnproof {
namespace {

// One linear op as its rows: row a reads input features col[t] with weights w[t] for t in
// [start[a], start[a + 1]) (zeros left out). Convolutions become their taps, so every op is one walk.
template <class W>
struct Rows {
  std::vector<std::size_t> start{0};
  std::vector<std::uint32_t> col;
  std::vector<W> w;
  long double max_abs_sum = 0;  // max over rows of sum |w|: the op's gain on max |x|

  std::size_t rows() const { return start.size() - 1; }
  void add(std::size_t j, W weight) {
    if (weight == 0) return;
    col.push_back(static_cast<std::uint32_t>(j));
    w.push_back(weight);
  }
  void end_row() {
    long double sum = 0;
    for (std::size_t t = start.back(); t < w.size(); ++t) sum += std::fabs(static_cast<long double>(w[t]));
    max_abs_sum = std::max(max_abs_sum, sum);
    start.push_back(w.size());
  }
};

Rows<std::int64_t> rows_of(const LinearOp& op) {
  Rows<std::int64_t> r;
  for (std::size_t a = 0; a < op.rows; ++a) {
    for_each_entry(op, a, [&](std::size_t j, std::int64_t w) { r.add(j, w); });
    r.end_row();
  }
  return r;
}

Rows<double> rows_of(const FloatOp& op) {
  Rows<double> r;
  for (std::size_t a = 0; a < op.rows; ++a) {
    if (op.kind == LinearOp::Kind::dense)
      for (std::size_t j = 0; j < op.cols; ++j) r.add(j, op.weights[a * op.cols + j] * op.factor);
    else
      for_each_tap(op.conv, a, [&](std::size_t j, std::size_t t) { r.add(j, op.weights[t] * op.factor); });
    r.end_row();
  }
  return r;
}

Rows<double> rows_of(const FloatLayer& l) {
  Rows<double> r;
  for (std::size_t a = 0; a < l.rows; ++a) {
    for (std::size_t j = 0; j < l.cols; ++j) r.add(j, l.weights[a * l.cols + j]);
    r.end_row();
  }
  return r;
}

// y += w x along the batch: the one inner loop of both passes (vectorized, one clone per ISA).
NNP_CLONES_V4_V3 void axpy_f64(double* y, const double* x, double w, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] += w * x[i];
}
NNP_CLONES_V4_V3 void axpy_i64(std::int64_t* y, const std::int64_t* x, std::int64_t w, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] += w * x[i];
}

inline void axpy(double* y, const double* x, double w, std::size_t n) { axpy_f64(y, x, w, n); }
inline void axpy(std::int64_t* y, const std::int64_t* x, std::int64_t w, std::size_t n) { axpy_i64(y, x, w, n); }

// y = op x for feature-major tables, rows in parallel.
template <class T>
std::vector<T> apply(const Rows<T>& r, const std::vector<T>& x, std::size_t batch) {
  std::vector<T> y(r.rows() * batch, T{0});
#pragma omp parallel for schedule(static)
  for (std::ptrdiff_t a = 0; a < static_cast<std::ptrdiff_t>(r.rows()); ++a) {
    const auto row = static_cast<std::size_t>(a);
    T* ya = y.data() + row * batch;
    for (std::size_t t = r.start[row]; t < r.start[row + 1]; ++t)
      axpy(ya, x.data() + static_cast<std::size_t>(r.col[t]) * batch, r.w[t], batch);
  }
  return y;
}

template <class T>
long double max_abs(const std::vector<T>& v) {
  T m = 0;
  for (T x : v) m = std::max(m, x < 0 ? -x : x);
  return static_cast<long double>(m);
}

constexpr long double kDoubleExact = 0x1p53L;  // integers below it add and multiply exactly in double
constexpr long double kLimit = 0x1p62L;        // int64 tables stay below it

// One exact op on an int64 table whose entries are at most max_in in magnitude: in double while
// every partial sum stays below 2^53, else in int64; nothing when a sum could reach 2^62.
std::optional<std::vector<std::int64_t>> exact_op(const Rows<std::int64_t>& r, const std::vector<std::int64_t>& x,
                                                  long double max_in, std::size_t batch) {
  const long double bound = r.max_abs_sum * max_in;
  if (bound >= kLimit) return std::nullopt;
  if (bound >= kDoubleExact) return apply(r, x, batch);
  Rows<double> rd;
  rd.start = r.start;
  rd.col = r.col;
  rd.w.assign(r.w.begin(), r.w.end());
  const std::vector<double> y = apply(rd, std::vector<double>(x.begin(), x.end()), batch);
  return std::vector<std::int64_t>(y.begin(), y.end());
}

}  // namespace

std::vector<std::int64_t> features_first(const std::vector<std::int64_t>& rows, std::size_t batch) {
  const std::size_t n = batch == 0 ? 0 : rows.size() / batch;
  std::vector<std::int64_t> out(rows.size());
  for (std::size_t k = 0; k < batch; ++k)
    for (std::size_t j = 0; j < n; ++j) out[j * batch + k] = rows[k * n + j];
  return out;
}

std::vector<double> float_outputs(const FloatModel& m, const NpyArray& x) {
  const std::size_t batch = x.shape.empty() ? 0 : x.shape[0], n0 = m.in_dim();
  std::vector<double> cur(n0 * batch);
  for (std::size_t k = 0; k < batch; ++k)
    for (std::size_t j = 0; j < n0; ++j)
      cur[j * batch + k] = x.is_integer() ? static_cast<double>(x.integers[k * n0 + j]) : x.reals[k * n0 + j];
  for (std::size_t i = 0; i < m.layers.size(); ++i) {
    const FloatLayer& l = m.layers[i];
    if (l.structured())
      for (const FloatOp& op : l.ops) cur = apply(rows_of(op), cur, batch);
    else
      cur = apply(rows_of(l), cur, batch);
    for (std::size_t a = 0; a < l.rows && !l.bias.empty(); ++a)
      for (std::size_t k = 0; k < batch; ++k) cur[a * batch + k] += l.bias[a];
    if (i + 1 < m.layers.size())
      for (double& v : cur) v *= v;
  }
  const std::size_t out = m.layers.back().rows;
  std::vector<double> rows(out * batch);
  for (std::size_t a = 0; a < out; ++a)
    for (std::size_t k = 0; k < batch; ++k) rows[k * out + a] = cur[a * batch + k];
  return rows;
}

std::optional<ExactOutputs> exact_forward_int64(const QuantizedModel& q, const std::vector<std::int64_t>& input,
                                                std::size_t batch) {
  std::vector<std::int64_t> cur = input;
  long double max_in = max_abs(cur);
  if (max_in >= kLimit) return std::nullopt;
  ExactOutputs out;
  out.observed_log2 = max_in == 0 ? -INFINITY : static_cast<double>(std::log2(max_in));
  for (std::size_t i = 0; i < q.layers.size(); ++i) {
    const QuantizedLayer& l = q.layers[i];
    const std::vector<LinearOp> dense =
        l.structured() ? std::vector<LinearOp>{} : std::vector<LinearOp>{LinearOp::dense(l.rows, l.cols, l.weights)};
    for (const LinearOp& op : l.structured() ? l.ops : dense) {
      auto y = exact_op(rows_of(op), cur, max_in, batch);
      if (!y) return std::nullopt;
      cur = std::move(*y);
      max_in = max_abs(cur);
    }
    i128 max_bias = 0;
    for (const i128 b : l.bias) max_bias = std::max(max_bias, b < 0 ? -b : b);
    if (max_in + static_cast<long double>(max_bias) >= kLimit) return std::nullopt;
    for (std::size_t a = 0; a < l.rows; ++a) {
      const auto b = static_cast<std::int64_t>(l.bias[a]);
      for (std::size_t k = 0; k < batch; ++k) cur[a * batch + k] += b;
    }
    max_in = max_abs(cur);
    const double z = max_in == 0 ? -INFINITY : static_cast<double>(std::log2(max_in));
    const bool last = i + 1 == q.layers.size();
    out.observed_log2 = std::max(out.observed_log2, last ? z : 2 * z);  // Y_i = Z_i^2
    if (last) break;
    if (max_in * max_in >= kLimit) return std::nullopt;
    for (std::int64_t& v : cur) v *= v;
    max_in *= max_in;
  }
  out.z = std::move(cur);
  return out;
}

}  // namespace nnproof
