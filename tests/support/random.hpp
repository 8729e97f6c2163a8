#pragma once
// Seeded randomness for tests: a fixed default seed, printed, overridable by NNPROOF_TEST_SEED.
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <random>
#include <type_traits>

#include "core/fields.hpp"

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

inline std::mt19937_64 make_rng(std::uint64_t salt = 0) { return std::mt19937_64(test_seed() ^ (salt * 0x9E3779B97F4A7C15ull)); }

template <class F>
F random_element(std::mt19937_64& rng) {
  if constexpr (std::is_same_v<F, Fp61x2>) {
    return Fp61x2{random_element<Fp61>(rng), random_element<Fp61>(rng)};
  } else {
    return F::from_u128((static_cast<u128>(rng()) << 64) | rng());
  }
}

}  // namespace nnproof::testing
