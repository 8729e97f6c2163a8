// SPDX-License-Identifier: Apache-2.0
// Convolutional models through ONNX: Conv / AveragePool / GlobalAveragePool / ones-kernel sum
// pooling import, quantize and prove to exactly the float network's outputs (integer weights at
// scale 1, so every value is exact), checked against a float evaluation written here from the
// stage list; shape and attribute errors name the node; `nnproof quantize` and (b, C, H, W) inputs
// with --labels-out through the CLI.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>

#include "host/calibrate.hpp"
#include "host/npy.hpp"
#include "host/quantize.hpp"
#include "kernels/cpu/cpu_engine.hpp"
#include "tests/host/onnx_builder.hpp"
#include "tests/support/cli.hpp"
#include "tests/support/models.hpp"
#include "tests/support/temp_dir.hpp"
#include "verifier/verifier.hpp"

namespace nnproof {
namespace {

using testing::BuilderStage;
using Kind = BuilderStage::Kind;

// ---- a float evaluation of the stage list, independent of the importer ----

struct Tensor3 {
  std::size_t c, h, w;
  std::vector<double> v;  // c * h * w
  double at(std::size_t ci, std::int64_t y, std::int64_t x) const {
    if (y < 0 || x < 0 || y >= static_cast<std::int64_t>(h) || x >= static_cast<std::int64_t>(w))
      return 0;  // zero padding
    return v[(ci * h + static_cast<std::size_t>(y)) * w + static_cast<std::size_t>(x)];
  }
};

// A window op: conv (weights per output channel) or pooling (sum of the window times `scale`).
Tensor3 window(const Tensor3& x, const BuilderStage& s, std::size_t m, std::size_t group,
               const std::vector<double>* weights, double scale) {
  const std::size_t kh = s.kernel_h, kw = s.kernel_w;
  const std::size_t oh = (x.h + s.pads[0] + s.pads[2] - kh) / s.stride_h + 1,
                    ow = (x.w + s.pads[1] + s.pads[3] - kw) / s.stride_w + 1;
  Tensor3 y{m, oh, ow, std::vector<double>(m * oh * ow, 0.0)};
  const std::size_t cin = x.c / group, mout = m / group;
  for (std::size_t co = 0; co < m; ++co)
    for (std::size_t i = 0; i < oh; ++i)
      for (std::size_t j = 0; j < ow; ++j) {
        double acc = 0;
        for (std::size_t cl = 0; cl < cin; ++cl)
          for (std::size_t a = 0; a < kh; ++a)
            for (std::size_t b = 0; b < kw; ++b) {
              const double w = weights ? (*weights)[((co * cin + cl) * kh + a) * kw + b] : 1.0;
              acc += w * x.at((co / mout) * cin + cl,
                              static_cast<std::int64_t>(i * s.stride_h + a) - static_cast<std::int64_t>(s.pads[0]),
                              static_cast<std::int64_t>(j * s.stride_w + b) - static_cast<std::int64_t>(s.pads[1]));
            }
        y.v[(co * oh + i) * ow + j] = acc * scale + (weights && !s.bias.empty() ? s.bias[co] : 0.0);
      }
  return y;
}

std::vector<double> float_forward(const std::vector<std::size_t>& chw, const std::vector<BuilderStage>& stages,
                                  std::vector<double> input) {
  Tensor3 x{chw[0], chw[1], chw[2], std::move(input)};
  for (const BuilderStage& s : stages) {
    switch (s.kind) {
      case Kind::conv:
        x = window(x, s, s.out_channels, s.group, &s.weights, 1.0);
        break;
      case Kind::average_pool:
        x = window(x, s, x.c, x.c, nullptr, 1.0 / static_cast<double>(s.kernel_h * s.kernel_w));
        break;
      case Kind::sum_pool_conv:
        x = window(x, s, x.c, x.c, nullptr, 1.0);
        break;
      case Kind::global_average_pool: {
        BuilderStage g;
        g.kernel_h = x.h;
        g.kernel_w = x.w;
        x = window(x, g, x.c, x.c, nullptr, 1.0 / static_cast<double>(x.h * x.w));
        break;
      }
      case Kind::square:
        for (double& v : x.v) v *= v;
        break;
      case Kind::channel_bias:
        for (std::size_t i = 0; i < x.v.size(); ++i) x.v[i] += s.bias[i / (x.h * x.w)];
        break;
      case Kind::flatten:
        x = {x.v.size(), 1, 1, x.v};
        break;
      case Kind::dense: {
        std::vector<double> y(s.rows, 0.0);
        for (std::size_t a = 0; a < s.rows; ++a) {
          for (std::size_t j = 0; j < s.cols; ++j) y[a] += s.weights[a * s.cols + j] * x.v[j];
          if (!s.bias.empty()) y[a] += s.bias[a];
        }
        x = {s.rows, 1, 1, y};
        break;
      }
    }
  }
  return x.v;
}

std::vector<double> small_ints(std::mt19937_64& rng, std::size_t n, int lo = -2, int hi = 2) {
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<double> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

BuilderStage conv(std::mt19937_64& rng, std::size_t in_c, std::size_t m, std::size_t kh, std::size_t kw, std::size_t sh,
                  std::size_t sw, std::vector<std::size_t> pads, std::size_t group = 1, bool bias = true) {
  BuilderStage s;
  s.kind = Kind::conv;
  s.out_channels = m;
  s.kernel_h = kh;
  s.kernel_w = kw;
  s.stride_h = sh;
  s.stride_w = sw;
  s.pads = std::move(pads);
  s.group = group;
  s.weights = small_ints(rng, m * (in_c / group) * kh * kw);
  if (bias) s.bias = small_ints(rng, m);
  return s;
}

BuilderStage pool(Kind kind, std::size_t k) {
  BuilderStage s;
  s.kind = kind;
  s.kernel_h = s.kernel_w = s.stride_h = s.stride_w = k;
  return s;
}

BuilderStage simple(Kind kind) {
  BuilderStage s;
  s.kind = kind;
  return s;
}

BuilderStage dense(std::mt19937_64& rng, std::size_t rows, std::size_t cols) {
  BuilderStage s;
  s.kind = Kind::dense;
  s.rows = rows;
  s.cols = cols;
  s.weights = small_ints(rng, rows * cols);
  s.bias = small_ints(rng, rows);
  return s;
}

struct CnnCase {
  std::vector<std::size_t> chw;
  std::vector<BuilderStage> stages;
  std::size_t layers;  // affine layers after composition
};

// CNN-2-Quad in miniature, and a variant with groups, a separate per-channel Add, a ones-kernel
// sum pool and a global average pool.
std::vector<CnnCase> cases(std::mt19937_64& rng) {
  std::vector<CnnCase> out;
  out.push_back({{2, 9, 8},
                 {conv(rng, 2, 3, 3, 2, 1, 1, {1, 0, 0, 1}), simple(Kind::square), pool(Kind::average_pool, 2),
                  conv(rng, 3, 2, 2, 2, 2, 1, {0, 1, 1, 0}), simple(Kind::square), pool(Kind::average_pool, 2),
                  simple(Kind::flatten), dense(rng, 3, 2 * 1 * 2)},
                 3});
  BuilderStage bias;
  bias.kind = Kind::channel_bias;
  bias.bias = small_ints(rng, 4);
  out.push_back(
      {{2, 6, 7},
       {conv(rng, 2, 4, 2, 3, 1, 2, {1, 1, 1, 1}, /*group=*/2, /*bias=*/false), bias, simple(Kind::square),
        pool(Kind::sum_pool_conv, 2), pool(Kind::global_average_pool, 1), simple(Kind::flatten), dense(rng, 2, 4)},
       2});
  // One long chain: biases carried through later padded, strided and grouped convolutions, a padded
  // count_include_pad=1 average pool and two dense ops (kept as a chain: multiplied out it would
  // not be smaller).
  BuilderStage padded_pool = pool(Kind::average_pool, 2);
  padded_pool.pads = {1, 1, 1, 1};
  padded_pool.count_include_pad = true;
  padded_pool.stride_h = padded_pool.stride_w = 1;
  BuilderStage channel_bias;
  channel_bias.kind = Kind::channel_bias;
  channel_bias.bias = small_ints(rng, 2);
  out.push_back(
      {{1, 5, 4},
       {conv(rng, 1, 2, 3, 2, 1, 1, {1, 0, 2, 1}), channel_bias, conv(rng, 2, 2, 2, 3, 2, 1, {1, 1, 0, 2}, 2, true),
        padded_pool, conv(rng, 2, 3, 2, 2, 1, 2, {0, 1, 1, 0}), simple(Kind::flatten), dense(rng, 2, 3 * 4 * 3),
        dense(rng, 3, 2)},
       1});
  return out;
}

class ConvImport : public ::testing::Test {
 protected:
  testing::TempDir dir;
};

template <class Cfg>
void prove_and_compare(const QuantizedModel& q, const std::vector<double>& input, std::size_t batch,
                       const std::vector<double>& want) {
  std::vector<typename Cfg::F> x;
  for (double v : input) x.push_back(Cfg::F::from_int(static_cast<std::int64_t>(v)));
  auto st = testing::make_statement<Cfg>(q, batch, std::move(x));
  auto bundle = prove_bundle(*make_cpu_engine<Cfg>(), st);
  Verdict v = verify_bundle(st, bundle);
  EXPECT_TRUE(v.accepted) << v.failed_check;
  ASSERT_EQ(st.outputs.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(static_cast<double>(st.outputs[i].centered()) / q.output_scale(), want[i],
                1e-9 * (1 + std::fabs(want[i])))
        << "output " << i;  // exact but for the float reference's 1/k^2 of a global pool
}

TEST_F(ConvImport, ProvedOutputsEqualTheFloatNetwork) {
  std::mt19937_64 rng(81);
  for (const CnnCase& c : cases(rng)) {
    const std::string path = dir.file("cnn.onnx");
    testing::BuildOptions opt;
    opt.alpha = opt.beta = 1;
    testing::write_cnn_onnx(path, c.chw, c.stages, opt);
    const FloatModel fm = import_onnx(path);
    ASSERT_EQ(fm.layers.size(), c.layers);
    EXPECT_EQ(fm.input_shape, c.chw);
    const QuantizedModel q = quantize_model(fm, {});
    const std::size_t batch = 3, n0 = c.chw[0] * c.chw[1] * c.chw[2];
    const std::vector<double> input = small_ints(rng, batch * n0, -3, 3);
    std::vector<double> want;
    for (std::size_t k = 0; k < batch; ++k) {
      auto y = float_forward(c.chw, c.stages,
                             std::vector<double>(input.begin() + static_cast<std::ptrdiff_t>(k * n0),
                                                 input.begin() + static_cast<std::ptrdiff_t>((k + 1) * n0)));
      want.insert(want.end(), y.begin(), y.end());
    }
    prove_and_compare<M61>(q, input, batch, want);
    prove_and_compare<M127>(q, input, batch, want);
  }
}

// The first case's quantized layers: conv; pool then conv; pool then dense (average pools folded
// into the scale as k^2, so the gains are beta, 4 beta^2... ).
TEST_F(ConvImport, AveragePoolIsAnExactSumWithItsDivisorInTheScale) {
  std::mt19937_64 rng(82);
  const CnnCase c = cases(rng).front();
  testing::write_cnn_onnx(dir.file("cnn.onnx"), c.chw, c.stages);
  const QuantizedModel q = quantize_model(import_onnx(dir.file("cnn.onnx")), {2.0, 8.0});
  ASSERT_EQ(q.depth(), 3u);
  EXPECT_EQ(q.layers[0].ops.size(), 1u);
  ASSERT_EQ(q.layers[1].ops.size(), 2u);
  for (std::size_t t = 0; t < q.layers[1].ops[0].weights.size(); ++t) EXPECT_EQ(q.layers[1].ops[0].weights[t], 1);
  EXPECT_EQ(q.layers[2].ops.size(), 2u);
  EXPECT_EQ(q.layers[0].gain.value_or(0), 8.0);
  EXPECT_EQ(q.layers[1].gain.value_or(0), 32.0);
  EXPECT_EQ(q.output_scale(), 4 * 8 * std::pow(32 * std::pow(8 * 2, 2), 2));
}

void edit_node(const std::string& path, const std::string& op, const std::function<void(onnx::NodeProto&)>& edit);

// An average pool is a sum pool with 1/k^2 in the scale; a ones-kernel Conv is a sum pool at scale
// 1. Both give the same integers, so the digest must tell them apart by the layer's gain (which
// dequantizes the outputs). A GlobalAveragePool ignores strides and pads a malformed file gives it.
TEST_F(ConvImport, TheDigestBindsHowOutputsAreDequantized) {
  std::mt19937_64 rng(86);
  const BuilderStage c = conv(rng, 1, 2, 3, 3, 1, 1, {0, 0, 0, 0});
  const BuilderStage fc = dense(rng, 3, 2 * 2 * 2);
  testing::write_cnn_onnx(dir.file("avg.onnx"), {1, 6, 6},
                          {c, simple(Kind::square), pool(Kind::average_pool, 2), simple(Kind::flatten), fc});
  testing::write_cnn_onnx(dir.file("sum.onnx"), {1, 6, 6},
                          {c, simple(Kind::square), pool(Kind::sum_pool_conv, 2), simple(Kind::flatten), fc});
  const QuantizedModel avg = quantize_model(import_onnx(dir.file("avg.onnx")), {4.0, 8.0});
  const QuantizedModel sum = quantize_model(import_onnx(dir.file("sum.onnx")), {4.0, 8.0});
  EXPECT_EQ(avg.output_scale(), 4 * sum.output_scale());
  EXPECT_NE(model_digest(avg), model_digest(sum));

  testing::write_cnn_onnx(dir.file("global.onnx"), {2, 4, 4},
                          {pool(Kind::global_average_pool, 1), simple(Kind::flatten), dense(rng, 1, 2)});
  edit_node(dir.file("global.onnx"), "GlobalAveragePool", [](onnx::NodeProto& n) {
    auto* a = n.add_attribute();
    a->set_name("pads");
    a->set_type(onnx::AttributeProto::INTS);
    for (int i = 0; i < 4; ++i) a->add_ints(3);
  });
  const FloatModel g = import_onnx(dir.file("global.onnx"));
  ASSERT_EQ(g.layers.size(), 1u);
  EXPECT_EQ(g.layers[0].ops.front().rows, 2u);  // one value per channel
}

// Edits the first node of `op` in a model written by write_cnn_onnx.
void edit_node(const std::string& path, const std::string& op, const std::function<void(onnx::NodeProto&)>& edit) {
  onnx::ModelProto m;
  {
    std::ifstream in(path, std::ios::binary);
    ASSERT_TRUE(m.ParseFromIstream(&in));
  }
  for (auto& n : *m.mutable_graph()->mutable_node())
    if (n.op_type() == op) {
      edit(n);
      break;
    }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  ASSERT_TRUE(m.SerializeToOstream(&out));
}

// Applies `set` to the attribute `name` of the first node of `op` (no-op if it has none).
void edit_attribute(const std::string& path, const std::string& op, const std::string& name,
                    const std::function<void(onnx::AttributeProto&)>& set) {
  edit_node(path, op, [&](onnx::NodeProto& n) {
    for (auto& a : *n.mutable_attribute())
      if (a.name() == name) set(a);
  });
}

void expect_model_error(const std::string& path, const std::vector<std::string>& fragments) {
  try {
    import_onnx(path);
    ADD_FAILURE() << "no error for " << path;
  } catch (const ModelError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << msg << "\n  missing: " << f;
  }
}

TEST_F(ConvImport, UnsupportedConvAndPoolAttributesNameTheNode) {
  std::mt19937_64 rng(83);
  const CnnCase c = cases(rng).front();
  const std::string path = dir.file("bad.onnx");
  auto fresh = [&] { testing::write_cnn_onnx(path, c.chw, c.stages); };
  fresh();
  edit_attribute(path, "Conv", "dilations", [](onnx::AttributeProto& a) { a.set_ints(0, 2); });
  expect_model_error(path, {"node 'stage1' (Conv)", "dilation 2", "use dilation 1"});
  fresh();
  edit_node(path, "Conv", [](onnx::NodeProto& n) {
    auto* a = n.add_attribute();
    a->set_name("auto_pad");
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s("SAME_UPPER");
  });
  expect_model_error(path, {"node 'stage1' (Conv)", "auto_pad=SAME_UPPER", "explicit pads"});
  fresh();
  edit_attribute(path, "AveragePool", "pads", [](onnx::AttributeProto& a) { a.set_ints(0, 1); });
  expect_model_error(path, {"node 'stage3' (AveragePool)", "count_include_pad=0", "count_include_pad=1"});
  fresh();
  // 3 output maps do not split into 2 groups
  edit_attribute(path, "Conv", "group", [](onnx::AttributeProto& a) { a.set_i(2); });
  expect_model_error(path, {"node 'stage1' (Conv)", "group=2"});
  fresh();
  // larger than the 9 x 8 image
  edit_attribute(path, "AveragePool", "kernel_shape", [](onnx::AttributeProto& a) { a.set_ints(0, 40); });
  expect_model_error(path, {"node 'stage3' (AveragePool)", "larger than the padded input"});
  // A Conv right on a flat input.
  testing::write_cnn_onnx(path, {1, 4, 4}, {simple(Kind::flatten), conv(rng, 1, 1, 2, 2, 1, 1, {0, 0, 0, 0})});
  expect_model_error(path, {"node 'stage2' (Conv)", "not an image"});
  // A pooling window of 32768 x 32768 over a 1 x 1 image with padding 32767: a kernel of ones that
  // big is refused before it is built.
  {
    BuilderStage huge = pool(Kind::average_pool, 32768);
    huge.pads = {32767, 32767, 32767, 32767};
    huge.count_include_pad = true;
    testing::write_cnn_onnx(path, {1, 1, 1}, {huge, simple(Kind::flatten), dense(rng, 1, 1)});
    expect_model_error(path,
                       {"node 'stage1' (AveragePool)", "more than 2^26 kernel entries", "refuses layers this large"});
  }
  // A declared 30000 x 30000 image: refused before anything is sized by it (the file is tiny).
  testing::write_cnn_onnx(path, {1, 30000, 30000}, {conv(rng, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0})});
  expect_model_error(path, {"node 'stage1' (Conv)", "more than 2^26", "refuses layers this large"});
}

// ---- the command line ----

using testing::CliRun;
using testing::run_cli;

TEST_F(ConvImport, CliProvesImagesAndWritesVerifiedLabels) {
  if (!std::getenv("NNPROOF_BIN")) GTEST_SKIP() << "NNPROOF_BIN is not set (run through ctest)";
  std::mt19937_64 rng(84);
  const CnnCase c = cases(rng).front();
  const std::string model = dir.file("cnn.onnx"), x = dir.file("x.npy"), proof = dir.file("p.nnp");
  testing::write_cnn_onnx(model, c.chw, c.stages);
  const std::size_t batch = 5, n0 = c.chw[0] * c.chw[1] * c.chw[2];
  const std::vector<double> input = small_ints(rng, batch * n0, 0, 3);
  write_npy_f64(x, {batch, c.chw[0], c.chw[1], c.chw[2]}, input);
  const std::string common = " --model " + model + " --input " + x + " --proof " + proof;
  CliRun p = run_cli("prove" + common + " --field m127 --labels-out " + dir.file("labels.npy") + " --output " +
                     dir.file("y.npy"));
  ASSERT_EQ(p.code, 0) << p.out;
  CliRun v = run_cli("verify" + common + " --labels-out " + dir.file("verified.npy"));
  ASSERT_EQ(v.code, 0) << v.out;
  EXPECT_NE(v.out.find("VERIFIED"), std::string::npos);
  const NpyArray labels = read_npy(dir.file("labels.npy")), verified = read_npy(dir.file("verified.npy")),
                 y = read_npy(dir.file("y.npy"));
  ASSERT_EQ(labels.shape, std::vector<std::size_t>{batch});
  EXPECT_EQ(labels.integers, verified.integers);
  for (std::size_t k = 0; k < batch; ++k) {  // the argmax of the float network's logits (first on ties)
    const auto want = float_forward(c.chw, c.stages,
                                    std::vector<double>(input.begin() + static_cast<std::ptrdiff_t>(k * n0),
                                                        input.begin() + static_cast<std::ptrdiff_t>((k + 1) * n0)));
    const auto best = std::max_element(want.begin(), want.end()) - want.begin();
    EXPECT_EQ(labels.integers[k], best) << "sample " << k;
    for (std::size_t o = 0; o < want.size(); ++o) EXPECT_EQ(y.reals[k * want.size() + o], want[o]);
  }
  // Both proof format versions: version 2 (dense images) is still written on request and read, and
  // inspect --model accepts each file's own dims (version 3: the padded tables').
  for (const char* version : {"2", "3"}) {
    CliRun p2 = run_cli("prove" + common + " --field m127 --proof-version " + version);
    ASSERT_EQ(p2.code, 0) << p2.out;
    CliRun v2 = run_cli("verify" + common);
    EXPECT_EQ(v2.code, 0) << "version " << version << ": " << v2.out;
    CliRun i2 = run_cli("inspect " + proof + " --model " + model + " --json");
    EXPECT_EQ(i2.code, 0) << "version " << version << ": " << i2.out;
  }
  EXPECT_EQ(run_cli("prove" + common + " --proof-version 4").code, 2);
  // Images of another size: one line, exit 2, naming both shapes.
  write_npy_f64(x, {batch, c.chw[0], c.chw[1] + 1, c.chw[2]},
                std::vector<double>(batch * c.chw[0] * (c.chw[1] + 1) * c.chw[2], 0.0));
  CliRun bad = run_cli("prove" + common);
  EXPECT_EQ(bad.code, 2) << bad.out;
  EXPECT_NE(bad.out.find("(batch, 2, 9, 8)"), std::string::npos) << bad.out;
}

TEST_F(ConvImport, QuantizeChoosesFeasibleScalesAndWritesThemIntoTheModel) {
  if (!std::getenv("NNPROOF_BIN")) GTEST_SKIP() << "NNPROOF_BIN is not set (run through ctest)";
  std::mt19937_64 rng(85);
  const CnnCase c = cases(rng).front();
  const std::string model = dir.file("float.onnx"), out = dir.file("q.onnx"), x = dir.file("x.npy"),
                    y = dir.file("y.npy");
  std::vector<BuilderStage> stages = c.stages;
  for (auto& s : stages)  // float weights in (-1, 1), as training leaves them
    for (auto& w : s.weights) w /= 4.5;
  testing::write_cnn_onnx(model, c.chw, stages);
  const std::size_t batch = 16, n0 = c.chw[0] * c.chw[1] * c.chw[2];
  std::vector<double> input(batch * n0);
  std::uniform_real_distribution<double> pixel(0, 1);
  for (auto& v : input) v = pixel(rng);
  std::vector<std::int64_t> labels(batch);
  for (std::size_t k = 0; k < batch; ++k) {  // the float network's own predictions: 100% is reachable
    auto o = float_forward(c.chw, stages,
                           std::vector<double>(input.begin() + static_cast<std::ptrdiff_t>(k * n0),
                                               input.begin() + static_cast<std::ptrdiff_t>((k + 1) * n0)));
    labels[k] = std::max_element(o.begin(), o.end()) - o.begin();
  }
  write_npy_f64(x, {batch, c.chw[0], c.chw[1], c.chw[2]}, input);
  write_npy_i64(y, {batch}, labels);
  CliRun q = run_cli("quantize --model " + model + " --calibration " + x + " --labels " + y + " --field m61 --out " +
                     out + " --json");
  ASSERT_EQ(q.code, 0) << q.out;
  const auto j = nlohmann::json::parse(q.out);
  const double alpha = j["chosen"]["alpha"], beta = j["chosen"]["beta"];
  for (const auto& t : j["trials"]) {
    if (t["feasible"].get<bool>()) {
      EXPECT_LE(t["worst_case_log2"].get<double>(), 60.0);
      EXPECT_LE(t["accuracy"].get<double>(), j["chosen"]["accuracy"].get<double>());
    } else if (t["worst_case_log2"].get<double>() > 0) {
      EXPECT_GT(t["worst_case_log2"].get<double>(), 60.0);
    }
  }
  // The written model carries the scales: prove and verify need no --alpha / --beta.
  const FloatModel fm = import_onnx(out);
  EXPECT_EQ(fm.alpha.value_or(0), alpha);
  EXPECT_EQ(fm.beta.value_or(0), beta);
  const std::string common = " --model " + out + " --input " + x + " --proof " + dir.file("p.nnp");
  ASSERT_EQ(run_cli("prove" + common).code, 0);
  EXPECT_EQ(run_cli("verify" + common).code, 0);
  // Labels that do not match the calibration batch: one line, exit 2.
  write_npy_i64(y, {batch - 1}, std::vector<std::int64_t>(batch - 1, 0));
  CliRun bad = run_cli("quantize --model " + model + " --calibration " + x + " --labels " + y + " --out " + out);
  EXPECT_EQ(bad.code, 2) << bad.out;
  EXPECT_NE(bad.out.find("one label per calibration sample"), std::string::npos) << bad.out;
}

}  // namespace
}  // namespace nnproof
