#pragma once
// The element-wise passes around the int8 forward GEMM, which cuts each Y entry into its bytes
// (eight for m61, sixteen for m127) and rebuilds Z from as many int32 products. Written one limb
// row at a time over contiguous columns, so that the m61 ones vectorize, and compiled for AVX-512,
// AVX2 and the baseline (target_clones, chosen at load time). Element by element, with 128-bit
// sums and field multiplications per entry, they took ~40 ms of the 0.107 s TIMIT forward pass at
// batch 512 (m61; docs/PERFORMANCE.md, session 6).
#include <cstddef>
#include <cstdint>

#include "core/field_m127.hpp"
#include "core/field_m61.hpp"

namespace nnproof {

inline constexpr std::size_t kM61Limbs = 8, kM127Limbs = 16;

// One row of Y: out[l * width + k] = byte l of y[k] minus 128 (oneDNN's signed operand), l < 8.
void split_limbs(const Fp61* y, std::size_t width, std::int8_t* out);

// One row of Z: z[k] = bias + sum_{l < 8} 2^(8 l) g[l * width + k] mod p, for any int32 g.
void recombine_limbs(const std::int32_t* g, std::size_t width, Fp61 bias, Fp61* z);

// The same for m127, with sixteen limbs: l < 16, and z[k] = bias + sum_{l < 16} 2^(8 l) g[...] mod p.
// 128-bit arithmetic does not vectorize: these are scalar loops, in limb order all the same.
void split_limbs(const Fp127* y, std::size_t width, std::int8_t* out);
void recombine_limbs(const std::int32_t* g, std::size_t width, Fp127 bias, Fp127* z);

}  // namespace nnproof
