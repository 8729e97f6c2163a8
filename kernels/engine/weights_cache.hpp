// SPDX-License-Identifier: Apache-2.0
#pragma once
// A cache of per-layer objects made from a layer's int8 weights: the cpu engine's repacked oneDNN
// matmuls (Int8WeightsMatmul) and the Thrust engine's device copies (DeviceInt8Weights). Entries
// are found by content, not by address: Entry::holds compares the caller's weights with the
// entry's own copy byte for byte, so weights changed in place, or a new model at a recycled
// address, are never served an old entry. At most kMaxEntries layers are kept, the oldest dropped
// first.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace nnproof {

// Entry: constructible from (weights, rows, cols), with bool holds(weights, rows, cols) const.
template <class Entry>
class WeightsCache {
 public:
  Entry& get(const std::int8_t* w, std::size_t rows, std::size_t cols) {
    for (const auto& e : entries_)
      if (e->holds(w, rows, cols)) return *e;
    if (entries_.size() == kMaxEntries) entries_.erase(entries_.begin());
    entries_.push_back(std::make_unique<Entry>(w, rows, cols));
    return *entries_.back();
  }

 private:
  static constexpr std::size_t kMaxEntries = 64;
  std::vector<std::unique_ptr<Entry>> entries_;
};

}  // namespace nnproof
