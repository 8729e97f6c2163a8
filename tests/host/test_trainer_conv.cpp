// SPDX-License-Identifier: Apache-2.0
// The trainer on convolutional models (TRAINING.md sections 2 and 3, verifier/training/parameters.hpp):
// a full-batch step is the exact update of each trained op's own weights (kernel entries, a chain's
// dense entries; sum pools stay), every engine trains the same model, and the trained model
// written as ONNX (Conv, AveragePool, Gemm, bias Add) reads back as the same integers and gains.
#include <gtest/gtest.h>

#include "host/onnx/onnx_import.hpp"
#include "host/quantize.hpp"
#include "host/training/backward.hpp"
#include "host/training/trainer.hpp"
#include "kernels/registry.hpp"
#include "tests/support/models.hpp"
#include "tests/support/random.hpp"
#include "tests/support/temp_dir.hpp"
#include "verifier/training/parameters.hpp"
#include "verifier/training/step.hpp"

namespace nnproof {
namespace {

using testing::make_rng;

ConvShape shape(std::size_t c, std::size_t h, std::size_t w, std::size_t oc, std::size_t k, std::size_t stride,
                std::size_t pad, std::size_t groups) {
  ConvShape s;
  s.in_channels = c;
  s.in_h = h;
  s.in_w = w;
  s.out_channels = oc;
  s.kernel_h = s.kernel_w = k;
  s.stride_h = s.stride_w = stride;
  s.pad_top = s.pad_left = s.pad_bottom = s.pad_right = pad;
  s.groups = groups;
  return s;
}

LinearOp pool(std::size_t c, std::size_t h, std::size_t w, std::size_t pad_end) {
  ConvShape s = shape(c, h, w, c, 2, 2, 0, c);
  s.pad_bottom = s.pad_right = pad_end;
  return LinearOp::sum_pool(s);
}

// 2 x 5 x 5 images at alpha = beta = 1: [grouped 3 x 3 conv (pad 1), 2 x 2 pool (padded)] ->
// 2 x 3 x 3; [2 x 2 conv to 3 channels] -> 3 x 2 x 2; [2 x 2 pool, dense 3 -> 2]. Gains are
// beta per trained op times 4 per pool, as the importer gives an AveragePool.
QuantizedModel small_cnn(std::mt19937_64& rng) {
  QuantizedModel m;
  m.input_shape = {2, 5, 5};
  const ConvShape c1 = shape(2, 5, 5, 2, 3, 1, 1, 2), c2 = shape(2, 3, 3, 3, 2, 1, 0, 1);
  auto layer = [&](std::vector<LinearOp> ops, double gain) {
    QuantizedLayer l;
    l.ops = std::move(ops);
    l.cols = l.ops.front().cols;
    l.rows = l.ops.back().rows;
    const auto b = random_ints(rng, l.rows, 2);
    l.bias.assign(b.begin(), b.end());
    l.gain = gain;
    m.layers.push_back(std::move(l));
  };
  layer({LinearOp::convolution(c1, random_ints(rng, c1.kernel_size(), 2)), pool(2, 5, 5, 1)}, 4);
  layer({LinearOp::convolution(c2, random_ints(rng, c2.kernel_size(), 2))}, 1);
  layer({pool(3, 2, 2, 0), LinearOp::dense(2, 3, random_ints(rng, 6, 2))}, 4);
  m.validate();
  return m;
}

TrainingData small_data(std::mt19937_64& rng, const QuantizedModel& m, std::size_t samples) {
  TrainingData d;
  d.input = random_ints(rng, samples * m.in_dim(), 2);
  for (std::size_t k = 0; k < samples; ++k) d.labels.push_back(static_cast<std::int64_t>(testing::pick(rng, 0, 1)));
  return d;
}

// A gentle eta: 2^slack times the smallest 2^-e at which one full-batch epoch moves the model at
// all, so that a few steps move weights without growing them past the field's bound.
std::uint32_t gentle_lr(const QuantizedModel& m, const TrainingData& d, TrainOptions o, std::uint32_t slack = 3) {
  o.epochs = 1;
  o.batch = 0;
  auto moves = [&](std::uint32_t e) {
    QuantizedModel t = m;
    o.lr_exponent = e;
    try {
      train(*make_engine<M127>("reference"), t, d, o);
    } catch (const TrainingError&) {
      return true;  // a step too large to take: it certainly moves
    }
    return model_digest(t) != model_digest(m);
  };
  // A smaller eta never moves more: bisect for the largest e that moves.
  std::uint32_t lo = 4, hi = 120;  // moves(lo), !moves(hi)
  if (!moves(lo) || moves(hi)) {
    ADD_FAILURE() << "no learning rate trains this problem";
    return 0;
  }
  while (hi - lo > 1) {
    const std::uint32_t mid = (lo + hi) / 2;
    (moves(mid) ? lo : hi) = mid;
  }
  return lo > slack ? lo - slack : 0;
}

TEST(TrainerConv, FullBatchStepIsTheExactUpdateOfEachOpsWeights) {
  auto rng = make_rng(1819);
  const QuantizedModel m = small_cnn(rng);
  const TrainingData d = small_data(rng, m, 7);
  TrainOptions o;
  o.epochs = 1;
  o.lr_exponent = gentle_lr(m, d, o);
  QuantizedModel trained = m;
  train(*make_engine<M127>("cpu"), trained, d, o);
  // The step written out from the reference engine's gradients.
  auto engine = make_engine<M127>("reference");
  const auto layers = field_layers<Fp127>(m);
  std::vector<Fp127> input;
  for (auto v : d.input) input.push_back(Fp127::from_int(v));
  auto trace = run_backward(*engine, layers, input, d.labels, Fp127::from_int(target_scale(m)));
  const auto claims = gradient_claims(*engine, layers, trace);
  const StepExponents k = step_exponents(m, o.lr_exponent);
  const std::size_t n = d.labels.size();
  std::size_t moved = 0;
  for (std::size_t i = 0; i < m.depth(); ++i) {
    const QuantizedLayer& before = m.layers[i];
    const QuantizedLayer& after = trained.layers[i];
    ASSERT_EQ(claims.weight_gradients[i].size(), layer_parameters(before));
    std::size_t offset = 0;
    for (std::size_t op = 0; op < before.ops.size(); ++op) {
      const auto w0 = before.ops[op].weights.to_vector(), w1 = after.ops[op].weights.to_vector();
      ASSERT_EQ(w0.size(), w1.size());
      if (is_sum_pool(before.ops[op])) {
        EXPECT_EQ(w1, w0) << "a pool moved in layer " << i + 1;
        continue;
      }
      for (std::size_t t = 0; t < w0.size(); ++t) {
        const i128 q = *rdiv_pow2(claims.weight_gradients[i][offset + t].centered(), n, k.weight);
        EXPECT_EQ(i128{w1[t]}, i128{w0[t]} - q) << "layer " << i + 1 << " op " << op + 1 << " entry " << t;
        moved += q != 0 ? 1 : 0;
      }
      offset += w0.size();
    }
    for (std::size_t a = 0; a < before.rows; ++a)
      EXPECT_TRUE(after.bias[a] == before.bias[a] - *rdiv_pow2(claims.bias_gradients[i][a].centered(), n, k.bias[i]));
    EXPECT_EQ(after.gain, before.gain);
  }
  EXPECT_GT(moved, 0u);  // kernel entries moved, not only biases
}

TEST(TrainerConv, EveryEngineTrainsTheSameModel) {
  auto rng = make_rng(1820);
  const QuantizedModel m = small_cnn(rng);
  const TrainingData d = small_data(rng, m, 11);
  TrainOptions o;
  o.lr_exponent = gentle_lr(m, d, o, 0);
  o.epochs = 2;
  o.batch = 4;
  o.seed = 9;
  std::optional<Digest> first;
  for (std::string_view name : runnable_engines()) {
    SCOPED_TRACE(name);
    QuantizedModel t = m;
    try {
      train(*make_engine<M127>(name), t, d, o);
    } catch (const TrainingError& e) {
      FAIL() << e.what();
    }
    const Digest dg = model_digest(t);
    if (!first)
      first = dg;
    else
      EXPECT_EQ(dg, *first);
  }
  EXPECT_NE(*first, model_digest(m));
}

TEST(TrainerConv, TrainedOnnxReadsBackAsTheSameIntegers) {
  auto rng = make_rng(1821);
  QuantizedModel m = small_cnn(rng);
  testing::TempDir dir;
  write_quantized_onnx(m, dir.file("cnn.onnx"));
  const QuantizedModel back = quantize_model(import_onnx(dir.file("cnn.onnx")), {});
  EXPECT_EQ(model_digest(back), model_digest(m));
  ASSERT_EQ(back.depth(), m.depth());
  for (std::size_t i = 0; i < m.depth(); ++i) {
    EXPECT_EQ(back.layers[i].gain.value_or(back.beta), m.layers[i].gain.value_or(m.beta)) << "layer " << i + 1;
    ASSERT_EQ(back.layers[i].ops.size(), m.layers[i].ops.size());
    for (std::size_t k = 0; k < m.layers[i].ops.size(); ++k)
      EXPECT_EQ(back.layers[i].ops[k].weights.to_vector(), m.layers[i].ops[k].weights.to_vector());
  }
  EXPECT_EQ(back.input_shape, m.input_shape);
  // A gain the ops cannot give back (a pool's 1/k^2 folded elsewhere) is refused, not written wrong.
  m.layers[1].gain = 2;
  EXPECT_THROW(write_quantized_onnx(m, dir.file("bad.onnx")), ModelError);
}

TEST(TrainerConv, GainsThatCannotBeSteppedExactlyAreRefused) {
  // A 3 x 3 average pool: gain 9, not a power of two.
  QuantizedModel m;
  QuantizedLayer l;
  const ConvShape p = shape(1, 3, 3, 1, 3, 3, 0, 1);
  l.ops = {LinearOp::sum_pool(p)};
  l.cols = 9;
  l.rows = 1;
  l.bias = {0};
  l.gain = 9;
  m.layers.push_back(l);
  m.validate();
  try {
    step_exponents(m, 10);
    FAIL() << "a gain of 9 was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("power-of-two layer gains"), std::string::npos) << e.what();
  }
  // A gain the ops do not give (a pool scaled by a constant): its weights are not at beta.
  auto rng = make_rng(1822);
  QuantizedModel c = small_cnn(rng);
  c.layers[0].gain = 8;
  try {
    step_exponents(c, 10);
    FAIL() << "a gain of 8 for a conv and a 2 x 2 pool at beta = 1 was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("cannot be stepped exactly"), std::string::npos) << e.what();
  }
}

// Reviewer finding F3: what is trained is the importer's flag (LinearOp::fixed), not the values. A
// depthwise 2 x 2 convolution whose integers are all 1 (at beta = 2: float weights 0.5) is trained:
// its kernel is part of G_1, the step moves it, and the trained model written as ONNX reads back
// with it trained and the pool fixed.
TEST(TrainerConv, AnAllOnesDepthwiseConvIsTrainedAndAPoolIsNot) {
  auto rng = make_rng(1823);
  QuantizedModel m;
  m.input_shape = {2, 5, 5};
  m.alpha = 1;
  m.beta = 2;
  QuantizedLayer conv_pool;
  const ConvShape c = shape(2, 5, 5, 2, 2, 1, 0, 2);  // depthwise, 2 x 5 x 5 -> 2 x 4 x 4
  conv_pool.ops = {LinearOp::convolution(c, std::vector<std::int64_t>(c.kernel_size(), 1)), pool(2, 4, 4, 0)};
  conv_pool.cols = conv_pool.ops.front().cols;
  conv_pool.rows = conv_pool.ops.back().rows;
  conv_pool.bias.assign(conv_pool.rows, 0);
  conv_pool.gain = 2 * 4;  // beta for the conv, k^2 for the pool
  QuantizedLayer dense;
  dense.weights = random_ints(rng, 2 * conv_pool.rows, 2);
  dense.rows = 2;
  dense.cols = conv_pool.rows;
  dense.bias = {1, -1};
  m.layers = {conv_pool, dense};
  m.validate();
  ASSERT_FALSE(m.layers[0].ops[0].fixed);
  ASSERT_TRUE(m.layers[0].ops[1].fixed);
  EXPECT_EQ(layer_parameters(m.layers[0]), c.kernel_size());  // the conv's 8 entries, no pool entries

  const TrainingData d = small_data(rng, m, 9);
  auto engine = make_engine<M127>("reference");
  const auto layers = field_layers<Fp127>(m);
  std::vector<Fp127> input;
  for (auto v : d.input) input.push_back(Fp127::from_int(v));
  auto trace = run_backward(*engine, layers, input, d.labels, Fp127::from_int(target_scale(m)));
  const auto claims = gradient_claims(*engine, layers, trace);
  ASSERT_EQ(claims.weight_gradients[0].size(), c.kernel_size());
  EXPECT_TRUE(std::any_of(claims.weight_gradients[0].begin(), claims.weight_gradients[0].end(),
                          [](Fp127 g) { return g != Fp127::zero(); }));

  // The smallest step (largest e) at which the conv moves: it is trained, the pool never moves.
  TrainOptions o;
  o.epochs = 1;
  bool moved = false;
  for (std::uint32_t e = 64; e-- > 0 && !moved;) {
    o.lr_exponent = e;
    QuantizedModel t = m;
    try {
      train(*make_engine<M127>("cpu"), t, d, o);
    } catch (const TrainingError&) {
      break;
    }
    moved = t.layers[0].ops[0].weights.to_vector() != m.layers[0].ops[0].weights.to_vector();
    EXPECT_EQ(t.layers[0].ops[1].weights.to_vector(), m.layers[0].ops[1].weights.to_vector()) << "the pool moved";
  }
  EXPECT_TRUE(moved) << "the all-ones conv never moved";

  // Written and read back: the all-ones conv as a Conv at beta (trained), the pool as AveragePool.
  testing::TempDir dir;
  write_quantized_onnx(m, dir.file("ones.onnx"));
  const QuantizedModel back = quantize_model(import_onnx(dir.file("ones.onnx")), {});
  ASSERT_EQ(back.layers.size(), 2u);
  ASSERT_EQ(back.layers[0].ops.size(), 2u);
  EXPECT_FALSE(back.layers[0].ops[0].fixed);
  EXPECT_TRUE(back.layers[0].ops[1].fixed);
  EXPECT_EQ(back.layers[0].ops[0].weights.to_vector(), m.layers[0].ops[0].weights.to_vector());
  EXPECT_EQ(layer_parameters(back.layers[0]), c.kernel_size());
  EXPECT_EQ(model_digest(back), model_digest(m));
}

// The fixed-op tests' model (beta = 2): a trained 2 x 2 conv (1 x 5 x 5 -> 2 x 4 x 4) then the
// `fixed` ops in one layer of gain `gain`, every bias 1, then a dense layer to 2 outputs.
QuantizedModel conv_then_fixed(std::mt19937_64& rng, std::vector<LinearOp> fixed, double gain) {
  QuantizedModel m;
  m.input_shape = {1, 5, 5};
  m.alpha = 1;
  m.beta = 2;
  const ConvShape c = shape(1, 5, 5, 2, 2, 1, 0, 1);
  QuantizedLayer convs;
  convs.ops = {LinearOp::convolution(c, random_ints(rng, c.kernel_size(), 2))};
  convs.ops.insert(convs.ops.end(), fixed.begin(), fixed.end());
  convs.cols = convs.ops.front().cols;
  convs.rows = convs.ops.back().rows;
  convs.bias.assign(convs.rows, 1);
  convs.gain = gain;
  QuantizedLayer dense;
  dense.weights = random_ints(rng, 2 * convs.rows, 2);
  dense.rows = 2;
  dense.cols = convs.rows;
  dense.bias = {0, 1};
  m.layers = {convs, dense};
  return m;
}

// Reviewer finding F2: a fixed Conv of 0s and 1s larger than 1 x 1 computes its float map exactly,
// so the importer folds no factor into the scale (gain 1), unlike an AveragePool of the same window
// (gain k^2). The op records its own gain at import, so training accepts such a layer (before, it
// was given the pool's k^2 and refused), trains the other ops, and writes it back as the same Conv
// (a depthwise ones kernel included, which must not come back as an AveragePool).
TEST(TrainerConv, AFixedZeroOneConvKeepsItsOwnGain) {
  auto rng = make_rng(1824);
  LinearOp ones = LinearOp::convolution(shape(2, 4, 4, 2, 2, 2, 0, 2), std::vector<std::int64_t>(8, 1));
  LinearOp sum01 = LinearOp::convolution(shape(2, 2, 2, 1, 2, 1, 0, 1), {1, 0, 1, 1, 0, 1, 1, 1});
  ones.fixed = sum01.fixed = true;  // fixed_gain 1, as the importer records a 0/1 Conv
  // gain: beta for the trained conv, 1 for each 0/1 Conv
  const QuantizedModel m = conv_then_fixed(rng, {ones, sum01}, 2);
  m.validate();
  EXPECT_EQ(ops_gain(m.layers[0], m.beta), 2.0);
  EXPECT_NO_THROW(step_exponents(m, 10));

  // Through ONNX: both fixed ops come back as 0/1 Convs with gain 1, the digest unchanged.
  testing::TempDir dir;
  auto read_back = [&](const QuantizedModel& q, const std::string& name) {
    write_quantized_onnx(q, dir.file(name));
    return quantize_model(import_onnx(dir.file(name)), {});
  };
  const QuantizedModel back = read_back(m, "zero_one.onnx");
  ASSERT_EQ(back.layers[0].ops.size(), 3u);
  for (std::size_t k : {1, 2}) {
    EXPECT_TRUE(back.layers[0].ops[k].fixed) << k;
    EXPECT_EQ(back.layers[0].ops[k].fixed_gain, 1.0) << k;
  }
  EXPECT_EQ(model_digest(back), model_digest(m));
  EXPECT_NO_THROW(step_exponents(back, 10));

  // Trained: the conv moves, the 0/1 Convs stay, and the result reads back exactly.
  const TrainingData d = small_data(rng, back, 9);
  TrainOptions o;
  o.epochs = 2;
  o.lr_exponent = gentle_lr(back, d, o);
  QuantizedModel t = back;
  train(*make_engine<M127>("cpu"), t, d, o);
  EXPECT_NE(t.layers[0].ops[0].weights.to_vector(), back.layers[0].ops[0].weights.to_vector());
  for (std::size_t k : {1, 2})
    EXPECT_EQ(t.layers[0].ops[k].weights.to_vector(), back.layers[0].ops[k].weights.to_vector()) << k;
  EXPECT_EQ(model_digest(read_back(t, "trained.onnx")), model_digest(t));
}

// A constant folded into a sum pool (AveragePool then Mul(0.5): gain 8 for a 2x2 ones kernel) is
// refused before training: such a model would train but its result could not be written as ONNX.
// The same pool at its own gain k_h k_w, or as a 0/1 Conv at gain 1, is accepted.
TEST(TrainerConv, AFixedOpWithAFoldedConstantIsRefusedBeforeTraining) {
  auto rng = make_rng(1825);
  const QuantizedModel m = conv_then_fixed(rng, {LinearOp::sum_pool(shape(2, 4, 4, 2, 2, 2, 0, 2))}, 2 * 4);
  auto model_with_pool_gain = [&](double pool_gain) {
    QuantizedModel q = m;
    q.layers[0].ops[1].fixed_gain = pool_gain;
    q.layers[0].gain = q.beta * pool_gain;
    q.validate();
    return q;
  };
  EXPECT_NO_THROW(step_exponents(model_with_pool_gain(4), 10));  // the pool's own k_h k_w
  EXPECT_NO_THROW(step_exponents(model_with_pool_gain(1), 10));  // a 0/1 Conv of ones
  try {
    step_exponents(model_with_pool_gain(8), 10);
    ADD_FAILURE() << "a pool with a folded factor 2 was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("cannot be written back"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace nnproof
