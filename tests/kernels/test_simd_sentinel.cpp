// SPDX-License-Identifier: Apache-2.0
// The kernel tests run every implementation the CPU has against plain field arithmetic; on a CPU
// without AVX-512 IFMA / VNNI that is only the portable twins, and they pass. This test says so:
// it lists the fast kernels this process did not get, skips with that list, and fails with it
// when NNPROOF_REQUIRE_SIMD is set (.ci/run sets it where /proc/cpuinfo reports avx512ifma and
// avx512_vnni), so a CI machine that silently lost the fast paths is noticed.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "kernels/cpu/int8_column_sums.hpp"
#include "kernels/cpu/isa.hpp"
#include "kernels/cpu/m127_kernels.hpp"
#include "kernels/cpu/m61_kernels.hpp"
#include "verifier/int8_chunk_dot.hpp"
#include "verifier/row_dots.hpp"

namespace nnproof {
namespace {

// The name of the implementation each kernel test exercises first (the one the engine uses).
template <class List>
std::string fastest(const List& list) {
  return list.front().name;
}

std::vector<std::string> portable_only() {
  std::vector<std::string> missing;
  auto expect = [&](const std::string& got, const char* want, const char* what) {
    if (got != want) missing.push_back(std::string(what) + " (" + want + ", got " + got + ")");
  };
  expect(fastest(m61_kernels_available()), "avx512-ifma", "m61 sum-check kernels");
  expect(fastest(m127_kernels_available()), "avx512-ifma", "m127 sum-check kernels");
  expect(fastest(row_dot_kernels<Fp61x2>()), "avx512-ifma", "m61 row dots");
  expect(fastest(row_dot_kernels<Fp127>()), "avx512-ifma", "m127 row dots");
  expect(fastest(int8_byte_dots_kernels()), "avx512-vnni", "verifier byte dots");
  expect(fastest(int8_column_sums_kernels()), "avx512-vnni", "row_combine column sums");
  if (!int8_limb_gemm_available()) missing.push_back("oneDNN's exact int8 GEMM (VNNI or AMX)");
  return missing;
}

TEST(SimdSentinel, TheFastKernelsAreTheOnesTested) {
  const std::vector<std::string> missing = portable_only();
  if (missing.empty()) return;
  std::string list;
  for (const auto& m : missing) list += "\n  " + m;
  if (std::getenv("NNPROOF_REQUIRE_SIMD") != nullptr)
    FAIL() << "NNPROOF_REQUIRE_SIMD is set but these kernels fell back to their portable twins:" << list;
  GTEST_SKIP() << "this CPU (or ONEDNN_MAX_CPU_ISA) leaves only the portable twins of:" << list;
}

}  // namespace
}  // namespace nnproof
