// SPDX-License-Identifier: Apache-2.0
// The separable W~(q, s) of convolutions and pools in pow2 image layouts (verifier/separable_conv.hpp,
// docs/IMAGE_LAYOUT.md) against two oracles: the direct evaluation (the transposed convolution
// applied to eq(q, .), then dotted with eq(s, .): the version 2 route, kept) and the definition
// sum_{a, j} eq(q, a) eq(s, j) W[a][j] over a dense matrix built from the unpadded op and moved by
// the layout's index map. Random shapes, strides, paddings, groups and non-power-of-two images.
#include <gtest/gtest.h>

#include "tests/support/models.hpp"
#include "tests/support/random.hpp"
#include "verifier/image_layout.hpp"
#include "verifier/separable_conv.hpp"
#include "verifier/verifier.hpp"

namespace nnproof {
namespace {

using testing::ImageDims;
using testing::make_rng;
using testing::pick;
using testing::random_point;

// A chain of one to three convolutions and sum pools over a random image (odd sizes mostly).
std::vector<LinearOp> random_conv_chain(std::mt19937_64& rng, std::size_t max_ops) {
  ImageDims img{pick(rng, 1, 4), pick(rng, 3, 11), pick(rng, 3, 11)};
  if (img.c % 2 == 1 && pick(rng, 0, 1)) img.c *= 2;  // groups of two sometimes
  std::vector<LinearOp> chain;
  const std::size_t ops = pick(rng, 1, max_ops);
  for (std::size_t k = 0; k < ops; ++k)
    chain.push_back(pick(rng, 0, 2) == 0 ? testing::random_sum_pool(rng, img) : testing::random_conv(rng, img));
  return chain;
}

// The chain with every image in the pow2 layout, rows and cols to match.
std::vector<LinearOp> padded_chain(std::vector<LinearOp> chain) {
  for (LinearOp& op : chain) {
    op.conv.pow2_in = op.conv.pow2_out = true;
    op.rows = op.conv.out_size();
    op.cols = op.conv.in_size();
  }
  return chain;
}

// The chain's dense matrix in the padded layout: each unpadded op's matrix by for_each_entry in the
// dense layout (the version 2 tap loop), multiplied, then rows and columns moved by pow2_image_map.
std::vector<std::int64_t> padded_dense_matrix(const std::vector<LinearOp>& chain, std::size_t& rows,
                                              std::size_t& cols) {
  const std::size_t n0 = chain.front().cols;
  std::vector<std::vector<std::int64_t>> m(n0, std::vector<std::int64_t>(n0, 0));  // identity, columns by row
  for (std::size_t j = 0; j < n0; ++j) m[j][j] = 1;
  for (const LinearOp& op : chain) {
    std::vector<std::vector<std::int64_t>> next(op.rows, std::vector<std::int64_t>(n0, 0));
    for (std::size_t a = 0; a < op.rows; ++a)
      for_each_entry(op, a, [&](std::size_t j, std::int64_t w) {
        for (std::size_t x = 0; x < n0; ++x) next[a][x] += w * m[j][x];
      });
    m = std::move(next);
  }
  const ConvShape &first = chain.front().conv, &last = chain.back().conv;
  const auto rmap = pow2_image_map(last.out_channels, last.out_h(), last.out_w());
  const auto cmap = pow2_image_map(first.in_channels, first.in_h, first.in_w);
  rows = last.out_channels * ConvShape::pow2_at_least(last.out_h()) * ConvShape::pow2_at_least(last.out_w());
  cols = first.in_channels * ConvShape::pow2_at_least(first.in_h) * ConvShape::pow2_at_least(first.in_w);
  std::vector<std::int64_t> out(rows * cols, 0);
  for (std::size_t a = 0; a < m.size(); ++a)
    for (std::size_t j = 0; j < n0; ++j) out[rmap[a] * cols + cmap[j]] = m[a][j];
  return out;
}

template <class K>
void expect_separable_equals_oracles(std::uint64_t seed, std::size_t max_ops) {
  using F = base_field_t<K>;
  auto rng = make_rng(seed);
  for (int c = 0; c < 60; ++c) {
    const std::vector<LinearOp> raw = random_conv_chain(rng, max_ops);
    const std::vector<LinearOp> chain = padded_chain(raw);
    ASSERT_TRUE(separable_cost(chain).has_value()) << "case " << c;
    const std::vector<K> q = random_point<K>(rng, chain.back().rows), s = random_point<K>(rng, chain.front().cols);
    const std::vector<K> eq_q = eq_table<K>(q), eq_s = eq_table<K>(s);
    const K separable = separable_weight_mle<K>(chain, q, s);
    // Oracle 1: the direct evaluation in the same layout.
    const std::vector<K> A = chain_transpose_apply<K>(chain, eq_q);
    K direct = K::zero();
    for (std::size_t j = 0; j < A.size(); ++j) direct += A[j] * eq_s[j];
    EXPECT_EQ(separable, direct) << "case " << c;
    // Oracle 2: the definition over the dense matrix.
    std::size_t rows = 0, cols = 0;
    const std::vector<std::int64_t> W = padded_dense_matrix(raw, rows, cols);
    ASSERT_EQ(rows, chain.back().rows);
    ASSERT_EQ(cols, chain.front().cols);
    K defined = K::zero();
    for (std::size_t a = 0; a < rows; ++a)
      for (std::size_t j = 0; j < cols; ++j)
        if (W[a * cols + j] != 0) defined += eq_q[a] * mul_base(eq_s[j], F::from_int(W[a * cols + j]));
    EXPECT_EQ(separable, defined) << "case " << c;
  }
}

TEST(SeparableConv, OneOpEqualsDirectAndDefinition) {
  expect_separable_equals_oracles<Fp127>(90, 1);
  expect_separable_equals_oracles<Fp61x2>(91, 1);
}

TEST(SeparableConv, ChainsEqualDirectAndDefinition) {
  expect_separable_equals_oracles<Fp127>(92, 3);
  expect_separable_equals_oracles<Fp61x2>(93, 3);
  expect_separable_equals_oracles<Fp61>(94, 3);
}

TEST(SeparableConv, RefusesWhatItCannotFactor) {
  auto rng = make_rng(95);
  ImageDims img{2, 7, 5};
  std::vector<LinearOp> chain{testing::random_conv(rng, img)};
  EXPECT_FALSE(separable_cost(chain).has_value());  // dense layouts: the bits are not separate
  chain = padded_chain(chain);
  EXPECT_TRUE(separable_cost(chain).has_value());
  chain.back().conv.pow2_out = false;
  EXPECT_FALSE(separable_cost(chain).has_value());
  chain = padded_chain(chain);
  chain.push_back(testing::random_dense(rng, img));  // a dense op: no factoring
  EXPECT_FALSE(separable_cost(chain).has_value());
}

// A pool's constant window folds: its cost does not multiply the states (U, V) by its window.
TEST(SeparableConv, PoolsFoldAndConvolutionsCostKernelEntries) {
  ConvShape c{6, 24, 24, 16, 5, 5};
  c.pow2_in = c.pow2_out = true;
  auto rng = make_rng(96);
  const LinearOp conv = LinearOp::convolution(c, random_ints(rng, c.kernel_size(), 3));
  ConvShape p{16, 20, 20, 16, 2, 2, 2, 2};
  p.groups = 16;
  p.pow2_in = p.pow2_out = true;
  const LinearOp pool = LinearOp::sum_pool(p);
  EXPECT_TRUE(kernel_constant_over_window(pool));
  EXPECT_FALSE(kernel_constant_over_window(conv));
  const std::vector<LinearOp> chain{conv, pool};
  const std::size_t cost = *separable_cost(chain);
  std::size_t direct = 0;
  for (const LinearOp& op : chain) direct += op.nnz_bound();
  // 16 x 6 x 25 kernel entries, 16 channels, rows and columns: far below positions x taps.
  EXPECT_LT(cost, 16 * 6 * 25 + 25 * 6 * 4 * 32 + 4 * 16 * 40);
  EXPECT_LT(cost * 20, direct);
}

}  // namespace
}  // namespace nnproof
