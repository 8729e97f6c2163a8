// SPDX-License-Identifier: Apache-2.0
#include "tests/host/onnx_builder.hpp"

#include <onnx/onnx_pb.h>

#include <bit>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <set>
#include <stdexcept>

namespace nnproof::testing {
namespace {

using Dims = std::vector<std::int64_t>;

void check_layers(const std::vector<BuilderLayer>& layers) {
  if (layers.empty()) throw std::invalid_argument("write_mlp_onnx: no layers");
  for (const auto& l : layers) {
    if (l.weights.size() != l.rows * l.cols)
      throw std::invalid_argument("write_mlp_onnx: weights.size() != rows * cols");
    if (!l.bias.empty() && l.bias.size() != l.rows) throw std::invalid_argument("write_mlp_onnx: bias.size() != rows");
  }
}

// W^T, (cols x rows): the (n_in, n_out) layout MatMul and Gemm(transB=0) use.
std::vector<double> transposed(const BuilderLayer& l) {
  std::vector<double> t(l.weights.size());
  for (std::size_t r = 0; r < l.rows; ++r)
    for (std::size_t c = 0; c < l.cols; ++c) t[c * l.rows + r] = l.weights[r * l.cols + c];
  return t;
}

// FLOAT goes to raw_data (little-endian), as PyTorch writes it; INT64 to the typed field, so both
// encodings are exercised.
void add_initializer(onnx::GraphProto& g, const std::string& name, const Dims& dims, const std::vector<double>& values,
                     bool as_float) {
  auto* t = g.add_initializer();
  t->set_name(name);
  for (auto d : dims) t->add_dims(d);
  if (as_float) {
    t->set_data_type(onnx::TensorProto::FLOAT);
    std::string raw;
    for (double v : values) {
      auto bits = std::bit_cast<std::uint32_t>(static_cast<float>(v));
      for (int i = 0; i < 4; ++i) raw.push_back(static_cast<char>(bits >> (8 * i)));
    }
    t->set_raw_data(raw);
  } else {
    t->set_data_type(onnx::TensorProto::INT64);
    for (double v : values) {
      if (v != std::nearbyint(v)) throw std::invalid_argument("write_mlp_onnx: integer weights must be integers");
      t->add_int64_data(static_cast<std::int64_t>(v));
    }
  }
}

onnx::NodeProto* add_node(onnx::GraphProto& g, const std::string& op, const std::string& name,
                          const std::vector<std::string>& inputs, const std::string& output) {
  auto* n = g.add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (const auto& in : inputs) n->add_input(in);
  n->add_output(output);
  return n;
}

void set_int(onnx::NodeProto* n, const std::string& name, std::int64_t v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

void set_float(onnx::NodeProto* n, const std::string& name, float v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}

// A tensor of shape (batch, dims...) with a symbolic batch dimension. Its element type follows the
// weights' so that integer models still type-check (Gemm, MatMul, Add, Mul and Pow accept int64).
void set_value_info(onnx::ValueInfoProto* v, const std::string& name, const Dims& dims, bool as_float) {
  v->set_name(name);
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(as_float ? onnx::TensorProto::FLOAT : onnx::TensorProto::INT64);
  auto* shape = tt->mutable_shape();
  shape->add_dim()->set_dim_param("batch");
  for (auto d : dims) shape->add_dim()->set_dim_value(d);
}

// Writes layer `l` reading tensor x; returns the name of the tensor it produces (`out`).
std::string add_linear(onnx::GraphProto& g, const BuilderLayer& l, std::size_t index, const std::string& x,
                       const std::string& out, const BuildOptions& opt) {
  const std::string fc = "fc" + std::to_string(index);
  const auto rows = static_cast<std::int64_t>(l.rows), cols = static_cast<std::int64_t>(l.cols);
  const bool has_bias = !l.bias.empty();
  if (has_bias) add_initializer(g, fc + ".bias", {rows}, l.bias, opt.float_weights);
  switch (opt.linear) {
    case LinearStyle::gemm_transB: {  // torch.onnx.export of nn.Linear
      add_initializer(g, fc + ".weight", {rows, cols}, l.weights, opt.float_weights);
      std::vector<std::string> in{x, fc + ".weight"};
      if (has_bias) in.push_back(fc + ".bias");
      auto* n = add_node(g, "Gemm", fc, in, out);
      set_float(n, "alpha", 1.0f);
      set_float(n, "beta", 1.0f);
      set_int(n, "transB", 1);
      return out;
    }
    case LinearStyle::gemm: {  // transB left at its default 0
      add_initializer(g, fc + ".weight", {cols, rows}, transposed(l), opt.float_weights);
      std::vector<std::string> in{x, fc + ".weight"};
      if (has_bias) in.push_back(fc + ".bias");
      add_node(g, "Gemm", fc, in, out);
      return out;
    }
    case LinearStyle::matmul_add: {
      add_initializer(g, fc + ".weight", {cols, rows}, transposed(l), opt.float_weights);
      if (!has_bias) {
        add_node(g, "MatMul", fc, {x, fc + ".weight"}, out);
        return out;
      }
      add_node(g, "MatMul", fc, {x, fc + ".weight"}, fc + ".matmul");
      // Alternate the operand order so both Add(x, b) and Add(b, x) are exercised.
      std::vector<std::string> in{fc + ".matmul", fc + ".bias"};
      if (index % 2 == 0) std::swap(in[0], in[1]);
      add_node(g, "Add", fc + "_bias", in, out);
      return out;
    }
  }
  return out;
}

std::string add_square(onnx::GraphProto& g, std::size_t index, const std::string& z, SquareStyle style) {
  const std::string act = "act" + std::to_string(index);
  if (style == SquareStyle::mul) {
    add_node(g, "Mul", act, {z, z}, act);
    return act;
  }
  // The exponent comes from a Constant node, as torch.onnx.export writes x ** 2.
  auto* c = add_node(g, "Constant", act + "_exp", {}, act + ".exponent");
  auto* a = c->add_attribute();
  a->set_name("value");
  a->set_type(onnx::AttributeProto::TENSOR);
  a->mutable_t()->set_data_type(onnx::TensorProto::FLOAT);
  a->mutable_t()->add_float_data(2.0f);
  add_node(g, "Pow", act, {z, act + ".exponent"}, act);
  return act;
}

// The replacement node of write_mlp_with_op.
std::string add_other_op(onnx::GraphProto& g, const std::string& op, const std::string& z) {
  static const std::set<std::string> binary = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Mod"};
  std::string name;
  for (char ch : op) name += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  name += "1";
  std::vector<std::string> in{z};
  if (binary.count(op)) {
    add_initializer(g, name + ".constant", {}, {2.0}, true);
    in.push_back(name + ".constant");
  }
  auto* n = add_node(g, op, name, in, name);
  if (op == "MaxPool" || op == "AveragePool") {
    auto* a = n->add_attribute();
    a->set_name("kernel_shape");
    a->set_type(onnx::AttributeProto::INTS);
    a->add_ints(1);
  }
  return name;
}

void add_metadata(onnx::ModelProto& m, const std::string& key, std::optional<double> v) {
  if (!v) return;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", *v);
  auto* p = m.add_metadata_props();
  p->set_key(key);
  p->set_value(buf);
}

// An empty opset-13 model with the scales of `opt` in its metadata, as torch.onnx.export writes it.
onnx::ModelProto new_model(const BuildOptions& opt, const std::string& graph_name) {
  onnx::ModelProto m;
  m.set_ir_version(7);  // the IR version that goes with opset 13
  m.set_producer_name("nnproof-tests");
  auto* opset = m.add_opset_import();
  opset->set_domain("");
  opset->set_version(13);
  add_metadata(m, "nnproof.alpha", opt.alpha);
  add_metadata(m, "nnproof.beta", opt.beta);
  m.mutable_graph()->set_name(graph_name);
  return m;
}

// replace_op empty: the plain MLP; else the first activation is that op instead.
onnx::ModelProto build(const std::vector<BuilderLayer>& layers, const BuildOptions& opt,
                       const std::string& replace_op) {
  check_layers(layers);
  onnx::ModelProto m = new_model(opt, "mlp");
  auto& g = *m.mutable_graph();
  const auto n0 = static_cast<std::int64_t>(layers.front().cols);
  set_value_info(g.add_input(), "input", opt.flatten_first ? Dims{1, n0} : Dims{n0}, opt.float_weights);
  std::string x = "input";
  if (opt.flatten_first) {
    set_int(add_node(g, "Flatten", "flatten", {x}, "flat"), "axis", 1);
    x = "flat";
  }
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const bool last = i + 1 == layers.size();
    const std::string out = last && !opt.softmax ? "output" : "fc" + std::to_string(i + 1) + ".out";
    x = add_linear(g, layers[i], i + 1, x, out, opt);
    if (last) break;
    x = i == 0 && !replace_op.empty() ? add_other_op(g, replace_op, x) : add_square(g, i + 1, x, opt.square);
  }
  if (opt.softmax) set_int(add_node(g, "Softmax", "softmax", {x}, "output"), "axis", -1);
  set_value_info(g.add_output(), "output", {static_cast<std::int64_t>(layers.back().rows)}, opt.float_weights);
  return m;
}

void set_ints(onnx::NodeProto* n, const std::string& name, const std::vector<std::size_t>& v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (auto x : v) a->add_ints(static_cast<std::int64_t>(x));
}

// One stage of write_cnn_onnx; c is the channel count of x. Returns the output tensor's name.
std::string add_stage(onnx::GraphProto& g, const BuilderStage& s, std::size_t i, std::size_t& c, const std::string& x) {
  using Kind = BuilderStage::Kind;
  const std::string name = "stage" + std::to_string(i), out = name + ".out";
  const auto kh = static_cast<std::int64_t>(s.kernel_h), kw = static_cast<std::int64_t>(s.kernel_w);
  switch (s.kind) {
    case Kind::square:
      add_node(g, "Mul", name, {x, x}, out);
      return out;
    case Kind::flatten:
      set_int(add_node(g, "Flatten", name, {x}, out), "axis", 1);
      return out;
    case Kind::channel_bias:
      add_initializer(g, name + ".bias", {static_cast<std::int64_t>(c), 1, 1}, s.bias, true);
      add_node(g, "Add", name, {x, name + ".bias"}, out);
      return out;
    case Kind::dense: {
      add_initializer(g, name + ".weight", {static_cast<std::int64_t>(s.rows), static_cast<std::int64_t>(s.cols)},
                      s.weights, true);
      std::vector<std::string> in{x, name + ".weight"};
      if (!s.bias.empty()) {
        add_initializer(g, name + ".bias", {static_cast<std::int64_t>(s.rows)}, s.bias, true);
        in.push_back(name + ".bias");
      }
      set_int(add_node(g, "Gemm", name, in, out), "transB", 1);
      return out;
    }
    case Kind::conv:
    case Kind::sum_pool_conv: {
      const bool pool = s.kind == Kind::sum_pool_conv;  // a depthwise ones kernel
      const std::size_t m = pool ? c : s.out_channels, group = pool ? c : s.group;
      const std::vector<double> w = pool ? std::vector<double>(c * s.kernel_h * s.kernel_w, 1.0) : s.weights;
      add_initializer(g, name + ".weight", {static_cast<std::int64_t>(m), static_cast<std::int64_t>(c / group), kh, kw},
                      w, true);
      std::vector<std::string> in{x, name + ".weight"};
      if (!s.bias.empty()) {
        add_initializer(g, name + ".bias", {static_cast<std::int64_t>(m)}, s.bias, true);
        in.push_back(name + ".bias");
      }
      auto* n = add_node(g, "Conv", name, in, out);
      set_ints(n, "kernel_shape", {s.kernel_h, s.kernel_w});
      set_ints(n, "strides", {s.stride_h, s.stride_w});
      set_ints(n, "pads", s.pads);
      set_ints(n, "dilations", {1, 1});
      set_int(n, "group", static_cast<std::int64_t>(group));
      c = m;
      return out;
    }
    case Kind::average_pool: {
      auto* n = add_node(g, "AveragePool", name, {x}, out);
      set_ints(n, "kernel_shape", {s.kernel_h, s.kernel_w});
      set_ints(n, "strides", {s.stride_h, s.stride_w});
      set_ints(n, "pads", s.pads);
      if (s.count_include_pad) set_int(n, "count_include_pad", 1);
      return out;
    }
    case Kind::global_average_pool:
      add_node(g, "GlobalAveragePool", name, {x}, out);
      return out;
  }
  return out;
}

void save(const onnx::ModelProto& m, const std::string& path) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f || !m.SerializeToOstream(&f)) throw std::runtime_error("cannot write " + path);
}

}  // namespace

