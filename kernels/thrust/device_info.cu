// SPDX-License-Identifier: Apache-2.0
#include <cuda_runtime.h>

#include <string>

#include "kernels/thrust/device_info.hpp"

namespace nnproof {

DeviceInfo query_cuda_devices() {
  DeviceInfo info;
  cudaError_t err = cudaGetDeviceCount(&info.count);
  if (err != cudaSuccess) {
    info.count = 0;
    info.why_none = cudaGetErrorString(err);
    return info;
  }
  if (info.count == 0) {
    info.why_none = "no CUDA device";
    return info;
  }
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess) {
    info.name = prop.name;
    info.total_memory = prop.totalGlobalMem;
    // The binary holds sm_80 and sm_90 code (and compute_90 PTX): any 8.x or later device runs it,
    // an older one (V100, T4) fails at its first kernel with "no kernel image is available".
    if (prop.major < 8) {
      info.count = 0;
      info.why_none = std::string(prop.name) + " has compute capability " + std::to_string(prop.major) + "." +
                      std::to_string(prop.minor) + "; this build needs 8.0 or newer";
    }
  }
  return info;
}

}  // namespace nnproof
