// SPDX-License-Identifier: Apache-2.0
// write_quantized_onnx (onnx_import.hpp): a quantized model written back as ONNX in the form the
// importer reads, one Gemm (transB = 1, as nn.Linear exports) per dense layer, Conv / AveragePool /
// Gemm nodes and a per-feature bias Add per structured layer, and Mul(x, x) between layers, float64 throughout, so that
// import_onnx and quantize_model with the file's scales give back exactly the integers written (the trained models of
// `nnproof train`).
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>

#include "host/onnx/onnx_import.hpp"
#include "verifier/training/parameters.hpp"

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

void add_ints_attribute(onnx::NodeProto& n, const std::string& name, const std::vector<std::int64_t>& values) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (auto v : values) a->add_ints(v);
}

// w' = W / beta: the importer reads w', the quantizer rounds beta w' back to W, exactly when W is
// an integer a double holds and beta w' is W again (any power-of-two beta). `what` names entry t.
std::vector<double> float_weights(const WeightMatrix& W, double beta, const std::string& path,
                                  const std::function<std::string(std::size_t)>& what) {
  std::vector<double> w(W.size());
  for (std::size_t t = 0; t < w.size(); ++t) {
    const std::int64_t v = W[t];
    w[t] = static_cast<double>(v) / beta;
    if (std::fabs(static_cast<double>(v)) > kExactDouble || std::round(beta * w[t]) != static_cast<double>(v))
      throw ModelError(path + ": " + what(t) + " = " + std::to_string(v) + " has no exact float64 form at beta = " +
                       exact_double(beta) + "; use power-of-two scales and keep weights below 2^53");
  }
  return w;
}

// b' = B / s_Z(i), likewise; a bias beyond 2^53 (or otherwise inexact) is written exactly in the
// metadata entry nnproof.bias.<i> as well, which the importer takes where b' is B rounded.
std::vector<double> float_biases(onnx::ModelProto& m, const QuantizedLayer& l, std::size_t index, double s_z) {
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
    add_metadata(m, named("nnproof.bias.", index), list);
  }
  return b;
}

std::vector<std::int64_t> dims64(const std::vector<std::size_t>& d) { return {d.begin(), d.end()}; }

// The tensor between nodes: its name and per-sample shape ((C, H, W) for an image, (n) when flat).
struct Current {
  std::string name;
  std::vector<std::size_t> shape;
};

// A Conv node without bias (its window attributes follow) with the kernel `w` as written.
onnx::NodeProto& add_conv(onnx::GraphProto& g, const std::string& out, const std::string& in, const ConvShape& c,
                          const std::vector<double>& w) {
  *g.add_initializer() = double_tensor(out + "_W", dims64({c.out_channels, c.group_in(), c.kernel_h, c.kernel_w}), w);
  onnx::NodeProto& n = add_node(g, "Conv", out + "_conv", {in, out + "_W"}, out);
  add_int_attribute(n, "group", static_cast<std::int64_t>(c.groups));
  return n;
}

