#include <cuda_runtime.h>

#include "kernels/device_info.hpp"

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
  if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess) info.name = prop.name;
  return info;
}

}  // namespace nnproof
