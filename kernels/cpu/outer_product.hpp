// SPDX-License-Identifier: Apache-2.0
#pragma once
// The cpu engine's batch_outer_product, G = D Y^T summed over the batch (TRAINING.md section 2):
// rows x cols x batch multiply-adds of two full base-field elements, the backward pass's largest
// operation (2.05 G at the TIMIT shape, 2000 x 2000 at batch 512). Blocked in (a, j) tiles, one
// per task (no two tasks write one entry of G), and over the batch in slices for cache; each sum
// is kept unreduced over a slice. Two implementations, bit for bit the same:
// - AVX-512 IFMA (where avx512_ifma_kernels_allowed()): eight batch columns per register, products
//   of 52-bit limbs summed into 64-bit lanes (core/simd/m61_avx512.hpp's Lazy52, m127's W5);
// - portable: 64 x 64 -> 128-bit products, m61 summed 32 at a time in 128 bits, m127 as
//   mul_unreduced's 128-bit values with a count of the carries.
#include <cstddef>
#include <vector>

#include "kernels/engine/table.hpp"

namespace nnproof {

enum class OuterProductKernel { best, portable };

// G[a][j] = sum_k D[a][k] Y[j][k] for a < rows, j < cols, row-major. D and Y on the host.
template <class F>
std::vector<F> cpu_batch_outer_product(const Table2D<F>& D, const Table2D<F>& Y, std::size_t rows, std::size_t cols,
                                       OuterProductKernel kernel = OuterProductKernel::best);

// Whether `best` takes the AVX-512 IFMA kernels on this CPU (and under oneDNN's ISA cap).
bool outer_product_avx512();

}  // namespace nnproof
