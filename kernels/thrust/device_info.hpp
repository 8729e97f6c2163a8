// SPDX-License-Identifier: Apache-2.0
#pragma once
// What CUDA devices this process can use. Built with nvcc when CUDA is enabled; otherwise a stub
// that reports none, so the host code never needs #ifdefs.
#include <cstddef>
#include <string>

namespace nnproof {

struct DeviceInfo {
  int count = 0;                 // usable CUDA devices
  std::string name;              // of device 0, when count > 0
  std::string why_none;          // when count == 0: the runtime's reason, or "built without CUDA"
  std::size_t total_memory = 0;  // of device 0, bytes, when count > 0 (the prover's default --max-memory)
};

DeviceInfo query_cuda_devices();

}  // namespace nnproof
