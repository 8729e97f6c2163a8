#pragma once
// Exact W * Y mod p with a floating-point GEMM: split Y into c-bit limbs, multiply each limb matrix
// by the integer weights with DGEMM (exact while every partial sum stays below 2^53), and recombine
// sum_l 2^(c l) G_l mod p. 2^61 = 1 (mod 2^61 - 1) and 2^127 = 1 (mod 2^127 - 1) keep the shifts cheap.
#include <cstddef>
#include <cstdint>
#include <vector>

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

// Whether oneDNN runs its int8 GEMMs with VNNI (or AMX) instructions here. Without them it builds
// the products from 16-bit pair sums, which saturate at these magnitudes (it shifts a signed
// operand into 0..255, and two products of 255 and -128 already overflow), so the exact int8
// routes need VNNI; otherwise the DGEMM route is used.
bool int8_limb_gemm_available();
// Whether oneDNN's instruction-set cap (ONEDNN_MAX_CPU_ISA, unset: this CPU's best) admits AVX-512
// VNNI; and whether this CPU has AVX-512 F and IFMA and the cap admits AVX-512 (the m61 and m127
// sum-check kernel sets). The cpu engine's own AVX-512 kernels follow the same cap, so that one
// variable pins every route of the prover (the tests run each route on one machine this way).
bool int8_avx512_vnni_allowed();
bool avx512_ifma_kernels_allowed();
// The int8 route (oneDNN): C (rows x ncols, int32) = W (rows x inner, int8) * L' (inner x ncols,
// int8), row-major, with oneDNN's matmul (AMX where the CPU has it: ~25% faster than its
// gemm_u8s8s32 at TIMIT size, docs/PERFORMANCE.md). The caller stores 8-bit limbs L as L' = L - 128
// and adds 128 sum_j W[a][j] to row a. Exact while int8_byte_sums_exact(inner) (core/lazy.hpp).
void int8_limb_matmul(std::size_t rows, std::size_t inner, std::size_t ncols, const std::int8_t* w,
                      const std::int8_t* limbs_minus_128, std::int32_t* C);
// C (cols x nbytes, int32) = W^T B, row-major: W is inner x cols (int8), B is inner x nbytes of
// bytes 0..255 stored as byte - 128 (oneDNN's offset restores them). The prover's A = W^T eq(q, .)
// with each eq(q, .) element cut into bytes. Same exactness bound (inner * 128 * 255 < 2^31) and
// the same need for VNNI as int8_limb_matmul.
void int8_transposed_byte_gemm(std::size_t cols, std::size_t inner, std::size_t nbytes, const std::int8_t* w,
                               const std::int8_t* bytes_minus_128, std::int32_t* C);

}  // namespace nnproof
