// SPDX-License-Identifier: Apache-2.0
#pragma once
// The prover's A = W^T eq(q, .) for int8 weights, as exact integer sums: each eq(q, a) is cut into
// its bytes (kBytes arrays of one byte per row a), and for every column j and byte array c
//   G[j][c] = sum_a W[a][j] bytes[c][a],
// an int8 times a byte per term. With AVX-512 VNNI, four rows of sixteen columns are interleaved
// into one register (two shuffles) and one vpdpbusd per byte array adds their 64 products: one
// pass over W in memory order, 2x faster at TIMIT size than oneDNN's s8s8 GEMM of W^T, which
// repacks W on every call (docs/PERFORMANCE.md). Elsewhere a loop the compiler vectorizes.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace nnproof {

// Columns rounded up to the kernels' 16-column blocks: the row stride of `acc` below.
constexpr std::size_t column_sums_stride(std::size_t cols) { return (cols + 15) / 16 * 16; }

// acc[c * column_sums_stride(cols) + j] += sum_{a0 <= a < a1} w[a * cols + j] * bytes[c * stride + a]
// for every column j < cols and c < nbytes (8 or 16). w is rows x cols, row-major; `bytes` holds
// nbytes arrays of `stride` bytes, stride a multiple of 4 and >= rows, zero past `rows`. a0 is a
// multiple of 4; a1 <= rows is one too, or rows. Reading whole rows of W in order keeps the pass
// at memory speed; callers give each thread its own rows and `acc`, and add them up.
// Needs int8_byte_sums_exact(rows) (core/lazy.hpp).
void int8_column_byte_sums(const std::int8_t* w, std::size_t rows, std::size_t cols, std::size_t a0, std::size_t a1,
                           const std::uint8_t* bytes, std::size_t stride, unsigned nbytes, std::int32_t* acc);

// Whether int8_column_byte_sums runs its VNNI kernel here (else the portable loop, slower than
// oneDNN's GEMM: callers may prefer that).
bool int8_column_sums_vnni();

// Every implementation this CPU can run (the first is the one used), for tests.
using ColumnSumsFn = void (*)(const std::int8_t*, std::size_t, std::size_t, std::size_t, std::size_t,
                              const std::uint8_t*, std::size_t, unsigned, std::int32_t*);
struct ColumnSumsKernel {
  const char* name;
  ColumnSumsFn fn;
};
std::vector<ColumnSumsKernel> int8_column_sums_kernels();

}  // namespace nnproof
