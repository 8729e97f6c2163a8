// SPDX-License-Identifier: Apache-2.0
#pragma once
// A cache of per-layer objects made from a layer's int8 weights: the cpu engine's repacked oneDNN
// matmuls (Int8WeightsMatmul) and the Thrust engine's device copies (DeviceInt8Weights). Entries
// are found by the weights' stamp (WeightMatrix::stamp, verifier/weight_matrix.hpp), which names
// one matrix's current contents within the process: a lookup is O(1) in the weights' size (it was
// a byte-for-byte comparison, ~2 ms per TIMIT proof), and weights changed through a member, a copy
// or a new model at a recycled address all carry a stamp no entry has, so they are never served an
// old entry. At most kMaxEntries layers are kept, the oldest dropped first.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "verifier/weight_matrix.hpp"

namespace nnproof {

// Entry: constructible from (const std::int8_t* weights, rows, cols).
template <class Entry>
class WeightsCache {
 public:
  // The entry for w, stored as int8 (w.int8_data() non-null), rows x cols.
  Entry& get(const WeightMatrix& w, std::size_t rows, std::size_t cols) {
    for (const auto& e : entries_)
      if (e.stamp == w.stamp() && e.rows == rows && e.cols == cols) return *e.entry;
    if (entries_.size() == kMaxEntries) entries_.erase(entries_.begin());
    entries_.push_back({w.stamp(), rows, cols, std::make_unique<Entry>(w.int8_data(), rows, cols)});
    return *entries_.back().entry;
  }

 private:
  struct Slot {
    std::uint64_t stamp;
    std::size_t rows, cols;
    std::unique_ptr<Entry> entry;
  };
  static constexpr std::size_t kMaxEntries = 64;
  std::vector<Slot> entries_;
};

}  // namespace nnproof
