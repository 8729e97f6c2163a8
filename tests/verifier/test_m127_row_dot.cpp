// The verifier's m127 row dot (its input and output MLEs, and the prover's input-layer V): every
// kernel this CPU runs against plain field sums, at lengths around the eight-column vectors and
// past the accumulators' flush length (4096 columns), with random values and with every value at
// p - 1.
#include <gtest/gtest.h>

#include <vector>

#include "tests/support/problems.hpp"
#include "verifier/m127_row_dot.hpp"

namespace nnproof {
namespace {

TEST(M127RowDot, EveryKernelMatchesFieldSums) {
  auto rng = testing::make_rng(84);
  const Fp127 top = Fp127::zero() - Fp127::one();
  for (std::size_t n : {1, 7, 8, 9, 1845, 4096, 4097, 9000}) {
    for (bool extreme : {false, true}) {
      std::vector<Fp127> y(n + 3), e(n);  // y longer: the kernel must stop at n
      for (auto& x : y) x = extreme ? top : testing::random_element<Fp127>(rng);
      for (auto& x : e) x = extreme ? top : testing::random_element<Fp127>(rng);
      Fp127 want = Fp127::zero();
      for (std::size_t k = 0; k < n; ++k) want += e[k] * y[k];
      const M127ColumnWeights w(e);
      for (const auto& kernel : m127_row_dot_kernels())
        EXPECT_EQ(kernel.fn(y.data(), w), want) << kernel.name << " n " << n << " extreme " << extreme;
    }
  }
}

}  // namespace
}  // namespace nnproof
