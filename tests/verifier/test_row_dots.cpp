// SPDX-License-Identifier: Apache-2.0
// The row dots (row_dots.hpp: the verifier's input and output MLEs, and the prover's input-layer
// V): every kernel this CPU runs, for K = F_{p^2} over m61 and for m127, against plain field sums,
// at lengths around the eight-column vectors and past the accumulators' flush length (4096
// columns), with random values and with every value and coordinate at p - 1.
#include <gtest/gtest.h>

#include <vector>

#include "tests/support/problems.hpp"
#include "verifier/row_dots.hpp"

namespace nnproof {
namespace {

template <class K>
class RowDots : public ::testing::Test {};
using Fields = ::testing::Types<Fp61x2, Fp127>;
TYPED_TEST_SUITE(RowDots, Fields);

TYPED_TEST(RowDots, EveryKernelMatchesFieldSums) {
  using K = TypeParam;
  using F = base_field_t<K>;
  auto rng = testing::make_rng(83);
  const F top = F::zero() - F::one();
  K top_k = K::from_base(top);
  if constexpr (std::is_same_v<K, Fp61x2>) top_k.im = top;
  for (std::size_t n : {1, 7, 8, 9, 1845, 4096, 4097, 9000}) {
    for (bool extreme : {false, true}) {
      std::vector<F> y(n + 3);  // a longer buffer: the kernel must stop at n
      std::vector<K> e(n);
      for (auto& x : y) x = extreme ? top : testing::random_element<F>(rng);
      for (auto& x : e) x = extreme ? top_k : testing::random_element<K>(rng);
      K want = K::zero();
      for (std::size_t k = 0; k < n; ++k) want += e[k] * K::from_base(y[k]);
      const ColumnWeights<K> w(e);
      for (const auto& kernel : row_dot_kernels<K>())
        EXPECT_EQ(kernel.fn(y.data(), w), want) << kernel.name << " n " << n << " extreme " << extreme;
    }
  }
}

}  // namespace
}  // namespace nnproof
