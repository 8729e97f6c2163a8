// SPDX-License-Identifier: Apache-2.0
#pragma once
// Software prefetch for the passes that visit a few entries of many rows of a feature-major table
// (a row per feature, the batch along it, rows batch x 16 bytes apart in m127): each visit is one
// or a few cache lines in another 4 KiB page, which the hardware prefetcher does not follow across.
// A pass that knows the row it visits next-but-some asks for it itself.
#include <cstddef>

namespace nnproof {

// Rows a pass asks for ahead of the one it works on: enough to cover a miss's latency with the
// work of a few rows, few enough to stay within the core's outstanding misses.
inline constexpr std::size_t kPrefetchRowsAhead = 8;

// Asks for the cache lines of entries [0, n) of `row`, to be read (or written, `for_write`).
template <class T>
inline void prefetch_entries(const T* row, std::size_t n, bool for_write = false) {
  const auto* bytes = reinterpret_cast<const char*>(row);
  for (std::size_t b = 0; b < n * sizeof(T); b += 64) {
    if (for_write)
      __builtin_prefetch(bytes + b, 1);
    else
      __builtin_prefetch(bytes + b, 0);
  }
}

}  // namespace nnproof
