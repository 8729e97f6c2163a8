// SPDX-License-Identifier: Apache-2.0
#pragma once
// The element-wise passes around the int8 forward GEMM, which cuts each Y entry into its bytes
// (eight for m61, sixteen for m127) and rebuilds Z from as many int32 products. The GEMM runs
// transposed (limb_gemm.hpp, Int8WeightsMatmul), so the split writes one row per limb and sample
// and the recombination reads one product row per limb and sample; both are written so that their
// loops vectorize (in 64-bit lanes for both fields), compiled for AVX-512, AVX2 and the baseline
// (target_clones, chosen at load time). Element by element, with 128-bit sums and field multiplications per entry,
// these passes took ~40 ms of the 0.107 s TIMIT forward pass at batch 512 (m61; docs/PERFORMANCE.md, session 6).
#include <cstddef>
#include <cstdint>

#include "core/field_m127.hpp"
#include "core/field_m61.hpp"

namespace nnproof {

inline constexpr std::size_t kM61Limbs = 8, kM127Limbs = 16;

// The limbs of columns [k0, k0 + width) of Y, rows [j0, j1), transposed: lt[(l width + k) inner + j]
// = byte l of y[j y_stride + k] minus 128 (oneDNN's signed operand), l < 8 (m61) or 16 (m127).
// y points at Y's entry (0, k0).
void split_limbs_transposed(const Fp61* y, std::size_t y_stride, std::size_t j0, std::size_t j1, std::size_t width,
                            std::size_t inner, std::int8_t* lt);
void split_limbs_transposed(const Fp127* y, std::size_t y_stride, std::size_t j0, std::size_t j1, std::size_t width,
                            std::size_t inner, std::int8_t* lt);

// z[i] = bias[i] + sum_l 2^(8 l) g[l limb_stride + i] mod p for i < n, any int32 g. m127's works
// in int64 digits of radix 2^32 (128-bit arithmetic does not vectorize).
void recombine_limbs(const std::int32_t* g, std::size_t limb_stride, std::size_t n, const Fp61* bias, Fp61* z);
void recombine_limbs(const std::int32_t* g, std::size_t limb_stride, std::size_t n, const Fp127* bias, Fp127* z);
// z[i] = sum_{l < L} 2^(8 l) g[l limb_stride + i] mod 2^64 for i < n: a narrow Z's int64 entries
// (kernels/cpu/narrow_forward.hpp), exact where the value fits int64; bytes past the eighth weigh
// nothing.
void recombine_limbs_u64(const std::int32_t* g, std::size_t limb_stride, std::size_t L, std::size_t n,
                         std::uint64_t* z);

}  // namespace nnproof