// A structured layer's ops as nodes the importer reads back into the same ops: a fixed sum pool
// (parameters.hpp) as AveragePool (count_include_pad = 1: the sum of k^2 entries, 1/k^2 in the
// gain), another fixed op as its 0/1 Conv, a trained convolution as Conv without bias, a dense op as Flatten (after an
// image) and Gemm without bias; then the per-feature biases as one Add. The layer's gain must be what the importer will
// compute again: beta per trained op times k^2 per pool.
void write_structured(onnx::ModelProto& m, const QuantizedModel& model, std::size_t index, double s_z, Current& cur,
                      const std::string& path) {
  onnx::GraphProto& g = *m.mutable_graph();
  const QuantizedLayer& l = model.layers[index - 1];
  const std::string layer = "layer " + std::to_string(index);
  double gain = 1;
  for (std::size_t k = 0; k < l.ops.size(); ++k) {
    const LinearOp& op = l.ops[k];
    const std::string where = layer + " op " + std::to_string(k + 1), out = named("t", index) + "_" + std::to_string(k);
    if (op.kind == LinearOp::Kind::dense) {
      if (cur.shape.size() > 1) {
        add_int_attribute(add_node(g, "Flatten", out + "_flatten", {cur.name}, out + "_flat"), "axis", 1);
        cur.name = out + "_flat";
      }
      const auto w = float_weights(op.weights, model.beta, path, [&](std::size_t t) {
        return where + " weight [" + std::to_string(t / op.cols) + "][" + std::to_string(t % op.cols) + "]";
      });
      *g.add_initializer() = double_tensor(out + "_W", dims64({op.rows, op.cols}), w);
      add_int_attribute(add_node(g, "Gemm", out + "_linear", {cur.name, out + "_W"}, out), "transB", 1);
      cur = {out, {op.rows}};
      gain *= model.beta;
      continue;
    }
    const ConvShape& c = op.conv;
    if (cur.shape != std::vector<std::size_t>{c.in_channels, c.in_h, c.in_w})
      throw ModelError(path + ": " + where +
                       " is a convolution of a tensor without its image shape; it cannot be written");
    onnx::NodeProto* n = nullptr;
    // A depthwise ones kernel the importer read from a Conv (gain 1) stays a Conv: as AveragePool
    // it would read back with gain k^2.
    if (op.fixed && op.is_ones_pool() && op.fixed_gain == static_cast<double>(c.kernel_h * c.kernel_w)) {
      n = &add_node(g, "AveragePool", out + "_pool", {cur.name}, out);
      add_int_attribute(*n, "count_include_pad", 1);
      gain *= static_cast<double>(c.kernel_h * c.kernel_w);
    } else if (op.fixed) {
      // The importer's exact 0/1 Conv (no bias): its integers written as they are read back.
      n = &add_conv(g, out, cur.name, c, float_weights(op.weights, 1.0, path, [&](std::size_t t) {
                      return where + " kernel entry [" + std::to_string(t) + "]";
                    }));
    } else {
      const auto w = float_weights(op.weights, model.beta, path,
                                   [&](std::size_t t) { return where + " kernel entry [" + std::to_string(t) + "]"; });
      // A kernel of only 0s and 1s reads back as an exact sum pool (operators.cpp), not trained at
      // beta: a trained op that would read back fixed cannot be written (at beta = 1 too).
      if (std::all_of(w.begin(), w.end(), [](double v) { return v == 0 || v == 1; }))
        throw ModelError(path + ": " + where + " has a trained kernel of only 0 and beta, which reads back as a " +
                         "fixed sum pool; it cannot be written exactly");
      n = &add_conv(g, out, cur.name, c, w);
      gain *= model.beta;
    }
    add_ints_attribute(*n, "kernel_shape", dims64({c.kernel_h, c.kernel_w}));
    add_ints_attribute(*n, "strides", dims64({c.stride_h, c.stride_w}));
    add_ints_attribute(*n, "pads", dims64({c.pad_top, c.pad_left, c.pad_bottom, c.pad_right}));
    cur = {out, {c.out_channels, c.out_h(), c.out_w()}};
  }
  if (gain != l.gain.value_or(model.beta))
    throw ModelError(path + ": " + layer + " has scale gain " + exact_double(l.gain.value_or(model.beta)) +
                     " where its ops written as Conv / AveragePool / Gemm give " + exact_double(gain) +
                     "; it cannot be written exactly");
  const std::string B = named("B", index), Z = named("z", index);
  *g.add_initializer() = double_tensor(B, dims64(cur.shape), float_biases(m, l, index, s_z));
  add_node(g, "Add", named("bias", index), {cur.name, B}, Z);
  cur.name = Z;
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
  // An image input stays an image where the first op convolves it; otherwise it is flattened as
  // the original model did.
  const QuantizedLayer& first = model.layers.front();
  const bool image_in = in_shape.size() == 3 && first.structured() && first.ops.front().kind == LinearOp::Kind::conv;
  Current cur{"input", image_in ? in_shape : std::vector<std::size_t>{model.in_dim()}};
  if (in_shape.size() > 1 && !image_in) {
    add_int_attribute(add_node(g, "Flatten", "flatten", {cur.name}, "flat"), "axis", 1);
    cur.name = "flat";
  }
  double s_y = model.alpha;  // s_Y(i-1), a power of two for the models the trainer writes
  for (std::size_t i = 0; i < model.depth(); ++i) {
    const QuantizedLayer& l = model.layers[i];
    const std::string layer = "layer " + std::to_string(i + 1);
    const double s_z = l.gain.value_or(model.beta) * s_y;
    if (l.structured()) {
      write_structured(m, model, i + 1, s_z, cur, path);
    } else {
      if (cur.shape.size() > 1) {
        add_int_attribute(add_node(g, "Flatten", named("flatten", i + 1), {cur.name}, named("flat", i + 1)), "axis", 1);
        cur.name = named("flat", i + 1);
      }
      const auto w = float_weights(l.weights, model.beta, path, [&](std::size_t t) {
        return layer + " weight [" + std::to_string(t / l.cols) + "][" + std::to_string(t % l.cols) + "]";
      });
      const std::string W = named("W", i + 1), B = named("B", i + 1), Z = named("z", i + 1);
      *g.add_initializer() = double_tensor(W, dims64({l.rows, l.cols}), w);
      *g.add_initializer() = double_tensor(B, dims64({l.rows}), float_biases(m, l, i + 1, s_z));
      add_int_attribute(add_node(g, "Gemm", named("linear", i + 1), {cur.name, W, B}, Z), "transB", 1);
      cur = {Z, {l.rows}};
    }
    if (i + 1 < model.depth()) {
      const std::string Y = named("y", i + 1);
      add_node(g, "Mul", named("square", i + 1), {cur.name, cur.name}, Y);
      cur.name = Y;
    }
    s_y = s_z * s_z;
  }
  if (model.final_op != FinalOp::none) {
    const char* op = model.final_op == FinalOp::softmax ? "Softmax" : "LogSoftmax";
    add_int_attribute(add_node(g, op, "final", {cur.name}, "probabilities"), "axis", 1);
    cur.name = "probabilities";
  }
  set_shape(*g.add_output(), cur.name, cur.shape);
  add_metadata(m, "nnproof.alpha", exact_double(model.alpha));
  add_metadata(m, "nnproof.beta", exact_double(model.beta));
  if (field) add_metadata(m, "nnproof.field", std::string(field_name(*field)));
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f || !m.SerializeToOstream(&f))
    throw ModelError(path + ": cannot write (" + std::strerror(errno) + "); check the path");
}

}  // namespace nnproof
