// SPDX-License-Identifier: Apache-2.0
// The trainer (host/training/trainer.hpp, TRAINING.md section 3): its step is the exact update of
// verifier/training/step.hpp applied to the exact gradients, batches follow the pinned generator,
// every engine gives the same model, refusals leave the model as it was, and a trained model
// written as ONNX reads back as the same integers (host/onnx/onnx_export.cpp).
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <fstream>

#include "host/onnx/onnx_import.hpp"
#include "host/quantize.hpp"
#include "host/training/backward.hpp"
#include "host/training/trainer.hpp"
#include "kernels/registry.hpp"
#include "tests/host/onnx_builder.hpp"
#include "tests/support/models.hpp"
#include "tests/support/random.hpp"
#include "tests/support/temp_dir.hpp"
#include "verifier/training/step.hpp"

namespace nnproof {
namespace {

using testing::make_rng;

// Known answers from an independent implementation (Python) of the generator documented in
// trainer.hpp; SplitMix64 from state 0 first gives 0xE220A8397B1DCDAF.
TEST(Trainer, EpochOrderIsPinned) {
  EXPECT_EQ(epoch_order(0, 0, 10), (std::vector<std::size_t>{6, 3, 2, 9, 8, 1, 4, 7, 0, 5}));
  EXPECT_EQ(epoch_order(0, 1, 10), (std::vector<std::size_t>{7, 4, 9, 5, 2, 3, 8, 6, 1, 0}));
  EXPECT_EQ(epoch_order(12345, 3, 7), (std::vector<std::size_t>{3, 5, 6, 4, 0, 1, 2}));
  EXPECT_EQ(epoch_order(9, 4, 1), std::vector<std::size_t>{0});
  auto order = epoch_order(77, 2, 1000);
  std::sort(order.begin(), order.end());
  for (std::size_t i = 0; i < order.size(); ++i) ASSERT_EQ(order[i], i);
}

struct Problem {
  QuantizedModel model;
  TrainingData data;
};

// A random 2-layer dense network at alpha = beta = 1 (s_Z(L) = 1: the target is 1), inputs in
// [-2, 2]: small enough for m61's bound at these sizes. At these scales the gradients are large
// integers and a step of eta = 2^-16 may already diverge; stable_lr finds a rate that trains.
Problem random_problem(std::mt19937_64& rng, std::size_t samples, std::vector<std::size_t> dims = {5, 4, 3}) {
  Problem p;
  p.model = testing::random_model(dims, rng, 3, 3);
  p.data.input = random_ints(rng, samples * dims.front(), 2);
  for (std::size_t k = 0; k < samples; ++k)
    p.data.labels.push_back(static_cast<std::int64_t>(testing::pick(rng, 0, dims.back() - 1)));
  return p;
}

// One step of TRAINING.md section 3 written out: the batch's gradients on the reference engine,
// then W - rdiv(G, n 2^k_W) and B - rdiv(g, n 2^k_B) entry by entry.
template <class Cfg>
void reference_step(QuantizedModel& m, const std::vector<std::int64_t>& x, const std::vector<std::int64_t>& labels,
                    std::uint32_t e) {
  using F = typename Cfg::F;
  auto engine = make_engine<Cfg>("reference");
  const auto layers = field_layers<F>(m);
  std::vector<F> input;
  for (auto v : x) input.push_back(F::from_int(v));
  auto trace = run_backward(*engine, layers, input, labels, F::from_int(target_scale(m)));
  const auto claims = gradient_claims(*engine, layers, trace);
  const StepExponents k = step_exponents(m, e);
  const std::size_t n = labels.size();
  for (std::size_t i = 0; i < m.depth(); ++i) {
    auto& l = m.layers[i];
    std::vector<std::int64_t> w = l.weights.to_vector();
    for (std::size_t t = 0; t < w.size(); ++t)
      w[t] -= static_cast<std::int64_t>(*rdiv_pow2(claims.weight_gradients[i][t].centered(), n, k.weight));
    l.weights = WeightMatrix(w);
    for (std::size_t a = 0; a < l.rows; ++a)
      l.bias[a] -= *rdiv_pow2(claims.bias_gradients[i][a].centered(), n, k.bias[i]);
  }
}

// The largest eta = 2^-e (e from 8 up) at which `options` trains the problem on the reference
// engine in m61 without a refusal and changes the model: what a seed's problem tolerates.
std::uint32_t stable_lr(const Problem& p, TrainOptions options) {
  for (options.lr_exponent = 8; options.lr_exponent < 40; ++options.lr_exponent) {
    QuantizedModel m = p.model;
    try {
      train(*make_engine<M61>("reference"), m, p.data, options);
    } catch (const TrainingError&) {
      continue;
    }
    if (model_digest(m) != model_digest(p.model)) return options.lr_exponent;
  }
  ADD_FAILURE() << "no learning rate trains this problem";
  return 0;
}

void expect_same_model(const QuantizedModel& a, const QuantizedModel& b) {
  ASSERT_EQ(a.depth(), b.depth());
  for (std::size_t i = 0; i < a.depth(); ++i) {
    EXPECT_EQ(a.layers[i].weights.to_vector(), b.layers[i].weights.to_vector()) << "layer " << i + 1;
    EXPECT_TRUE(a.layers[i].bias == b.layers[i].bias) << "layer " << i + 1;
  }
  EXPECT_EQ(a.alpha, b.alpha);
  EXPECT_EQ(a.beta, b.beta);
}

bool same_weights(const QuantizedModel& a, const QuantizedModel& b) {
  for (std::size_t i = 0; i < a.depth(); ++i)
    if (a.layers[i].weights.to_vector() != b.layers[i].weights.to_vector() || a.layers[i].bias != b.layers[i].bias)
      return false;
  return true;
}

TEST(Trainer, FullBatchStepIsTheExactUpdate) {
  auto rng = make_rng(190);
  Problem p = random_problem(rng, 37);
  QuantizedModel expected = p.model;
  reference_step<M127>(expected, p.data.input, p.data.labels, 3);
  auto engine = make_engine<M127>("cpu");
  std::vector<EpochReport> reports;
  const std::size_t epochs =
      train(*engine, p.model, p.data, {1, 0, 3, 0}, [&](const EpochReport& r) { reports.push_back(r); });
  EXPECT_EQ(epochs, 1u);
  expect_same_model(p.model, expected);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].steps, 1u);
  EXPECT_GT(reports[0].weights_changed, 0u);
  EXPECT_GT(reports[0].loss, 0);
}

