// SPDX-License-Identifier: Apache-2.0
// The walk over an ONNX graph: after the model's opset, metadata, input and output (model_info.cpp),
// each node in order, checked to read the chain's current tensor and constants only and handed to its
// operator handler (operators.cpp); ops nnproof cannot prove are refused here, with the reason.
#include "host/onnx/importer.hpp"

#include <onnx/onnx_pb.h>

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace nnproof {
namespace onnx_detail {

// Names come from the file: keep messages one printable line even when a name is hostile.
std::string printable(const std::string& s) {
  constexpr std::size_t kMax = 80;
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < kMax; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  }
  if (s.size() > kMax) out += "...";
  return out;
}

std::string in_quotes(const std::string& s) {
  std::string out = printable(s);  // (not "'" + ...: GCC 12 -Wrestrict false positive at -O3)
  out.insert(out.begin(), '\'');
  out += '\'';
  return out;
}

std::string fmt_double(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string shape_str(const std::vector<std::size_t>& dims) {
  std::string s = "(";
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + ")";
}

namespace {

// Why an op nnproof does not import is refused, and what to do instead: {problem, fix}.
std::pair<std::string, std::string> why_unsupported(const std::string& op) {
  static const std::unordered_set<std::string> nonlinear = {
      "Relu", "LeakyRelu", "PRelu",    "Sigmoid",  "HardSigmoid", "Tanh", "Elu",  "Selu",
      "Celu", "Gelu",      "Softplus", "Softsign", "HardSwish",   "Mish", "Clip", "ThresholdedRelu"};
  static const std::unordered_set<std::string> conv_pool = {"ConvTranspose", "ConvInteger", "LpPool", "GlobalLpPool"};
  // These normalize by statistics of the sample itself, which no fixed affine map computes.
  static const std::unordered_set<std::string> normalization = {"LayerNormalization", "InstanceNormalization",
                                                                "GroupNormalization", "LRN"};
  static const std::unordered_set<std::string> not_field = {
      "Sqrt",   "Reciprocal", "Exp",     "Log",   "Abs",   "Max", "Min",       "Sign",      "Floor",
      "Ceil",   "Round",      "Mod",     "Erf",   "Sin",   "Cos", "ReduceMax", "ReduceMin", "ArgMax",
      "ArgMin", "Less",       "Greater", "Equal", "Where", "Not", "And",       "Or"};
  if (nonlinear.count(op)) return {op + " is not an arithmetic circuit", "use a quadratic activation x*x"};
  if (op == "MaxPool" || op == "GlobalMaxPool")
    return {"max pooling is not an arithmetic circuit", "use sum pooling (AveragePool)"};
  if (conv_pool.count(op))
    return {op + " is not supported", "use Conv and AveragePool (sum pooling), which nnproof imports"};
  if (normalization.count(op))
    return {op + " normalizes by statistics of each sample, which is not an arithmetic circuit",
            "use BatchNormalization (eval mode), which nnproof folds into the neighbouring layer"};
  if (not_field.count(op))
    return {op + " is not arithmetic over the field (only additions and multiplications are)",
            "remove it or fold it into the weights"};
  return {op + " is not supported",
          "nnproof imports MatMul/Gemm/Conv (+ Add bias), zero Pad, AveragePool/GlobalAveragePool, "
          "BatchNormalization and Add/Sub/Mul/Div by constants (folded), Mul(x,x) or Pow(x,2), Flatten, Reshape, "
          "Identity, Dropout and a final Softmax/LogSoftmax"};
}

bool is_supported(const std::string& op) {
  static const std::unordered_set<std::string> ops = {
      "MatMul",  "Gemm",    "Conv",     "Pad",     "AveragePool", "GlobalAveragePool",
      "Add",     "Sub",     "Mul",      "Div",     "Pow",         "BatchNormalization",
      "Flatten", "Reshape", "Identity", "Dropout", "Softmax",     "LogSoftmax"};
  return ops.count(op) != 0;
}

}  // namespace

FloatModel Importer::run() {
  out_.path = path_;
  read_opset();
  read_metadata();
  const auto& g = model_.graph();
  if (g.node_size() == 0) fail("the graph has no nodes", "export a model with at least one MatMul/Gemm layer");
  find_input_and_output();
  for (node_index_ = 0; node_index_ < g.node_size(); ++node_index_) on_node(g.node(node_index_));
  finish();
  return std::move(out_);
}

// The rules every node follows, checked before its handler runs and in this order, so that the
// message names the first one it breaks. A Constant node only adds a constant.
void Importer::on_node(const onnx::NodeProto& n) {
  const std::string& op = n.op_type();
  if (!n.domain().empty() && n.domain() != "ai.onnx")
    fail_node(n, "ops from domain " + in_quotes(n.domain()) + " are not supported",
              "export with standard ONNX ops only");
  if (op == "Constant") return on_constant(n);
  if (fold_constant_op(n)) return;  // a Cast or Transpose of a constant: one more constant
  if (stage_ == Stage::final)
    fail_node(n, "follows the final " + last_op_, "Softmax/LogSoftmax must be the last node (the verifier applies it)");
  if (pending_pad_ && op != "Conv" && op != "AveragePool" && op != "Pad")
    fail_node(n, "reads the output of " + pad_node_ + ", zero padding that only a Conv or AveragePool can take",
              "pad inside the Conv or AveragePool (padding=...), or remove the Pad");
  if (is_shape_op(op)) return on_shape_op(n);  // a side computation: the chain's tensor stays
  if (!is_supported(op)) {
    auto [problem, fix] = why_unsupported(printable(op));
    fail_node(n, problem, fix);
  }
  check_inputs(n);
  dispatch(n);
  advance(n);
}

// One handler per op that is_supported() admits.
void Importer::dispatch(const onnx::NodeProto& n) {
  const std::string& op = n.op_type();
  if (op == "MatMul") return on_matmul(n);
  if (op == "Gemm") return on_gemm(n);
  if (op == "Conv") return on_conv(n);
  if (op == "Pad") return on_pad(n);
  if (op == "AveragePool") return on_average_pool(n, false);
  if (op == "GlobalAveragePool") return on_average_pool(n, true);
  if (op == "Add") return on_add(n);
  if (op == "Sub") return on_sub(n);
  if (op == "Mul") return on_mul(n);
  if (op == "Div") return on_div(n);
  if (op == "BatchNormalization") return on_batch_norm(n);
  if (op == "Pow") return on_pow(n);
  if (op == "Flatten") return on_flatten(n);
  if (op == "Reshape") return on_reshape(n);
  if (op == "Softmax") return on_softmax(n, FinalOp::softmax);
  if (op == "LogSoftmax") return on_softmax(n, FinalOp::log_softmax);
  if (op == "Dropout") return expect_arity(n, 1, 3);  // inference: identity; ratio/training_mode are constants
  expect_arity(n, 1, 1);                              // Identity
}

void Importer::finish() {
  if (pending_pad_)
    fail(pad_node_ + ": the model ends with zero padding", "remove the Pad; nnproof pads inside a Conv or AveragePool");
  if (out_.layers.empty())
    fail("the graph has no MatMul/Gemm/Conv layer",
         "nnproof proves networks of fully connected and convolutional layers");
  if (pending_)
    fail(last_op_ +
             ": the model ends with constants applied after this activation, with no linear layer to fold "
             "them into",
         "end the model with a linear layer (Gemm/MatMul/Conv)");
  for (FloatLayer& layer : out_.layers) seal(layer);
  if (stage_ == Stage::square)
    fail(last_op_ + ": the model ends with an activation, but the last layer must be affine",
         "remove the final activation");
  if (current_ != output_name_)
    fail("the graph output " + in_quotes(output_name_) + " is not the end of the chain (which ends at " +
             in_quotes(current_) + ")",
         "the graph must be a single chain from input to output");
}

// ---- graph plumbing ---------------------------------------------------------------------------

void Importer::expect_arity(const onnx::NodeProto& n, int min_inputs, int max_inputs) const {
  if (n.input_size() < min_inputs || n.input_size() > max_inputs)
    fail_node(n, "has " + std::to_string(n.input_size()) + " inputs",
              "the model does not follow the ONNX spec; re-export it");
  if (n.output_size() < 1 || n.output(0).empty())
    fail_node(n, "has no output", "the model does not follow the ONNX spec; re-export it");
}

void Importer::check_inputs(const onnx::NodeProto& n) const {
  bool reads_activation = false;
  for (int k = 0; k < n.input_size(); ++k) {
    const std::string& in = n.input(k);
    if (in.empty()) continue;  // an omitted optional input
    if (in == current_) {
      reads_activation = true;
    } else if (shapes_.count(in)) {
      if (n.op_type() != "Reshape" || k != 1)
        fail_node(n, "reads " + in_quotes(in) + ", a value computed from a tensor's shape",
                  "only a Reshape's target shape may come from Shape nodes");
    } else if (!constants_.count(in)) {
      if (produced_.count(in))
        fail_node(n,
                  "reads " + in_quotes(in) + ", not the chain's current tensor " + in_quotes(current_) +
                      ": branches and skip connections are not supported",
                  "the graph must be a single chain of layers from input to output");
      fail_node(n, "input " + in_quotes(in) + " is not an initializer and no earlier node produces it",
                "the model is missing a tensor or its nodes are not in topological order; re-export it");
    }
  }
  if (!reads_activation)
    fail_node(n, "computes on constants only (a constant subgraph)",
              "fold constants before import: torch.onnx.export(..., do_constant_folding=True) or onnxsim");
}

void Importer::advance(const onnx::NodeProto& n) {
  for (const auto& out : n.output()) {
    if (out.empty()) continue;
    if (produced_.count(out) || constants_.count(out))
      fail_node(n, "writes " + in_quotes(out) + ", which already exists",
                "ONNX tensors are assigned once; re-export the model");
    produced_.insert(out);
  }
  current_ = n.output(0);
}

const onnx::AttributeProto* Importer::attr(const onnx::NodeProto& n, const std::string& name,
                                           onnx::AttributeProto::AttributeType type) const {
  for (const auto& a : n.attribute()) {
    if (a.name() != name) continue;
    if (a.type() != type) fail_node(n, "attribute " + in_quotes(name) + " has the wrong type", "re-export the model");
    return &a;
  }
  return nullptr;
}

std::int64_t Importer::attr_int(const onnx::NodeProto& n, const std::string& name, std::int64_t fallback) const {
  const auto* a = attr(n, name, onnx::AttributeProto::INT);
  return a ? a->i() : fallback;
}

double Importer::attr_float(const onnx::NodeProto& n, const std::string& name, double fallback) const {
  const auto* a = attr(n, name, onnx::AttributeProto::FLOAT);
  return a ? a->f() : fallback;
}

std::vector<std::int64_t> Importer::attr_ints(const onnx::NodeProto& n, const std::string& name,
                                              std::vector<std::int64_t> fallback) const {
  const auto* a = attr(n, name, onnx::AttributeProto::INTS);
  return a ? std::vector<std::int64_t>(a->ints().begin(), a->ints().end()) : fallback;
}

// The per-sample dims of the chain's tensor where the walk knows them: (features) when flat, (C, H, W)
// for a known image, or the declared input shape while the chain is still at the input.
std::optional<std::vector<std::size_t>> Importer::sample_dims() const {
  if (flat_) return width_ ? std::optional(std::vector<std::size_t>{*width_}) : std::nullopt;
  if (chw_) return std::vector<std::size_t>{(*chw_)[0], (*chw_)[1], (*chw_)[2]};
  if (current_ == input_name_ && !out_.input_shape.empty()) return out_.input_shape;
  return std::nullopt;
}

Tensor Importer::constant_input(const onnx::NodeProto& n, int k) const {
  auto it = k < n.input_size() ? constants_.find(n.input(k)) : constants_.end();
  if (it == constants_.end())
    fail_node(n, "input " + std::to_string(k + 1) + " must be a constant (an initializer or a Constant node)",
              "export the weights as initializers");
  return load(*it->second);
}

void Importer::on_constant(const onnx::NodeProto& n) {
  if (n.output_size() != 1 || n.output(0).empty()) fail_node(n, "has no output", "re-export the model");
  if (n.attribute_size() != 1) fail_node(n, "needs exactly one value attribute", "re-export the model");
  const auto& a = n.attribute(0);
  onnx::TensorProto t;
  if (a.name() == "value" && a.type() == onnx::AttributeProto::TENSOR) {
    t = a.t();
  } else if (a.name() == "value_float" && a.type() == onnx::AttributeProto::FLOAT) {
    t.set_data_type(onnx::TensorProto::FLOAT);
    t.add_float_data(a.f());
  } else if (a.name() == "value_floats" && a.type() == onnx::AttributeProto::FLOATS) {
    t.set_data_type(onnx::TensorProto::FLOAT);
    t.add_dims(a.floats_size());
    *t.mutable_float_data() = a.floats();
  } else if (a.name() == "value_int" && a.type() == onnx::AttributeProto::INT) {
    t.set_data_type(onnx::TensorProto::INT64);
    t.add_int64_data(a.i());
  } else if (a.name() == "value_ints" && a.type() == onnx::AttributeProto::INTS) {
    t.set_data_type(onnx::TensorProto::INT64);
    t.add_dims(a.ints_size());
    *t.mutable_int64_data() = a.ints();
  } else {
    fail_node(n, "value attribute " + in_quotes(a.name()) + " is not supported", "use a dense numeric tensor");
  }
  t.set_name(n.output(0));  // so that messages about the value name the tensor nodes refer to
  owned_.push_back(std::move(t));
  constants_[n.output(0)] = &owned_.back();
}

}  // namespace onnx_detail
}  // namespace nnproof
