// SPDX-License-Identifier: Apache-2.0
// The pooled-dense W~(q, s) and the per-channel B~(q) of verifier/separable_dense.hpp against the
// direct evaluations kept as oracles (chain_transpose_apply dotted with eq(s, .); bias_mle over
// eq(q, .)), on random pools and window-constant convolutions (strides, paddings, groups,
// non-power-of-two images, padded and unpadded dense inputs), and what each refuses.
#include <gtest/gtest.h>

#include "tests/support/models.hpp"
#include "tests/support/random.hpp"
#include "verifier/image_layout.hpp"
#include "verifier/public_mle.hpp"
#include "verifier/separable_dense.hpp"
#include "verifier/verifier.hpp"

namespace nnproof {
namespace {

using testing::ImageDims;
using testing::make_rng;
using testing::pick;
using testing::random_point;

// A convolution whose kernel is one random weight per (out, in) channel over its whole window.
LinearOp window_constant_conv(std::mt19937_64& rng, ImageDims& img) {
  LinearOp op = testing::random_conv(rng, img);
  const ConvShape& c = op.conv;
  const std::size_t window = c.kernel_h * c.kernel_w;
  std::vector<std::int64_t> k(c.kernel_size());
  for (std::size_t start = 0; start < k.size(); start += window) {
    const std::int64_t w = static_cast<std::int64_t>(pick(rng, 0, 6)) - 3;
    for (std::size_t t = 0; t < window; ++t) k[start + t] = w;
  }
  return LinearOp::convolution(c, std::move(k));
}

// One to three pools or window-constant convolutions in pow2 layouts, then a dense op over the last
// image (its columns in the pow2 layout when `pad_dense_input`, else the dense order).
std::vector<LinearOp> random_pooled_dense(std::mt19937_64& rng, bool pad_dense_input) {
  ImageDims img{pick(rng, 1, 4), pick(rng, 3, 11), pick(rng, 3, 11)};
  std::vector<LinearOp> chain;
  const std::size_t ops = pick(rng, 1, 3);
  for (std::size_t k = 0; k < ops; ++k) {
    chain.push_back(pick(rng, 0, 1) == 0 ? testing::random_sum_pool(rng, img) : window_constant_conv(rng, img));
    LinearOp& op = chain.back();
    op.conv.pow2_in = true;
    op.conv.pow2_out = k + 1 < ops || pad_dense_input;
    op.rows = op.conv.out_size();
    op.cols = op.conv.in_size();
  }
  const std::size_t cols = chain.back().conv.out_size(), rows = pick(rng, 1, 12);
  // Zero columns at the padding, as ProofLayout's remapped dense op has.
  std::vector<std::int64_t> w = random_ints(rng, rows * cols, 100);
  const ConvShape& last = chain.back().conv;
  for (std::size_t a = 0; a < rows; ++a)
    for (std::size_t j = 0; j < cols; ++j) {
      const std::size_t h = j / last.out_cols() % last.out_rows(), x = j % last.out_cols();
      if (h >= last.out_h() || x >= last.out_w()) w[a * cols + j] = 0;
    }
  chain.push_back(LinearOp::dense(rows, cols, std::move(w)));
  return chain;
}

template <class K>
void expect_pooled_dense_equals_direct(std::uint64_t seed) {
  auto rng = make_rng(seed);
  for (int c = 0; c < 80; ++c) {
    const std::vector<LinearOp> chain = random_pooled_dense(rng, c % 2 == 0);
    ASSERT_TRUE(pooled_dense_applies(chain)) << "case " << c;
    const std::vector<K> q = random_point<K>(rng, chain.back().rows), s = random_point<K>(rng, chain.front().cols);
    const std::vector<K> eq_q = eq_table<K>(q), eq_s = eq_table<K>(s);
    const std::vector<K> A = chain_transpose_apply<K>(chain, eq_q);
    K direct = K::zero();
    for (std::size_t j = 0; j < A.size(); ++j) direct += A[j] * eq_s[j];
    EXPECT_EQ(pooled_dense_weight_mle<K>(chain, q, s), direct) << "case " << c;
  }
}

TEST(PooledDense, EqualsTheDirectEvaluation) {
  expect_pooled_dense_equals_direct<Fp127>(120);
  expect_pooled_dense_equals_direct<Fp61x2>(121);
  expect_pooled_dense_equals_direct<Fp61>(122);
}

TEST(PooledDense, RefusesWhatItCannotFactor) {
  auto rng = make_rng(123);
  std::vector<LinearOp> chain = random_pooled_dense(rng, true);
  EXPECT_TRUE(pooled_dense_applies(chain));
  EXPECT_FALSE(pooled_dense_applies(std::span<const LinearOp>(chain).last(1)));  // a dense op alone
  std::vector<LinearOp> unpadded = chain;
  unpadded.front().conv.pow2_in = false;  // eq(s, .) does not factor
  EXPECT_FALSE(pooled_dense_applies(unpadded));
  // A kernel that varies within its window: not window-constant (pools here are 2 x 2 or wider).
  for (int tries = 0; tries < 20 && chain.front().conv.kernel_h * chain.front().conv.kernel_w < 2; ++tries)
    chain = random_pooled_dense(rng, true);
  ASSERT_GE(chain.front().conv.kernel_h * chain.front().conv.kernel_w, 2u);
  std::vector<LinearOp> varied = chain;
  std::vector<std::int64_t> k(varied.front().conv.kernel_size());
  for (std::size_t t = 0; t < k.size(); ++t) k[t] = varied.front().weights[t];
  k[1] += 1;
  const ConvShape shape = varied.front().conv;
  varied.front() = LinearOp::convolution(shape, std::move(k));
  varied.front().conv = shape;
  varied.front().rows = shape.out_size();
  varied.front().cols = shape.in_size();
  EXPECT_FALSE(pooled_dense_applies(varied));
  std::vector<LinearOp> no_dense(chain.begin(), chain.end() - 1);
  EXPECT_FALSE(pooled_dense_applies(no_dense));
}

// B~(q) per channel against bias_mle over eq(q, .), for the version 3 tables of random CNNs; a
// bias that is not one value per channel keeps the direct sum (and the same value).
TEST(ChannelBias, EqualsTheDirectSum) {
  auto rng = make_rng(124);
  std::size_t per_channel = 0;
  for (int c = 0; c < 30; ++c) {
    QuantizedModel model = testing::random_cnn(rng, 2);
    // Half the models get a bias constant per channel on their convolution layers.
    if (c % 2 == 0)
      for (QuantizedLayer& l : model.layers)
        if (l.structured() && l.ops.back().kind == LinearOp::Kind::conv) {
          const ConvShape& o = l.ops.back().conv;
          const std::size_t plane = o.out_h() * o.out_w();
          for (std::size_t a = 0; a < l.rows; ++a) l.bias[a] = static_cast<i128>(a / plane) * 7 - 5;
        }
    const ProofLayout v3(model, kProofVersion);
    for (const QuantizedLayer& l : v3.model().layers) {
      const std::vector<Fp127> q = random_point<Fp127>(rng, l.rows);
      std::vector<Fp127> eq_q;  // built by layer_bias_mle only where it takes the direct sum
      const Fp127 got = layer_bias_mle<Fp127>(l, q, eq_q);
      per_channel += eq_q.empty();
      EXPECT_EQ(got, bias_mle<Fp127>(l, eq_table<Fp127>(q))) << "case " << c;
    }
  }
  EXPECT_GT(per_channel, 5u);
}

TEST(ChannelBias, RefusesABiasThatIsNotPerChannel) {
  ConvShape c{2, 4, 6, 2, 2, 2};  // out 3 x 5, padded to 4 x 8
  c.pow2_in = c.pow2_out = true;
  std::vector<i128> bias(c.out_size(), 0);
  for (std::size_t ch = 0; ch < 2; ++ch)
    for (std::size_t h = 0; h < c.out_h(); ++h)
      for (std::size_t w = 0; w < c.out_w(); ++w) bias[(ch * c.out_rows() + h) * c.out_cols() + w] = 3 + ch;
  ASSERT_TRUE(channel_bias(c, bias).has_value());
  EXPECT_EQ(*channel_bias(c, bias), (std::vector<i128>{3, 4}));
  std::vector<i128> varied = bias;
  varied[1] = 9;  // one position differs
  EXPECT_FALSE(channel_bias(c, varied).has_value());
  std::vector<i128> padding = bias;
  padding[c.out_cols() - 1] = 3;  // a value at the padding
  EXPECT_FALSE(channel_bias(c, padding).has_value());
  c.pow2_out = false;
  EXPECT_FALSE(channel_bias(c, bias).has_value());
}

}  // namespace
}  // namespace nnproof
