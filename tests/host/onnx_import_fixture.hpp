// SPDX-License-Identifier: Apache-2.0
#pragma once
// What the ONNX import tests (test_onnx_import*.cpp) share: a fresh folder per test, layers with
// exact weights, the one-line error check, and proto surgery for models the builder does not write.
// A named namespace, not an anonymous one: the OnnxImport fixture must be one class in every file
// whose tests use it, as GoogleTest demands of a test suite.
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
#include "tests/support/temp_dir.hpp"

namespace nnproof::onnx_import_test {

using testing::BuilderLayer;
using testing::BuildOptions;
using testing::LinearStyle;
using testing::SquareStyle;

// A fresh folder per test, removed afterwards; its random part keeps two runs of the suites
// (release and ASan side by side, say) out of each other's files.
class OnnxImport : public ::testing::Test {
 protected:
  std::string file(const std::string& name) const { return tmp_.file(name); }

  testing::TempDir tmp_;
};

// Weights and biases are multiples of 1/16, exact in float32, so the round trip must be exact.
// Fixed seed; NNPROOF_TEST_SEED overrides it.
inline std::vector<BuilderLayer> make_layers(const std::vector<std::size_t>& dims, bool with_bias = true) {
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

inline void expect_same_layers(const FloatModel& m, const std::vector<BuilderLayer>& want) {
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
inline void expect_error(const std::string& path, std::initializer_list<std::string> fragments) {
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

inline onnx::ModelProto load(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  onnx::ModelProto m;
  EXPECT_TRUE(m.ParseFromIstream(&f)) << path;
  return m;
}

inline void save(const onnx::ModelProto& m, const std::string& path) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  ASSERT_TRUE(m.SerializeToOstream(&f)) << path;
}

inline int node_index(const onnx::ModelProto& m, const std::string& name) {
  for (int i = 0; i < m.graph().node_size(); ++i)
    if (m.graph().node(i).name() == name) return i;
  ADD_FAILURE() << "no node " << name;
  return 0;
}

inline onnx::NodeProto& node(onnx::ModelProto& m, const std::string& name) {
  return *m.mutable_graph()->mutable_node(node_index(m, name));
}

inline onnx::TensorProto& initializer(onnx::ModelProto& m, const std::string& name) {
  for (auto& t : *m.mutable_graph()->mutable_initializer())
    if (t.name() == name) return t;
  ADD_FAILURE() << "no initializer " << name;
  return *m.mutable_graph()->mutable_initializer(0);
}

inline void erase_initializer(onnx::ModelProto& m, const std::string& name) {
  auto* inits = m.mutable_graph()->mutable_initializer();
  for (int i = 0; i < inits->size(); ++i)
    if (inits->Get(i).name() == name) {
      inits->DeleteSubrange(i, 1);
      return;
    }
  ADD_FAILURE() << "no initializer " << name;
}

// Inserts `n` so that it becomes node number `index`.
inline void insert_node(onnx::ModelProto& m, int index, const onnx::NodeProto& n) {
  auto* nodes = m.mutable_graph()->mutable_node();
  *nodes->Add() = n;
  for (int k = nodes->size() - 1; k > index; --k) nodes->SwapElements(k, k - 1);
}

inline onnx::NodeProto make_node(const std::string& op, const std::string& name, std::vector<std::string> inputs,
                                 const std::string& output) {
  onnx::NodeProto n;
  n.set_op_type(op);
  n.set_name(name);
  for (const auto& in : inputs) n.add_input(in);
  n.add_output(output);
  return n;
}

// Removes the node and lets its consumers read its first input instead.
inline void bypass_node(onnx::ModelProto& m, const std::string& name) {
  const int i = node_index(m, name);
  const std::string from = m.graph().node(i).output(0), to = m.graph().node(i).input(0);
  m.mutable_graph()->mutable_node()->DeleteSubrange(i, 1);
  for (auto& n : *m.mutable_graph()->mutable_node())
    for (auto& in : *n.mutable_input())
      if (in == from) in = to;
}

// Makes every node that reads `from` read `to` instead, from node number `start` on.
inline void rewire(onnx::ModelProto& m, const std::string& from, const std::string& to, int start) {
  for (int i = start; i < m.graph().node_size(); ++i)
    for (auto& in : *m.mutable_graph()->mutable_node(i)->mutable_input())
      if (in == from) in = to;
}

inline void set_metadata(onnx::ModelProto& m, const std::string& key, const std::string& value) {
  auto* p = m.add_metadata_props();
  p->set_key(key);
  p->set_value(value);
}

inline void add_float_attr(onnx::NodeProto& n, const std::string& name, float v) {
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

inline void add_int_attr(onnx::NodeProto& n, const std::string& name, std::int64_t v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

// A float tensor decoded from the builder's raw_data.
inline std::vector<float> raw_floats(const onnx::TensorProto& t) {
  std::vector<float> v(t.raw_data().size() / 4);
  for (std::size_t i = 0; i < v.size(); ++i) {
    std::uint32_t bits = 0;
    for (int b = 0; b < 4; ++b) bits |= std::uint32_t(static_cast<unsigned char>(t.raw_data()[4 * i + b])) << (8 * b);
    v[i] = std::bit_cast<float>(bits);
  }
  return v;
}

// Builds the default model, applies `edit`, saves it as `name`; returns the path.
inline std::string edited_model(const std::string& path, const std::vector<BuilderLayer>& layers,
                                const BuildOptions& opt, const std::function<void(onnx::ModelProto&)>& edit) {
  testing::write_mlp_onnx(path, layers, opt);
  onnx::ModelProto m = load(path);
  edit(m);
  save(m, path);
  return path;
}

}  // namespace nnproof::onnx_import_test
