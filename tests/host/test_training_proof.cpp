// SPDX-License-Identifier: Apache-2.0
// The training proof (docs/TRAINING_PROTOCOL.md): honest proofs verify on every engine, and each
// kind of tampering is rejected: a claim (loss, a gradient entry, an output), a proof message, and,
// with the challenges fixed in advance so that only the protocol can catch them, a weight, a bias,
// a data entry or a label.
#include <gtest/gtest.h>

#include <random>

#include "host/training/prover.hpp"
#include "kernels/registry.hpp"
#include "tests/support/models.hpp"
#include "tests/support/training_case.hpp"
#include "verifier/magnitude.hpp"
#include "verifier/training/computation.hpp"
#include "verifier/training/magnitude.hpp"
#include "verifier/training/verifier.hpp"

namespace nnproof {
namespace {

using testing::pick;
using testing::random_model;

template <class Cfg>
class TrainingProofTest : public ::testing::Test {};
using FileConfigs = ::testing::Types<M61, M127>;
TYPED_TEST_SUITE(TrainingProofTest, FileConfigs);

using Case = testing::TrainingCase;
using testing::fixed_transcript;
using testing::statement_of;

// A random dense network with power-of-two scales and a labelled batch.
Case random_case(std::mt19937_64& rng, std::size_t depth, std::size_t samples) {
  std::vector<std::size_t> dims;
  for (std::size_t i = 0; i <= depth; ++i) dims.push_back(pick(rng, 1, 9));
  Case c;
  c.model = random_model(dims, rng, 3, 3);
  c.samples = samples;
  std::uniform_int_distribution<std::int64_t> x(-4, 4);
  for (std::size_t i = 0; i < samples * dims[0]; ++i) c.input.push_back(x(rng));
  for (std::size_t k = 0; k < samples; ++k)
    c.labels.push_back(static_cast<std::int64_t>(pick(rng, 0, dims.back() - 1)));
  return c;
}

template <class Cfg>
std::vector<typename Cfg::K> prove_with_fixed_challenges(Engine<Cfg>& engine, TrainingStatement<Cfg>& st) {
  using F = typename Cfg::F;
  const auto layers = field_layers<F>(*st.model);
  BackwardTrace<Cfg> trace = run_backward(engine, layers, st.input, st.labels, F::from_int(target_scale(*st.model)));
  st.claims = gradient_claims(engine, layers, trace);
  Transcript t = fixed_transcript<Cfg>();
  FiatShamirProverChannel<typename Cfg::K> ch(t);
  prove_training(engine, layers, trace, st, ch);
  return ch.messages();
}

template <class Cfg>
Verdict verify_with_fixed_challenges(const TrainingStatement<Cfg>& st, const std::vector<typename Cfg::K>& messages) {
  Transcript t = fixed_transcript<Cfg>();
  FiatShamirVerifierChannel<typename Cfg::K> ch(t, messages);
  Verdict v = verify_training_protocol(st, ch);
  if (v.accepted && ch.consumed() != messages.size()) return Verdict::reject("unused messages");
  return v;
}

TEST(TrainingComputation, InferenceDescriptionCostsWhatTheInferenceProofDoes) {
  for (const std::vector<std::size_t>& dims :
       {std::vector<std::size_t>{5, 3}, {7, 9, 2}, {1845, 2000, 2000, 2000, 183}})
    for (std::size_t batch : {1, 3, 2048}) {
      const ProofShape shape{dims, batch};
      const WalkCost cost = walk_cost(inference_computation(dims, batch));
      EXPECT_EQ(cost.messages, shape.message_count());
      EXPECT_DOUBLE_EQ(challenge_field_log2(FieldId::m61) - std::log2(cost.error_terms),
                       shape.soundness_bits(FieldId::m61));
    }
}

TEST(TrainingComputation, SoundnessIsAtLeast100BitsForTheTimitShape) {
  const TrainingShape shape{{1845, 2000, 2000, 2000, 183}, 60000};
  EXPECT_GE(shape.soundness_bits(FieldId::m61), 100.0);
  EXPECT_GE(shape.soundness_bits(FieldId::m127), 100.0);
}

TYPED_TEST(TrainingProofTest, HonestProofsVerifyOnEveryEngine) {
  auto rng = std::mt19937_64(181);
  for (std::size_t depth = 1; depth <= 4; ++depth)
    for (std::size_t samples : {std::size_t{1}, std::size_t{5}, pick(rng, 6, 40)}) {
      const Case c = random_case(rng, depth, samples);
      std::optional<TrainingClaims<typename TypeParam::F>> first;
      for (std::string_view name : runnable_engines()) {
        SCOPED_TRACE(std::string(name) + " depth " + std::to_string(depth) + " N " + std::to_string(samples));
        auto engine = make_engine<TypeParam>(name);
        TrainingStatement<TypeParam> st = statement_of<TypeParam>(c);
        TrainingBundle<TypeParam> bundle = prove_training_bundle(*engine, st);
        const Verdict v = verify_training_bundle(st, bundle, training_bindings(st));
        // The verifier's bound reads the claimed (here: honest) outputs.
        const std::int64_t s = target_scale(c.model);
        const bool wraps =
            training_magnitude_violation(magnitude_profile(c.model), c.model, max_abs(c.input), s,
                                         output_gradient_bounds(st.claims.outputs, c.labels, c.model.out_dim(), s),
                                         TypeParam::kId)
                .has_value();
        if (!wraps) {
          EXPECT_TRUE(v.accepted) << v.failed_check;
        } else {  // the bundle refuses a field that could wrap; the protocol itself still holds mod p
          EXPECT_FALSE(v.accepted);
          EXPECT_EQ(v.failed_check.rfind("magnitude: ", 0), 0u) << v.failed_check;
          Transcript t = training_transcript<TypeParam>(bundle.header.statement_digest);
          FiatShamirVerifierChannel<typename TypeParam::K> ch(t, bundle.messages);
          EXPECT_TRUE(verify_training_protocol(st, ch).accepted);
        }
        if (!first) first = st.claims;
        EXPECT_EQ(st.claims.loss, first->loss);
        EXPECT_EQ(st.claims.weight_gradients, first->weight_gradients);
        EXPECT_EQ(st.claims.bias_gradients, first->bias_gradients);
        EXPECT_EQ(bundle.messages.size(), (TrainingShape{c.model.dims(), samples}.message_count()));
      }
    }
}

TYPED_TEST(TrainingProofTest, ChangedClaimsAndMessagesAreRejected) {
  using F = typename TypeParam::F;
  using K = typename TypeParam::K;
  auto rng = std::mt19937_64(182);
  for (std::size_t depth = 1; depth <= 3; ++depth) {
    const Case c = random_case(rng, depth, 7);
    auto engine = make_engine<TypeParam>("reference");
    TrainingStatement<TypeParam> st = statement_of<TypeParam>(c);
    const std::vector<K> messages = prove_with_fixed_challenges(*engine, st);
    ASSERT_TRUE(verify_with_fixed_challenges(st, messages).accepted);
    auto expect_rejected = [&](const TrainingStatement<TypeParam>& bad, const std::string& what) {
      EXPECT_FALSE(verify_with_fixed_challenges(bad, messages).accepted) << what << " depth " << depth;
    };
    {
      auto bad = st;
      bad.claims.loss += F::one();
      expect_rejected(bad, "loss");
    }
    for (std::size_t i = 0; i < depth; ++i) {
      auto bad = st;
      auto& G = bad.claims.weight_gradients[i];
      G[pick(rng, 0, G.size() - 1)] += F::one();
      expect_rejected(bad, "weight gradient of layer " + std::to_string(i + 1));
      bad = st;
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
      EXPECT_FALSE(verify_with_fixed_challenges(st, bad_messages).accepted) << "message " << m;
    }
  }
}

TYPED_TEST(TrainingProofTest, ChangedModelDataOrLabelsAreRejectedByTheProtocol) {
  using F = typename TypeParam::F;
  auto rng = std::mt19937_64(183);
  for (std::size_t depth = 1; depth <= 3; ++depth) {
    Case c = random_case(rng, depth, 9);
    auto engine = make_engine<TypeParam>("reference");
    TrainingStatement<TypeParam> st = statement_of<TypeParam>(c);
    const auto messages = prove_with_fixed_challenges(*engine, st);
    ASSERT_TRUE(verify_with_fixed_challenges(st, messages).accepted);
    for (std::size_t i = 0; i < depth; ++i) {
      Case bad = c;
      QuantizedLayer& layer = bad.model.layers[i];
      const std::size_t at = pick(rng, 0, layer.rows * layer.cols - 1);
      std::vector<std::int64_t> w(layer.rows * layer.cols);
      for (std::size_t e = 0; e < w.size(); ++e) w[e] = layer.weights[e];
      w[at] += 1;
      layer.weights = WeightMatrix(w);
      auto bad_st = st;
      bad_st.model = &bad.model;
      EXPECT_FALSE(verify_with_fixed_challenges(bad_st, messages).accepted) << "a weight of layer " << i + 1;
      bad = c;
      bad.model.layers[i].bias[pick(rng, 0, bad.model.layers[i].rows - 1)] += 1;
      bad_st.model = &bad.model;
      EXPECT_FALSE(verify_with_fixed_challenges(bad_st, messages).accepted) << "a bias of layer " << i + 1;
    }
    {
      auto bad = st;
      bad.input[pick(rng, 0, bad.input.size() - 1)] += F::one();
      EXPECT_FALSE(verify_with_fixed_challenges(bad, messages).accepted) << "a data entry";
    }
    if (c.model.out_dim() > 1) {
      auto bad = st;
      auto& y = bad.labels[pick(rng, 0, bad.labels.size() - 1)];
      y = (y + 1) % static_cast<std::int64_t>(c.model.out_dim());
      EXPECT_FALSE(verify_with_fixed_challenges(bad, messages).accepted) << "a label";
    }
  }
}

}  // namespace
}  // namespace nnproof