void write_mlp_onnx(const std::string& path, const std::vector<BuilderLayer>& layers, const BuildOptions& opt) {
  save(build(layers, opt, ""), path);
}

void write_cnn_onnx(const std::string& path, const std::vector<std::size_t>& chw,
                    const std::vector<BuilderStage>& stages, const BuildOptions& opt) {
  if (chw.size() != 3 || stages.empty()) throw std::invalid_argument("write_cnn_onnx: needs (C, H, W) and stages");
  onnx::ModelProto m = new_model(opt, "cnn");
  auto& g = *m.mutable_graph();
  set_value_info(
      g.add_input(), "input",
      {static_cast<std::int64_t>(chw[0]), static_cast<std::int64_t>(chw[1]), static_cast<std::int64_t>(chw[2])}, true);
  std::string x = "input";
  std::size_t c = chw[0];
  for (std::size_t i = 0; i < stages.size(); ++i) x = add_stage(g, stages[i], i + 1, c, x);
  g.add_output()->set_name(x);
  save(m, path);
}

void write_mlp_with_op(const std::string& path, const std::vector<BuilderLayer>& layers, const std::string& op_type) {
  if (layers.size() < 2) throw std::invalid_argument("write_mlp_with_op: needs at least two layers");
  if (op_type.empty()) throw std::invalid_argument("write_mlp_with_op: empty op_type");
  save(build(layers, {}, op_type), path);
}

}  // namespace nnproof::testing
