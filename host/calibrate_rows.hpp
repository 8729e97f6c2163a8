// SPDX-License-Identifier: Apache-2.0
#pragma once
// The inner loops of the scale search's forward passes (host/calibrate_forward.cpp): a linear op as
// its rows of taps, and the vectorized loops over feature-major tables (row f: feature f of every
// sample of a chunk), each compiled for x86-64-v4, v3 and the baseline, the best chosen at load time.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "host/onnx/onnx_import.hpp"
#include "verifier/linear_op.hpp"

namespace nnproof::calibration {

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

Rows<std::int64_t> rows_of(const LinearOp& op);
Rows<double> rows_of(const FloatOp& op);
Rows<double> rows_of(const FloatLayer& l);

// Samples per chunk of the exact runs (exact_forward_int64). For a whole chunk the sums stay in
// registers across the taps (4 AVX-512 registers), which the general loop above cannot assume.
constexpr std::size_t kChunk = 32;

// At least n entries in v, never fewer: a workspace's tables change size from op to op, and growing
// a vector again would zero its new entries each time (a memset of every pair's largest table).
template <class T>
T* room(std::vector<T>& v, std::size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

// y = op x for feature-major tables of `batch` samples, with the op's rows (shape) and weights w
// (the shape's own, or the same as doubles). Instantiated for int64 shapes with double and int64
// tables.
template <class T, class W>
void apply_rows(const Rows<W>& shape, const T* w, const T* x, std::size_t batch, std::vector<T>& y);

// The float pass: one table for the whole batch, rows in parallel.
std::vector<double> apply_parallel(const Rows<double>& r, const std::vector<double>& x, std::size_t batch);

// The element-wise passes over n entries (vectorized; int64 <-> double conversions and 64-bit
// compares need AVX-512 to vectorize, hence the clones).
void to_f64(const std::int64_t* x, double* y, std::size_t n);
void to_i64(const double* x, std::int64_t* y, std::size_t n);
double max_abs_f64(const double* x, std::size_t n);
std::int64_t max_abs_i64(const std::int64_t* x, std::size_t n);
void square_f64(double* x, std::size_t n);
void square_i64(std::int64_t* x, std::size_t n);

}  // namespace nnproof::calibration
