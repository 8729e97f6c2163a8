// SPDX-License-Identifier: Apache-2.0
// ONNX import: round trips through the C++ builder. The rejections, one test per way a model can be
// unprovable or malformed, each checking that the one-line message names the node and the reason,
// are in test_onnx_import_ops.cpp, test_onnx_import_structure.cpp and test_onnx_import_files.cpp.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <string>
#include <vector>

#include "host/onnx/onnx_import.hpp"
#include "tests/host/onnx_import_fixture.hpp"

namespace nnproof {
namespace {

using namespace onnx_import_test;

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

}  // namespace
}  // namespace nnproof
