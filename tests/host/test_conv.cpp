// SPDX-License-Identifier: Apache-2.0
// Structured layers (convolutions, sum pooling, chains of ops; PROTOCOL.md section 2): the engines'
// outputs equal an independent direct convolution over the integers (not the prover's tap loop),
// the verifier's W~(q, s) equals that of the dense expansion, honest proofs verify and every kind
// of tampering is rejected, on random shapes, strides, paddings and groups.
#include <gtest/gtest.h>

#include "kernels/cpu/cpu_engine.hpp"
#include "kernels/thrust/thrust_engine.hpp"
#include "tests/support/problems.hpp"
#include "verifier/magnitude.hpp"
#include "verifier/separable_conv.hpp"

namespace nnproof {
namespace {

using testing::make_rng;
using testing::pick;
using testing::random_cnn;
using Image = std::vector<i128>;

// ---- the independent reference: direct convolution over the integers, one sample at a time ----

// out[co][oh][ow] = sum over the group's channels and the window of w * x, with signed indices
// and an explicit bounds test standing for the zero padding.
Image direct_conv(const ConvShape& c, const WeightMatrix& kernel, const Image& x) {
  const auto H = static_cast<std::int64_t>(c.in_h), W = static_cast<std::int64_t>(c.in_w);
  const auto OH = (H + static_cast<std::int64_t>(c.pad_top + c.pad_bottom) - static_cast<std::int64_t>(c.kernel_h)) /
                      static_cast<std::int64_t>(c.stride_h) +
                  1;
  const auto OW = (W + static_cast<std::int64_t>(c.pad_left + c.pad_right) - static_cast<std::int64_t>(c.kernel_w)) /
                      static_cast<std::int64_t>(c.stride_w) +
                  1;
  const std::size_t per_group_in = c.in_channels / c.groups, per_group_out = c.out_channels / c.groups;
  Image out(c.out_channels * static_cast<std::size_t>(OH * OW), 0);
  for (std::size_t co = 0; co < c.out_channels; ++co)
    for (std::int64_t oh = 0; oh < OH; ++oh)
      for (std::int64_t ow = 0; ow < OW; ++ow) {
        i128 acc = 0;
        for (std::size_t cl = 0; cl < per_group_in; ++cl) {
          const std::size_t ci = (co / per_group_out) * per_group_in + cl;
          for (std::size_t kh = 0; kh < c.kernel_h; ++kh)
            for (std::size_t kw = 0; kw < c.kernel_w; ++kw) {
              const std::int64_t ih = oh * static_cast<std::int64_t>(c.stride_h) + static_cast<std::int64_t>(kh) -
                                      static_cast<std::int64_t>(c.pad_top);
              const std::int64_t iw = ow * static_cast<std::int64_t>(c.stride_w) + static_cast<std::int64_t>(kw) -
                                      static_cast<std::int64_t>(c.pad_left);
              if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
              acc += static_cast<i128>(kernel[((co * per_group_in + cl) * c.kernel_h + kh) * c.kernel_w + kw]) *
                     x[(ci * c.in_h + static_cast<std::size_t>(ih)) * c.in_w + static_cast<std::size_t>(iw)];
            }
        }
        out[(co * static_cast<std::size_t>(OH) + static_cast<std::size_t>(oh)) * static_cast<std::size_t>(OW) +
            static_cast<std::size_t>(ow)] = acc;
      }
  return out;
}

Image apply_reference(const LinearOp& op, const Image& x) {
  if (op.kind == LinearOp::Kind::conv) return direct_conv(op.conv, op.weights, x);
  Image y(op.rows, 0);
  for (std::size_t a = 0; a < op.rows; ++a)
    for (std::size_t j = 0; j < op.cols; ++j) y[a] += static_cast<i128>(op.weights[a * op.cols + j]) * x[j];
  return y;
}

std::vector<i128> integer_forward(const QuantizedModel& m, const std::vector<std::int64_t>& input, std::size_t batch) {
  std::vector<i128> out;
  for (std::size_t k = 0; k < batch; ++k) {
    Image y(input.begin() + static_cast<std::ptrdiff_t>(k * m.in_dim()),
            input.begin() + static_cast<std::ptrdiff_t>((k + 1) * m.in_dim()));
    for (std::size_t i = 0; i < m.depth(); ++i) {
      for (const LinearOp& op : m.layers[i].ops) y = apply_reference(op, y);
      for (std::size_t a = 0; a < y.size(); ++a) y[a] += m.layers[i].bias[a];
      if (i + 1 < m.depth())
        for (auto& v : y) v *= v;
    }
    out.insert(out.end(), y.begin(), y.end());
  }
  return out;
}

template <class Cfg>
class Conv : public ::testing::Test {};
using FileConfigs = ::testing::Types<M61, M127>;
TYPED_TEST_SUITE(Conv, FileConfigs);

TYPED_TEST(Conv, OutputsEqualDirectConvolutionAndProofsVerify) {
  auto rng = make_rng(70);
  for (int c = 0; c < 16; ++c) {
    const std::size_t depth = 1 + static_cast<std::size_t>(c % 3), batch = pick(rng, 1, 9);
    QuantizedModel model = random_cnn(rng, depth);
    const bool wide = c % 4 == 3;  // an int64 kernel entry: the engines' field-product path
    if (wide) model.layers[0].ops[0].weights.set(0, std::int64_t{1} << 40);
    auto st = testing::random_statement<TypeParam>(model, batch, rng);
    auto cpu_st = st;
    auto bundle = prove_bundle(*make_reference_engine<TypeParam>(), st);
    auto cpu_bundle = prove_bundle(*make_cpu_engine<TypeParam>(), cpu_st);
    EXPECT_EQ(serialize_bundle(bundle), serialize_bundle(cpu_bundle)) << "engines differ, case " << c;
    if (thrust_engines_built()) {  // the CUDA engine's source, with its tables kept on its "device"
      auto thrust_st = st;
      EXPECT_EQ(serialize_bundle(bundle),
                serialize_bundle(prove_bundle(*make_thrust_omp_engine<TypeParam>(), thrust_st)))
          << "thrust-omp differs, case " << c;
    }
    Verdict v = verify_bundle(st, bundle);
    EXPECT_TRUE(v.accepted) << v.failed_check << ", case " << c;
    // Version 2 (dense image layout) proofs are still made and verified, with the same outputs.
    auto v2_st = st;
    auto v2 = prove_bundle(*make_cpu_engine<TypeParam>(), v2_st, {}, kOldestProofVersion);
    EXPECT_EQ(v2.header.version, kOldestProofVersion);
    EXPECT_EQ(v2.outputs, bundle.outputs) << "case " << c;
    v = verify_bundle(v2_st, v2);
    EXPECT_TRUE(v.accepted) << v.failed_check << ", version 2, case " << c;
    // A file's version says how to read its tables: the other version's reading fails.
    if (proof_dims(model, 2) != proof_dims(model, 3)) {
      auto bytes = serialize_bundle(v2);
      bytes[8] = static_cast<unsigned char>(kProofVersion);
      const ProofShape as_v3{proof_dims(model, kProofVersion), batch};
      EXPECT_THROW(parse_bundle<TypeParam>(bytes, as_v3), ProofFormatError) << "case " << c;
      auto relabeled = v2;
      relabeled.header.version = kProofVersion;
      bool accepted = false;
      try {  // too few messages for version 3's tables throws; too many, or wrong ones, reject
        accepted = verify_bundle(v2_st, relabeled).accepted;
      } catch (const std::runtime_error&) {
      }
      EXPECT_FALSE(accepted) << "case " << c;
    }
    if (depth <= 2 && (!wide || TypeParam::kId == FieldId::m127)) {  // small enough not to wrap
      std::vector<std::int64_t> ints;
      for (auto x : st.input) ints.push_back(static_cast<std::int64_t>(x.centered()));
      auto want = integer_forward(model, ints, batch);
      ASSERT_EQ(want.size(), st.outputs.size());
      for (std::size_t i = 0; i < want.size(); ++i)
        EXPECT_EQ(static_cast<i128>(st.outputs[i].centered()), want[i]) << "case " << c << " output " << i;
    }
  }
}

// The dense matrix of a structured layer, column by column from the reference convolution.
WeightMatrix dense_expansion(const QuantizedLayer& l) {
  std::vector<std::int64_t> w(l.rows * l.cols);
  for (std::size_t j = 0; j < l.cols; ++j) {
    Image e(l.cols, 0);
    e[j] = 1;
    for (const LinearOp& op : l.ops) e = apply_reference(op, e);
    for (std::size_t a = 0; a < l.rows; ++a) w[a * l.cols + j] = static_cast<std::int64_t>(e[a]);
  }
  return w;
}

TEST(ConvVerifier, WeightMleAndMagnitudeEqualTheDenseExpansion) {
  auto rng = make_rng(71);
  for (int c = 0; c < 20; ++c) {
    QuantizedModel model = random_cnn(rng, 2);
    QuantizedModel as_dense = model;
    for (auto& l : as_dense.layers) {
      l.weights = dense_expansion(l);
      l.ops.clear();
    }
    as_dense.validate();
    EXPECT_NE(model_digest(model), model_digest(as_dense));
    for (std::size_t i = 0; i < model.depth(); ++i) {
      const auto& l = model.layers[i];
      std::vector<Fp61x2> q, s;
      for (std::size_t t = 0; t < ceil_log2(l.rows); ++t) q.push_back(random_element<Fp61x2>(rng));
      for (std::size_t t = 0; t < ceil_log2(l.cols); ++t) s.push_back(random_element<Fp61x2>(rng));
      const auto eq_q = eq_table<Fp61x2>(q), eq_s = eq_table<Fp61x2>(s);
      EXPECT_EQ(weight_mle<Fp61x2>(l, eq_q, eq_s), weight_mle<Fp61x2>(as_dense.layers[i], eq_q, eq_s)) << "case " << c;
    }
    // Row sums of |W| through the chain bound the dense ones, and equal them for one op; the
    // per-channel bounds bound those, and equal them on the rows that read every tap of one op.
    const auto bounds = magnitude_profile(model), direct = magnitude_profile(as_dense);
    for (std::size_t i = 0; i < model.depth(); ++i) {
      const auto& l = model.layers[i];
      const std::vector<u128> chained = chain_abs_row_sums(l.ops);
      for (std::size_t a = 0; a < l.rows; ++a) {
        EXPECT_GE(chained[a], direct.row_abs_sums[i][a]);
        EXPECT_GE(bounds.row_abs_sums[i][a], chained[a]);
        if (l.ops.size() != 1) continue;
        EXPECT_EQ(chained[a], direct.row_abs_sums[i][a]);
        std::size_t taps = 0;
        if (l.ops[0].kind == LinearOp::Kind::conv)
          for_each_tap(l.ops[0].conv, a, [&](std::size_t, std::size_t) { ++taps; });
        const ConvShape& shape = l.ops[0].conv;
        if (l.ops[0].kind == LinearOp::Kind::dense || taps == shape.group_in() * shape.kernel_h * shape.kernel_w) {
          EXPECT_EQ(bounds.row_abs_sums[i][a], chained[a]) << "case " << c << " layer " << i << " row " << a;
        }
      }
    }
  }
}

TYPED_TEST(Conv, ChangedOutputOrProofElementIsRejected) {
  auto rng = make_rng(72);
  QuantizedModel model = random_cnn(rng, 2);
  auto st = testing::random_statement<TypeParam>(model, 3, rng);
  auto honest = prove_bundle(*make_cpu_engine<TypeParam>(), st);
  ASSERT_TRUE(verify_bundle(st, honest).accepted);
  for (std::size_t i = 0; i < honest.outputs.size(); ++i) {
    auto bundle = honest;
    auto st2 = st;
    bundle.outputs[i] += TypeParam::F::one();
    testing::rebind_header(bundle, st2);
    Verdict v = verify_bundle(st2, bundle);
    EXPECT_FALSE(v.accepted) << "output " << i;
    EXPECT_EQ(v.failed_check.find("digest"), std::string::npos) << v.failed_check;
  }
  for (std::size_t i = 0; i < honest.messages.size(); ++i) {
    auto bundle = honest;
    bundle.messages[i] += TypeParam::K::one();
    EXPECT_FALSE(verify_bundle(st, bundle).accepted) << "message " << i;
  }
}

template <class Cfg>
void expect_input_kernel_and_bias_changes_rejected(const QuantizedModel& model, Statement<Cfg> st, std::uint64_t seed,
                                                   std::uint32_t version);

// With fixed challenges only the protocol's checks can notice a changed input, kernel entry or bias,
// in both layouts (version 2: dense images, the direct W~; version 3: padded, the separable W~).
TYPED_TEST(Conv, ChangedInputKernelOrBiasIsRejected) {
  auto rng = make_rng(73);
  QuantizedModel model = random_cnn(rng, 2);
  auto st = testing::random_statement<TypeParam>(model, 2, rng);
  const std::uint64_t seed = 7;
  for (std::uint32_t version = kOldestProofVersion; version <= kProofVersion; ++version)
    expect_input_kernel_and_bias_changes_rejected(model, st, seed, version);
}

TEST(ConvVerifier, WeightMleIsSeparableInVersion3) {
  auto rng = make_rng(74);
  std::size_t separable = 0;
  for (int c = 0; c < 10; ++c) {
    QuantizedModel model = random_cnn(rng, 2);
    const ProofLayout v3(model, kProofVersion), v2(model, kOldestProofVersion);
    EXPECT_EQ(&v2.model(), &model);  // version 2: the model's own tables
    for (std::size_t i = 0; i < model.depth(); ++i) {
      const QuantizedLayer& l = v3.model().layers[i];
      std::vector<Fp127> q, s;
      for (std::size_t t = 0; t < ceil_log2(l.rows); ++t) q.push_back(random_element<Fp127>(rng));
      for (std::size_t t = 0; t < ceil_log2(l.cols); ++t) s.push_back(random_element<Fp127>(rng));
      const auto eq_q = eq_table<Fp127>(q);
      std::vector<Fp127> eq_s;
      const Fp127 got = layer_weight_mle<Fp127>(l, q, eq_q, s, eq_s);
      EXPECT_EQ(got, weight_mle<Fp127>(l, eq_q, eq_table<Fp127>(s))) << "case " << c << " layer " << i;
      separable += eq_s.empty();  // the separable route leaves eq(s, .) unbuilt
    }
  }
  EXPECT_GT(separable, 0u);
}

TYPED_TEST(Conv, Version3TablesArePaddedImages) {
  // A 1 x 5 x 6 image through a 3 x 3 convolution (pad 1) to 2 x 5 x 6, then a dense op: the
  // convolution's input and output pad to 8 x 8, the dense op's columns follow.
  auto rng = make_rng(75);
  QuantizedModel m;
  ConvShape c{1, 5, 6, 2, 3, 3, 1, 1, 1, 1, 1, 1};
  QuantizedLayer conv;
  conv.ops.push_back(LinearOp::convolution(c, random_ints(rng, c.kernel_size(), 3)));
  conv.cols = 30;
  conv.rows = 60;
  conv.bias.assign(60, 1);
  QuantizedLayer dense;
  dense.cols = 60;
  dense.rows = 3;
  dense.weights = random_ints(rng, 180, 3);
  dense.bias.assign(3, 0);
  m.layers = {conv, dense};
  m.validate();
  EXPECT_EQ(proof_dims(m, 2), (std::vector<std::size_t>{30, 60, 3}));
  EXPECT_EQ(proof_dims(m, 3), (std::vector<std::size_t>{64, 128, 3}));
  const ProofLayout layout(m, 3);
  EXPECT_EQ(layout.dims(), proof_dims(m, 3));
  EXPECT_EQ(layout.input_map(), pow2_image_map(1, 5, 6));
  const QuantizedLayer& d = layout.model().layers[1];
  for (std::size_t a = 0; a < 3; ++a)
    for (std::size_t j = 0; j < 60; ++j)
      EXPECT_EQ(d.weights[a * 128 + pow2_image_map(2, 5, 6)[j]], dense.weights[a * 60 + j]);
  std::size_t nonzero_bias = 0;
  for (auto b : layout.model().layers[0].bias) nonzero_bias += b != 0;
  EXPECT_EQ(nonzero_bias, 60u);                                           // zero at the padding
  ASSERT_TRUE(separable_cost(layout.model().layers[0].ops).has_value());  // the separable route
  auto st = testing::random_statement<TypeParam>(m, 3, rng);
  auto bundle = prove_bundle(*make_cpu_engine<TypeParam>(), st);
  EXPECT_EQ(bundle.header.dims, proof_dims(m, 3));
  Verdict v = verify_bundle(st, bundle);
  EXPECT_TRUE(v.accepted) << v.failed_check;
  // Every kernel entry changed by one is caught by the separable W~ (fixed challenges).
  const std::uint64_t seed = 11;
  auto msgs = testing::fixed_challenge_proof(*make_cpu_engine<TypeParam>(), st, seed);
  ASSERT_TRUE(testing::verify_fixed(st, msgs, seed).accepted);
  for (std::size_t w = 0; w < c.kernel_size(); ++w) {
    QuantizedModel m2 = m;
    auto& weights = m2.layers[0].ops[0].weights;
    weights.set(w, weights[w] + 1);
    auto bad = st;
    bad.model = &m2;
    EXPECT_FALSE(testing::verify_fixed(bad, msgs, seed).accepted) << "kernel entry " << w;
  }
}

template <class Cfg>
void expect_input_kernel_and_bias_changes_rejected(const QuantizedModel& model, Statement<Cfg> st, std::uint64_t seed,
                                                   std::uint32_t version) {
  auto msgs = testing::fixed_challenge_proof(*make_cpu_engine<Cfg>(), st, seed, version);
  ASSERT_TRUE(testing::verify_fixed(st, msgs, seed, version).accepted) << "version " << version;
  testing::expect_each_input_change_rejected(st, msgs, seed, version);
  for (std::size_t layer = 0; layer < model.depth(); ++layer) {
    for (std::size_t k = 0; k < model.layers[layer].ops.size(); ++k)
      for (std::size_t w = 0; w < model.layers[layer].ops[k].weights.size(); ++w) {
        QuantizedModel m2 = model;
        auto& weights = m2.layers[layer].ops[k].weights;
        weights.set(w, weights[w] + 1);
        auto bad = st;
        bad.model = &m2;
        EXPECT_FALSE(testing::verify_fixed(bad, msgs, seed, version).accepted)
            << "version " << version << " layer " << layer << " op " << k << " weight " << w;
      }
    for (std::size_t b = 0; b < model.layers[layer].bias.size(); ++b) {
      QuantizedModel m2 = model;
      m2.layers[layer].bias[b] += 1;
      auto bad = st;
      bad.model = &m2;
      EXPECT_FALSE(testing::verify_fixed(bad, msgs, seed, version).accepted)
          << "version " << version << " layer " << layer << " bias " << b;
    }
  }
}

TEST(ConvShapes, InvalidShapesAreRefused) {
  ConvShape c{2, 5, 5, 4, 3, 3};
  EXPECT_NO_THROW(c.validate());
  EXPECT_EQ(c.out_h(), 3u);
  auto bad = c;
  bad.groups = 3;  // 2 channels are not divisible by 3
  EXPECT_THROW(bad.validate(), std::invalid_argument);
  bad = c;
  bad.kernel_h = 6;  // larger than the input
  EXPECT_THROW(bad.validate(), std::invalid_argument);
  bad = c;
  bad.pad_top = 3;  // padding of a whole kernel
  EXPECT_THROW(bad.validate(), std::invalid_argument);
  bad = c;
  bad.stride_w = 0;
  EXPECT_THROW(bad.validate(), std::invalid_argument);
  bad = c;
  bad.in_h = std::size_t{1} << 40;
  EXPECT_THROW(bad.validate(), std::invalid_argument);
  // A kernel of the wrong size is refused by the model's validation.
  QuantizedModel m;
  QuantizedLayer l;
  l.ops.push_back(LinearOp::convolution(c, std::vector<std::int64_t>(c.kernel_size() - 1, 1)));
  l.rows = c.out_size();
  l.cols = c.in_size();
  l.bias.assign(l.rows, 0);
  m.layers.push_back(l);
  EXPECT_THROW(m.validate(), std::invalid_argument);
}

}  // namespace
}  // namespace nnproof
