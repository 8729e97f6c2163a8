// SPDX-License-Identifier: Apache-2.0
// The cuda engine where there may be no device: whether the cross-engine cases ran it, cuBLAS loaded
// only on first use (probed in a fresh process), and a one-line error without a device.
#include <gtest/gtest.h>
#include <link.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "kernels/registry.hpp"
#include "kernels/thrust/device_info.hpp"
#include "kernels/thrust/thrust_engine.hpp"
#include "tests/support/engines.hpp"

namespace nnproof {
namespace {

// The cases above include the cuda engine where a device exists; this one says whether it ran.
TEST(CudaEngine, CrossEngineCasesNeedADevice) {
  DeviceInfo dev = query_cuda_devices();
  const bool required = std::getenv("NNPROOF_REQUIRE_GPU") != nullptr;  // scripts/test --gpu
  if (!thrust_engines_built()) {
    if (required) FAIL() << "scripts/test --gpu: this build has no CUDA engine (no nvcc at build time)";
    GTEST_SKIP() << "built without CUDA";
  }
  if (dev.count == 0) {
    if (required) FAIL() << "scripts/test --gpu: no CUDA device: " << dev.why_none;
    GTEST_SKIP() << "no CUDA device: " << dev.why_none;
  }
  auto cuda = make_cuda_engine<M61>();
  EXPECT_EQ(cuda->name(), "cuda");
}

// The cuda engine loads cuBLAS on first use instead of linking it (kernels/thrust/cublas_library.hpp):
// nothing has loaded it when a process starts, and in a CUDA build the library and every entry
// point the engine calls resolve, with or without a device. The check needs a fresh process: ctest
// runs each case in one, but the GPU bundle runs whole suites in one process, where earlier cases
// have loaded cuBLAS. So the test runs its probe in a fresh copy of this binary.
bool cublas_is_loaded() {
  bool found = false;
  dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* out) {
        if (info->dlpi_name && std::string(info->dlpi_name).find("libcublas") != std::string::npos)
          *static_cast<bool*>(out) = true;
        return 0;
      },
      &found);
  return found;
}

TEST(CudaEngine, CublasProbeInAFreshProcess) {
  if (std::getenv("NNPROOF_CUBLAS_PROBE") == nullptr) GTEST_SKIP() << "run by CublasIsLoadedOnlyWhenTheEngineNeedsIt";
  ASSERT_FALSE(cublas_is_loaded()) << "cuBLAS is linked into the binary: every nnproof start pays for it";
  if (!thrust_engines_built()) return;
  EXPECT_EQ(cublas_load_error(), "");
  EXPECT_TRUE(cublas_is_loaded());
}

TEST(CudaEngine, CublasIsLoadedOnlyWhenTheEngineNeedsIt) {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  const std::string probe =
      "NNPROOF_CUBLAS_PROBE=1 '" + self + "' --gtest_filter=CudaEngine.CublasProbeInAFreshProcess";
  const int status = std::system((probe + " >/dev/null 2>&1").c_str());
  EXPECT_EQ(status, 0) << "the probe failed; rerun it to see why: " << probe;
}

TEST(CudaEngine, WithoutADeviceItIsAOneLineError) {
  if (!thrust_engines_built() || engine_unavailable_reason(EngineId::cuda).empty())
    GTEST_SKIP() << "a device is present (or no CUDA build)";
  try {
    make_cuda_engine<M61>();
    ADD_FAILURE() << "no error";
  } catch (const CudaError& e) {
    EXPECT_NE(std::string(e.what()).find("no CUDA device"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace nnproof
