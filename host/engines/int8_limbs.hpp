#pragma once
// The element-wise passes around the int8 forward GEMM for m61, which cuts each Y entry into its
// eight bytes and rebuilds Z from the eight int32 products. Written one limb row at a time over
// contiguous columns so that they vectorize, and compiled for AVX-512, AVX2 and the baseline
// (target_clones, chosen at load time). Element by element, with 128-bit sums and a field
// reduction per entry, they took ~40 ms of the 0.107 s TIMIT forward pass at batch 512: more
// than a third of it, as much as the GEMMs' own time left to them (docs/PERFORMANCE.md).
#include <cstddef>
#include <cstdint>

#include "core/field_m61.hpp"

namespace nnproof {

inline constexpr std::size_t kM61Limbs = 8;

// One row of Y: out[l * width + k] = byte l of y[k] minus 128 (oneDNN's signed operand), l < 8.
void split_limbs_m61(const Fp61* y, std::size_t width, std::int8_t* out);

// One row of Z: z[k] = bias + sum_{l < 8} 2^(8 l) g[l * width + k] mod p, for any int32 g.
void recombine_limbs_m61(const std::int32_t* g, std::size_t width, Fp61 bias, Fp61* z);

}  // namespace nnproof
