// SPDX-License-Identifier: Apache-2.0
// ONNX import rejections of graphs that are not one chain of layers with squares between them, and
// the chains that compose into fewer layers.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <string>
#include <vector>

#include "host/onnx/onnx_import.hpp"
#include "tests/host/onnx_import_fixture.hpp"

namespace nnproof {
namespace {

using namespace onnx_import_test;

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

}  // namespace
}  // namespace nnproof
