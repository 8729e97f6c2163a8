// SPDX-License-Identifier: Apache-2.0
// The CUDA build: the nnproof binary embeds SASS for every architecture CMake was asked for
// (sm_80 and sm_90 by default), checked without cuobjdump: a fat binary's cubins are ELF images with
// e_machine 190 (EM_CUDA), and bits 8-15 of their e_flags give the SM version.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>

namespace nnproof {
namespace {

[[maybe_unused]] std::set<int> embedded_sass_versions(const std::string& bytes) {  // (unused without CUDA)
  std::set<int> versions;
  for (std::size_t i = bytes.find("\x7f"
                                  "ELF");
       i != std::string::npos; i = bytes.find("\x7f"
                                              "ELF",
                                              i + 1)) {
    if (i + 64 > bytes.size() || bytes[i + 4] != 2) continue;  // 64-bit ELF headers only
    std::uint16_t machine;
    std::uint32_t flags;
    std::memcpy(&machine, bytes.data() + i + 18, 2);
    std::memcpy(&flags, bytes.data() + i + 48, 4);
    if (machine == 190) versions.insert(static_cast<int>((flags >> 8) & 0xff));
  }
  return versions;
}

TEST(CudaBuild, BinaryEmbedsSassForEveryRequestedArchitecture) {
#ifndef NNPROOF_CUDA_ARCHS
  GTEST_SKIP() << "built without CUDA";
#else
  const char* bin = std::getenv("NNPROOF_BIN");
  if (!bin) GTEST_SKIP() << "NNPROOF_BIN is not set (run through ctest)";
  std::ifstream in(bin, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  ASSERT_FALSE(bytes.empty()) << bin;
  const std::set<int> found = embedded_sass_versions(bytes);
  std::stringstream wanted(NNPROOF_CUDA_ARCHS);  // e.g. "80,90"
  std::string arch;
  int count = 0;
  while (std::getline(wanted, arch, ',')) {
    const int sm = std::stoi(arch);  // "90a" or "80-real" still start with the number
    EXPECT_TRUE(found.count(sm)) << "no SASS for sm_" << sm << " in " << bin;
    ++count;
  }
  EXPECT_GT(count, 0);
#endif
}

}  // namespace
}  // namespace nnproof
