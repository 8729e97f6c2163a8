// SPDX-License-Identifier: Apache-2.0
// The deferred-reduction sums of core/lazy.hpp against plain field arithmetic (each product reduced,
// each sum reduced): random terms and terms at p - 1, enough of them to cross every reduction
// period (32 products, 8 Karatsuba terms) and, for m127, many carries out of 128 bits.
#include <gtest/gtest.h>

#include <vector>

#include "core/lazy.hpp"
#include "tests/support/random.hpp"

namespace nnproof {
namespace {

using testing::make_rng;
using testing::random_element;

template <class T>
T top_element() {
  if constexpr (std::is_same_v<T, Fp61x2>) {
    const Fp61 top = Fp61::zero() - Fp61::one();
    return {top, top};
  } else {
    return T::zero() - T::one();
  }
}

template <class K, class F>
void check_lazy_dots() {
  auto rng = make_rng(90);
  for (bool extreme : {false, true}) {
    for (std::size_t n : {1, 7, 8, 9, 31, 32, 33, 100, 1000}) {
      std::vector<K> e(n);
      std::vector<std::array<F, 3>> f(n);
      for (std::size_t i = 0; i < n; ++i) {
        e[i] = extreme ? top_element<K>() : random_element<K>(rng);
        for (auto& x : f[i]) x = extreme ? top_element<F>() : random_element<F>(rng);
      }
      LazyDot<K, F> one;
      LazyDots<K, F, 3> three;
      std::array<K, 3> want{K::zero(), K::zero(), K::zero()};
      for (std::size_t i = 0; i < n; ++i) {
        one.add(e[i], f[i][0]);
        three.add(e[i], f[i]);
        for (unsigned c = 0; c < 3; ++c) want[c] += mul_base(e[i], f[i][c]);
      }
      EXPECT_EQ(one.result(), want[0]) << "n " << n << " extreme " << extreme;
      EXPECT_EQ(three.result(), want) << "n " << n << " extreme " << extreme;
    }
  }
}

TEST(LazyDot, M61ExtensionTimesBase) { check_lazy_dots<Fp61x2, Fp61>(); }
TEST(LazyDot, M61ExtensionTimesExtension) { check_lazy_dots<Fp61x2, Fp61x2>(); }
TEST(LazyDot, M61) { check_lazy_dots<Fp61, Fp61>(); }
TEST(LazyDot, M127) { check_lazy_dots<Fp127, Fp127>(); }

}  // namespace
}  // namespace nnproof
