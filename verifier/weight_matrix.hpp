// SPDX-License-Identifier: Apache-2.0
#pragma once
// Integer weight storage shared by dense layers and structured ops.
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <variant>
#include <vector>

namespace nnproof {

// Integer weights in the narrowest of int8 / int16 / int32 / int64 that holds them all. Quantized
// weights are usually int8: the verifier and the engines then read 8x fewer bytes than int64.
//
// Every matrix carries a stamp(): a process-unique number that names its current contents. It is
// taken from a process-wide counter when the matrix is made, copied into (a copy gets its own
// stamp, not its source's) or changed through a member (set(), mutable_int8_data(), assignment),
// so two stamps are equal only if they name the same object's same contents. The engines' weight
// caches (kernels/engine/weights_cache.hpp) find a layer's device copy or repacked weights by the
// stamp, in O(1), instead of comparing megabytes of weights on every use.
//
// The rule that makes this sound: a pointer from mutable_int8_data() is for writing the weights
// now, not for keeping. Writes through it after the call that returned it (say, between two
// proofs) do not renew the stamp, and an engine would go on proving with the weights it cached.
// Call mutable_int8_data() again for each change; never write through a const_cast.
class WeightMatrix {
 public:
  WeightMatrix() = default;
  WeightMatrix(std::vector<std::int64_t> values);  // NOLINT: converting, so layers brace-initialize
  WeightMatrix(std::initializer_list<std::int64_t> values) : WeightMatrix(std::vector<std::int64_t>(values)) {}
  // A copy has the same entries and a new stamp; a move keeps the stamp with the entries, and the
  // moved-from matrix (its contents unspecified) gets a new one.
  WeightMatrix(const WeightMatrix& other) : data_(other.data_) {}
  WeightMatrix(WeightMatrix&& other) noexcept : data_(std::move(other.data_)), stamp_(other.stamp_) {
    other.stamp_ = next_stamp();
  }
  WeightMatrix& operator=(const WeightMatrix& other) {
    if (this != &other) data_ = other.data_, stamp_ = next_stamp();
    return *this;
  }
  WeightMatrix& operator=(WeightMatrix&& other) noexcept {
    if (this != &other) data_ = std::move(other.data_), stamp_ = other.stamp_, other.stamp_ = next_stamp();
    return *this;
  }
  ~WeightMatrix() = default;

  // The storage for n entries in [lo, hi], the narrowest that holds that range, written by
  // fill(T* data) with T its type: a caller that knows the range (the quantizer) writes the
  // canonical storage directly, without an int64 copy of the entries. fill must stay in [lo, hi].
  template <class Fill>
  static WeightMatrix with_range(std::int64_t lo, std::int64_t hi, std::size_t n, Fill&& fill) {
    WeightMatrix m;
    with_type_for(lo, hi, [&](auto type_tag) {
      std::vector<decltype(type_tag)> v(n);
      fill(v.data());
      m.data_ = std::move(v);
    });
    return m;
  }

  std::size_t size() const;
  std::int64_t operator[](std::size_t i) const;
  void set(std::size_t i, std::int64_t value);  // widens the storage when needed
  unsigned width() const;                       // bytes per entry: 1, 2, 4 or 8
  std::vector<std::int64_t> to_vector() const;
  // The entries when stored as int8 (width() == 1), else nullptr.
  const std::int8_t* int8_data() const;
  // The same, for writing in place (each entry must stay an int8): renews the stamp. Write through
  // it before any other call on the matrix, and do not keep it (the class comment's rule).
  std::int8_t* mutable_int8_data();
  // Names these contents of this matrix within the process (the class comment); never 0.
  std::uint64_t stamp() const { return stamp_; }

  // fn(const T* data) with T the storage type: kernels compile once per width.
  template <class Fn>
  decltype(auto) visit(Fn&& fn) const {
    return std::visit([&](const auto& v) -> decltype(auto) { return fn(v.data()); }, data_);
  }

 private:
  template <class T>
  static bool fits(std::int64_t lo, std::int64_t hi) {
    return lo >= std::numeric_limits<T>::min() && hi <= std::numeric_limits<T>::max();
  }
  // make(T{}) with T the narrowest storage type that holds [lo, hi]: the one choice of width.
  template <class Make>
  static void with_type_for(std::int64_t lo, std::int64_t hi, Make&& make) {
    if (fits<std::int8_t>(lo, hi))
      make(std::int8_t{});
    else if (fits<std::int16_t>(lo, hi))
      make(std::int16_t{});
    else if (fits<std::int32_t>(lo, hi))
      make(std::int32_t{});
    else
      make(std::int64_t{});
  }

  // A number no matrix of this process has had (one counter, defined in weight_matrix.cpp).
  static std::uint64_t next_stamp();

  std::variant<std::vector<std::int8_t>, std::vector<std::int16_t>, std::vector<std::int32_t>,
               std::vector<std::int64_t>>
      data_;
  std::uint64_t stamp_ = next_stamp();
};

}  // namespace nnproof
