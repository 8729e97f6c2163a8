// SPDX-License-Identifier: Apache-2.0
#pragma once
// Vectors whose resize leaves new elements unwritten, for tables that are written in full right
// after they are sized. A std::vector zero-fills them first, on the calling thread: for the
// activation sum-check's 4 MiB third-round table that was 0.25-0.5 ms of a single core before a
// parallel pass that overwrites every entry (TIMIT shape, m61).
#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace nnproof {

inline constexpr std::size_t kTableAlignment = 64;

template <class T>
struct UninitializedAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = UninitializedAllocator<U>;
  };
  UninitializedAllocator() = default;
  template <class U>
  UninitializedAllocator(const UninitializedAllocator<U>&) noexcept {}

  // Cache-line aligned: a table's rows are then read and written by whole vector registers that
  // never straddle two lines (malloc's large blocks start 16 bytes past a page).
  T* allocate(std::size_t n) {
    if (n > std::size_t(-1) / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{kTableAlignment}));
  }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete (p, std::align_val_t{kTableAlignment}); }

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
};

template <class T>
using UninitializedVector = std::vector<T, UninitializedAllocator<T>>;

}  // namespace nnproof
