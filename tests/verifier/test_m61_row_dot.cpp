// The verifier's m61 row dot (its input and output MLEs, and the prover's input-layer V): every
// kernel this CPU runs against plain field sums, at lengths around the eight-column vectors and
// past the accumulators' flush length (4096 columns), with random values and with every value and
// coordinate at p - 1.
#include <gtest/gtest.h>

#include <vector>

#include "tests/support/problems.hpp"
#include "verifier/m61_row_dot.hpp"

namespace nnproof {
namespace {

TEST(M61RowDot, EveryKernelMatchesFieldSums) {
  auto rng = testing::make_rng(83);
  const Fp61 top = Fp61::zero() - Fp61::one();
  for (std::size_t n : {1, 7, 8, 9, 1845, 4096, 4097, 9000}) {
    for (bool extreme : {false, true}) {
      std::vector<Fp61> y(n + 3);  // a longer buffer: the kernel must stop at n
      std::vector<Fp61x2> e(n);
      for (auto& x : y) x = extreme ? top : testing::random_element<Fp61>(rng);
      for (auto& x : e) x = extreme ? Fp61x2{top, top} : testing::random_element<Fp61x2>(rng);
      Fp61x2 want = Fp61x2::zero();
      for (std::size_t k = 0; k < n; ++k) want += e[k] * Fp61x2::from_base(y[k]);
      const M61ColumnWeights w(e);
      for (const auto& kernel : m61_row_dot_kernels())
        EXPECT_EQ(kernel.fn(y.data(), w), want) << kernel.name << " n " << n << " extreme " << extreme;
    }
  }
}

}  // namespace
}  // namespace nnproof
