// SPDX-License-Identifier: Apache-2.0
#include "host/calibrate_forward.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "host/calibrate_rows.hpp"

namespace nnproof {
namespace {

// The tables' loops (host/calibrate_rows.hpp).
using calibration::apply_parallel;
using calibration::apply_rows;
using calibration::kChunk;
using calibration::max_abs_f64;
using calibration::max_abs_i64;
using calibration::room;
using calibration::Rows;
using calibration::rows_of;
using calibration::square_f64;
using calibration::square_i64;
using calibration::to_f64;
using calibration::to_i64;

constexpr long double kDoubleExact = 0x1p53L;  // integers below it add and multiply exactly in double
constexpr long double kLimit = 0x1p62L;        // int64 tables stay below it

// Turns the table's values into doubles (exact: they are below 2^53 wherever this is called) or
// int64 (exact: doubles holding integers).
void to_real(CalibrationTable& t) {
  if (t.real) return;
  to_f64(t.i.data(), room(t.d, t.size), t.size);
  t.real = true;
}
void to_int(CalibrationTable& t) {
  if (!t.real) return;
  to_i64(t.d.data(), room(t.i, t.size), t.size);
  t.real = false;
}
long double max_abs(const CalibrationTable& t) {
  return t.real ? static_cast<long double>(max_abs_f64(t.d.data(), t.size))
                : static_cast<long double>(max_abs_i64(t.i.data(), t.size));
}

// An op of a pair, prepared once for every chunk: its rows, and their weights as doubles too.
struct ExactOp {
  Rows<std::int64_t> rows;
  std::vector<double> real_w;
};

struct ExactLayer {
  std::vector<ExactOp> ops;
  const std::vector<i128>* bias = nullptr;
};

std::vector<ExactLayer> prepare(const QuantizedModel& q) {
  std::vector<ExactLayer> layers(q.layers.size());
  for (std::size_t i = 0; i < q.layers.size(); ++i) {
    const QuantizedLayer& l = q.layers[i];
    const std::vector<LinearOp> dense =
        l.structured() ? std::vector<LinearOp>{} : std::vector<LinearOp>{LinearOp::dense(l.rows, l.cols, l.weights)};
    for (const LinearOp& op : l.structured() ? l.ops : dense) {
      ExactOp e{rows_of(op), {}};
      e.real_w.assign(e.rows.w.begin(), e.rows.w.end());
      layers[i].ops.push_back(std::move(e));
    }
    layers[i].bias = &l.bias;
  }
  return layers;
}

// out = op in, exactly: in double while every partial sum stays below 2^53, else in int64; false
// when a sum could reach 2^62.
bool exact_op(const ExactOp& op, CalibrationTable& in, std::size_t batch, CalibrationTable& out) {
  const long double bound = op.rows.max_abs_sum * in.max;
  if (bound >= kLimit) return false;
  if (bound >= kDoubleExact) {
    to_int(in);
    apply_rows(op.rows, op.rows.w.data(), in.i.data(), batch, out.i);
    out.real = false;
  } else {
    to_real(in);
    apply_rows(op.rows, op.real_w.data(), in.d.data(), batch, out.d);
    out.real = true;
  }
  out.size = op.rows.rows() * batch;
  out.max = max_abs(out);
  return true;
}

// z += B row by row: in double while |z| + |B| < 2^53, else in int64; false past 2^62.
bool add_bias(const std::vector<i128>& bias, std::size_t batch, CalibrationTable& z) {
  i128 max_bias = 0;
  for (const i128 b : bias) max_bias = std::max(max_bias, b < 0 ? -b : b);
  const long double bound = z.max + static_cast<long double>(max_bias);
  if (bound >= kLimit) return false;
  if (bound >= kDoubleExact) to_int(z);
  for (std::size_t a = 0; a < bias.size(); ++a) {
    const auto b = static_cast<std::int64_t>(bias[a]);
    if (z.real)
      for (std::size_t k = 0; k < batch; ++k) z.d[a * batch + k] += static_cast<double>(b);
    else
      for (std::size_t k = 0; k < batch; ++k) z.i[a * batch + k] += b;
  }
  z.max = max_abs(z);
  return true;
}

// Y = Z o Z, exactly; false when a square could reach 2^62.
bool square(CalibrationTable& z) {
  const long double bound = z.max * z.max;
  if (bound >= kLimit) return false;
  if (bound >= kDoubleExact) to_int(z);
  if (z.real)
    square_f64(z.d.data(), z.size);
  else
    square_i64(z.i.data(), z.size);
  z.max = bound;
  return true;
}

double log2_or_minus_inf(long double x) { return x == 0 ? -INFINITY : static_cast<double>(std::log2(x)); }

}  // namespace

std::vector<double> float_outputs(const FloatModel& m, const NpyArray& x) {
  const std::size_t batch = x.shape.empty() ? 0 : x.shape[0], n0 = m.in_dim();
  std::vector<double> cur(n0 * batch);
  for (std::size_t k = 0; k < batch; ++k)
    for (std::size_t j = 0; j < n0; ++j)
      cur[j * batch + k] = x.is_integer() ? static_cast<double>(x.integers[k * n0 + j]) : x.reals[k * n0 + j];
  for (std::size_t i = 0; i < m.layers.size(); ++i) {
    const FloatLayer& l = m.layers[i];
    if (l.structured())
      for (const FloatOp& op : l.ops) cur = apply_parallel(rows_of(op), cur, batch);
    else
      cur = apply_parallel(rows_of(l), cur, batch);
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

namespace {

// In chunks of kChunk samples a chunk's tables stay in the L2 cache (CNN-2-Quad's largest, 4608
// features, is 1.2 MB), where the whole batch's (37 MB for the user trial's CNN) went through
// memory once per op, bias, maximum and square. Chunks run in parallel, each on its thread's
// workspace.

struct ChunkOut {
  std::vector<std::int64_t> z;  // n_L x count
  double observed_log2 = -INFINITY;
};

std::optional<ChunkOut> run_chunk(const std::vector<ExactLayer>& layers, const std::int64_t* rows, std::size_t n0,
                                  std::size_t count, CalibrationWorkspace& ws) {
  CalibrationTable* cur = &ws.tables[0];
  CalibrationTable* next = &ws.tables[1];
  cur->real = false;
  cur->size = n0 * count;
  std::int64_t* x = room(cur->i, cur->size);
  for (std::size_t k = 0; k < count; ++k)
    for (std::size_t j = 0; j < n0; ++j) x[j * count + k] = rows[k * n0 + j];
  cur->max = max_abs(*cur);
  if (cur->max >= kLimit) return std::nullopt;
  ChunkOut out;
  out.observed_log2 = log2_or_minus_inf(cur->max);
  for (std::size_t i = 0; i < layers.size(); ++i) {
    for (const ExactOp& op : layers[i].ops) {
      if (!exact_op(op, *cur, count, *next)) return std::nullopt;
      std::swap(cur, next);
    }
    if (!add_bias(*layers[i].bias, count, *cur)) return std::nullopt;
    const double z = log2_or_minus_inf(cur->max);
    const bool last = i + 1 == layers.size();
    out.observed_log2 = std::max(out.observed_log2, last ? z : 2 * z);  // Y_i = Z_i^2
    if (!last && !square(*cur)) return std::nullopt;
  }
  to_int(*cur);
  out.z.assign(cur->i.begin(), cur->i.begin() + static_cast<std::ptrdiff_t>(cur->size));
  return out;
}

}  // namespace

std::optional<ExactOutputs> exact_forward_int64(const QuantizedModel& q, const std::vector<std::int64_t>& input,
                                                std::size_t batch, std::vector<CalibrationWorkspace>& ws) {
  const std::vector<ExactLayer> layers = prepare(q);
  const std::size_t n0 = q.in_dim(), n = q.out_dim(), chunks = (batch + kChunk - 1) / kChunk;
  std::vector<std::optional<ChunkOut>> outs(chunks);
  ws.resize(static_cast<std::size_t>(std::max(1, omp_get_max_threads())));
#pragma omp parallel for schedule(dynamic)
  for (std::ptrdiff_t c = 0; c < static_cast<std::ptrdiff_t>(chunks); ++c) {
    const std::size_t first = static_cast<std::size_t>(c) * kChunk, count = std::min(kChunk, batch - first);
    outs[static_cast<std::size_t>(c)] =
        run_chunk(layers, input.data() + first * n0, n0, count, ws[static_cast<std::size_t>(omp_get_thread_num())]);
  }
  ExactOutputs out;
  out.observed_log2 = -INFINITY;
  out.z.resize(n * batch);
  for (std::size_t c = 0; c < chunks; ++c) {
    if (!outs[c]) return std::nullopt;
    const std::size_t first = c * kChunk, count = std::min(kChunk, batch - first);
    out.observed_log2 = std::max(out.observed_log2, outs[c]->observed_log2);
    for (std::size_t o = 0; o < n; ++o)
      for (std::size_t k = 0; k < count; ++k) out.z[o * batch + first + k] = outs[c]->z[o * count + k];
  }
  return out;
}

}  // namespace nnproof
