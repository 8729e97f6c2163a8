// SPDX-License-Identifier: Apache-2.0
#pragma once
// One implementation of the cpu engine's passes over a table for a field configuration: the
// activation sum-check's group sums, pair sums and folds, and col_combine's row dots (the passes
// are described in m61_kernels.hpp). F is the tables' base field, K the challenge field, Weights
// eq(r, .) in the form the implementation reads (it has the elements as `eq`). Rows are
// w.eq.size() (or `cols`) columns long.
//
// Prefetch. The passes that read the base table (group sums, fold two, row dots) find it in
// memory, not in cache: it was written during the forward pass. At TIMIT width a row is 4 KiB, one
// page, and the hardware prefetcher starts over at every page, so the AVX-512 kernels ask for the
// lines of the rows they read next themselves (the next group's or the next row's, and in the
// first group-sums pass the group's other two rows). On the TIMIT shape, two threads, m61 group
// sums went from 1.2-1.8 ms to 1.0 ms a layer, the input layer's V from 0.7 to 0.4 ms.
#include <algorithm>
#include <array>
#include <cstddef>
#include <span>

#include "core/lazy.hpp"

namespace nnproof {

template <class F, class K, class Weights>
struct SumcheckKernels {
  const char* name;
  std::array<K, 9> (*group_sums)(const F* z00, const F* z01, const F* z10, const F* z11, const Weights& w);
  std::array<K, 2> (*pair_q)(const K* lo, const K* hi, const Weights& w);
  void (*fold_row)(const K* a, const K* b, K r, K* out, std::size_t cols);
  void (*fold_two)(const F* z00, const F* z01, const F* z10, const F* z11, K rho1, K rho2, K* out, std::size_t cols);
  // out[j] = sum_k eq(r, k) y[j][k] for `rows` consecutive rows.
  void (*row_dots)(const F* y, std::size_t rows, const Weights& w, K* out);
};

// The rows of Z in groups of four, g < rows / 4: z(b1, b2) = row b1 rows/2 + b2 rows/4 + g (b1 the
// top row bit). Along b2, a_t = z(0, t) and d_t = z(1, t) - z(0, t), extended linearly to t = 2.
// A group's sums, at kSumA + t, kSumB + t and kSumD + t: sum_k eq(r, k) a_t^2, a_t d_t and d_t^2.
inline constexpr unsigned kSumA = 0, kSumB = 3, kSumD = 6, kGroupSums = 9;

// The nine sums of one group from its rows z(0, 0), z(0, 1), z(1, 0), z(1, 1): the portable loop.
template <class F, class K>
std::array<K, kGroupSums> group_sums_portable(const F* z00, const F* z01, const F* z10, const F* z11,
                                              std::span<const K> ec) {
  LazyDots<K, F, kGroupSums> acc;
  for (std::size_t k = 0; k < ec.size(); ++k) {
    const F a0 = z00[k], a1 = z01[k], d0 = z10[k] - a0, d1 = z11[k] - a1;
    const F a2 = a1 + a1 - a0, d2 = d1 + d1 - d0;
    acc.add(ec[k], {a0 * a0, a1 * a1, a2 * a2, a0 * d0, a1 * d1, a2 * d2, d0 * d0, d1 * d1, d2 * d2});
  }
  static_assert(kSumA == 0 && kSumB == 3 && kSumD == 6);  // the order above
  return acc.result();
}

// q(0) and q(2) of one pair of rows: sum_k ec[k] lo[k]^2 and sum_k ec[k] (2 hi[k] - lo[k])^2.
template <class K, class T>
std::array<K, 2> pair_q_portable(const T* lo, const T* hi, std::span<const K> ec) {
  LazyDot<K, T> q0, q2;
  for (std::size_t k = 0; k < ec.size(); ++k) {
    T z2 = hi[k] + hi[k] - lo[k];
    q0.add(ec[k], lo[k].square());
    q2.add(ec[k], z2.square());
  }
  return {q0.result(), q2.result()};
}

// out = a + r (b - a) along one row; out may be a (each column is read before it is written).
template <class K, class T>
void fold_row_portable(const T* a, const T* b, K r, K* out, std::size_t cols) {
  for (std::size_t k = 0; k < cols; ++k) out[k] = embed<K>(a[k]) + mul_base(r, b[k] - a[k]);
}

// One group's rows bound at b1 = rho1 and b2 = rho2 at once:
// z = a_0 + rho1 d_0 + rho2 (a_1 - a_0) + rho1 rho2 (d_1 - d_0).
template <class F, class K>
void fold_two_portable(const F* z00, const F* z01, const F* z10, const F* z11, K rho1, K rho2, K* out,
                       std::size_t cols) {
  const K rho12 = rho1 * rho2;
  for (std::size_t k = 0; k < cols; ++k) {
    const F a0 = z00[k], d0 = z10[k] - a0;
    LazyDot<K, F> acc;
    acc.add(rho1, d0);
    acc.add(rho2, z01[k] - a0);
    acc.add(rho12, z11[k] - z01[k] - d0);
    out[k] = embed<K>(a0) + acc.result();
  }
}

// out[j] = sum_k ec[k] y[j][k] for `rows` consecutive rows of ec.size() columns: four rows at a
// time share each ec[k] (LazyDots: one load and one pending count per column).
template <class F, class K>
void row_dots_portable(const F* y, std::size_t rows, std::span<const K> ec, K* out) {
  constexpr std::size_t kRows = 4;
  const std::size_t cols = ec.size();
  std::size_t j = 0;
  for (; j + kRows <= rows; j += kRows) {
    const F* r = y + j * cols;
    LazyDots<K, F, kRows> acc;
    for (std::size_t k = 0; k < cols; ++k) acc.add(ec[k], {r[k], r[cols + k], r[2 * cols + k], r[3 * cols + k]});
    const std::array<K, kRows> sums = acc.result();
    std::copy(sums.begin(), sums.end(), out + j);
  }
  for (; j < rows; ++j) {
    LazyDot<K, F> acc;
    for (std::size_t k = 0; k < cols; ++k) acc.add(ec[k], y[j * cols + k]);
    out[j] = acc.result();
  }
}

// The loops above as a kernel set: the portable twin of every AVX-512 set.
template <class F, class K, class Weights>
constexpr SumcheckKernels<F, K, Weights> portable_kernels() {
  return {"portable",
          [](const F* z00, const F* z01, const F* z10, const F* z11, const Weights& w) {
            return group_sums_portable<F, K>(z00, z01, z10, z11, w.eq);
          },
          [](const K* lo, const K* hi, const Weights& w) { return pair_q_portable<K, K>(lo, hi, w.eq); },
          fold_row_portable<K, K>,
          fold_two_portable<F, K>,
          [](const F* y, std::size_t rows, const Weights& w, K* out) { row_dots_portable<F, K>(y, rows, w.eq, out); }};
}

}  // namespace nnproof
