// SPDX-License-Identifier: Apache-2.0
// DeviceVector (kernels/thrust/device_vector.hpp): tables made with a size alone are left as the backend
// allocated them (no fill pass, no construct pass: nothing runs over them), tables made with a value
// are filled with it. Built for Thrust's OpenMP backend over an allocator whose fresh memory is a known byte,
// so the test sees exactly which bytes Thrust wrote.
#define THRUST_DEVICE_SYSTEM THRUST_DEVICE_SYSTEM_OMP
#define NNP_THRUST_NS device_vector_test

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>

namespace nnproof::device_vector_test {
constexpr unsigned char kFresh = 0xA5;  // every byte of newly allocated memory
void* device_allocate(std::size_t bytes) { return std::memset(::operator new(bytes), kFresh, bytes); }
void device_free(void* p) noexcept { ::operator delete(p); }
}  // namespace nnproof::device_vector_test

#include <gtest/gtest.h>

#include "core/fields.hpp"
#include "kernels/thrust/device_vector.hpp"

namespace nnproof::device_vector_test {
namespace {

constexpr std::uint32_t kFreshWord = 0xA5A5A5A5u;

TEST(DeviceVector, ATableMadeWithASizeIsNotFilled) {
  const DeviceVector<std::uint32_t> words(4096);
  for (std::size_t i = 0; i < words.size(); ++i) ASSERT_EQ(words[i], kFreshWord) << i;
  // Field elements too, whose default constructor zeroes: Thrust would otherwise run it per entry.
  const DeviceVector<Fp61x2> elements(1024);
  for (std::size_t i = 0; i < elements.size(); ++i) {
    const Fp61x2 e = elements[i];
    ASSERT_EQ(e.re.v, 0xA5A5A5A5A5A5A5A5u) << i;
  }
}

TEST(DeviceVector, GrowingLeavesTheNewEntriesUnfilledAndKeepsTheOld) {
  DeviceVector<std::uint32_t> v(16, 7u);
  v.resize(4096);
  for (std::size_t i = 0; i < 16; ++i) ASSERT_EQ(v[i], 7u) << i;
  for (std::size_t i = 16; i < v.size(); ++i) ASSERT_EQ(v[i], kFreshWord) << i;
}

// An entry type whose default constructor counts its calls: Thrust runs it per entry (placement new
// through allocator_traits) wherever it constructs a table's entries one by one.
struct Counted {
  static inline std::atomic<int> made{0};
  Counted() { made.fetch_add(1, std::memory_order_relaxed); }
  std::uint32_t v;
};

// Thrust launches a kernel over a new table's entries when its allocator has a construct member
// (even a no-op one, whose functor holds a host reference to the allocator) or when the entries
// must be constructed; with neither, it fills them with T(), which the cases above would see. So:
// no construct member, no constructor run, and (above) no fill: no pass of any kind.
template <class A, class T>
concept ConstructsEntries = requires(A& a, T* p) {
  a.construct(p);
};

TEST(DeviceVector, NothingRunsOverATableMadeWithASize) {
  static_assert(!ConstructsEntries<CachedAllocator<std::uint32_t>, std::uint32_t>,
                "a construct member makes Thrust launch a kernel per table");
  Counted::made = 0;
  DeviceVector<Counted> t(4096);
  t.resize(1 << 14);  // growing: the old entries are copied, the new ones left as allocated
  DeviceVector<Counted> u;
  u.resize(100);
  EXPECT_EQ(Counted::made.load(), 0);
}

TEST(DeviceVector, ATableMadeWithAValueIsFilledWithIt) {
  const DeviceVector<std::int8_t> zeros(4096, 0);
  for (std::size_t i = 0; i < zeros.size(); ++i) ASSERT_EQ(zeros[i], 0) << i;
  const DeviceVector<Fp61> ones(1024, Fp61::one());
  for (std::size_t i = 0; i < ones.size(); ++i) ASSERT_EQ(Fp61(ones[i]), Fp61::one()) << i;
}

}  // namespace
}  // namespace nnproof::device_vector_test
