// SPDX-License-Identifier: Apache-2.0
// ONNX import: round trips through the C++ builder, and one rejection test per way a model can be
// unprovable or malformed, each checking that the one-line message names the node and the reason.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "host/onnx/onnx_import.hpp"
#include "tests/host/onnx_builder.hpp"

namespace nnproof {
namespace {

using testing::BuilderLayer;
using testing::BuildOptions;
using testing::LinearStyle;
using testing::SquareStyle;

// A fresh folder per test, removed afterwards.
class OnnxImport : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string(info->test_suite_name()) + "_" + info->name();
    for (char& c : name)
      if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    dir_ = std::filesystem::path(::testing::TempDir()) / ("nnproof_onnx_" + name);
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string file(const std::string& name) const { return (dir_ / name).string(); }

  std::filesystem::path dir_;
};

// Weights and biases are multiples of 1/16, exact in float32, so the round trip must be exact.
// Fixed seed; NNPROOF_TEST_SEED overrides it.
std::vector<BuilderLayer> make_layers(const std::vector<std::size_t>& dims, bool with_bias = true) {
  const char* env = std::getenv("NNPROOF_TEST_SEED");
  std::mt19937 rng(env ? static_cast<unsigned>(std::strtoul(env, nullptr, 10)) : 20261123u);
  std::uniform_int_distribution<int> sixteenths(-32, 32);
  std::vector<BuilderLayer> layers;
  for (std::size_t i = 1; i < dims.size(); ++i) {
    BuilderLayer l{dims[i], dims[i - 1], {}, {}};
    for (std::size_t k = 0; k < l.rows * l.cols; ++k) l.weights.push_back(sixteenths(rng) / 16.0);
    if (with_bias)
      for (std::size_t k = 0; k < l.rows; ++k) l.bias.push_back(sixteenths(rng) / 16.0);
    layers.push_back(l);
  }
  return layers;
}

void expect_same_layers(const FloatModel& m, const std::vector<BuilderLayer>& want) {
  ASSERT_EQ(m.layers.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE("layer " + std::to_string(i + 1));
    const auto& got = m.layers[i];
    EXPECT_EQ(got.name, "fc" + std::to_string(i + 1));
    EXPECT_EQ(got.rows, want[i].rows);
    EXPECT_EQ(got.cols, want[i].cols);
    EXPECT_EQ(got.weights, want[i].weights);
    EXPECT_EQ(got.bias, want[i].bias.empty() ? std::vector<double>(want[i].rows, 0.0) : want[i].bias);
  }
}

// The message must be one line, start with the path and contain every fragment.
void expect_error(const std::string& path, std::initializer_list<std::string> fragments) {
  try {
    import_onnx(path);
    ADD_FAILURE() << "import_onnx(" << path << ") succeeded; expected an error";
  } catch (const ModelError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind(path + ": ", 0), 0u) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << "missing '" << f << "' in: " << msg;
  }
}

// ---- proto surgery for models the builder does not write ----------------------------------

onnx::ModelProto load(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  onnx::ModelProto m;
  EXPECT_TRUE(m.ParseFromIstream(&f)) << path;
  return m;
}

void save(const onnx::ModelProto& m, const std::string& path) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  ASSERT_TRUE(m.SerializeToOstream(&f)) << path;
}

int node_index(const onnx::ModelProto& m, const std::string& name) {
  for (int i = 0; i < m.graph().node_size(); ++i)
    if (m.graph().node(i).name() == name) return i;
  ADD_FAILURE() << "no node " << name;
  return 0;
}

onnx::NodeProto& node(onnx::ModelProto& m, const std::string& name) {
  return *m.mutable_graph()->mutable_node(node_index(m, name));
}

onnx::TensorProto& initializer(onnx::ModelProto& m, const std::string& name) {
  for (auto& t : *m.mutable_graph()->mutable_initializer())
    if (t.name() == name) return t;
  ADD_FAILURE() << "no initializer " << name;
  return *m.mutable_graph()->mutable_initializer(0);
}

