// SPDX-License-Identifier: Apache-2.0
#pragma once
// The cpu engine's activation sum-check kernels for m127, the same five as m61_kernels.hpp (group
// sums, pair q, fold row, fold two, row dots; see there), the prover's largest passes after the
// forward.
//
// AVX-512 (F, IFMA): eight columns per register, each 127-bit value in three limbs of radix 2^52
// (52, 52 and up to 24 bits). A product is 17 multiply-adds of 52-bit limbs into five 64-bit
// accumulators (weights 2^0 .. 2^208); a base product is then folded mod p = 2^127 - 1 (2^127 = 1)
// back to three limbs, while the sums of eq(r, k) times a product keep their five accumulators
// until the end, reduced once; folded rows are brought below p before they are stored. Exact, as
// the portable loops, bit for bit.
#include <array>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/fields.hpp"
#include "kernels/cpu/sumcheck_kernels.hpp"
#include "verifier/row_dots.hpp"  // M61ColumnWeights, M127ColumnWeights

namespace nnproof {

using M127Kernels = SumcheckKernels<Fp127, Fp127, M127ColumnWeights>;

// Every implementation this CPU can run, the fastest first (the AVX-512 one where
// avx512_ifma_kernels_allowed()), for tests and benchmarks.
std::vector<M127Kernels> m127_kernels_available();
const M127Kernels& m127_kernels();

// The group sums (SumcheckKernels::group_sums, the same nine sums) of four rows of a narrow table's
// int32 entries (kernels/cpu/narrow_table.hpp), every |entry| < 2^kNarrowProductBits: the nine
// products are exact 64-bit integers (below 2^62) whose limbs need no field product. Null where
// this CPU runs no AVX-512 IFMA kernels (the caller widens the rows into the field's kernels).
// Here and in the narrow folds below, z10 and z11 may both be null: zero rows (a table's padding),
// not read (the group sums then run one of their three passes).
inline constexpr unsigned kNarrowProductBits = 28;
// The widest factor, 2 d_1 - d_0 with |d| <= 2 (2^bits - 1), must fit the signed 32 bits that
// vpmuldq reads: 28 bits is the most.
static_assert(3 * 2 * ((std::int64_t{1} << kNarrowProductBits) - 1) <= std::int64_t{INT32_MAX});
using M127NarrowGroupSums = std::array<Fp127, 9> (*)(const std::int32_t* z00, const std::int32_t* z01,
                                                     const std::int32_t* z10, const std::int32_t* z11,
                                                     const M127ColumnWeights& w);
// For entries of at most `bits` bits: at most kSmallNarrowEntryBits, every product is below 2^51
// in magnitude, one limb once offset by 2^51 (m127_kernels.cpp, Int32SmallEntries).
inline constexpr unsigned kSmallNarrowEntryBits = 22;
// (The widest product, (2 d_1 - d_0)^2 <= 36 (2^bits - 1)^2.)
static_assert(36 * ((std::int64_t{1} << kSmallNarrowEntryBits) - 1) * ((std::int64_t{1} << kSmallNarrowEntryBits) - 1) <
              (std::int64_t{1} << 51));
M127NarrowGroupSums m127_narrow_group_sums(unsigned bits = kNarrowProductBits);

// The fold of two row variables (SumcheckKernels::fold_two, the same canonical elements) from four
// rows of a narrow table's int32 entries (any: their differences are below 2^34, one limb of the
// fold's products). Null where this CPU runs no AVX-512 IFMA kernels.
using M127NarrowFoldTwo = void (*)(const std::int32_t* z00, const std::int32_t* z01, const std::int32_t* z10,
                                   const std::int32_t* z11, Fp127 rho1, Fp127 rho2, Fp127* out, std::size_t cols);
M127NarrowFoldTwo m127_narrow_fold_two();

// The same two kernels for a narrow table's int64 entries, every |entry| < 2^kWideEntryBits: the
// differences and extensions (2 d_1 - d_0 the widest, |.| <= 6 (2^bits - 1)) are exact int64, the
// products field products of their limbs. Null where this CPU runs no AVX-512 IFMA kernels.
inline constexpr unsigned kWideEntryBits = 60;
static_assert(6 * ((std::int64_t{1} << kWideEntryBits) - 1) <= std::int64_t{INT64_MAX});
using M127WideGroupSums = std::array<Fp127, 9> (*)(const std::int64_t* z00, const std::int64_t* z01,
                                                   const std::int64_t* z10, const std::int64_t* z11,
                                                   const M127ColumnWeights& w);
// For entries of at most `bits` bits: at most kSmallWideEntryBits, every difference and extension is
// below 2^52 and each product two IFMA products, exact (m127_kernels.cpp, Int64SmallEntries), and
// the fold's differences one limb (as the int32 kernels' are).
inline constexpr unsigned kSmallWideEntryBits = 49;
// (The widest extension, 6 (2^bits - 1), below 2^52 for the IFMA products, whose |P| is then below
// 36 2^98 < 2^104; the fold's widest difference, 4 (2^bits - 1), below 2^51.)
static_assert(6 * ((std::int64_t{1} << kSmallWideEntryBits) - 1) < (std::int64_t{1} << 52));
static_assert(4 * ((std::int64_t{1} << kSmallWideEntryBits) - 1) < (std::int64_t{1} << 51));
M127WideGroupSums m127_wide_group_sums(unsigned bits = kWideEntryBits);
using M127WideFoldTwo = void (*)(const std::int64_t* z00, const std::int64_t* z01, const std::int64_t* z10,
                                 const std::int64_t* z11, Fp127 rho1, Fp127 rho2, Fp127* out, std::size_t cols);
M127WideFoldTwo m127_wide_fold_two(unsigned bits = kWideEntryBits);

// A matrix product's sum-check round (product_sumcheck.hpp) over n pairs of entries of its tables
// A and V: {sum a_lo v_lo, sum (2 a_hi - a_lo)(2 v_hi - v_lo)}, canonical. Null where this CPU runs no
// AVX-512 IFMA kernels.
using M127PairProducts = std::array<Fp127, 2> (*)(const Fp127* a_lo, const Fp127* a_hi, const Fp127* v_lo,
                                                  const Fp127* v_hi, std::size_t n);
M127PairProducts m127_pair_products();

}  // namespace nnproof
