// SPDX-License-Identifier: Apache-2.0
#pragma once
// Vectors whose resize leaves new elements unwritten, for tables that are written in full right
// after they are sized. A std::vector zero-fills them first, on the calling thread: for the
// activation sum-check's 4 MiB third-round table that was 0.25-0.5 ms of a single core before a
// parallel pass that overwrites every entry (TIMIT shape, m61).
#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace nnproof {

inline constexpr std::size_t kTableAlignment = 64;

// Tables of at least this many bytes ask the kernel for transparent huge pages (2 MiB).
inline constexpr std::size_t kHugePageTableBytes = std::size_t{8} << 20;

// Asks for huge pages over the 2 MiB-aligned part of [p, p + bytes) (never a page outside it): a
// hidden Z is written and read by rows 4 KiB apart (m127 at batch 256; int32 at batch 1000), one
// small page a row, so a pass across rows took a TLB miss at nearly every row (CNN-2-Quad b1000's
// proof: ~5% faster on huge pages). Only advice: where THP is off, or on other systems, nothing
// changes. (The prover's heap is never trimmed, keep_freed_memory: a range once advised stays so
// for the tables that reuse it, and its first faults are paid once a process.)
inline void advise_huge_pages([[maybe_unused]] void* p, [[maybe_unused]] std::size_t bytes) noexcept {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr std::uintptr_t kHuge = std::uintptr_t{2} << 20;
  const auto begin = (reinterpret_cast<std::uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
  const auto end = (reinterpret_cast<std::uintptr_t>(p) + bytes) & ~(kHuge - 1);
  const int saved = errno;  // EINVAL where the kernel has no THP: advice only, nobody's error
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
  errno = saved;
#endif
}

// A standalone allocator (not derived from std::allocator, whose inherited members, such as
// C++23's allocate_at_least, would allocate without the alignment that deallocate assumes).
// kHugePages: blocks of at least kHugePageTableBytes ask for huge pages (advise_huge_pages); for
// the large tables that a pass reads or writes across rows (a CNN's hidden Z), not for every
// vector: the training proof's many short-lived tables then spent more in the kernel faulting and
// freeing huge pages than they saved (sys time 0.8 -> 2.6 s over a bench run).
template <class T, bool kHugePages = false>
struct UninitializedAllocator {
  using value_type = T;
  using propagate_on_container_move_assignment = std::true_type;
  using is_always_equal = std::true_type;
  static constexpr std::align_val_t kAlignment{std::max(kTableAlignment, alignof(T))};

  UninitializedAllocator() = default;
  template <class U>
  UninitializedAllocator(const UninitializedAllocator<U, kHugePages>&) noexcept {}
  template <class U>
  struct rebind {
    using other = UninitializedAllocator<U, kHugePages>;
  };

  // Cache-line aligned: a table's rows are then read and written by whole vector registers that
  // never straddle two lines (malloc's large blocks start 16 bytes past a page: an unaligned row
  // made the int8 convolution's int64 join a quarter slower).
  T* allocate(std::size_t n) {
    if (n > std::size_t(-1) / sizeof(T)) throw std::bad_array_new_length();
    T* p = static_cast<T*>(::operator new(n * sizeof(T), kAlignment));
    if constexpr (kHugePages)
      if (n * sizeof(T) >= kHugePageTableBytes) advise_huge_pages(p, n * sizeof(T));
    return p;
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
  bool operator==(const UninitializedAllocator<U, kHugePages>&) const noexcept {
    return true;
  }
};

template <class T>
using UninitializedVector = std::vector<T, UninitializedAllocator<T>>;
// The same, on huge pages where large (UninitializedAllocator's kHugePages).
template <class T>
using HugePageVector = std::vector<T, UninitializedAllocator<T, true>>;

}  // namespace nnproof
