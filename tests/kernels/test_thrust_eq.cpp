// SPDX-License-Identifier: Apache-2.0
// The Thrust engine's eq tables built on the device from their point (kernels/thrust/eq_tables.inl)
// are the host's eq_table (core/polynomial.hpp) byte for byte: every size from 0 to 16 variables
// (through the single-thread start and the per-variable passes), random and special points (0, 1,
// -1, repeated coordinates), in both fields' extension K. Built here for Thrust's OpenMP backend in a
// namespace of its own, as test_device_vector.cpp, so the engine's own code is what runs.
#define THRUST_DEVICE_SYSTEM THRUST_DEVICE_SYSTEM_OMP
#define NNP_THRUST_NS eq_test

#include <thrust/system/omp/execution_policy.h>

#include <cstddef>
#include <cstring>
#include <new>

namespace nnproof::eq_test {
void* device_allocate(std::size_t bytes) { return ::operator new(bytes); }
void device_free(void* p) noexcept { ::operator delete(p); }
inline auto exec_nosync() { return thrust::omp::par; }
}  // namespace nnproof::eq_test

#include <gtest/gtest.h>

#include <vector>

#include "core/fields.hpp"
#include "core/polynomial.hpp"
#include "kernels/thrust/eq_tables.inl"
#include "tests/support/random.hpp"

namespace nnproof::eq_test {
namespace {

// eq(x, .) on the "device": the point uploaded, the table built there and copied back. The table
// is made larger than needed and filled with a marker so that a write past 2^n shows.
template <class K>
std::vector<K> device_eq(const std::vector<K>& x) {
  const std::size_t n = std::size_t{1} << x.size();
  DeviceVector<K> point(x.begin(), x.end());
  DeviceVector<K> table(n + 1, K::one() + K::one());
  device_eq_table(raw(table), raw(point), static_cast<unsigned>(x.size()));
  std::vector<K> out(table.size());
  thrust::copy(table.begin(), table.end(), out.begin());
  EXPECT_EQ(out.back(), K::one() + K::one()) << "written past 2^" << x.size() << " entries";
  out.pop_back();
  return out;
}

template <class K>
void expect_host_bytes(const std::vector<K>& x, const char* what) {
  const std::vector<K> want = eq_table<K>(std::span<const K>(x)), got = device_eq(x);
  ASSERT_EQ(got.size(), want.size()) << what << ", " << x.size() << " variables";
  EXPECT_EQ(std::memcmp(got.data(), want.data(), want.size() * sizeof(K)), 0)
      << what << ", " << x.size() << " variables: the device's table differs from the host's";
}

template <class Cfg>
class ThrustEqTable : public ::testing::Test {};
using Configs = ::testing::Types<M61, M127>;
TYPED_TEST_SUITE(ThrustEqTable, Configs);

TYPED_TEST(ThrustEqTable, IsTheHostTableByteForByte) {
  using K = typename TypeParam::K;
  auto rng = testing::make_rng(93);
  for (unsigned n = 0; n <= 16; ++n) {
    std::vector<K> x(n);
    for (auto& e : x) e = random_element<K>(rng);
    expect_host_bytes(x, "random point");
  }
  // Special points: every table entry 0 or 1 (a Boolean point), -1's, and one coordinate repeated.
  const K minus_one = K::zero() - K::one();
  for (unsigned n : {1u, 5u, 6u, 7u, 12u}) {
    std::vector<K> boolean(n), negative(n, minus_one), repeated(n, random_element<K>(rng));
    for (unsigned i = 0; i < n; ++i) boolean[i] = (i % 3 == 0) ? K::one() : K::zero();
    expect_host_bytes(boolean, "Boolean point");
    expect_host_bytes(negative, "all -1");
    expect_host_bytes(repeated, "one coordinate repeated");
  }
}

// The table sums to 1 and a Boolean point's table is its one-hot vector: a check on the doubling's
// index order that does not lean on the host's code.
TYPED_TEST(ThrustEqTable, ABooleanPointIsOneHot) {
  using K = typename TypeParam::K;
  for (unsigned n : {3u, 6u, 9u}) {
    for (std::size_t idx : {std::size_t{0}, std::size_t{5}, (std::size_t{1} << n) - 1}) {
      std::vector<K> x(n);
      for (unsigned b = 0; b < n; ++b) x[b] = (idx >> b) & 1 ? K::one() : K::zero();
      const auto t = device_eq(x);
      for (std::size_t i = 0; i < t.size(); ++i) ASSERT_EQ(t[i], i == idx ? K::one() : K::zero()) << n << " " << i;
    }
  }
}

}  // namespace
}  // namespace nnproof::eq_test
