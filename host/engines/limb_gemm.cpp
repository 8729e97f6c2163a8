#include "host/engines/limb_gemm.hpp"

#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>

#include <stdexcept>
#include <string>

namespace nnproof {

LimbPlan plan_limbs(std::uint64_t max_row_abs_sum, unsigned field_bits) {
  constexpr std::uint64_t kExact = std::uint64_t{1} << 53;
  unsigned c = 0;
  while (c < field_bits && c < 52 && ((std::uint64_t{1} << (c + 1)) - 1) * static_cast<unsigned __int128>(max_row_abs_sum) <= kExact) ++c;
  if (c < 8) return {};  // too narrow to pay: the direct kernel is faster and simpler
  return {c, (field_bits + c - 1) / c};
}

void dgemm_rowmajor(std::size_t rows, std::size_t inner, std::size_t ncols, const double* W, const double* B, double* C) {
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(rows), static_cast<int>(ncols),
              static_cast<int>(inner), 1.0, W, static_cast<int>(inner), B, static_cast<int>(ncols), 0.0, C,
              static_cast<int>(ncols));
}

namespace {
// Whether the effective ISA (ONEDNN_MAX_CPU_ISA honoured) includes `level`: oneDNN's ISA values are
// bit sets, each containing the ones below it, so later ISAs (oneDNN 3's avx512_core_fp16, avx10)
// pass too.
bool effective_isa_includes(dnnl_cpu_isa_t level) {
  const auto isa = static_cast<unsigned>(dnnl_get_effective_cpu_isa()), want = static_cast<unsigned>(level);
  return (isa & want) == want;
}
}  // namespace

bool int8_limb_gemm_available() {
  static const bool vnni = effective_isa_includes(dnnl_cpu_isa_avx512_core_vnni) || effective_isa_includes(dnnl_cpu_isa_avx2_vnni);
  return vnni;
}

bool avx512_ifma_kernels_allowed() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  static const bool allowed = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512ifma") &&
                              effective_isa_includes(dnnl_cpu_isa_avx512_core);
  return allowed;
#else
  return false;
#endif
}

bool int8_avx512_vnni_allowed() {
  static const bool allowed = effective_isa_includes(dnnl_cpu_isa_avx512_core_vnni);
  return allowed;
}

namespace {
void gemm_u8s8s32(std::size_t rows, std::size_t inner, std::size_t ncols, const std::uint8_t* a, std::uint8_t a_offset,
                  const std::int8_t* b, std::int8_t b_offset, std::int32_t* C) {
  const std::int32_t no_c_offset = 0;
  const dnnl_status_t st = dnnl_gemm_u8s8s32('N', 'N', 'F', static_cast<dnnl_dim_t>(rows), static_cast<dnnl_dim_t>(ncols),
                                             static_cast<dnnl_dim_t>(inner), 1.0f, a, static_cast<dnnl_dim_t>(inner),
                                             a_offset, b, static_cast<dnnl_dim_t>(ncols), b_offset, 0.0f, C,
                                             static_cast<dnnl_dim_t>(ncols), &no_c_offset);
  if (st != dnnl_success) throw std::runtime_error("oneDNN int8 GEMM failed (status " + std::to_string(static_cast<int>(st)) + ")");
}
}  // namespace

void int8_transposed_byte_gemm(std::size_t cols, std::size_t inner, std::size_t nbytes, const std::int8_t* w,
                               const std::int8_t* bytes_minus_128, std::int32_t* C) {
  const std::int32_t no_c_offset = 0;
  const dnnl_status_t st = dnnl_gemm_s8s8s32('T', 'N', 'F', static_cast<dnnl_dim_t>(cols), static_cast<dnnl_dim_t>(nbytes),
                                             static_cast<dnnl_dim_t>(inner), 1.0f, w, static_cast<dnnl_dim_t>(cols), 0,
                                             bytes_minus_128, static_cast<dnnl_dim_t>(nbytes), -128, 0.0f, C,
                                             static_cast<dnnl_dim_t>(nbytes), &no_c_offset);
  if (st != dnnl_success) throw std::runtime_error("oneDNN int8 GEMM failed (status " + std::to_string(static_cast<int>(st)) + ")");
}

void u8_limb_gemm(std::size_t rows, std::size_t inner, std::size_t ncols, const std::uint8_t* w_plus_128,
                  const std::int8_t* limbs_minus_128, std::int32_t* C) {
  gemm_u8s8s32(rows, inner, ncols, w_plus_128, 128, limbs_minus_128, -128, C);
}

}  // namespace nnproof
