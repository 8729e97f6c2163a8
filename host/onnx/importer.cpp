// SPDX-License-Identifier: Apache-2.0
// The walk over an ONNX graph: the model's opset and scales, its one input and output, then each
// node in order, checked to read the chain's current tensor and constants only and handed to its
// operator handler (operators.cpp); ops nnproof cannot prove are refused here, with the reason.
#include "host/onnx/importer.hpp"

#include <onnx/onnx_pb.h>

#include <charconv>
#include <cmath>
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

// Without an entry for the default domain opset 13 stands; Softmax's default axis depends on it.
void Importer::read_opset() {
  for (const auto& o : model_.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") opset_ = o.version();
}

// The scales `nnproof quantize` stores in the file (write_onnx_with_scales), when present.
void Importer::read_metadata() {
  for (const auto& p : model_.metadata_props()) {
    if (p.key() == "nnproof.alpha") out_.alpha = parse_scale(p.key(), p.value());
    if (p.key() == "nnproof.beta") out_.beta = parse_scale(p.key(), p.value());
    if (p.key() == kFieldKey) out_.field = parse_field(p.value());
    if (p.key() == kInputRangeKey) out_.input_range = parse_input_range(p.value());
    if (p.key().starts_with(kExactBiasKey)) read_exact_bias(p.key(), p.value());
  }
}

// "nnproof.bias.<i>" = "<B_1>,<B_2>,...": layer i's exact biases (write_quantized_onnx), each an
// integer below 2^126 in magnitude as the quantizer's biases are. Their count is checked against
// the layer by the quantizer, which knows the layers.
void Importer::read_exact_bias(const std::string& key, const std::string& value) {
  auto bad = [&](const std::string& why) -> void {
    fail("metadata " + printable(key) + " " + why, "remove the entry or write the model again with nnproof");
  };
  const std::string index = key.substr(std::string(kExactBiasKey).size());
  std::size_t layer = 0;
  const auto [end, ec] = std::from_chars(index.data(), index.data() + index.size(), layer);
  if (index.empty() || ec != std::errc{} || end != index.data() + index.size() || layer == 0 || layer > kMaxElements)
    bad("does not name a layer (nnproof.bias.1, nnproof.bias.2, ...)");
  std::vector<i128> values;
  const u128 limit = u128{1} << 126;
  std::size_t i = 0;
  while (i <= value.size()) {
    if (values.size() >= kMaxElements) bad("holds too many values");
    const bool negative = i < value.size() && value[i] == '-';
    std::size_t k = i + (negative ? 1 : 0);
    u128 m = 0;
    const std::size_t digits_from = k;
    for (; k < value.size() && value[k] >= '0' && value[k] <= '9'; ++k) {
      m = m * 10 + static_cast<unsigned>(value[k] - '0');
      if (m >= limit) bad("holds an integer of 2^126 or more");
    }
    if (k == digits_from || (k < value.size() && value[k] != ',')) bad("is not a comma-separated list of integers");
    values.push_back(negative ? -static_cast<i128>(m) : static_cast<i128>(m));
    i = k + 1;
  }
  out_.exact_biases[layer] = std::move(values);
}

// nnproof.field: the field of proof files `nnproof quantize` chose for the model.
FieldId Importer::parse_field(const std::string& value) const {
  for (FieldId id : {FieldId::m61, FieldId::m127})
    if (value == field_name(id)) return id;
  fail(std::string("metadata ") + kFieldKey + " = " + in_quotes(value) + " is not a proof field",
       "set it to \"m61\" or \"m127\", or remove it");
}

// nnproof.input_range = "<lo>,<hi>": the smallest and largest calibration input (written by
// `nnproof quantize`), for the warning about inputs far outside it.
InputRange Importer::parse_input_range(const std::string& value) const {
  InputRange r;
  const char* end = value.data() + value.size();
  const auto comma = value.find(',');
  const char* mid = value.data() + (comma == std::string::npos ? value.size() : comma);
  const auto [lo_end, lo_ec] = std::from_chars(value.data(), mid, r.lo);
  const auto [hi_end, hi_ec] = comma == std::string::npos ? std::from_chars_result{mid, std::errc::invalid_argument}
                                                          : std::from_chars(mid + 1, end, r.hi);
  if (lo_ec != std::errc{} || lo_end != mid || hi_ec != std::errc{} || hi_end != end || !std::isfinite(r.lo) ||
      !std::isfinite(r.hi) || r.lo > r.hi)
    fail(std::string("metadata ") + kInputRangeKey + " = " + in_quotes(value) + " is not a range \"lo,hi\"",
         "set it to the calibration inputs' smallest and largest value, e.g. \"0,1\", or remove it");
  return r;
}

double Importer::parse_scale(const std::string& key, const std::string& value) const {
  double v = 0;
  const char* end = value.data() + value.size();
  auto [ptr, ec] = std::from_chars(value.data(), end, v);
  if (value.empty() || ec != std::errc{} || ptr != end || !std::isfinite(v) || v <= 0)
    fail("metadata " + key + " = " + in_quotes(value) + " is not a finite positive number",
         "set it to the quantization scale, e.g. \"16\"");
  return v;
}

void Importer::find_input_and_output() {
  const auto& g = model_.graph();
  for (const auto& t : g.initializer()) constants_[t.name()] = &t;
  std::vector<const onnx::ValueInfoProto*> inputs;  // inputs that are initializers are weights, not data
  for (const auto& in : g.input())
    if (!constants_.count(in.name())) inputs.push_back(&in);
  if (inputs.empty())
    fail("the graph has no input (every graph input is an initializer)", "export the model with a data input");
  if (inputs.size() > 1) {
    std::string names;
    for (const auto* in : inputs) names += (names.empty() ? "" : ", ") + in_quotes(in->name());
    fail("the graph has " + std::to_string(inputs.size()) + " inputs (" + names + ")",
         "nnproof proves networks with one input tensor");
  }
  if (g.output_size() != 1)
    fail("the graph has " + std::to_string(g.output_size()) + " outputs", "export a model with exactly one output");
  input_name_ = current_ = inputs[0]->name();
  output_name_ = g.output(0).name();
  produced_.insert(input_name_);
  read_input_shape(*inputs[0]);
}

// Learns the feature count from the declared input shape when it is static, so that the first
// layer's width is checked too; a missing shape just leaves it unchecked.
void Importer::read_input_shape(const onnx::ValueInfoProto& v) {
  if (!v.type().has_tensor_type() || !v.type().tensor_type().has_shape()) return;
  const auto& shape = v.type().tensor_type().shape();
  if (shape.dim_size() < 2)
    fail("input " + in_quotes(v.name()) + " has rank " + std::to_string(shape.dim_size()) +
             ", expected (batch, features)",
         "export with a batch dimension");
  flat_ = shape.dim_size() == 2;
  std::uint64_t w = 1;
  std::vector<std::size_t> dims;
  for (int i = 1; i < shape.dim_size(); ++i) {
    const auto& d = shape.dim(i);
    if (!d.has_dim_value() || d.dim_value() <= 0) return;
    if (static_cast<std::uint64_t>(d.dim_value()) > kMaxElements || (w *= d.dim_value()) > kMaxElements)
      fail("input " + in_quotes(v.name()) + " has more than 2^31 features per sample",
           "nnproof refuses inputs this large");
    dims.push_back(static_cast<std::size_t>(d.dim_value()));
  }
  width_ = w;
  out_.input_shape = dims;
  if (dims.size() == 3) chw_ = std::array<std::size_t, 3>{dims[0], dims[1], dims[2]};
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
