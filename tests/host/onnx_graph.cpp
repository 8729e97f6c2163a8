// SPDX-License-Identifier: Apache-2.0
#include "tests/host/onnx_graph.hpp"

#include <bit>
#include <fstream>
#include <stdexcept>

namespace nnproof::testing {
namespace {

void fill(onnx::TensorProto& t, const std::vector<std::int64_t>& dims, const std::vector<double>& values, int type) {
  for (auto d : dims) t.add_dims(d);
  t.set_data_type(type);
  if (type == onnx::TensorProto::FLOAT) {
    std::string raw;
    for (double v : values) {
      const auto bits = std::bit_cast<std::uint32_t>(static_cast<float>(v));
      for (int i = 0; i < 4; ++i) raw.push_back(static_cast<char>(bits >> (8 * i)));
    }
    t.set_raw_data(raw);
  } else if (type == onnx::TensorProto::INT64) {
    for (double v : values) t.add_int64_data(static_cast<std::int64_t>(v));
  } else if (type == onnx::TensorProto::DOUBLE) {
    for (double v : values) t.add_double_data(v);
  } else {
    throw std::invalid_argument("OnnxGraph: FLOAT, DOUBLE or INT64 only");
  }
}

onnx::AttributeProto& attribute(onnx::NodeProto& n, const std::string& name, onnx::AttributeProto::AttributeType t) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(t);
  return *a;
}

}  // namespace

OnnxGraph::OnnxGraph(int opset) {
  model.set_ir_version(opset >= 13 ? 7 : 6);
  model.set_producer_name("pytorch");
  auto* o = model.add_opset_import();
  o->set_domain("");
  o->set_version(opset);
  model.mutable_graph()->set_name("torch_jit");
}

void OnnxGraph::input(const std::string& name, const std::vector<std::int64_t>& dims) {
  auto* v = model.mutable_graph()->add_input();
  v->set_name(name);
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  tt->mutable_shape()->add_dim()->set_dim_param("batch");
  for (auto d : dims) tt->mutable_shape()->add_dim()->set_dim_value(d);
}

void OnnxGraph::initializer(const std::string& name, const std::vector<std::int64_t>& dims,
                            const std::vector<double>& values, int type) {
  auto* t = model.mutable_graph()->add_initializer();
  t->set_name(name);
  fill(*t, dims, values, type);
}

void OnnxGraph::constant(const std::string& name, const std::vector<std::int64_t>& dims,
                         const std::vector<double>& values, int type) {
  auto& n = node("Constant", name, {}, name);
  fill(*attribute(n, "value", onnx::AttributeProto::TENSOR).mutable_t(), dims, values, type);
}

onnx::NodeProto& OnnxGraph::node(const std::string& op, const std::string& name, const std::vector<std::string>& inputs,
                                 const std::string& output) {
  auto* n = model.mutable_graph()->add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (const auto& in : inputs) n->add_input(in);
  n->add_output(output);
  return *n;
}

onnx::NodeProto& OnnxGraph::find(const std::string& name) {
  for (auto& n : *model.mutable_graph()->mutable_node())
    if (n.name() == name) return n;
  throw std::invalid_argument("OnnxGraph: no node " + name);
}

void OnnxGraph::output(const std::string& name) { model.mutable_graph()->add_output()->set_name(name); }

void OnnxGraph::save(const std::string& path) const {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f || !model.SerializeToOstream(&f)) throw std::runtime_error("cannot write " + path);
}

void set_int(onnx::NodeProto& n, const std::string& name, std::int64_t v) {
  attribute(n, name, onnx::AttributeProto::INT).set_i(v);
}

void set_float(onnx::NodeProto& n, const std::string& name, float v) {
  attribute(n, name, onnx::AttributeProto::FLOAT).set_f(v);
}

void set_ints(onnx::NodeProto& n, const std::string& name, const std::vector<std::int64_t>& v) {
  auto& a = attribute(n, name, onnx::AttributeProto::INTS);
  for (auto x : v) a.add_ints(x);
}

void set_string(onnx::NodeProto& n, const std::string& name, const std::string& v) {
  attribute(n, name, onnx::AttributeProto::STRING).set_s(v);
}

}  // namespace nnproof::testing
