// SPDX-License-Identifier: Apache-2.0
#include "verifier/weight_matrix.hpp"

#include <algorithm>
#include <atomic>
#include <limits>
#include <type_traits>

namespace nnproof {

WeightMatrix::WeightMatrix(std::vector<std::int64_t> values) {
  std::int64_t lo = 0, hi = 0;
  for (auto x : values) lo = std::min(lo, x), hi = std::max(hi, x);
  with_type_for(lo, hi, [&](auto type_tag) {
    using T = decltype(type_tag);
    if constexpr (std::is_same_v<T, std::int64_t>)
      data_ = std::move(values);
    else
      data_ = std::vector<T>(values.begin(), values.end());
  });
}

std::size_t WeightMatrix::size() const {
  return std::visit([](const auto& v) { return v.size(); }, data_);
}

std::int64_t WeightMatrix::operator[](std::size_t i) const {
  return std::visit([i](const auto& v) { return static_cast<std::int64_t>(v[i]); }, data_);
}

void WeightMatrix::set(std::size_t i, std::int64_t value) {
  std::vector<std::int64_t> all = to_vector();
  all[i] = value;
  *this = WeightMatrix(std::move(all));  // re-pick the narrowest width: the encoding stays canonical
  stamp_ = next_stamp();                 // (the move brought a fresh one already; this says why)
}

unsigned WeightMatrix::width() const {
  return std::visit([](const auto& v) { return static_cast<unsigned>(sizeof(v[0])); }, data_);
}

std::vector<std::int64_t> WeightMatrix::to_vector() const {
  return std::visit([](const auto& v) { return std::vector<std::int64_t>(v.begin(), v.end()); }, data_);
}

const std::int8_t* WeightMatrix::int8_data() const {
  const auto* v = std::get_if<std::vector<std::int8_t>>(&data_);
  return v ? v->data() : nullptr;
}

std::uint64_t WeightMatrix::next_stamp() {
  static std::atomic<std::uint64_t> counter{0};
  return counter.fetch_add(1, std::memory_order_relaxed) + 1;
}

std::int8_t* WeightMatrix::mutable_int8_data() {
  auto* v = std::get_if<std::vector<std::int8_t>>(&data_);
  stamp_ = next_stamp();
  return v ? v->data() : nullptr;
}

}  // namespace nnproof
