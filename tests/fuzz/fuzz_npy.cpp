// SPDX-License-Identifier: Apache-2.0
// libFuzzer: the .npy reader must refuse (NpyError) or read, never crash, hang or over-allocate.
#include "host/npy.hpp"
#include "tests/fuzz/fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& path = nnproof::fuzz::write_scratch(data, size, ".npy");
  try {
    nnproof::NpyArray a = nnproof::read_npy(path);
    if (a.size() != (a.is_integer() ? a.integers.size() : a.reals.size())) __builtin_trap();
  } catch (const nnproof::NpyError&) {
  }
  return 0;
}
