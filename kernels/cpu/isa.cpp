// SPDX-License-Identifier: Apache-2.0
#include "kernels/cpu/isa.hpp"

#include <oneapi/dnnl/dnnl.h>

namespace nnproof {

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

bool int8_amx_allowed() {
  static const bool allowed = effective_isa_includes(dnnl_cpu_isa_avx512_core_amx);
  return allowed;
}

}  // namespace nnproof
