// SPDX-License-Identifier: Apache-2.0
#pragma once
// The cpu engine's activation sum-check kernels for m61 with K = F_{p^2}, the default field: the
// prover's largest passes after the forward, so they have AVX-512 versions next to the portable
// loops of sumcheck_kernels.hpp (which every other field uses).
//
//   group sums  the nine column sums of one group of four rows (square_group_sums): for z(b1, b2)
//               the group's rows, a_t = z(0, t) and d_t = z(1, t) - z(0, t) extended linearly to
//               t = 2, the sums over k of eq(r, k) times a_0^2, a_1^2, a_2^2, a_0 d_0, a_1 d_1,
//               a_2 d_2, d_0^2, d_1^2, d_2^2 (in this order);
//   pair q      q(0), q(2) of one pair of rows (lo, hi): sum_k eq(r, k) lo[k]^2 and
//               sum_k eq(r, k) (2 hi[k] - lo[k])^2;
//   fold row    out = a + r (b - a) along one row (out may be a);
//   fold two    one group's rows folded at two bound variables at once (rho1 the top one):
//               z00 + rho1 d0 + rho2 (z01 - z00) + rho1 rho2 (z11 - z01 - d0), d0 = z10 - z00;
//   row dots    sum_k eq(r, k) y[k] for base rows (col_combine, the input layer's V).
//
// AVX-512 (F, IFMA): eight columns per register (K rows are split into coordinates on load).
// Products of two elements go through 32-bit halves (vpmuludq), reduced mod p; sums of products
// stay unreduced in 52-bit limbs (IFMA multiply-adds into three 64-bit accumulators, weights 1,
// 2^52 and 2^104), reduced once at the end: as exact as the portable loops, bit for bit.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/fields.hpp"
#include "kernels/cpu/sumcheck_kernels.hpp"
#include "verifier/row_dots.hpp"  // M61ColumnWeights, M127ColumnWeights

namespace nnproof {

inline constexpr unsigned kM61GroupSums = 9;

using M61Kernels = SumcheckKernels<Fp61, Fp61x2, M61ColumnWeights>;

// Every implementation this CPU can run, the fastest first, for tests and benchmarks (the AVX-512
// one where avx512_ifma_kernels_allowed()).
std::vector<M61Kernels> m61_kernels_available();
// The fastest.
const M61Kernels& m61_kernels();

// y[i] = z[i]^2 for canonical z (the forward pass's activation): with AVX-512 where the kernels
// above may run (eight products per vpmuludq set; 1.7 ms a 2048 x 512 layer as scalar 128-bit
// products on 2 cores), else the scalar loop. y may be z.
void m61_square_entries(const Fp61* z, Fp61* y, std::size_t n);

}  // namespace nnproof
