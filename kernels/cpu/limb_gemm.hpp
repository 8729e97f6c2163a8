// SPDX-License-Identifier: Apache-2.0
#pragma once
// Exact W * Y mod p with a floating-point GEMM: split Y into c-bit limbs, multiply each limb matrix
// by the integer weights with DGEMM (exact while every partial sum stays below 2^53), and recombine
// sum_l 2^(c l) G_l mod p. 2^61 = 1 (mod 2^61 - 1) and 2^127 = 1 (mod 2^127 - 1) keep the shifts cheap.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/cpu/isa.hpp"  // int8_limb_gemm_available: which route is exact

namespace nnproof {

struct LimbPlan {
  unsigned limb_bits = 0;  // c; 0 means DGEMM cannot be exact: use the direct kernel
  unsigned limbs = 0;      // ceil(field bits / c)
};

// The widest limbs for which max_a sum_j |W[a][j]| * (2^c - 1) <= 2^53 (exact in a double).
LimbPlan plan_limbs(std::uint64_t max_row_abs_sum, unsigned field_bits);

// C (rows x ncols) = W (rows x inner, doubles) * B (inner x ncols), row-major, with OpenBLAS.
void dgemm_rowmajor(std::size_t rows, std::size_t inner, std::size_t ncols, const double* W, const double* B,
                    double* C);

// The int8 route (oneDNN): C^T (ncols x rows, int32) = L'^T (ncols x inner, int8) W^T, row-major:
// the product of the weights W (rows x inner, int8) with the 8-bit limbs L of the layer's input,
// transposed, for oneDNN's matmul with the limbs as its left operand (read in place) and W^T as
// its right (repacked once per layer into the layout its kernel reads). The caller stores the
// limbs as L' = L - 128 and adds 128 sum_j W[a][j] (row_sums) to row a. In the other orientation
// oneDNN repacks the limbs on every call: 4.5 against 7.1 ms per 2000 x 2000 x 2048 block on AMX,
// and 0.5 against 1.5 ms for the 183-row output layer (docs/PERFORMANCE.md).
// One object per layer: it keeps one copy of W, so that a cache can check that a layer's weights
// are the same bytes, and a primitive per block width (ncols), made on first use; widths share
// the packed W^T when their kernels read the same layout. Exact while int8_byte_sums_exact(inner)
// (core/lazy.hpp), on CPUs with VNNI (int8_limb_gemm_available). Not thread-safe: run() may add
// a width.
class Int8WeightsMatmul {
 public:
  Int8WeightsMatmul(const std::int8_t* w, std::size_t rows, std::size_t inner);
  ~Int8WeightsMatmul();
  Int8WeightsMatmul(const Int8WeightsMatmul&) = delete;
  Int8WeightsMatmul& operator=(const Int8WeightsMatmul&) = delete;
  // Whether this object multiplies by exactly these weights, at this shape (a byte comparison).
  bool holds(const std::int8_t* w, std::size_t rows, std::size_t inner) const;
  // sum_j W[a][j] for each row a.
  const std::vector<std::int64_t>& row_sums() const;
  void run(std::size_t ncols, const std::int8_t* limbs_t_minus_128, std::int32_t* c_t);
  // How many block widths have a primitive now (for tests).
  std::size_t widths() const;

 private:
  struct Width;
  struct Impl;
  const Width& width(std::size_t ncols);
  std::unique_ptr<Impl> impl_;
};

// C (cols x nbytes, int32) = W^T B, row-major: W is inner x cols (int8), B is inner x nbytes of
// bytes 0..255 stored as byte - 128 (oneDNN's offset restores them). The prover's A = W^T eq(q, .)
// with each eq(q, .) element cut into bytes. Same exactness bound (inner * 128 * 255 < 2^31) and
// the same need for VNNI as Int8WeightsMatmul.
void int8_transposed_byte_gemm(std::size_t cols, std::size_t inner, std::size_t nbytes, const std::int8_t* w,
                               const std::int8_t* bytes_minus_128, std::int32_t* C);

}  // namespace nnproof
