// SPDX-License-Identifier: Apache-2.0
#pragma once
// Helpers for the libFuzzer targets: the readers take paths, so each input is written to a
// per-process temporary file first.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

namespace nnproof::fuzz {

inline const std::string& scratch_path(const char* suffix) {
  static const std::string path = "/tmp/nnproof-fuzz-" + std::to_string(::getpid()) + suffix;
  return path;
}

inline const std::string& write_scratch(const std::uint8_t* data, std::size_t size, const char* suffix) {
  const std::string& path = scratch_path(suffix);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) __builtin_trap();
  if (size) std::fwrite(data, 1, size, f);
  std::fclose(f);
  return path;
}

}  // namespace nnproof::fuzz
