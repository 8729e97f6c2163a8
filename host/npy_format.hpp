// SPDX-License-Identifier: Apache-2.0
#pragma once
// What the .npy reader (npy_read.cpp) and writer (npy_write.cpp) share: the format's magic, the I/O
// chunk, and the one-line NpyError messages. Internal to those two files; the rest of nnproof
// includes host/npy.hpp.
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "host/npy.hpp"

namespace nnproof::npy_detail {

constexpr std::string_view kMagic = "\x93NUMPY";
constexpr std::size_t kChunkElems = 1 << 16;  // I/O chunk, so no full-size byte buffer is needed
constexpr const char* kResaveFix = "re-save the array with numpy.save";

[[noreturn]] inline void fail(const std::string& path, const std::string& problem) {
  throw NpyError(path + ": " + problem);
}

using FilePtr = std::unique_ptr<std::FILE, int (*)(std::FILE*)>;

inline std::string errno_text() { return std::generic_category().message(errno); }

// Python repr of a shape tuple: (), (3,), (2, 3).
inline std::string shape_repr(const std::vector<std::size_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

}  // namespace nnproof::npy_detail
