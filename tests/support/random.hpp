// SPDX-License-Identifier: Apache-2.0
#pragma once
// Seeded randomness for tests: a fixed default seed, printed, overridable by NNPROOF_TEST_SEED.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <type_traits>
#include <vector>

#include "core/fields.hpp"
#include "core/polynomial.hpp"
#include "host/synthetic.hpp"

namespace nnproof::testing {

inline std::uint64_t test_seed() {
  static const std::uint64_t seed = [] {
    const char* env = std::getenv("NNPROOF_TEST_SEED");
    std::uint64_t s = env ? std::strtoull(env, nullptr, 10) : 20261123;
    std::printf("[ seed     ] NNPROOF_TEST_SEED=%llu\n", static_cast<unsigned long long>(s));
    return s;
  }();
  return seed;
}

inline std::mt19937_64 make_rng(std::uint64_t salt = 0) {
  return std::mt19937_64(test_seed() ^ (salt * 0x9E3779B97F4A7C15ull));
}

using nnproof::random_element;

// A random point for the MLE of a table of n entries: ceil(log2 n) coordinates.
template <class K>
std::vector<K> random_point(std::mt19937_64& rng, std::size_t n) {
  std::vector<K> x;
  for (std::size_t t = 0; t < ceil_log2(n); ++t) x.push_back(random_element<K>(rng));
  return x;
}

}  // namespace nnproof::testing
