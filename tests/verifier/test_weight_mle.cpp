// SPDX-License-Identifier: Apache-2.0
// W~(q, s) by the verifier's fast paths (int8 chunk dots, 128-bit sums, limbs) equals the
// definition sum_{a,j} eq(q,a) eq(s,j) W[a][j] for every storage width (int8 .. int64), including
// weights too wide for the fast paths.
#include <gtest/gtest.h>

#include "tests/support/problems.hpp"
#include "verifier/int8_chunk_dot.hpp"

namespace nnproof {
namespace {

template <class K>
class WeightMleTest : public ::testing::Test {};
using ChallengeFields = ::testing::Types<Fp61x2, Fp127, Fp61>;
TYPED_TEST_SUITE(WeightMleTest, ChallengeFields);

TYPED_TEST(WeightMleTest, MatchesTheDefinitionForEveryWidth) {
  using K = TypeParam;
  using F = base_field_t<K>;
  auto rng = testing::make_rng(80);
  // 2100 columns: int8 rows longer than one of the chunked dot's 2048-term blocks.
  for (auto [wmax, cols] : {std::pair{std::int64_t{100}, 37},
                            {std::int64_t{127}, 2100},
                            {std::int64_t{30000}, 37},
                            {std::int64_t{1} << 30, 37},
                            {std::int64_t{1} << 62, 37}}) {
    const std::size_t rows = cols > 100 ? 3 : 11;
    auto model = testing::random_model({std::size_t(cols), rows}, rng, wmax, 1);
    auto& layer = model.layers[0];
    if (wmax == 127) layer.weights.set(0, -128);  // the int8 extremes: stored as int8
    std::vector<K> q(ceil_log2(rows)), s(ceil_log2(std::size_t(cols)));
    for (auto& x : q) x = testing::random_element<K>(rng);
    for (auto& x : s) x = testing::random_element<K>(rng);
    K want = K::zero();
    for (std::size_t a = 0; a < layer.rows; ++a)
      for (std::size_t j = 0; j < layer.cols; ++j)
        want +=
            eq_at_index<K>(q, a) * eq_at_index<K>(s, j) * K::from_base(F::from_int(layer.weights[a * layer.cols + j]));
    EXPECT_EQ(weight_mle<K>(layer, eq_table<K>(q), eq_table<K>(s)), want) << "wmax " << wmax;
  }
}

// Each kernel of the chunked dot against plain int64 sums: random and extreme bytes and weights,
// lengths around the 64-weight vector width, up to the 2048-term block, with 8 and 16 arrays.
TEST(Int8ByteDots, EveryKernelMatchesPlainSums) {
  auto rng = testing::make_rng(81);
  for (const auto& kernel : int8_byte_dots_kernels()) {
    for (std::size_t len : {1, 63, 64, 65, 200, 2048}) {
      for (unsigned arrays : {8u, 16u}) {
        for (int fill : {0, 1, 2}) {  // random; all 255 against 127; all 255 against -128
          std::vector<std::int8_t> w(len);
          std::vector<std::uint8_t> bytes(arrays * len);
          for (auto& x : w) x = fill == 0 ? static_cast<std::int8_t>(rng()) : fill == 1 ? 127 : -128;
          for (auto& x : bytes) x = fill == 0 ? static_cast<std::uint8_t>(rng()) : 255;
          std::vector<std::int64_t> want(arrays, 5), got(arrays, 5);  // the kernels add to the totals
          for (unsigned t = 0; t < arrays; ++t)
            for (std::size_t j = 0; j < len; ++j) want[t] += std::int64_t{w[j]} * bytes[t * len + j];
          kernel.fn(w.data(), bytes.data(), len, arrays, len, got.data());
          EXPECT_EQ(got, want) << kernel.name << " len " << len << " arrays " << arrays << " fill " << fill;
        }
      }
    }
  }
}

// Whole dots over several 2048-term blocks (the byte arrays' stride is then not the block length),
// with every coordinate at p - 1 against weights at -128 and 127, and random, against plain field
// sums and the independent integer sums of ExactIntSums (core/lazy.hpp).
template <class K>
K field_dot(const std::vector<std::int8_t>& w, const std::vector<K>& e, std::size_t n) {
  using F = base_field_t<K>;
  K acc = K::zero();
  for (std::size_t j = 0; j < n; ++j) acc += K::from_base(F::from_int(w[j])) * e[j];
  return acc;
}

template <class K>
void check_chunk_dot_blocks() {
  using F = base_field_t<K>;
  auto rng = testing::make_rng(82);
  const std::size_t n = 5000;
  const F top = F::zero() - F::one();
  for (int fill : {0, 1, 2}) {
    std::vector<K> e(n);
    std::vector<std::int8_t> w(n);
    for (std::size_t j = 0; j < n; ++j) {
      if (fill == 0) {
        e[j] = testing::random_element<K>(rng);
        w[j] = static_cast<std::int8_t>(rng());
      } else {
        e[j] = K::from_base(top);
        if constexpr (std::is_same_v<K, Fp61x2>) e[j].im = top;
        w[j] = fill == 1 ? -128 : 127;
      }
    }
    const Int8ChunkDot<K> chunks(e);
    for (std::size_t len : {n, n - 1, std::size_t{2049}}) {
      EXPECT_EQ(chunks.dot(w.data(), len), field_dot(w, e, len)) << "fill " << fill << " len " << len;
      EXPECT_EQ(chunks.dot(w.data(), len),
                exact_int_dot<K>(w.data(), exact_int_pieces<K>(std::span<const K>(e)).data(), len))
          << "fill " << fill;
    }
  }
}

TEST(Int8ChunkDot, SeveralBlocksMatchFieldSums) {
  check_chunk_dot_blocks<Fp61x2>();
  check_chunk_dot_blocks<Fp61>();
  check_chunk_dot_blocks<Fp127>();
}

}  // namespace
}  // namespace nnproof
