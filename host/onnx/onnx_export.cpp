// SPDX-License-Identifier: Apache-2.0
// write_quantized_onnx (onnx_import.hpp): a quantized dense model written back as ONNX in the form
// the importer reads, one Gemm (transB = 1, as nn.Linear exports) per layer and Mul(x, x) between
// layers, float64 throughout, so that import_onnx and quantize_model with the file's scales give
// back exactly the integers written (the trained models of `nnproof train`).
#include <onnx/onnx_pb.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "host/onnx/onnx_import.hpp"

namespace nnproof {
namespace {

// Integers beyond 2^53 have no exact double.
constexpr double kExactDouble = 9007199254740992.0;

std::string to_decimal(i128 v) {
  if (v == 0) return "0";
  const bool neg = v < 0;
  u128 m = neg ? static_cast<u128>(-(v + 1)) + 1 : static_cast<u128>(v);
  std::string s;
  for (; m != 0; m /= 10) s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(m % 10)));
  if (neg) s.insert(s.begin(), '-');
  return s;
}

onnx::TensorProto double_tensor(const std::string& name, const std::vector<std::int64_t>& dims,
                                const std::vector<double>& values) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(onnx::TensorProto::DOUBLE);
  for (auto d : dims) t.add_dims(d);
  std::string raw(values.size() * 8, '\0');  // little-endian by the ONNX spec, whatever the host is
  for (std::size_t i = 0; i < values.size(); ++i) {
    std::uint64_t bits = 0;
    std::memcpy(&bits, &values[i], 8);
    for (unsigned b = 0; b < 8; ++b) raw[i * 8 + b] = static_cast<char>(bits >> (8 * b));
  }
  t.set_raw_data(std::move(raw));
  return t;
}

void set_shape(onnx::ValueInfoProto& v, const std::string& name, const std::vector<std::size_t>& per_sample) {
  v.set_name(name);
  auto* t = v.mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::DOUBLE);
  t->mutable_shape()->add_dim()->set_dim_param("batch");
  for (auto d : per_sample) t->mutable_shape()->add_dim()->set_dim_value(static_cast<std::int64_t>(d));
}

onnx::NodeProto& add_node(onnx::GraphProto& g, const std::string& op, const std::string& name,
                          std::initializer_list<std::string> inputs, const std::string& output) {
  onnx::NodeProto& n = *g.add_node();
  n.set_op_type(op);
  n.set_name(name);
  for (const auto& in : inputs) n.add_input(in);
  n.add_output(output);
  return n;
}

void add_int_attribute(onnx::NodeProto& n, const std::string& name, std::int64_t value) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}

void add_metadata(onnx::ModelProto& m, const std::string& key, const std::string& value) {
  auto* p = m.add_metadata_props();
  p->set_key(key);
  p->set_value(value);
}

// prefix followed by the number, built by appending (GCC 12 warns, falsely, of overlapping copies
// in `"W" + std::to_string(i)` at -O3: -Wrestrict).
std::string named(const char* prefix, std::size_t i) {
  std::string s = prefix;
  s += std::to_string(i);
  return s;
}

std::string exact_double(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", x);  // round-trips exactly
  return buf;
}

}  // namespace

void write_quantized_onnx(const QuantizedModel& model, const std::string& path, std::optional<FieldId> field) {
  model.validate();
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("nnproof");
  auto* opset = m.add_opset_import();
  opset->set_domain("");
  opset->set_version(13);
  onnx::GraphProto& g = *m.mutable_graph();
  g.set_name("nnproof_model");
  const std::vector<std::size_t> in_shape =
      model.input_shape.empty() ? std::vector<std::size_t>{model.in_dim()} : model.input_shape;
  set_shape(*g.add_input(), "input", in_shape);
  std::string current = "input";
  if (in_shape.size() > 1) {  // the user's per-sample shape, flattened as the original model did
    add_int_attribute(add_node(g, "Flatten", "flatten", {current}, "flat"), "axis", 1);
    current = "flat";
  }
  double s_y = model.alpha;  // s_Y(i-1), a power of two for the models the trainer writes
  for (std::size_t i = 0; i < model.depth(); ++i) {
    const QuantizedLayer& l = model.layers[i];
    const std::string layer = "layer " + std::to_string(i + 1);
    if (l.structured())
      throw ModelError(path + ": " + layer + " is structured; only dense models can be written (training is dense)");
    const double s_z = model.beta * s_y;
    // w' = W / beta: the importer reads w', the quantizer rounds beta w' back to W, exactly when W
    // is an integer a double holds and beta w' is W again (any power-of-two beta).
    std::vector<double> w(l.rows * l.cols);
    for (std::size_t t = 0; t < w.size(); ++t) {
      const std::int64_t W = l.weights[t];
      w[t] = static_cast<double>(W) / model.beta;
      if (std::fabs(static_cast<double>(W)) > kExactDouble || std::round(model.beta * w[t]) != static_cast<double>(W))
        throw ModelError(path + ": " + layer + " weight [" + std::to_string(t / l.cols) + "][" +
                         std::to_string(t % l.cols) + "] = " + std::to_string(W) +
                         " has no exact float64 form at beta = " + exact_double(model.beta) +
                         "; use power-of-two scales and keep weights below 2^53");
    }
    // b' = B / s_Z(i), likewise; a bias beyond 2^53 (or otherwise inexact) is written exactly in
    // the metadata entry nnproof.bias.<i> as well, which the importer takes where b' is B rounded.
    std::vector<double> b(l.rows);
    bool exact = true;
    for (std::size_t a = 0; a < l.rows; ++a) {
      b[a] = static_cast<double>(l.bias[a]) / s_z;
      exact = exact && static_cast<i128>(std::round(s_z * b[a])) == l.bias[a];
    }
    if (!exact) {
      std::string list;
      for (std::size_t a = 0; a < l.rows; ++a) {
        if (a) list += ',';
        list += to_decimal(l.bias[a]);
      }
      add_metadata(m, named("nnproof.bias.", i + 1), list);
    }
    const std::string W = named("W", i + 1), B = named("B", i + 1), Z = named("z", i + 1);
    *g.add_initializer() = double_tensor(W, {static_cast<std::int64_t>(l.rows), static_cast<std::int64_t>(l.cols)}, w);
    *g.add_initializer() = double_tensor(B, {static_cast<std::int64_t>(l.rows)}, b);
    add_int_attribute(add_node(g, "Gemm", named("linear", i + 1), {current, W, B}, Z), "transB", 1);
    current = Z;
    if (i + 1 < model.depth()) {
      const std::string Y = named("y", i + 1);
      add_node(g, "Mul", named("square", i + 1), {current, current}, Y);
      current = Y;
    }
    s_y = s_z * s_z;
  }
  if (model.final_op != FinalOp::none) {
    const char* op = model.final_op == FinalOp::softmax ? "Softmax" : "LogSoftmax";
    add_int_attribute(add_node(g, op, "final", {current}, "probabilities"), "axis", 1);
    current = "probabilities";
  }
  set_shape(*g.add_output(), current, {model.out_dim()});
  add_metadata(m, "nnproof.alpha", exact_double(model.alpha));
  add_metadata(m, "nnproof.beta", exact_double(model.beta));
  if (field) add_metadata(m, "nnproof.field", std::string(field_name(*field)));
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f || !m.SerializeToOstream(&f))
    throw ModelError(path + ": cannot write (" + std::strerror(errno) + "); check the path");
}

}  // namespace nnproof