void erase_initializer(onnx::ModelProto& m, const std::string& name) {
  auto* inits = m.mutable_graph()->mutable_initializer();
  for (int i = 0; i < inits->size(); ++i)
    if (inits->Get(i).name() == name) {
      inits->DeleteSubrange(i, 1);
      return;
    }
  ADD_FAILURE() << "no initializer " << name;
}

// Inserts `n` so that it becomes node number `index`.
void insert_node(onnx::ModelProto& m, int index, const onnx::NodeProto& n) {
  auto* nodes = m.mutable_graph()->mutable_node();
  *nodes->Add() = n;
  for (int k = nodes->size() - 1; k > index; --k) nodes->SwapElements(k, k - 1);
}

onnx::NodeProto make_node(const std::string& op, const std::string& name, std::vector<std::string> inputs,
                          const std::string& output) {
  onnx::NodeProto n;
  n.set_op_type(op);
  n.set_name(name);
  for (const auto& in : inputs) n.add_input(in);
  n.add_output(output);
  return n;
}

// Removes the node and lets its consumers read its first input instead.
void bypass_node(onnx::ModelProto& m, const std::string& name) {
  const int i = node_index(m, name);
  const std::string from = m.graph().node(i).output(0), to = m.graph().node(i).input(0);
  m.mutable_graph()->mutable_node()->DeleteSubrange(i, 1);
  for (auto& n : *m.mutable_graph()->mutable_node())
    for (auto& in : *n.mutable_input())
      if (in == from) in = to;
}

// Makes every node that reads `from` read `to` instead, from node number `start` on.
void rewire(onnx::ModelProto& m, const std::string& from, const std::string& to, int start) {
  for (int i = start; i < m.graph().node_size(); ++i)
    for (auto& in : *m.mutable_graph()->mutable_node(i)->mutable_input())
      if (in == from) in = to;
}

void set_metadata(onnx::ModelProto& m, const std::string& key, const std::string& value) {
  auto* p = m.add_metadata_props();
  p->set_key(key);
  p->set_value(value);
}

void add_float_attr(onnx::NodeProto& n, const std::string& name, float v) {
  for (auto& a : *n.mutable_attribute())
    if (a.name() == name) {
      a.set_f(v);
      return;
    }
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}

