// SPDX-License-Identifier: Apache-2.0
// The training proof of structured layers (docs/TRAINING_PROTOCOL.md, "Structured layers"): random
// chains of convolutions, sum pools and dense ops. Honest proofs verify with the same messages on
// every engine; a changed claim (the loss, any gradient entry, kernel entries included, a bias
// gradient, an output) or proof message is rejected; with challenges fixed in advance, so that
// only the protocol can catch them, so is a changed kernel entry, dense entry, bias, data entry or
// label. The protocol runs at the level of verify_training_protocol: training proof files still
// refuse structured layers (verify_training_bundle), see the protocol document.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "host/training/prover.hpp"
#include "kernels/registry.hpp"
#include "tests/support/models.hpp"
#include "tests/support/training_case.hpp"
#include "verifier/element_hash.hpp"
#include "verifier/magnitude.hpp"
#include "verifier/sha256.hpp"
#include "verifier/training/computation.hpp"
#include "verifier/training/magnitude.hpp"
#include "verifier/training/parameters.hpp"
#include "verifier/training/verifier.hpp"

namespace nnproof {
namespace {

using testing::pick;

template <class Cfg>
class ConvTrainingProofTest : public ::testing::Test {};
using FileConfigs = ::testing::Types<M61, M127>;
TYPED_TEST_SUITE(ConvTrainingProofTest, FileConfigs);

using Case = testing::TrainingCase;
using testing::fixed_transcript;
using testing::statement_of;

std::uint64_t max_abs(const std::vector<std::int64_t>& v) {
  std::uint64_t m = 0;
  for (auto x : v) m = std::max<std::uint64_t>(m, static_cast<std::uint64_t>(x < 0 ? -x : x));
  return m;
}

// A random CNN (alpha = beta = 1: an integer target) and a labelled batch that cannot wrap m61
// (so every case is the integers' in both fields).
Case random_case(std::mt19937_64& rng, std::size_t depth, std::size_t samples) {
  for (int tries = 0; tries < 1000; ++tries) {
    Case c;
    c.model = testing::random_cnn(rng, depth);
    c.samples = samples;
    std::uniform_int_distribution<std::int64_t> x(-2, 2);
    for (std::size_t i = 0; i < samples * c.model.in_dim(); ++i) c.input.push_back(x(rng));
    for (std::size_t k = 0; k < samples; ++k)
      c.labels.push_back(static_cast<std::int64_t>(pick(rng, 0, c.model.out_dim() - 1)));
    if (!training_magnitude_violation(magnitude_profile(c.model), c.model, max_abs(c.input), samples,
                                      target_scale(c.model), FieldId::m61))
      return c;
  }
  throw std::runtime_error("no random CNN of this depth fits m61");
}

// The statement's own transcript (honest runs) or one that ignores the statement (fixed
// challenges: a tampered statement meets the honest proof's challenges).
template <class Cfg>
Transcript transcript_for(const TrainingStatement<Cfg>& st, bool fixed) {
  if (!fixed) return training_transcript<Cfg>(training_statement_digest(st, training_bindings(st)));
  return fixed_transcript<Cfg>();
}

template <class Cfg>
std::vector<typename Cfg::K> prove(Engine<Cfg>& engine, TrainingStatement<Cfg>& st, bool fixed) {
  using F = typename Cfg::F;
  const auto layers = field_layers<F>(*st.model);
  BackwardTrace<Cfg> trace = run_backward(engine, layers, st.input, st.labels, F::from_int(target_scale(*st.model)));
  st.claims = gradient_claims(engine, layers, trace);
  Transcript t = transcript_for(st, fixed);
  FiatShamirProverChannel<typename Cfg::K> ch(t);
  prove_training(engine, layers, trace, st, ch);
  return ch.messages();
}

template <class Cfg>
Verdict verify(const TrainingStatement<Cfg>& st, const std::vector<typename Cfg::K>& messages, bool fixed) {
  Transcript t = transcript_for(st, fixed);
  FiatShamirVerifierChannel<typename Cfg::K> ch(t, messages);
  Verdict v = verify_training_protocol(st, ch);
  if (v.accepted && ch.consumed() != messages.size()) return Verdict::reject("unused messages");
  return v;
}

std::size_t trained_convs(const QuantizedModel& m) {
  std::size_t n = 0;
  for (const auto& l : m.layers)
    for (const auto& op : l.ops) n += op.kind == LinearOp::Kind::conv && trained(op) ? 1 : 0;
  return n;
}

TYPED_TEST(ConvTrainingProofTest, HonestProofsVerifyWithTheSameMessagesOnEveryEngine) {
  auto rng = std::mt19937_64(1880);
  std::size_t convs = 0;
  for (std::size_t depth = 1; depth <= 3; ++depth)
    for (std::size_t samples : {std::size_t{1}, std::size_t{4}, pick(rng, 5, 13)}) {
      const Case c = random_case(rng, depth, samples);
      convs += trained_convs(c.model);
      std::optional<std::vector<typename TypeParam::K>> first;
      for (std::string_view name : runnable_engines()) {
        SCOPED_TRACE(std::string(name) + " depth " + std::to_string(depth) + " N " + std::to_string(samples));
        auto engine = make_engine<TypeParam>(name);
        TrainingStatement<TypeParam> st = statement_of<TypeParam>(c);
        const auto messages = prove(*engine, st, false);
        const Verdict v = verify(st, messages, false);
        EXPECT_TRUE(v.accepted) << v.failed_check;
        EXPECT_EQ(messages.size(), walk_cost(training_computation(c.model, samples)).messages);
        if (!first)
          first = messages;
        else
          EXPECT_TRUE(messages == *first) << "the messages differ from the first engine's";
      }
    }
  EXPECT_GT(convs, 3u);  // trained convolutions were proved, not only pools and dense ops
}

TYPED_TEST(ConvTrainingProofTest, ChangedClaimsAndMessagesAreRejected) {
  using F = typename TypeParam::F;
  using K = typename TypeParam::K;
  auto rng = std::mt19937_64(1881);
  for (std::size_t depth = 1; depth <= 3; ++depth) {
    const Case c = random_case(rng, depth, 5);
    auto engine = make_engine<TypeParam>("reference");
    TrainingStatement<TypeParam> st = statement_of<TypeParam>(c);
    const std::vector<K> messages = prove(*engine, st, true);
    ASSERT_TRUE(verify(st, messages, true).accepted);
    auto expect_rejected = [&](const TrainingStatement<TypeParam>& bad, const std::string& what) {
      EXPECT_FALSE(verify(bad, messages, true).accepted) << what << " depth " << depth;
    };
    {
      auto bad = st;
      bad.claims.loss += F::one();
      expect_rejected(bad, "loss");
    }
    for (std::size_t i = 0; i < depth; ++i) {
      // Every gradient entry of every layer (kernel entries, dense entries), one at a time.
      for (std::size_t e = 0; e < st.claims.weight_gradients[i].size(); ++e) {
        auto bad = st;
        bad.claims.weight_gradients[i][e] += F::one();
        expect_rejected(bad, "weight gradient entry " + std::to_string(e) + " of layer " + std::to_string(i + 1));
      }
      auto bad = st;
      auto& g = bad.claims.bias_gradients[i];
      g[pick(rng, 0, g.size() - 1)] -= F::one();
      expect_rejected(bad, "bias gradient of layer " + std::to_string(i + 1));
    }
    {
      auto bad = st;
      bad.claims.outputs[pick(rng, 0, bad.claims.outputs.size() - 1)] += F::one();
      expect_rejected(bad, "an output");
    }
    for (std::size_t m = 0; m < messages.size(); ++m) {
      auto bad_messages = messages;
      bad_messages[m] += K::one();
      EXPECT_FALSE(verify(st, bad_messages, true).accepted) << "message " << m;
    }
  }
}

TYPED_TEST(ConvTrainingProofTest, ChangedModelDataOrLabelsAreRejectedByTheProtocol) {
  using F = typename TypeParam::F;
  auto rng = std::mt19937_64(1882);
  for (std::size_t depth = 1; depth <= 3; ++depth) {
    Case c = random_case(rng, depth, 6);
    auto engine = make_engine<TypeParam>("reference");
    TrainingStatement<TypeParam> st = statement_of<TypeParam>(c);
    const auto messages = prove(*engine, st, true);
    ASSERT_TRUE(verify(st, messages, true).accepted);
    for (std::size_t i = 0; i < depth; ++i) {
      for (std::size_t o = 0; o < c.model.layers[i].ops.size(); ++o) {
        if (!trained(c.model.layers[i].ops[o])) continue;
        Case bad = c;
        LinearOp& op = bad.model.layers[i].ops[o];
        std::vector<std::int64_t> w = op.weights.to_vector();
        w[pick(rng, 0, w.size() - 1)] += 1;
        op.weights = WeightMatrix(w);
        auto bad_st = st;
        bad_st.model = &bad.model;
        EXPECT_FALSE(verify(bad_st, messages, true).accepted) << "a weight of layer " << i + 1 << " op " << o + 1;
      }
      Case bad = c;
      bad.model.layers[i].bias[pick(rng, 0, bad.model.layers[i].rows - 1)] += 1;
      auto bad_st = st;
      bad_st.model = &bad.model;
      EXPECT_FALSE(verify(bad_st, messages, true).accepted) << "a bias of layer " << i + 1;
    }
    {
      auto bad = st;
      bad.input[pick(rng, 0, bad.input.size() - 1)] += F::one();
      EXPECT_FALSE(verify(bad, messages, true).accepted) << "a data entry";
    }
    if (c.model.out_dim() > 1) {
      auto bad = st;
      auto& y = bad.labels[pick(rng, 0, bad.labels.size() - 1)];
      y = (y + 1) % static_cast<std::int64_t>(c.model.out_dim());
      EXPECT_FALSE(verify(bad, messages, true).accepted) << "a label";
    }
  }
}

// Reviewer finding F3 in the proof: a depthwise conv whose integers are all 1 but which the
// importer did not mark fixed is trained, so its kernel gradient is in G_1 and proved; read as a
// pool (fixed), the same proof does not verify (G_1 no longer matches what the model trains).
TYPED_TEST(ConvTrainingProofTest, AnAllOnesTrainedConvIsProvedAndAPoolIsNot) {
  auto rng = std::mt19937_64(1883);
  Case c;
  ConvShape s;
  s.in_channels = s.out_channels = s.groups = 2;
  s.in_h = s.in_w = 4;
  s.kernel_h = s.kernel_w = 2;
  s.stride_h = s.stride_w = 2;
  QuantizedLayer l;
  l.ops = {LinearOp::convolution(s, std::vector<std::int64_t>(s.kernel_size(), 1)),
           LinearOp::dense(3, 8, random_ints(rng, 24, 2))};
  l.cols = s.in_size();
  l.rows = 3;
  l.bias = {1, 0, -1};
  c.model.layers = {l};
  c.model.input_shape = {2, 4, 4};
  c.model.validate();
  c.samples = 4;
  for (std::size_t i = 0; i < c.samples * l.cols; ++i)
    c.input.push_back(static_cast<std::int64_t>(pick(rng, 0, 4)) - 2);
  c.labels = {0, 1, 2, 1};
  auto engine = make_engine<TypeParam>("cpu");
  TrainingStatement<TypeParam> st = statement_of<TypeParam>(c);
  const auto messages = prove(*engine, st, true);
  ASSERT_EQ(st.claims.weight_gradients[0].size(), s.kernel_size() + 24);
  EXPECT_TRUE(verify(st, messages, true).accepted);
  Case pooled = c;
  pooled.model.layers[0].ops[0].fixed = true;
  auto bad_st = st;
  bad_st.model = &pooled.model;
  EXPECT_FALSE(verify(bad_st, messages, true).accepted);
}

// The description: a dense model's is the dims version's (so dense proofs keep their bytes), a
// structured layer's seeds are its trained ops' in chain order, and a real CNN's soundness count
// stays above 100 bits over 60,000 samples.
TEST(ConvTrainingComputation, SeedsFollowTheTrainedOps) {
  auto rng = std::mt19937_64(1884);
  const QuantizedModel dense = testing::random_model({5, 4, 3}, rng, 3, 3);
  const Computation a = training_computation(dense, 7), b = training_computation(dense.dims(), 7);
  ASSERT_EQ(a.seeds.size(), b.seeds.size());
  for (std::size_t k = 0; k < a.seeds.size(); ++k) {
    EXPECT_EQ(a.seeds[k].kind, b.seeds[k].kind);
    EXPECT_EQ(a.seeds[k].layer, b.seeds[k].layer);
  }
  EXPECT_EQ(walk_cost(a).messages, walk_cost(b).messages);
  EXPECT_EQ(walk_cost(a).error_terms, walk_cost(b).error_terms);

  // CNN-2-like: [conv 1->6 5x5 on 28x28, 2x2 pool] [conv 6->16 5x5, 2x2 pool] [dense 256 -> 10].
  QuantizedModel m;
  m.input_shape = {1, 28, 28};
  ConvShape c1{1, 28, 28, 6, 5, 5};
  ConvShape p1{6, 24, 24, 6, 2, 2, 2, 2};
  p1.groups = 6;
  ConvShape c2{6, 12, 12, 16, 5, 5};
  ConvShape p2{16, 8, 8, 16, 2, 2, 2, 2};
  p2.groups = 16;
  auto layer = [&](std::vector<LinearOp> ops) {
    QuantizedLayer l;
    l.ops = std::move(ops);
    l.cols = l.ops.front().cols;
    l.rows = l.ops.back().rows;
    l.bias.assign(l.rows, 0);
    m.layers.push_back(std::move(l));
  };
  layer({LinearOp::convolution(c1, random_ints(rng, c1.kernel_size(), 3)), LinearOp::sum_pool(p1)});
  layer({LinearOp::convolution(c2, random_ints(rng, c2.kernel_size(), 3)), LinearOp::sum_pool(p2)});
  layer({LinearOp::dense(10, 256, random_ints(rng, 2560, 3))});
  m.validate();
  const Computation c = training_computation(m, 60000);
  std::vector<std::pair<std::size_t, std::size_t>> seeds;  // (layer, op) of each op seed
  for (const Seed& s : c.seeds)
    if (s.kind == SeedKind::op_gradient) {
      seeds.push_back({s.layer, s.op});
      EXPECT_TRUE(s.bias);  // one trained op per layer: it carries the bias
      EXPECT_EQ(s.offset, 0u);
    }
  // Layer 3 is a chain of one dense op (a structured layer): its op seed comes first.
  EXPECT_EQ(seeds, (std::vector<std::pair<std::size_t, std::size_t>>{{3, 0}, {2, 0}, {1, 0}}));
  for (FieldId f : {FieldId::m61, FieldId::m127})
    EXPECT_GE(challenge_field_log2(f) - std::log2(walk_cost(c).error_terms), 100.0);
}

// A whole CNN training proof pinned: the walk's order, every message and every challenge of a
// fixed 2-layer statement (through its real transcript). A change here is a change of the
// structured protocol (docs/TRAINING_PROTOCOL.md, "Structured layers").
TEST(ConvTrainingProofKnownAnswer, TheMessagesOfAFixedStatementArePinned) {
  auto rng = std::mt19937_64(2027);
  const Case c = random_case(rng, 2, 5);
  ASSERT_GT(trained_convs(c.model), 0u);
  for (const char* engine_name : {"reference", "cpu"}) {
    auto engine = make_engine<M61>(engine_name);
    TrainingStatement<M61> st = statement_of<M61>(c);
    const auto messages = prove(*engine, st, false);
    Sha256 h;
    for (const auto& G : st.claims.weight_gradients) update_elements(h, std::span<const Fp61>(G));
    update_elements(h, std::span<const Fp61x2>(messages));
    const Digest d = h.finish();
    EXPECT_EQ(to_hex(d), "8c7c6c8308db3ec18f471eb97464de8ba11a7b03ff24bae79ff63deec99a8ba5") << engine_name;
  }
}

}  // namespace
}  // namespace nnproof