namespace nnproof {
namespace {

// A whole training proof pinned: the walk's order, every message and every challenge of a fixed
// 3-layer statement. A change here is a change of the protocol (docs/TRAINING_PROTOCOL.md) and
// of every .nnpt file: bump kTrainingProofVersion with it.
TEST(TrainingProofKnownAnswer, TheBundleOfAFixedStatementIsPinned) {
  auto rng = std::mt19937_64(2026);
  const Case c = random_case(rng, 3, 11);
  for (const char* engine_name : {"reference", "cpu"}) {
    auto engine = make_engine<M61>(engine_name);
    TrainingStatement<M61> st = statement_of<M61>(c);
    const auto bytes = serialize_training_bundle(prove_training_bundle(*engine, st));
    EXPECT_EQ(to_hex(sha256(bytes)), "845eac3dab5931a155652dcd7e101f1c5ffea5a8d96d174df385d11ca744f5d2") << engine_name;
  }
}

// The backward values' bound reads the outputs (docs/TRAINING_PROTOCOL.md, "Magnitudes"). One
// dense layer Z = W x + b with W = [[a, -a], [a, -a]] in m61: the worst case over inputs with
// |x| <= v, |Z| <= 2 a v = 2^31, bounds the loss of 4 samples by 8 (2^31)^2 = 2^65 > (p - 1) / 2.
// Inputs (v, v) cancel (Z = b): the outputs' bound accepts what the worst case refuses, and the
// proof verifies. Inputs (v, -v) make the loss really 8 (2^31 + b)^2: refused before the backward
// pass, and a bundle proved past the check is rejected by the verifier's bound alone.
TEST(TrainingProofMagnitude, TheBackwardBoundReadsTheOutputs) {
  const std::int64_t a = std::int64_t{1} << 20, v = std::int64_t{1} << 10;
  Case c;
  c.model.alpha = 1;
  c.model.beta = 1;
  QuantizedLayer l;
  l.rows = 2;
  l.cols = 2;
  l.weights = WeightMatrix({a, -a, a, -a});
  l.bias = {1, -1};
  c.model.layers = {l};
  c.model.validate();
  c.samples = 4;
  c.labels = {0, 1, 1, 0};
  const std::int64_t s = target_scale(c.model);
  const auto worst_case = [&] {
    return training_magnitude_violation(magnitude_profile(c.model), c.model, static_cast<u128>(v), c.samples, s,
                                        FieldId::m61);
  };
  auto engine = make_engine<M61>("cpu");

  for (std::size_t k = 0; k < c.samples; ++k) c.input.insert(c.input.end(), {v, v});
  ASSERT_TRUE(worst_case().has_value());
  TrainingStatement<M61> st = statement_of<M61>(c);
  bool checked = false;
  const TrainingBundle<M61> bundle = prove_training_bundle(*engine, st, {}, [&](const std::vector<M61::F>& outputs) {
    checked = true;
    EXPECT_FALSE(training_magnitude_violation(magnitude_profile(c.model), c.model, static_cast<u128>(v), s,
                                              output_gradient_bounds(outputs, c.labels, 2, s), FieldId::m61));
  });
  EXPECT_TRUE(checked);
  const Verdict accepted = verify_training_bundle(st, bundle, training_bindings(st));
  EXPECT_TRUE(accepted.accepted) << accepted.failed_check;

  c.input.clear();
  for (std::size_t k = 0; k < c.samples; ++k) c.input.insert(c.input.end(), {v, -v});
  TrainingStatement<M61> large = statement_of<M61>(c);
  EXPECT_THROW(prove_training_bundle(*engine, large, {},
                                     [&](const std::vector<M61::F>& outputs) {
                                       if (training_magnitude_violation(
                                               magnitude_profile(c.model), c.model, static_cast<u128>(v), s,
                                               output_gradient_bounds(outputs, c.labels, 2, s), FieldId::m61))
                                         throw std::range_error("wraps");
                                     }),
               std::range_error);
  const TrainingBundle<M61> wrapped = prove_training_bundle(*engine, large);  // past the check
  const Verdict rejected = verify_training_bundle(large, wrapped, training_bindings(large));
  EXPECT_FALSE(rejected.accepted);
  EXPECT_EQ(rejected.failed_check.rfind("magnitude: ", 0), 0u) << rejected.failed_check;
  Transcript t = training_transcript<M61>(wrapped.header.statement_digest);
  FiatShamirVerifierChannel<M61::K> ch(t, wrapped.messages);
  EXPECT_TRUE(verify_training_protocol(large, ch).accepted);  // the field's identities hold mod p
}

}  // namespace
}  // namespace nnproof
