#include "host/engines/limb_gemm.hpp"

#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>

#include <oneapi/dnnl/dnnl.hpp>
#include <stdexcept>
#include <string>

namespace nnproof {

LimbPlan plan_limbs(std::uint64_t max_row_abs_sum, unsigned field_bits) {
  constexpr std::uint64_t kExact = std::uint64_t{1} << 53;
  unsigned c = 0;
  while (c < field_bits && c < 52 &&
         ((std::uint64_t{1} << (c + 1)) - 1) * static_cast<unsigned __int128>(max_row_abs_sum) <= kExact)
    ++c;
  if (c < 8) return {};  // too narrow to pay: the direct kernel is faster and simpler
  return {c, (field_bits + c - 1) / c};
}

void dgemm_rowmajor(std::size_t rows, std::size_t inner, std::size_t ncols, const double* W, const double* B,
                    double* C) {
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
  static const bool vnni =
      effective_isa_includes(dnnl_cpu_isa_avx512_core_vnni) || effective_isa_includes(dnnl_cpu_isa_avx2_vnni);
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

void int8_transposed_byte_gemm(std::size_t cols, std::size_t inner, std::size_t nbytes, const std::int8_t* w,
                               const std::int8_t* bytes_minus_128, std::int32_t* C) {
  const std::int32_t no_c_offset = 0;
  const dnnl_status_t st =
      dnnl_gemm_s8s8s32('T', 'N', 'F', static_cast<dnnl_dim_t>(cols), static_cast<dnnl_dim_t>(nbytes),
                        static_cast<dnnl_dim_t>(inner), 1.0f, w, static_cast<dnnl_dim_t>(cols), 0, bytes_minus_128,
                        static_cast<dnnl_dim_t>(nbytes), -128, 0.0f, C, static_cast<dnnl_dim_t>(nbytes), &no_c_offset);
  if (st != dnnl_success)
    throw std::runtime_error("oneDNN int8 GEMM failed (status " + std::to_string(static_cast<int>(st)) + ")");
}

// Below this many weight rows the matmul's per-call repacking of the limbs (inner x ncols) costs
// more than its faster kernel saves: the TIMIT output layer (183 rows) took 2.6 ms by matmul and
// 1.5 ms by the GEMM interface, whose result is the same.
constexpr std::size_t kMatmulMinRows = 512;

void int8_limb_matmul(std::size_t rows, std::size_t inner, std::size_t ncols, const std::int8_t* w,
                      const std::int8_t* limbs_minus_128, std::int32_t* C) {
  if (rows < kMatmulMinRows) {
    const std::int32_t no_c_offset = 0;
    const dnnl_status_t st =
        dnnl_gemm_s8s8s32('N', 'N', 'F', static_cast<dnnl_dim_t>(rows), static_cast<dnnl_dim_t>(ncols),
                          static_cast<dnnl_dim_t>(inner), 1.0f, w, static_cast<dnnl_dim_t>(inner), 0, limbs_minus_128,
                          static_cast<dnnl_dim_t>(ncols), 0, 0.0f, C, static_cast<dnnl_dim_t>(ncols), &no_c_offset);
    if (st != dnnl_success)
      throw std::runtime_error("oneDNN int8 GEMM failed (status " + std::to_string(static_cast<int>(st)) + ")");
    return;
  }
  using dnnl::memory;
  static const dnnl::engine cpu(dnnl::engine::kind::cpu, 0);
  const auto dim = [](std::size_t d) { return static_cast<memory::dim>(d); };
  const memory::desc w_desc({dim(rows), dim(inner)}, memory::data_type::s8, memory::format_tag::ab);
  const memory::desc l_desc({dim(inner), dim(ncols)}, memory::data_type::s8, memory::format_tag::ab);
  const memory::desc c_desc({dim(rows), dim(ncols)}, memory::data_type::s32, memory::format_tag::ab);
  try {
    // Built per call: oneDNN's primitive cache returns the compiled kernel of a seen shape (~15 us).
    const dnnl::matmul matmul(dnnl::matmul::primitive_desc(dnnl::matmul::desc(w_desc, l_desc, c_desc), cpu));
    dnnl::stream stream(cpu);
    memory w_mem(w_desc, cpu, const_cast<std::int8_t*>(w)),
        l_mem(l_desc, cpu, const_cast<std::int8_t*>(limbs_minus_128)), c_mem(c_desc, cpu, C);
    matmul.execute(stream, {{DNNL_ARG_SRC, w_mem}, {DNNL_ARG_WEIGHTS, l_mem}, {DNNL_ARG_DST, c_mem}});
    stream.wait();
  } catch (const dnnl::error& e) {
    throw std::runtime_error(std::string("oneDNN int8 matmul failed: ") + e.what());
  }
}

}  // namespace nnproof