// --batch 3 over 7 samples: steps of 3, 3 and 1 samples in epoch_order's order.
TEST(Trainer, BatchesFollowTheEpochOrder) {
  auto rng = make_rng(191);
  Problem p = random_problem(rng, 7);
  const QuantizedModel before = p.model;
  const std::uint32_t e = stable_lr(p, {2, 3, 0, 11});
  QuantizedModel expected = p.model;
  for (std::size_t epoch = 0; epoch < 2; ++epoch) {
    const auto order = epoch_order(11, epoch, 7);
    for (std::size_t first = 0; first < 7; first += 3) {
      std::vector<std::int64_t> x, labels;
      for (std::size_t b = first; b < std::min<std::size_t>(7, first + 3); ++b) {
        x.insert(x.end(), p.data.input.begin() + static_cast<std::ptrdiff_t>(order[b] * 5),
                 p.data.input.begin() + static_cast<std::ptrdiff_t>(order[b] * 5 + 5));
        labels.push_back(p.data.labels[order[b]]);
      }
      reference_step<M61>(expected, x, labels, e);
    }
  }
  auto engine = make_engine<M61>("cpu");
  std::size_t steps = 0;
  train(*engine, p.model, p.data, {2, 3, e, 11}, [&](const EpochReport& r) { steps += r.steps; });
  EXPECT_EQ(steps, 6u);
  EXPECT_FALSE(same_weights(p.model, before));
  expect_same_model(p.model, expected);
}

TEST(Trainer, EveryEngineTrainsTheSameModel) {
  auto rng = make_rng(192);
  const Problem p = random_problem(rng, 29, {7, 6, 3});
  const std::uint32_t e = stable_lr(p, {3, 8, 0, 2});
  for (FieldId field : {FieldId::m61, FieldId::m127}) {
    std::optional<QuantizedModel> first;
    for (std::string_view name : runnable_engines()) {
      SCOPED_TRACE(name);
      QuantizedModel m = p.model;
      const TrainOptions o{3, 8, e, 2};
      if (field == FieldId::m61) {
        auto engine = make_engine<M61>(name);
        train(*engine, m, p.data, o);
      } else {
        auto engine = make_engine<M127>(name);
        train(*engine, m, p.data, o);
      }
      EXPECT_FALSE(same_weights(m, p.model));  // not trivially equal: training moved something
      if (first)
        expect_same_model(m, *first);
      else
        first = m;
    }
  }
}

TEST(Trainer, StopsOnceAnEpochChangesNothing) {
  auto rng = make_rng(193);
  Problem p = random_problem(rng, 5);
  const QuantizedModel before = p.model;
  auto engine = make_engine<M61>("cpu");
  std::vector<EpochReport> reports;
  // eta = 2^-60: every step rounds to nothing.
  EXPECT_EQ(train(*engine, p.model, p.data, {10, 0, 60, 0}, [&](const EpochReport& r) { reports.push_back(r); }), 1u);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_TRUE(reports[0].converged);
  EXPECT_EQ(reports[0].weights_changed, 0u);
  expect_same_model(p.model, before);
}

