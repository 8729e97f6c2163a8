// SPDX-License-Identifier: Apache-2.0
#pragma once
// Vectors whose resize leaves new elements unwritten, for tables that are written in full right
// after they are sized. A std::vector zero-fills them first, on the calling thread: for the
// activation sum-check's 4 MiB third-round table that was 0.25-0.5 ms of a single core before a
// parallel pass that overwrites every entry (TIMIT shape, m61).
#include <algorithm>
#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace nnproof {

inline constexpr std::size_t kTableAlignment = 64;

// A standalone allocator (not derived from std::allocator, whose inherited members, such as
// C++23's allocate_at_least, would allocate without the alignment that deallocate assumes).
template <class T>
struct UninitializedAllocator {
  using value_type = T;
  using propagate_on_container_move_assignment = std::true_type;
  using is_always_equal = std::true_type;
  static constexpr std::align_val_t kAlignment{std::max(kTableAlignment, alignof(T))};

  UninitializedAllocator() = default;
  template <class U>
  UninitializedAllocator(const UninitializedAllocator<U>&) noexcept {}

  // Cache-line aligned: a table's rows are then read and written by whole vector registers that
  // never straddle two lines (malloc's large blocks start 16 bytes past a page: an unaligned row
  // made the int8 convolution's int64 join a quarter slower).
  T* allocate(std::size_t n) {
    if (n > std::size_t(-1) / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T*>(::operator new(n * sizeof(T), kAlignment));
  }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, kAlignment); }

  // Default construction writes nothing. Only for field elements and other types whose objects
  // the allocation itself creates (implicit-lifetime: trivially copyable and destructible).
  template <class U>
  void construct(U*) noexcept {
    static_assert(std::is_trivially_copyable_v<U> && std::is_trivially_destructible_v<U>);
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }

  template <class U>
  bool operator==(const UninitializedAllocator<U>&) const noexcept {
    return true;
  }
};

template <class T>
using UninitializedVector = std::vector<T, UninitializedAllocator<T>>;

}  // namespace nnproof
