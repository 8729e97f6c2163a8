// SPDX-License-Identifier: Apache-2.0
// End to end on random networks (1 to 5 layers, sizes not powers of two, batch 1 to 300, both
// fields, both engines): outputs equal an independent forward pass, honest proofs verify, and
// changing any single output, proof element, input entry, weight or bias is rejected.
#include <gtest/gtest.h>

#include "kernels/cpu/cpu_engine.hpp"
#include "tests/support/problems.hpp"

namespace nnproof {
namespace {

using testing::make_rng;

// An independent forward pass: one sample at a time, written without the engines' tables.
template <class F>
std::vector<F> naive_forward(const QuantizedModel& m, const std::vector<F>& input, std::size_t batch) {
  std::vector<F> out;
  for (std::size_t k = 0; k < batch; ++k) {
    std::vector<F> y(input.begin() + k * m.in_dim(), input.begin() + (k + 1) * m.in_dim());
    for (std::size_t i = 0; i < m.depth(); ++i) {
      const auto& l = m.layers[i];
      std::vector<F> z(l.rows);
      for (std::size_t a = 0; a < l.rows; ++a) {
        F acc = F::from_i128(l.bias[a]);
        for (std::size_t j = 0; j < l.cols; ++j) acc += F::from_int(l.weights[a * l.cols + j]) * y[j];
        z[a] = acc;
      }
      if (i + 1 < m.depth())
        for (auto& v : z) v = v * v;
      y = z;
    }
    out.insert(out.end(), y.begin(), y.end());
  }
  return out;
}

// The same network over the integers (no wrap for the small cases used with it).
std::vector<i128> integer_forward(const QuantizedModel& m, const std::vector<std::int64_t>& input, std::size_t batch) {
  std::vector<i128> out;
  for (std::size_t k = 0; k < batch; ++k) {
    std::vector<i128> y(input.begin() + k * m.in_dim(), input.begin() + (k + 1) * m.in_dim());
    for (std::size_t i = 0; i < m.depth(); ++i) {
      const auto& l = m.layers[i];
      std::vector<i128> z(l.rows);
      for (std::size_t a = 0; a < l.rows; ++a) {
        z[a] = l.bias[a];
        for (std::size_t j = 0; j < l.cols; ++j) z[a] += l.weights[a * l.cols + j] * y[j];
      }
      if (i + 1 < m.depth())
        for (auto& v : z) v = v * v;
      y = z;
    }
    out.insert(out.end(), y.begin(), y.end());
  }
  return out;
}

struct Case {
  std::vector<std::size_t> dims;
  std::size_t batch;
};

std::vector<Case> random_cases(std::mt19937_64& rng, int count) {
  std::vector<Case> cases = {{{1, 1}, 1}, {{3, 5}, 300}, {{7, 6, 3}, 1}, {{6, 5, 9, 2}, 33}, {{3, 2, 5, 3, 4, 3}, 5}};
  std::uniform_int_distribution<std::size_t> depth(1, 5), dim(1, 13), batch(1, 70);
  for (int c = 0; c < count; ++c) {
    Case k;
    k.dims.resize(depth(rng) + 1);
    for (auto& d : k.dims) d = dim(rng);
    k.batch = batch(rng);
    cases.push_back(k);
  }
  return cases;
}

template <class Cfg>
class EndToEnd : public ::testing::Test {};
using FileConfigs = ::testing::Types<M61, M127>;
TYPED_TEST_SUITE(EndToEnd, FileConfigs);

TYPED_TEST(EndToEnd, OutputsMatchIndependentForwardAndProofsVerify) {
  using F = typename TypeParam::F;
  auto rng = make_rng(50);
  for (const Case& c : random_cases(rng, 8)) {
    auto model = testing::random_model(c.dims, rng);
    auto st = testing::random_statement<TypeParam>(model, c.batch, rng);
    auto cpu_st = st;
    auto bundle = prove_bundle(*make_reference_engine<TypeParam>(), st);
    auto cpu_bundle = prove_bundle(*make_cpu_engine<TypeParam>(), cpu_st);
    EXPECT_EQ(st.outputs, naive_forward(model, st.input, c.batch));
    EXPECT_EQ(serialize_bundle(bundle), serialize_bundle(cpu_bundle)) << "engines differ";
    Verdict v = verify_bundle(st, bundle);
    EXPECT_TRUE(v.accepted) << v.failed_check;
    // Where the integers fit the field, the exact outputs are the integer network's.
    if (c.dims.size() <= 3) {
      std::vector<std::int64_t> ints;
      for (auto x : st.input) ints.push_back(static_cast<std::int64_t>(x.centered()));
      auto want = integer_forward(model, ints, c.batch);
      bool nonzero = false;
      for (std::size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ(static_cast<i128>(st.outputs[i].centered()), want[i]);
        nonzero |= want[i] != 0;
      }
      EXPECT_TRUE(nonzero || want.size() < 4);
    }
    (void)F::zero();
  }
}

TYPED_TEST(EndToEnd, ChangedOutputIsRejectedByTheProtocol) {
  const testing::HonestProof<TypeParam> h({6, 5, 3}, 7, 51);
  for (std::size_t i = 0; i < h.bundle.outputs.size(); ++i) {
    auto bundle = h.bundle;
    auto st2 = h.st;
    bundle.outputs[i] += TypeParam::F::one();
    testing::rebind_header(bundle, st2);  // digests consistent: only the protocol can catch it
    Verdict v = verify_bundle(st2, bundle);
    EXPECT_FALSE(v.accepted) << "output " << i;
    EXPECT_EQ(v.failed_check.find("digest"), std::string::npos) << v.failed_check;
  }
}

TYPED_TEST(EndToEnd, ChangedProofElementIsRejected) {
  const testing::HonestProof<TypeParam> h({6, 5, 4, 3}, 5, 52);
  for (std::size_t i = 0; i < h.bundle.messages.size(); ++i) {
    auto bundle = h.bundle;
    bundle.messages[i] += TypeParam::K::one();
    Verdict v = verify_bundle(h.st, bundle);
    EXPECT_FALSE(v.accepted) << "message " << i;
    EXPECT_FALSE(v.failed_check.empty());
  }
}

// With challenges fixed in advance the transcript cannot help: the protocol's checks alone must
// notice that the verifier's input, weights or biases differ from what the prover used.
TYPED_TEST(EndToEnd, ChangedInputWeightOrBiasIsRejected) {
  auto rng = make_rng(53);
  auto model = testing::random_model({5, 4, 6, 3}, rng);
  auto st = testing::random_statement<TypeParam>(model, 6, rng);
  const std::uint64_t seed = 99;
  auto msgs = testing::fixed_challenge_proof(*make_reference_engine<TypeParam>(), st, seed);
  ASSERT_TRUE(testing::verify_fixed(st, msgs, seed).accepted);

  testing::expect_each_input_change_rejected(st, msgs, seed);
  for (std::size_t layer = 0; layer < model.depth(); ++layer) {
    for (std::size_t w = 0; w < model.layers[layer].weights.size(); ++w) {
      QuantizedModel m2 = model;
      m2.layers[layer].weights.set(w, m2.layers[layer].weights[w] + 1);
      auto bad = st;
      bad.model = &m2;
      Verdict v = testing::verify_fixed(bad, msgs, seed);
      EXPECT_FALSE(v.accepted) << "layer " << layer << " weight " << w;
    }
    for (std::size_t b = 0; b < model.layers[layer].bias.size(); ++b) {
      QuantizedModel m2 = model;
      m2.layers[layer].bias[b] -= 1;
      auto bad = st;
      bad.model = &m2;
      EXPECT_FALSE(testing::verify_fixed(bad, msgs, seed).accepted) << "layer " << layer << " bias " << b;
    }
  }
  // Under Fiat-Shamir the same changes are refused as well (the digests bind them).
  auto bundle = prove_bundle(*make_reference_engine<TypeParam>(), st);
  auto bad = st;
  bad.input[0] += TypeParam::F::one();
  EXPECT_FALSE(verify_bundle(bad, bundle).accepted);
}

TYPED_TEST(EndToEnd, StatementOfTheWrongSizeIsRejected) {
  const testing::HonestProof<TypeParam> h({3, 4, 2}, 5, 55);
  auto short_input = h.st;
  short_input.input.pop_back();
  EXPECT_FALSE(verify_bundle(short_input, h.bundle).accepted);
  auto no_batch = h.st;
  no_batch.batch = 0;
  Transcript t(TypeParam::kId, 0);
  FiatShamirVerifierChannel<typename TypeParam::K> ch(t, h.bundle.messages);
  EXPECT_FALSE(verify_protocol(no_batch, ch).accepted);
}

TYPED_TEST(EndToEnd, PaddedBatchColumnsStayOutOfTheStatement) {
  // batch 5 pads to 8: proving with the mask must give exactly the unpadded outputs.
  auto rng = make_rng(54);
  auto model = testing::random_model({3, 4, 2}, rng);
  auto st = testing::random_statement<TypeParam>(model, 5, rng);
  auto bundle = prove_bundle(*make_cpu_engine<TypeParam>(), st);
  EXPECT_EQ(bundle.outputs.size(), 5u * 2u);
  EXPECT_TRUE(verify_bundle(st, bundle).accepted);
}

}  // namespace
}  // namespace nnproof