TEST(Trainer, RefusesAFieldThatCouldWrap) {
  // Three layers at alpha = beta = 16, as examples/mlp: the loss alone could reach 2^112 in m61.
  QuantizedModel m;
  m.layers.push_back({2, 2, {16, 0, 0, 16}, {0, 0}, {}, {}});
  m.layers.push_back({2, 2, {16, 0, 0, 16}, {0, 0}, {}, {}});
  m.layers.push_back({1, 2, {16, 16}, {0}, {}, {}});
  m.alpha = m.beta = 16;
  const TrainingData data{{16, -16}, {0}};
  const QuantizedModel before = m;
  auto engine = make_engine<M61>("cpu");
  try {
    train(*engine, m, data, {});
    FAIL() << "m61 was accepted";
  } catch (const TrainingError& e) {
    EXPECT_NE(std::string(e.what()).find("layer 3 loss"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--field m127"), std::string::npos) << e.what();
  }
  expect_same_model(m, before);
  auto wide = make_engine<M127>("cpu");
  EXPECT_NO_THROW(train(*wide, m, data, {1, 0, 6, 0}));
}

TEST(Trainer, RefusesAWeightLeavingItsRange) {
  // W = 2^62 - 1, x = 2, s = 1: G = 2 (2^63 - 3) 2 at eta = 1 moves W far below -2^62.
  QuantizedModel m;
  m.layers.push_back({1, 1, {(std::int64_t{1} << 62) - 1}, {0}, {}, {}});
  const TrainingData data{{2}, {0}};
  const QuantizedModel before = m;
  auto engine = make_engine<M127>("cpu");
  try {
    train(*engine, m, data, {1, 0, 0, 0});
    FAIL() << "the step was taken";
  } catch (const TrainingError& e) {
    EXPECT_NE(std::string(e.what()).find("layer 1 weight [0][0]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("smaller --lr"), std::string::npos) << e.what();
  }
  expect_same_model(m, before);
}

TEST(Trainer, RefusesBadData) {
  auto rng = make_rng(194);
  Problem p = random_problem(rng, 4);
  auto engine = make_engine<M61>("reference");
  TrainingData labels_off = p.data;
  labels_off.labels[2] = 3;  // 3 classes
  EXPECT_THROW(train(*engine, p.model, labels_off, {}), TrainingError);
  TrainingData short_input = p.data;
  short_input.input.pop_back();
  EXPECT_THROW(train(*engine, p.model, short_input, {}), TrainingError);
  EXPECT_THROW(train(*engine, p.model, TrainingData{}, {}), TrainingError);
}

// ---- the trained model as ONNX ----

QuantizedModel reload(const std::string& path) { return quantize_model(import_onnx(path), {}); }

TEST(TrainedOnnx, ReadsBackAsTheSameIntegers) {
  testing::TempDir dir;
  // 4-3-2 with sixteenths for weights at alpha = beta = 16 (metadata), a final Softmax.
  std::vector<testing::BuilderLayer> layers = {
      {3, 4, {0.25, -0.5, 0, 0.75, 0.5, 0.25, -0.25, 0, 0, 0.25, 0.25, -0.75}, {0.0625, 0, -0.0625}},
      {2, 3, {0.25, 0.5, -0.25, -0.5, 0, 0.25}, {0, 0.3125}}};
  testing::BuildOptions opt;
  opt.alpha = opt.beta = 16;
  opt.softmax = true;
  testing::write_mlp_onnx(dir.file("m.onnx"), layers, opt);
  QuantizedModel m = reload(dir.file("m.onnx"));
  auto rng = make_rng(195);
  TrainingData data;
  data.input = random_ints(rng, 20 * 4, 16);
  for (std::size_t k = 0; k < 20; ++k) data.labels.push_back(static_cast<std::int64_t>(k % 2));
  auto engine = make_engine<M127>("cpu");
  train(*engine, m, data, {3, 6, 2, 1});
  write_quantized_onnx(m, dir.file("trained.onnx"));
  const QuantizedModel back = reload(dir.file("trained.onnx"));
  expect_same_model(back, m);
  EXPECT_EQ(back.final_op, FinalOp::softmax);
  EXPECT_EQ(model_digest(back), model_digest(m));
  // Training changed the model (else the round trip proves little).
  EXPECT_NE(model_digest(m), model_digest(reload(dir.file("m.onnx"))));
}

// A model that takes (batch, 1, n_0) and flattens it keeps that input shape: the user's data
// files still fit the trained model.
TEST(TrainedOnnx, KeepsThePerSampleInputShape) {
  testing::TempDir dir;
  std::vector<testing::BuilderLayer> layers = {{2, 3, {0.5, -0.25, 0, 0.25, 0.75, -0.5}, {0.125, 0}}};
  testing::BuildOptions opt;
  opt.alpha = opt.beta = 8;
  opt.flatten_first = true;
  testing::write_mlp_onnx(dir.file("m.onnx"), layers, opt);
  QuantizedModel m = reload(dir.file("m.onnx"));
  ASSERT_EQ(m.input_shape, (std::vector<std::size_t>{1, 3}));
  const TrainingData data{{8, -8, 4, 0, 2, -6}, {1, 0}};
  train(*make_engine<M61>("cpu"), m, data, {2, 0, 2, 0});
  write_quantized_onnx(m, dir.file("trained.onnx"));
  const QuantizedModel back = reload(dir.file("trained.onnx"));
  EXPECT_EQ(back.input_shape, m.input_shape);
  expect_same_model(back, m);
}

// Biases past 2^53 have no float64 form: they travel in the metadata, and the floats (B rounded)
// still say which biases they are. Weights of every storage width come back too.
TEST(TrainedOnnx, BiasesPastTwoToThe53TravelInTheMetadata) {
  testing::TempDir dir;
  QuantizedModel m;
  m.alpha = 1024;
  m.beta = 2;  // s_Z(1) = 2^11, s_Z(2) = 2^23
  m.layers.push_back({2, 3, {1, -300, 70000, 5, 0, -(std::int64_t{1} << 40)}, {(i128{1} << 60) + 1, -7}, {}, {}});
  m.layers.push_back({1, 2, {3, -4}, {-((i128{1} << 100) + 12345)}, {}, {}});
  write_quantized_onnx(m, dir.file("big.onnx"));
  const FloatModel fm = import_onnx(dir.file("big.onnx"));
  EXPECT_EQ(fm.exact_biases.size(), 2u);
  expect_same_model(quantize_model(fm, {}), m);
  // Floats that disagree with the metadata (an edited model) win over it.
  FloatModel edited = fm;
  edited.layers[0].bias[0] *= 2;
  EXPECT_EQ(quantize_model(edited, {}).layers[0].bias[0], i128{1} << 61);
  EXPECT_EQ(quantize_model(edited, {}).layers[1].bias, m.layers[1].bias);
}

// The model file with its nnproof.bias.1 entry's value replaced.
void set_exact_bias_entry(const std::string& in, const std::string& out, const std::string& key,
                          const std::string& value) {
  onnx::ModelProto model;
  {
    std::ifstream f(in, std::ios::binary);
    ASSERT_TRUE(model.ParseFromIstream(&f));
  }
  for (auto& p : *model.mutable_metadata_props())
    if (p.key() == "nnproof.bias.1") p.set_key(key), p.set_value(value);
  std::ofstream f(out, std::ios::binary | std::ios::trunc);
  ASSERT_TRUE(model.SerializeToOstream(&f));
}

TEST(TrainedOnnx, BadExactBiasMetadataIsRefused) {
  testing::TempDir dir;
  QuantizedModel m;
  m.alpha = m.beta = 1;
  m.layers.push_back({1, 1, {1}, {(i128{1} << 60) + 1}, {}, {}});
  write_quantized_onnx(m, dir.file("ok.onnx"));
  ASSERT_EQ(import_onnx(dir.file("ok.onnx")).exact_biases.at(1), std::vector<i128>{(i128{1} << 60) + 1});
  // Each malformed entry is a one-line ModelError naming it; 2^126 is past the quantizer's biases.
  for (auto [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"nnproof.bias.1", ""},
                                                        {"nnproof.bias.1", "1,"},
                                                        {"nnproof.bias.1", "12a"},
                                                        {"nnproof.bias.1", "--3"},
                                                        {"nnproof.bias.1", "1,,2"},
                                                        {"nnproof.bias.1", "85070591730234615865843651857942052864"},
                                                        {"nnproof.bias.0", "1"},
                                                        {"nnproof.bias.x", "1"}}) {
    SCOPED_TRACE(key + " = " + value);
    set_exact_bias_entry(dir.file("ok.onnx"), dir.file("bad.onnx"), key, value);
    try {
      import_onnx(dir.file("bad.onnx"));
      FAIL() << "accepted";
    } catch (const ModelError& e) {
      EXPECT_NE(std::string(e.what()).find("metadata " + key), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    }
  }
  // A well-formed entry for a layer of another size: the quantizer, which knows the layers, says so.
  set_exact_bias_entry(dir.file("ok.onnx"), dir.file("bad.onnx"), "nnproof.bias.1", "1,2");
  EXPECT_THROW(reload(dir.file("bad.onnx")), QuantizeError);
  // A negative bias parses.
  set_exact_bias_entry(dir.file("ok.onnx"), dir.file("neg.onnx"), "nnproof.bias.1", "-5");
  EXPECT_EQ(import_onnx(dir.file("neg.onnx")).exact_biases.at(1), std::vector<i128>{-5});
}

}  // namespace
}  // namespace nnproof
