// SPDX-License-Identifier: Apache-2.0
#include "host/calibrate_rows.hpp"

#include <cstring>

#include "core/simd/x86.hpp"

namespace nnproof::calibration {
namespace {

// y = sum_t w[t] x[col[t]] along the batch for one row's taps: the one inner loop of both passes
// (vectorized, one clone per ISA; one call per row, so the clone's indirect call is paid per row).
NNP_CLONES_V4_V3 void row_f64(double* y, const double* x, const std::uint32_t* col, const double* w, std::size_t taps,
                              std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] = 0;
  for (std::size_t t = 0; t < taps; ++t) {
    const double* xt = x + static_cast<std::size_t>(col[t]) * n;
    const auto wt = w[t];
#pragma omp simd
    for (std::size_t i = 0; i < n; ++i) y[i] += wt * xt[i];
  }
}
NNP_CLONES_V4_V3 void row_i64(std::int64_t* y, const std::int64_t* x, const std::uint32_t* col, const std::int64_t* w,
                              std::size_t taps, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] = 0;
  for (std::size_t t = 0; t < taps; ++t) {
    const std::int64_t* xt = x + static_cast<std::size_t>(col[t]) * n;
    const auto wt = w[t];
#pragma omp simd
    for (std::size_t i = 0; i < n; ++i) y[i] += wt * xt[i];
  }
}

// Four 8-lane sums held in registers across the taps, written with GCC's vector extensions: left to
// itself the vectorizer gathered across taps instead. Lanes load and store through memcpy (no
// alignment is assumed). Inlined into each clone, so that each compiles for its ISA.
typedef double F64x8 __attribute__((vector_size(64)));
typedef std::int64_t I64x8 __attribute__((vector_size(64)));

template <class T, class V>
__attribute__((always_inline)) inline void row_chunk(T* y, const T* x, const std::uint32_t* col, const T* w,
                                                     std::size_t taps) {
  static_assert(kChunk == 32 && sizeof(V) == 8 * sizeof(T));
  V acc[4] = {};
  for (std::size_t t = 0; t < taps; ++t) {
    const T* xt = x + static_cast<std::size_t>(col[t]) * kChunk;
    const V wt = V{} + w[t];
    for (int q = 0; q < 4; ++q) {
      V xv;
      std::memcpy(&xv, xt + 8 * q, sizeof xv);
      acc[q] += wt * xv;
    }
  }
  std::memcpy(y, acc, sizeof acc);
}

NNP_CLONES_V4_V3 void row_f64_chunk(double* y, const double* x, const std::uint32_t* col, const double* w,
                                    std::size_t taps) {
  row_chunk<double, F64x8>(y, x, col, w, taps);
}
NNP_CLONES_V4_V3 void row_i64_chunk(std::int64_t* y, const std::int64_t* x, const std::uint32_t* col,
                                    const std::int64_t* w, std::size_t taps) {
  row_chunk<std::int64_t, I64x8>(y, x, col, w, taps);
}

inline void row(double* y, const double* x, const std::uint32_t* col, const double* w, std::size_t taps,
                std::size_t n) {
  if (n == kChunk)
    row_f64_chunk(y, x, col, w, taps);
  else
    row_f64(y, x, col, w, taps, n);
}
inline void row(std::int64_t* y, const std::int64_t* x, const std::uint32_t* col, const std::int64_t* w,
                std::size_t taps, std::size_t n) {
  if (n == kChunk)
    row_i64_chunk(y, x, col, w, taps);
  else
    row_i64(y, x, col, w, taps, n);
}

}  // namespace

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

template <class T, class W>
void apply_rows(const Rows<W>& shape, const T* w, const T* x, std::size_t batch, std::vector<T>& y) {
  T* out = room(y, shape.rows() * batch);
  for (std::size_t a = 0; a < shape.rows(); ++a) {
    const std::size_t t = shape.start[a];
    row(out + a * batch, x, shape.col.data() + t, w + t, shape.start[a + 1] - t, batch);
  }
}

template void apply_rows(const Rows<std::int64_t>&, const double*, const double*, std::size_t, std::vector<double>&);
template void apply_rows(const Rows<std::int64_t>&, const std::int64_t*, const std::int64_t*, std::size_t,
                         std::vector<std::int64_t>&);

std::vector<double> apply_parallel(const Rows<double>& r, const std::vector<double>& x, std::size_t batch) {
  std::vector<double> y(r.rows() * batch);
#pragma omp parallel for schedule(static)
  for (std::ptrdiff_t a = 0; a < static_cast<std::ptrdiff_t>(r.rows()); ++a) {
    const std::size_t t = r.start[static_cast<std::size_t>(a)];
    row(y.data() + static_cast<std::size_t>(a) * batch, x.data(), r.col.data() + t, r.w.data() + t,
        r.start[static_cast<std::size_t>(a) + 1] - t, batch);
  }
  return y;
}

NNP_CLONES_V4_V3 void to_f64(const std::int64_t* x, double* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] = static_cast<double>(x[i]);
}
NNP_CLONES_V4_V3 void to_i64(const double* x, std::int64_t* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] = static_cast<std::int64_t>(x[i]);
}
// On the bits: a double's magnitude bits order as integers do, and an integer max vectorizes where
// a double max (NaN rules) does not.
NNP_CLONES_V4_V3 double max_abs_f64(const double* x, std::size_t n) {
  std::int64_t m = 0;
  for (std::size_t i = 0; i < n; ++i) {
    std::int64_t bits;
    std::memcpy(&bits, x + i, sizeof bits);
    bits &= INT64_MAX;
    m = m > bits ? m : bits;
  }
  double out;
  std::memcpy(&out, &m, sizeof out);
  return out;
}
NNP_CLONES_V4_V3 std::int64_t max_abs_i64(const std::int64_t* x, std::size_t n) {
  std::int64_t m = 0;
  for (std::size_t i = 0; i < n; ++i) m = std::max(m, x[i] < 0 ? -x[i] : x[i]);
  return m;
}
NNP_CLONES_V4_V3 void square_f64(double* x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) x[i] *= x[i];
}
NNP_CLONES_V4_V3 void square_i64(std::int64_t* x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) x[i] *= x[i];
}

}  // namespace nnproof::calibration