void add_int_attr(onnx::NodeProto& n, const std::string& name, std::int64_t v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

// A float tensor decoded from the builder's raw_data.
std::vector<float> raw_floats(const onnx::TensorProto& t) {
  std::vector<float> v(t.raw_data().size() / 4);
  for (std::size_t i = 0; i < v.size(); ++i) {
    std::uint32_t bits = 0;
    for (int b = 0; b < 4; ++b) bits |= std::uint32_t(static_cast<unsigned char>(t.raw_data()[4 * i + b])) << (8 * b);
    v[i] = std::bit_cast<float>(bits);
  }
  return v;
}

// Builds the default model, applies `edit`, saves it as `name`; returns the path.
std::string edited_model(const std::string& path, const std::vector<BuilderLayer>& layers, const BuildOptions& opt,
                         const std::function<void(onnx::ModelProto&)>& edit) {
  testing::write_mlp_onnx(path, layers, opt);
  onnx::ModelProto m = load(path);
  edit(m);
  save(m, path);
  return path;
}

// ---- round trips ------------------------------------------------------------------------

class OnnxRoundTrip : public OnnxImport, public ::testing::WithParamInterface<std::tuple<LinearStyle, SquareStyle>> {};

TEST_P(OnnxRoundTrip, WeightsBiasesAndDimsComeBackExactly) {
  auto layers = make_layers({5, 4, 3, 2});
  layers[1].bias.clear();  // a layer without bias imports with zero bias
  BuildOptions opt;
  std::tie(opt.linear, opt.square) = GetParam();
  const std::string path = file("m.onnx");
  testing::write_mlp_onnx(path, layers, opt);
  const FloatModel m = import_onnx(path);
  EXPECT_EQ(m.path, path);
  EXPECT_EQ(m.in_dim(), 5u);
  EXPECT_EQ(m.final_op, FinalOp::none);
  EXPECT_FALSE(m.alpha);
  EXPECT_FALSE(m.beta);
  expect_same_layers(m, layers);
}

INSTANTIATE_TEST_SUITE_P(AllStyles, OnnxRoundTrip,
                         ::testing::Combine(::testing::Values(LinearStyle::gemm_transB, LinearStyle::gemm,
                                                              LinearStyle::matmul_add),
                                            ::testing::Values(SquareStyle::mul, SquareStyle::pow)));

TEST_F(OnnxImport, SingleLayer) {
  const auto layers = make_layers({7, 3});
  testing::write_mlp_onnx(file("m.onnx"), layers);
  expect_same_layers(import_onnx(file("m.onnx")), layers);
}

TEST_F(OnnxImport, SoftmaxAndMetadata) {
  const auto layers = make_layers({6, 5, 4});
  BuildOptions opt;
  opt.softmax = true;
  opt.alpha = 16;
  opt.beta = 0.5;
  testing::write_mlp_onnx(file("m.onnx"), layers, opt);
  const FloatModel m = import_onnx(file("m.onnx"));
  EXPECT_EQ(m.final_op, FinalOp::softmax);
  EXPECT_EQ(m.alpha, 16.0);
  EXPECT_EQ(m.beta, 0.5);
  expect_same_layers(m, layers);
}

TEST_F(OnnxImport, LogSoftmax) {
  BuildOptions opt;
  opt.softmax = true;
  const auto path = edited_model(file("m.onnx"), make_layers({4, 3, 2}), opt,
                                 [](onnx::ModelProto& m) { node(m, "softmax").set_op_type("LogSoftmax"); });
  EXPECT_EQ(import_onnx(path).final_op, FinalOp::log_softmax);
}

TEST_F(OnnxImport, FlattenFirst) {
  const auto layers = make_layers({6, 4, 2});
  BuildOptions opt;
  opt.flatten_first = true;
  testing::write_mlp_onnx(file("m.onnx"), layers, opt);
  expect_same_layers(import_onnx(file("m.onnx")), layers);
}

TEST_F(OnnxImport, IntegerWeights) {
  std::vector<BuilderLayer> layers = {{2, 3, {-7, 0, 7, 1, -1, 1000000}, {3, -4}}, {1, 2, {-128, 127}, {}}};
  BuildOptions opt;
  opt.float_weights = false;
  testing::write_mlp_onnx(file("m.onnx"), layers, opt);
  expect_same_layers(import_onnx(file("m.onnx")), layers);
}

// The same values through the other encodings a writer may choose.
TEST_F(OnnxImport, TypedFieldsAndOtherElementTypes) {
  const auto layers = make_layers({3, 2, 2});
  const auto path = edited_model(file("m.onnx"), layers, {}, [](onnx::ModelProto& m) {
    auto& w1 = initializer(m, "fc1.weight");  // FLOAT in float_data
    for (float v : raw_floats(w1)) w1.add_float_data(v);
    w1.clear_raw_data();
    auto& b1 = initializer(m, "fc1.bias");  // DOUBLE in raw_data
    std::string raw;
    for (float v : raw_floats(b1))
      for (int b = 0; b < 8; ++b) raw.push_back(static_cast<char>(std::bit_cast<std::uint64_t>(double(v)) >> (8 * b)));
    b1.set_data_type(onnx::TensorProto::DOUBLE);
    b1.set_raw_data(raw);
    auto& w2 = initializer(m, "fc2.weight");  // DOUBLE in double_data
    for (float v : raw_floats(w2)) w2.add_double_data(v);
    w2.clear_raw_data();
    w2.set_data_type(onnx::TensorProto::DOUBLE);
  });
  expect_same_layers(import_onnx(path), layers);
}

TEST_F(OnnxImport, SmallIntegerTypes) {
  std::vector<BuilderLayer> layers = {{2, 2, {-3, 2, 127, -128}, {5, -6}}, {1, 2, {1, -1}, {}}};
  BuildOptions opt;
  opt.float_weights = false;
  const auto path = edited_model(file("m.onnx"), layers, opt, [](onnx::ModelProto& m) {
    auto& w1 = initializer(m, "fc1.weight");  // INT8 in raw_data
    std::string raw;
    for (auto v : w1.int64_data()) raw.push_back(static_cast<char>(v));
    w1.clear_int64_data();
    w1.set_data_type(onnx::TensorProto::INT8);
    w1.set_raw_data(raw);
    auto& b1 = initializer(m, "fc1.bias");  // INT32 in int32_data
    for (auto v : b1.int64_data()) b1.add_int32_data(static_cast<std::int32_t>(v));
    b1.clear_int64_data();
    b1.set_data_type(onnx::TensorProto::INT32);
  });
  expect_same_layers(import_onnx(path), layers);
}

// Identity, Dropout and Reshape(-1, n) from a Constant node pass the activation through.
TEST_F(OnnxImport, PassThroughOps) {
  const auto layers = make_layers({4, 3, 2});
  const auto path = edited_model(file("m.onnx"), layers, {}, [](onnx::ModelProto& m) {
    const int fc2 = node_index(m, "fc2");
    onnx::NodeProto shape = make_node("Constant", "shape", {}, "shape");
    auto* a = shape.add_attribute();
    a->set_name("value_ints");
    a->set_type(onnx::AttributeProto::INTS);
    a->add_ints(-1);
    a->add_ints(3);
    insert_node(m, fc2, shape);
    insert_node(m, fc2 + 1, make_node("Reshape", "reshape", {"act1", "shape"}, "reshaped"));
    insert_node(m, fc2 + 2, make_node("Dropout", "dropout", {"reshaped"}, "dropped"));
    insert_node(m, fc2 + 3, make_node("Identity", "identity", {"dropped"}, "same"));
    rewire(m, "act1", "same", fc2 + 4);
  });
  expect_same_layers(import_onnx(path), layers);
}

// ---- rejections: ops ----------------------------------------------------------------------

TEST_F(OnnxImport, RejectsRelu) {
  testing::write_mlp_with_op(file("m.onnx"), make_layers({4, 3, 2}), "Relu");
  expect_error(file("m.onnx"), {"node 'relu1' (Relu)", "not an arithmetic circuit", "use a quadratic activation x*x"});
}

TEST_F(OnnxImport, RejectsSigmoid) {
  testing::write_mlp_with_op(file("m.onnx"), make_layers({4, 3, 2}), "Sigmoid");
  expect_error(file("m.onnx"), {"node 'sigmoid1' (Sigmoid)", "not an arithmetic circuit", "x*x"});
}

TEST_F(OnnxImport, RejectsMaxPool) {
  testing::write_mlp_with_op(file("m.onnx"), make_layers({4, 3, 2}), "MaxPool");
  expect_error(file("m.onnx"), {"node 'maxpool1' (MaxPool)", "not an arithmetic circuit", "sum pooling (AveragePool"});
}

TEST_F(OnnxImport, RejectsConvOnAFlatTensor) {
  testing::write_mlp_with_op(file("m.onnx"), make_layers({4, 3, 2}), "Conv");
  expect_error(file("m.onnx"), {"node 'conv1' (Conv)", "not an image", "(batch, C, H, W)"});
}

// Div by a constant folds (test_onnx_pytorch.cpp); a constant divided by the activation does not.
TEST_F(OnnxImport, RejectsDivByTheActivation) {
  testing::write_mlp_with_op(file("m.onnx"), make_layers({4, 3, 2}), "Div");
  onnx::ModelProto m = load(file("m.onnx"));
  node(m, "div1").mutable_input()->SwapElements(0, 1);
  save(m, file("m.onnx"));
  expect_error(file("m.onnx"), {"node 'div1' (Div)", "divides by the activation", "division by a constant"});
}

TEST_F(OnnxImport, RejectsUnknownOp) {
  testing::write_mlp_with_op(file("m.onnx"), make_layers({4, 3, 2}), "Transpose");
  expect_error(file("m.onnx"), {"node 'transpose1' (Transpose)", "not supported", "MatMul/Gemm"});
}

// Mul by a constant between two layers is no activation: it folds into the first layer's rows and
// the two layers become one, multiplied out (W2 (2 W1 x + 2 b1) + b2).
TEST_F(OnnxImport, MulByAConstantFoldsIntoTheLayer) {
  const auto layers = make_layers({4, 3, 2});
  testing::write_mlp_with_op(file("m.onnx"), layers, "Mul");
  const FloatModel m = import_onnx(file("m.onnx"));
  ASSERT_EQ(m.layers.size(), 1u);
  ASSERT_FALSE(m.layers[0].structured());
  for (std::size_t a = 0; a < 2; ++a) {
    double bias = layers[1].bias[a];
    for (std::size_t m1 = 0; m1 < 3; ++m1) bias += layers[1].weights[a * 3 + m1] * 2 * layers[0].bias[m1];
    EXPECT_DOUBLE_EQ(m.layers[0].bias[a], bias);
    for (std::size_t j = 0; j < 4; ++j) {
      double w = 0;
      for (std::size_t m1 = 0; m1 < 3; ++m1) w += layers[1].weights[a * 3 + m1] * 2 * layers[0].weights[m1 * 4 + j];
      EXPECT_DOUBLE_EQ(m.layers[0].weights[a * 4 + j], w);
    }
  }
}

TEST_F(OnnxImport, RejectsPowOtherThanSquare) {
  BuildOptions opt;
  opt.square = SquareStyle::pow;
  const auto path = edited_model(file("m.onnx"), make_layers({4, 3, 2}), opt, [](onnx::ModelProto& m) {
    node(m, "act1_exp").mutable_attribute(0)->mutable_t()->set_float_data(0, 3.0f);
  });
  expect_error(path, {"node 'act1' (Pow)", "exponent 3", "Pow(x, 2)"});
}

TEST_F(OnnxImport, RejectsWeightFirstMatMul) {
  BuildOptions opt;
  opt.linear = LinearStyle::matmul_add;
  const auto path = edited_model(file("m.onnx"), make_layers({4, 3, 2}), opt,
                                 [](onnx::ModelProto& m) { node(m, "fc1").mutable_input()->SwapElements(0, 1); });
  expect_error(path, {"node 'fc1' (MatMul)", "MatMul(W, x)"});
}

TEST_F(OnnxImport, RejectsGemmScaling) {
  const auto path = edited_model(file("m.onnx"), make_layers({4, 3, 2}), {},
                                 [](onnx::ModelProto& m) { add_float_attr(node(m, "fc2"), "alpha", 0.5f); });
  expect_error(path, {"node 'fc2' (Gemm)", "alpha=0.5"});
}

TEST_F(OnnxImport, RejectsGemmTransA) {
  const auto path = edited_model(file("m.onnx"), make_layers({4, 3, 2}), {},
                                 [](onnx::ModelProto& m) { add_int_attr(node(m, "fc1"), "transA", 1); });
  expect_error(path, {"node 'fc1' (Gemm)", "transA=1"});
}

TEST_F(OnnxImport, RejectsCustomDomain) {
  const auto path = edited_model(file("m.onnx"), make_layers({4, 3, 2}), {},
                                 [](onnx::ModelProto& m) { node(m, "fc1").set_domain("com.microsoft"); });
  expect_error(path, {"node 'fc1' (Gemm)", "com.microsoft"});
}

TEST_F(OnnxImport, HostileNamesStayOneLine) {
  const auto path = edited_model(file("m.onnx"), make_layers({4, 3, 2}), {}, [](onnx::ModelProto& m) {
    node(m, "act1").set_op_type("Relu");
    node(m, "act1").set_name("evil\nname");
  });
  expect_error(path, {"node 'evil?name' (Relu)"});
}

// ---- rejections: structure ----------------------------------------------------------------

TEST_F(OnnxImport, RejectsMissingInitializer) {
  const auto path = edited_model(file("m.onnx"), make_layers({4, 3, 2}), {},
                                 [](onnx::ModelProto& m) { erase_initializer(m, "fc2.weight"); });
  expect_error(path, {"node 'fc2' (Gemm)", "'fc2.weight' is not an initializer"});
}

TEST_F(OnnxImport, RejectsDimensionMismatch) {
  auto layers = make_layers({4, 3, 2});
  layers[1] = make_layers({5, 2})[0];  // takes 5 inputs, but fc1 gives 3
  testing::write_mlp_onnx(file("m.onnx"), layers);
  expect_error(file("m.onnx"), {"node 'fc2' (Gemm)", "takes 5 inputs but the previous layer gives 3"});
}

TEST_F(OnnxImport, RejectsFirstLayerNotMatchingInput) {
  const auto path = edited_model(file("m.onnx"), make_layers({4, 3, 2}), {}, [](onnx::ModelProto& m) {
    m.mutable_graph()
        ->mutable_input(0)
        ->mutable_type()
        ->mutable_tensor_type()
        ->mutable_shape()
        ->mutable_dim(1)
        ->set_dim_value(9);
  });
  expect_error(path, {"node 'fc1' (Gemm)", "takes 4 inputs but the model input 'input' gives 9"});
}

// Linear maps with no activation between them compose into one layer (PROTOCOL.md section 2):
// W = W2 W1 and B = W2 b1 + b2, in float before quantization.
TEST_F(OnnxImport, ConsecutiveLinearLayersComposeIntoOne) {
  const auto layers = make_layers({4, 3, 2});
  const auto path = edited_model(file("m.onnx"), layers, {}, [](onnx::ModelProto& m) { bypass_node(m, "act1"); });
  const FloatModel m = import_onnx(path);
  ASSERT_EQ(m.layers.size(), 1u);
  const FloatLayer& l = m.layers[0];
  ASSERT_FALSE(l.structured());
  ASSERT_EQ(l.rows, 2u);
  ASSERT_EQ(l.cols, 4u);
  for (std::size_t a = 0; a < 2; ++a) {
    double bias = layers[1].bias[a];
    for (std::size_t m1 = 0; m1 < 3; ++m1) bias += layers[1].weights[a * 3 + m1] * layers[0].bias[m1];
    EXPECT_DOUBLE_EQ(l.bias[a], bias);
    for (std::size_t j = 0; j < 4; ++j) {
      double w = 0;
      for (std::size_t m1 = 0; m1 < 3; ++m1) w += layers[1].weights[a * 3 + m1] * layers[0].weights[m1 * 4 + j];
      EXPECT_DOUBLE_EQ(l.weights[a * 4 + j], w);
    }
  }
}

// n -> 1 -> n multiplied out would be n^2 weights from 2n: such a chain stays two ops.
TEST_F(OnnxImport, ABottleneckChainIsNotMultipliedOut) {
  const auto path =
      edited_model(file("m.onnx"), make_layers({64, 1, 64}), {}, [](onnx::ModelProto& m) { bypass_node(m, "act1"); });
  const FloatModel m = import_onnx(path);
  ASSERT_EQ(m.layers.size(), 1u);
  ASSERT_TRUE(m.layers[0].structured());
  EXPECT_EQ(m.layers[0].ops.size(), 2u);
  EXPECT_EQ(m.layers[0].rows, 64u);
  EXPECT_EQ(m.layers[0].cols, 64u);
}

TEST_F(OnnxImport, RejectsTwoSquaresInARow) {
  const auto path = edited_model(file("m.onnx"), make_layers({4, 3, 2}), {}, [](onnx::ModelProto& m) {
    const int fc2 = node_index(m, "fc2");
    insert_node(m, fc2, make_node("Mul", "again", {"act1", "act1"}, "again"));
    rewire(m, "act1", "again", fc2 + 1);
  });
  expect_error(path, {"node 'again' (Mul)", "two activations in a row"});
}

TEST_F(OnnxImport, RejectsSquareBeforeAnyLayer) {
  const auto path = edited_model(file("m.onnx"), make_layers({4, 3, 2}), {}, [](onnx::ModelProto& m) {
    insert_node(m, 0, make_node("Mul", "early", {"input", "input"}, "early"));
    rewire(m, "input", "early", 1);
  });
  expect_error(path, {"node 'early' (Mul)", "before any linear layer"});
}

TEST_F(OnnxImport, RejectsModelEndingInSquare) {
  const auto path = edited_model(file("m.onnx"), make_layers({4, 3, 2}), {}, [](onnx::ModelProto& m) {
    node(m, "fc2").set_output(0, "fc2.out");
    *m.mutable_graph()->add_node() = make_node("Mul", "act2", {"fc2.out", "fc2.out"}, "output");
  });
  expect_error(path, {"node 'act2' (Mul)", "the last layer must be affine"});
}

TEST_F(OnnxImport, RejectsNodeAfterSoftmax) {
  BuildOptions opt;
  opt.softmax = true;
  const auto path = edited_model(file("m.onnx"), make_layers({4, 3, 2}), opt, [](onnx::ModelProto& m) {
    node(m, "softmax").set_output(0, "probs");
    *m.mutable_graph()->add_node() = make_node("Identity", "after", {"probs"}, "output");
  });
  expect_error(path, {"node 'after' (Identity)", "follows the final node 'softmax' (Softmax)"});
}

TEST_F(OnnxImport, RejectsSoftmaxOverBatch) {
  BuildOptions opt;
  opt.softmax = true;
  const auto path = edited_model(file("m.onnx"), make_layers({4, 3, 2}), opt,
                                 [](onnx::ModelProto& m) { node(m, "softmax").mutable_attribute(0)->set_i(0); });
  expect_error(path, {"node 'softmax' (Softmax)", "axis=0"});
}

TEST_F(OnnxImport, RejectsBranches) {
  const auto path = edited_model(file("m.onnx"), make_layers({4, 3, 3, 2}), {},
                                 [](onnx::ModelProto& m) { node(m, "fc2").set_input(0, "input"); });
  expect_error(path, {"node 'fc2' (Gemm)", "branches"});
}

TEST_F(OnnxImport, RejectsNodesOutOfOrder) {
  const auto path = edited_model(file("m.onnx"), make_layers({4, 3, 2}), {}, [](onnx::ModelProto& m) {
    m.mutable_graph()->mutable_node()->SwapElements(node_index(m, "fc1"), node_index(m, "act1"));
  });
  expect_error(path, {"node 'act1' (Mul)", "no earlier node produces it", "topological order"});
}

// A cycle: fc1 now reads the activation that fc2 produces, which depends on fc1 itself.
TEST_F(OnnxImport, RejectsCycles) {
  const auto path = edited_model(file("m.onnx"), make_layers({3, 3, 3}), {},
                                 [](onnx::ModelProto& m) { node(m, "fc1").set_input(0, node(m, "fc2").output(0)); });
  expect_error(path, {"node 'fc1' (Gemm)", "no earlier node produces it"});
}

TEST_F(OnnxImport, RejectsTwoInputs) {
  const auto path = edited_model(file("m.onnx"), make_layers({4, 3, 2}), {}, [](onnx::ModelProto& m) {
    *m.mutable_graph()->add_input() = m.graph().input(0);
    m.mutable_graph()->mutable_input(1)->set_name("mask");
  });
  expect_error(path, {"2 inputs ('input', 'mask')"});
}

TEST_F(OnnxImport, RejectsModelWithoutLinearLayer) {
  onnx::ModelProto m;
  auto* g = m.mutable_graph();
  g->add_input()->set_name("input");
  g->add_output()->set_name("output");
  *g->add_node() = make_node("Identity", "id", {"input"}, "output");
  save(m, file("m.onnx"));
  expect_error(file("m.onnx"), {"no MatMul/Gemm/Conv layer"});
}

// ---- rejections: tensors --------------------------------------------------------------------

TEST_F(OnnxImport, RejectsTruncatedTensor) {
  const auto path = edited_model(file("m.onnx"), make_layers({4, 3, 2}), {}, [](onnx::ModelProto& m) {
    auto& w = initializer(m, "fc1.weight");
    w.set_raw_data(w.raw_data().substr(4));
  });
  expect_error(path, {"tensor 'fc1.weight'", "44 bytes", "(3, 4)", "needs 48"});
}

TEST_F(OnnxImport, RejectsTypedCountMismatch) {
  BuildOptions opt;
  opt.float_weights = false;
  std::vector<BuilderLayer> layers = {{2, 2, {1, 2, 3, 4}, {1, 1}}};
  const auto path = edited_model(file("m.onnx"), layers, opt,
                                 [](onnx::ModelProto& m) { initializer(m, "fc1.bias").add_int64_data(9); });
  expect_error(path, {"tensor 'fc1.bias'", "holds 3 values", "needs 2"});
}

TEST_F(OnnxImport, RejectsAbsurdSizesWithoutAllocating) {
  const auto path = edited_model(file("m.onnx"), make_layers({4, 3, 2}), {}, [](onnx::ModelProto& m) {
    auto& w = initializer(m, "fc1.weight");
    w.set_dims(0, std::int64_t{1} << 40);
    w.set_dims(1, std::int64_t{1} << 40);
  });
  expect_error(path, {"tensor 'fc1.weight'", "more than 2^31 elements"});
}

TEST_F(OnnxImport, RejectsNegativeDims) {
  const auto path = edited_model(file("m.onnx"), make_layers({4, 3, 2}), {},
                                 [](onnx::ModelProto& m) { initializer(m, "fc1.weight").set_dims(0, -3); });
  expect_error(path, {"tensor 'fc1.weight'", "negative dimension"});
}

TEST_F(OnnxImport, RejectsExternalData) {
  const auto path = edited_model(file("m.onnx"), make_layers({4, 3, 2}), {}, [](onnx::ModelProto& m) {
    initializer(m, "fc2.weight").set_data_location(onnx::TensorProto::EXTERNAL);
  });
  expect_error(path, {"tensor 'fc2.weight'", "external data", "save_as_external_data=False"});
}

TEST_F(OnnxImport, RejectsHalfPrecision) {
  const auto path = edited_model(file("m.onnx"), make_layers({4, 3, 2}), {}, [](onnx::ModelProto& m) {
    initializer(m, "fc1.weight").set_data_type(onnx::TensorProto::FLOAT16);
  });
  expect_error(path, {"tensor 'fc1.weight'", "FLOAT16", "float32"});
}

TEST_F(OnnxImport, RejectsNaNWeights) {
  const auto path = edited_model(file("m.onnx"), make_layers({4, 3, 2}), {}, [](onnx::ModelProto& m) {
    auto& w = initializer(m, "fc1.weight");
    std::string raw = w.raw_data();
    const auto nan = std::bit_cast<std::uint32_t>(std::numeric_limits<float>::quiet_NaN());
    for (int b = 0; b < 4; ++b) raw[b] = static_cast<char>(nan >> (8 * b));
    w.set_raw_data(raw);
  });
  expect_error(path, {"tensor 'fc1.weight'", "NaN"});
}

// ---- rejections: files and metadata -------------------------------------------------------

TEST_F(OnnxImport, RejectsGarbageFile) {
  {
    std::ofstream f(file("garbage.onnx"), std::ios::binary);
    f << std::string(16, '\xff');
  }
  expect_error(file("garbage.onnx"), {"cannot parse ONNX"});
  {
    std::ofstream f(file("text.onnx"));
    f << "this is not an ONNX model\n";
  }
  expect_error(file("text.onnx"), {"cannot parse ONNX"});
  { std::ofstream f(file("empty.onnx")); }
  expect_error(file("empty.onnx"), {"cannot parse ONNX"});
}

TEST_F(OnnxImport, RejectsMissingFile) { expect_error(file("nope.onnx"), {"cannot open file"}); }

TEST_F(OnnxImport, RejectsDirectory) { expect_error(dir_.string(), {"directory"}); }

TEST_F(OnnxImport, RejectsEmptyGraph) {
  onnx::ModelProto m;
  m.set_ir_version(7);
  auto* g = m.mutable_graph();
  g->add_input()->set_name("input");
  g->add_output()->set_name("output");
  save(m, file("m.onnx"));
  expect_error(file("m.onnx"), {"no nodes"});
}

TEST_F(OnnxImport, RejectsBadMetadata) {
  for (std::string value : {"abc", "-1", "0", "inf", "nan", "", "16 "}) {
    SCOPED_TRACE("value '" + value + "'");
    const auto path = edited_model(file("m.onnx"), make_layers({4, 3, 2}), {},
                                   [&](onnx::ModelProto& m) { set_metadata(m, "nnproof.beta", value); });
    expect_error(path, {"nnproof.beta = '" + value + "'", "not a finite positive number"});
  }
  BuildOptions opt;
  opt.alpha = -2;
  testing::write_mlp_onnx(file("m.onnx"), make_layers({4, 3, 2}), opt);
  expect_error(file("m.onnx"), {"nnproof.alpha = '-2'"});
}

}  // namespace
}  // namespace nnproof
