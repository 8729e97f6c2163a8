// SPDX-License-Identifier: Apache-2.0
#pragma once
// row_combine of a dense int8 layer (cpu engine): G[j][c] = sum_a W[a][j] byte_c(eq(q, a)), the
// column sums of W weighted by each byte of eq(q, .), by our VNNI kernel (int8_column_sums.hpp)
// or oneDNN's int8 GEMM of W^T; the engine rebuilds A[j] = sum_c 2^(8 c) G[j][c] from them.
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "kernels/cpu/int8_column_sums.hpp"
#include "kernels/cpu/int8_limbs.hpp"
#include "kernels/cpu/isa.hpp"
#include "kernels/cpu/limb_gemm.hpp"
#include "kernels/engine/table.hpp"
#include "verifier/parallel.hpp"

namespace nnproof {

// Our VNNI kernel where it runs and the ISA cap admits it; else oneDNN's GEMM (AVX2 VNNI CPUs).
inline bool column_sums_route() { return int8_column_sums_vnni() && int8_avx512_vnni_allowed(); }

// G (cols x kBytes) by int8_column_byte_sums: each thread sums its own rows of W into its own
// (kBytes x columns) partial sums, added up at the end.
template <class F, class K>
std::vector<std::int32_t> column_byte_sums(const FieldLayer<F>& layer, std::span<const K> eq_q) {
  constexpr unsigned kBytes = K::kBytes;
  const std::size_t rows = layer.rows(), cols = layer.cols(), stride = (rows + 3) / 4 * 4;
  std::vector<std::uint8_t> bytes(kBytes * stride, 0);  // byte array c, then row a; zero past rows
  parallel_for(rows, [&](std::size_t a) {
    unsigned char b[kBytes];
    eq_q[a].to_bytes(b);
    for (unsigned c = 0; c < kBytes; ++c) bytes[c * stride + a] = b[c];
  });
  // One part per thread, but at least 64 rows each: the parts' sums cost kBytes x columns each.
  const std::size_t parts =
      std::clamp<std::size_t>((rows + 63) / 64, 1, static_cast<std::size_t>(omp_get_max_threads()));
  const std::size_t part_rows = (rows + 4 * parts - 1) / (4 * parts) * 4;
  const std::size_t part_size = kBytes * column_sums_stride(cols);
  std::vector<std::int32_t> partial(parts * part_size, 0);
  parallel_for(parts, [&](std::size_t t) {
    const std::size_t a0 = std::min(rows, t * part_rows), a1 = std::min(rows, a0 + part_rows);
    int8_column_byte_sums(layer.q->weights.int8_data(), rows, cols, a0, a1, bytes.data(), stride, kBytes,
                          partial.data() + t * part_size);
  });
  std::vector<std::int32_t> G(cols * kBytes);
  parallel_for(cols, [&](std::size_t j) {
    for (unsigned c = 0; c < kBytes; ++c) {
      std::int32_t sum = 0;  // the parts' sums of disjoint rows: still within the exactness bound
      for (std::size_t t = 0; t < parts; ++t) sum += partial[t * part_size + c * column_sums_stride(cols) + j];
      G[j * kBytes + c] = sum;
    }
  });
  return G;
}

// G (cols x kBytes) by oneDNN: W^T times the rows x kBytes matrix of bytes.
template <class F, class K>
std::vector<std::int32_t> byte_gemm(const FieldLayer<F>& layer, std::span<const K> eq_q) {
  constexpr unsigned kBytes = K::kBytes;
  const std::size_t rows = layer.rows(), cols = layer.cols();
  std::vector<std::int8_t> bytes(rows * kBytes);
  parallel_for(rows, [&](std::size_t a) {
    unsigned char b[kBytes];
    eq_q[a].to_bytes(b);
    for (unsigned c = 0; c < kBytes; ++c)
      bytes[a * kBytes + c] = static_cast<std::int8_t>(static_cast<int>(b[c]) - 128);
  });
  std::vector<std::int32_t> G(cols * kBytes);
  int8_transposed_byte_gemm(cols, rows, kBytes, layer.q->weights.int8_data(), bytes.data(), G.data());
  return G;
}

}  // namespace nnproof
