// SPDX-License-Identifier: Apache-2.0
// ONNX import rejections of ops nnproof cannot prove (and the constant folds next to them), each
// checking that the one-line message names the node and the reason.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <string>
#include <vector>

#include "host/onnx/onnx_import.hpp"
#include "tests/host/onnx_import_fixture.hpp"

namespace nnproof {
namespace {

using namespace onnx_import_test;

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

}  // namespace
}  // namespace nnproof
