#include "host/onnx/onnx_import.hpp"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace nnproof {
namespace {

// The largest tensor we agree to hold: far above any network nnproof can prove, far below what a
// hostile dims field could make us allocate.
constexpr std::uint64_t kMaxElements = std::uint64_t{1} << 31;
// Features per sample of any tensor in the chain. A convolution's output size comes from the
// declared input shape, not from data present in the file, so it is bounded separately: 2^26 is
// far above any network nnproof can prove in reasonable time (a 224 x 224 x 64 map is 2^21.6).
constexpr std::uint64_t kMaxFeatures = std::uint64_t{1} << 26;
// Kernel taps of one op over all its outputs (the verifier's O(nnz) work, the prover's per sample):
// CNN-2-Quad has 2^20; 2^32 keeps a hostile model from asking for hours of work.
constexpr std::uint64_t kMaxTaps = std::uint64_t{1} << 32;
// Integers beyond 2^53 do not survive the trip through double.
constexpr double kMaxExactInteger = 9007199254740992.0;

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

// raw_data is little-endian by the ONNX spec, whatever the host is.
template <class U>
U load_le(const char* p) {
  U v = 0;
  for (std::size_t i = 0; i < sizeof(U); ++i) v |= static_cast<U>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

// Bytes per element in raw_data for the element types we read; 0 for the others.
std::size_t element_size(int type) {
  switch (type) {
    case onnx::TensorProto::INT8:
    case onnx::TensorProto::UINT8: return 1;
    case onnx::TensorProto::INT16:
    case onnx::TensorProto::UINT16: return 2;
    case onnx::TensorProto::FLOAT:
    case onnx::TensorProto::INT32: return 4;
    case onnx::TensorProto::DOUBLE:
    case onnx::TensorProto::INT64: return 8;
    default: return 0;
  }
}

bool is_integer_type(int type) { return type != onnx::TensorProto::FLOAT && type != onnx::TensorProto::DOUBLE; }

// raw_data of `count` elements of `type` (screened by element_size()) as doubles: one loop per
// type, so that the compiler turns each into plain loads and conversions (a switch per element
// was ~10% of loading a 12M-weight model).
template <class T, class U>
void decode_as(const char* p, std::size_t count, double* out) {
  for (std::size_t i = 0; i < count; ++i) out[i] = static_cast<double>(std::bit_cast<T>(load_le<U>(p + i * sizeof(U))));
}

void decode_raw(int type, const char* p, std::size_t count, double* out) {
  switch (type) {
    case onnx::TensorProto::INT8: return decode_as<std::int8_t, std::uint8_t>(p, count, out);
    case onnx::TensorProto::UINT8: return decode_as<std::uint8_t, std::uint8_t>(p, count, out);
    case onnx::TensorProto::INT16: return decode_as<std::int16_t, std::uint16_t>(p, count, out);
    case onnx::TensorProto::UINT16: return decode_as<std::uint16_t, std::uint16_t>(p, count, out);
    case onnx::TensorProto::FLOAT: return decode_as<float, std::uint32_t>(p, count, out);
    case onnx::TensorProto::INT32: return decode_as<std::int32_t, std::uint32_t>(p, count, out);
    case onnx::TensorProto::DOUBLE: return decode_as<double, std::uint64_t>(p, count, out);
    case onnx::TensorProto::INT64: return decode_as<std::int64_t, std::uint64_t>(p, count, out);
    default: return;  // unreachable: element_size() screened the type
  }
}

std::string type_name(int type) {
  std::string name = onnx::TensorProto_DataType_Name(type);
  return name.empty() ? "#" + std::to_string(type) : name;
}

// Why an op nnproof does not import is refused, and what to do instead: {problem, fix}.
std::pair<std::string, std::string> why_unsupported(const std::string& op) {
  static const std::unordered_set<std::string> nonlinear = {
      "Relu", "LeakyRelu", "PRelu",    "Sigmoid", "HardSigmoid", "Tanh", "Elu", "Selu",
      "Celu", "Gelu",      "Softplus", "Softsign", "HardSwish",  "Mish", "Clip", "ThresholdedRelu"};
  static const std::unordered_set<std::string> conv_pool = {"ConvTranspose", "ConvInteger", "LpPool", "GlobalLpPool"};
  static const std::unordered_set<std::string> normalization = {"BatchNormalization", "LayerNormalization",
                                                                "InstanceNormalization", "GroupNormalization",
                                                                "LRN"};
  static const std::unordered_set<std::string> not_field = {
      "Div", "Sqrt", "Reciprocal", "Exp", "Log", "Abs", "Max", "Min", "Sign", "Floor", "Ceil", "Round", "Mod", "Erf",
      "Sin", "Cos", "ReduceMax", "ReduceMin", "ArgMax", "ArgMin", "Less", "Greater", "Equal", "Where", "Not", "And", "Or"};
  if (nonlinear.count(op)) return {op + " is not an arithmetic circuit", "use a quadratic activation x*x"};
  if (op == "MaxPool" || op == "GlobalMaxPool")
    return {"max pooling is not an arithmetic circuit", "use sum pooling (AveragePool)"};
  if (conv_pool.count(op))
    return {op + " is not supported", "use Conv and AveragePool (sum pooling), which nnproof imports"};
  if (normalization.count(op))
    return {op + " is not supported", "fold the normalization into the neighbouring layer's weights and bias before export"};
  if (op == "Sub") return {"Sub is not supported", "fold the subtracted constant into the previous layer's bias"};
  if (not_field.count(op))
    return {op + " is not arithmetic over the field (only additions and multiplications are)",
            "remove it or fold it into the weights"};
  return {op + " is not supported",
          "nnproof imports MatMul/Gemm/Conv (+ Add bias), AveragePool/GlobalAveragePool, Mul(x,x) or Pow(x,2), "
          "Flatten, Reshape, Identity, Dropout and a final Softmax/LogSoftmax"};
}

bool is_supported(const std::string& op) {
  static const std::unordered_set<std::string> ops = {"MatMul",  "Gemm",        "Conv",
                                                      "AveragePool", "GlobalAveragePool", "Add",
                                                      "Mul",     "Pow",         "Flatten",
                                                      "Reshape", "Identity",    "Dropout",
                                                      "Softmax", "LogSoftmax"};
  return ops.count(op) != 0;
}

// y = op(x) in float, for carrying a bias through the ops that follow it.
std::vector<double> apply_float(const FloatOp& op, const std::vector<double>& x) {
  std::vector<double> y(op.rows, 0.0);
  for (std::size_t a = 0; a < op.rows; ++a) {
    if (op.kind == LinearOp::Kind::dense) {
      for (std::size_t j = 0; j < op.cols; ++j) y[a] += op.weights[a * op.cols + j] * x[j];
    } else {
      for_each_tap(op.conv, a, [&](std::size_t j, std::size_t t) { y[a] += op.weights[t] * x[j]; });
    }
    y[a] *= op.factor;
  }
  return y;
}

// A chain of fully connected ops becomes one dense matrix (PROTOCOL.md section 2), quantized once:
// more precise than rounding each factor, and the protocol then sees an ordinary dense layer. Only
// when the product is no larger than its factors together (an n -> 1 -> n chain would multiply out
// to n^2 entries from 2n): otherwise the ops stay a structured chain.
void seal(FloatLayer& layer) {
  std::uint64_t factors = 0;
  for (const FloatOp& op : layer.ops) {
    if (op.kind != LinearOp::Kind::dense || op.exact) return;
    factors += static_cast<std::uint64_t>(op.rows) * op.cols;
  }
  if (static_cast<std::uint64_t>(layer.rows) * layer.cols > factors) return;
  std::vector<double> product = std::move(layer.ops.front().weights);  // rows_0 x cols
  std::size_t rows = layer.ops.front().rows;
  for (std::size_t i = 1; i < layer.ops.size(); ++i) {
    const FloatOp& op = layer.ops[i];  // op.rows x rows
    std::vector<double> next(op.rows * layer.cols, 0.0);
    for (std::size_t a = 0; a < op.rows; ++a)
      for (std::size_t m = 0; m < rows; ++m) {
        const double w = op.weights[a * rows + m];
        if (w == 0) continue;
        for (std::size_t j = 0; j < layer.cols; ++j) next[a * layer.cols + j] += w * product[m * layer.cols + j];
      }
    product = std::move(next);
    rows = op.rows;
  }
  layer.weights = std::move(product);
  layer.ops.clear();
}

struct Tensor {
  std::vector<std::size_t> dims;
  std::vector<double> values;
  std::size_t rank() const { return dims.size(); }
};

// Walks the node list once, growing a chain of affine layers. current_ names the activation tensor
// (the chain's head); every node must read it and may read constants only, which is what makes the
// graph a single chain and lets us report the first node that breaks the rule.
class Importer {
 public:
  Importer(std::string path, const onnx::ModelProto& model) : path_(std::move(path)), model_(model) {}
  FloatModel run();

 private:
  enum class Stage { start, linear, square, final };

  [[noreturn]] void fail(const std::string& problem, const std::string& fix = {}) const {
    throw ModelError(path_ + ": " + problem + (fix.empty() ? "" : "; " + fix));
  }
  [[noreturn]] void fail_node(const onnx::NodeProto& n, const std::string& problem, const std::string& fix = {}) const {
    fail(describe(n) + ": " + problem, fix);
  }
  std::string describe(const onnx::NodeProto& n) const {
    std::string who = n.name().empty() ? "node #" + std::to_string(node_index_) : "node " + in_quotes(n.name());
    return who + " (" + printable(n.op_type()) + ")";
  }

  void read_opset();
  void read_metadata();
  double parse_scale(const std::string& key, const std::string& value) const;
  void find_input_and_output();
  void read_input_shape(const onnx::ValueInfoProto& v);
  void on_node(const onnx::NodeProto& n);
  void finish();

  void on_constant(const onnx::NodeProto& n);
  void on_matmul(const onnx::NodeProto& n);
  void on_conv(const onnx::NodeProto& n);
  void on_average_pool(const onnx::NodeProto& n, bool global);
  void on_gemm(const onnx::NodeProto& n);
  void on_add(const onnx::NodeProto& n);
  void on_mul(const onnx::NodeProto& n);
  void on_pow(const onnx::NodeProto& n);
  void on_flatten(const onnx::NodeProto& n);
  void on_reshape(const onnx::NodeProto& n);
  void on_softmax(const onnx::NodeProto& n, FinalOp op);

  void expect_arity(const onnx::NodeProto& n, int min_inputs, int max_inputs) const;
  void check_inputs(const onnx::NodeProto& n) const;
  void advance(const onnx::NodeProto& n);
  const onnx::AttributeProto* attr(const onnx::NodeProto& n, const std::string& name,
                                   onnx::AttributeProto::AttributeType type) const;
  std::int64_t attr_int(const onnx::NodeProto& n, const std::string& name, std::int64_t fallback) const;
  double attr_float(const onnx::NodeProto& n, const std::string& name, double fallback) const;
  std::vector<std::int64_t> attr_ints(const onnx::NodeProto& n, const std::string& name, std::vector<std::int64_t> fallback) const;
  void expect_no_auto_pad(const onnx::NodeProto& n) const;
  void expect_unit_dilations(const onnx::NodeProto& n) const;
  const std::array<std::size_t, 3>& spatial_input(const onnx::NodeProto& n) const;
  ConvShape window_shape(const onnx::NodeProto& n, std::size_t kernel_h, std::size_t kernel_w) const;
  Tensor constant_input(const onnx::NodeProto& n, int k) const;
  Tensor load(const onnx::TensorProto& t) const;

  FloatLayer make_layer(const onnx::NodeProto& n, Tensor w, bool input_major) const;
  void add_bias(const onnx::NodeProto& n, FloatLayer& layer, const Tensor& b, const std::string& name) const;
  void add_linear(const onnx::NodeProto& n, FloatLayer layer);
  void add_op(const onnx::NodeProto& n, FloatOp op, std::vector<double> bias);
  void check_size(const onnx::NodeProto& n, const FloatOp& op) const;  // before anything is sized by it
  void finish_window(const onnx::NodeProto& n, FloatOp& op) const;
  void add_square(const onnx::NodeProto& n);

  std::string path_;
  const onnx::ModelProto& model_;
  FloatModel out_;
  std::int64_t opset_ = 13;
  std::unordered_map<std::string, const onnx::TensorProto*> constants_;  // initializers and Constant outputs
  std::deque<onnx::TensorProto> owned_;  // Constant node values (a deque keeps their addresses stable)
  std::unordered_set<std::string> produced_;  // every tensor computed so far, the graph input included
  std::string current_, input_name_, output_name_;
  std::optional<std::size_t> width_;  // features per sample of current_, when known
  bool flat_ = true;                  // current_ is (batch, features), as MatMul/Gemm need
  std::optional<std::array<std::size_t, 3>> chw_;  // (C, H, W) of current_ when it is a known image
  Stage stage_ = Stage::start;
  std::string last_op_;  // describe() of the last linear / square / final node, for structure errors
  int node_index_ = 0;
};

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

void Importer::read_opset() {
  for (const auto& o : model_.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") opset_ = o.version();
}

void Importer::read_metadata() {
  for (const auto& p : model_.metadata_props()) {
    if (p.key() == "nnproof.alpha") out_.alpha = parse_scale(p.key(), p.value());
    if (p.key() == "nnproof.beta") out_.beta = parse_scale(p.key(), p.value());
  }
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
  if (inputs.empty()) fail("the graph has no input (every graph input is an initializer)", "export the model with a data input");
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
    fail("input " + in_quotes(v.name()) + " has rank " + std::to_string(shape.dim_size()) + ", expected (batch, features)",
         "export with a batch dimension");
  flat_ = shape.dim_size() == 2;
  std::uint64_t w = 1;
  std::vector<std::size_t> dims;
  for (int i = 1; i < shape.dim_size(); ++i) {
    const auto& d = shape.dim(i);
    if (!d.has_dim_value() || d.dim_value() <= 0) return;
    if (static_cast<std::uint64_t>(d.dim_value()) > kMaxElements || (w *= d.dim_value()) > kMaxElements)
      fail("input " + in_quotes(v.name()) + " has more than 2^31 features per sample", "nnproof refuses inputs this large");
    dims.push_back(static_cast<std::size_t>(d.dim_value()));
  }
  width_ = w;
  out_.input_shape = dims;
  if (dims.size() == 3) chw_ = std::array<std::size_t, 3>{dims[0], dims[1], dims[2]};
}

void Importer::on_node(const onnx::NodeProto& n) {
  const std::string& op = n.op_type();
  if (!n.domain().empty() && n.domain() != "ai.onnx")
    fail_node(n, "ops from domain " + in_quotes(n.domain()) + " are not supported", "export with standard ONNX ops only");
  if (op == "Constant") return on_constant(n);
  if (stage_ == Stage::final)
    fail_node(n, "follows the final " + last_op_, "Softmax/LogSoftmax must be the last node (the verifier applies it)");
  if (!is_supported(op)) {
    auto [problem, fix] = why_unsupported(printable(op));
    fail_node(n, problem, fix);
  }
  check_inputs(n);
  if (op == "MatMul") on_matmul(n);
  else if (op == "Gemm") on_gemm(n);
  else if (op == "Conv") on_conv(n);
  else if (op == "AveragePool") on_average_pool(n, false);
  else if (op == "GlobalAveragePool") on_average_pool(n, true);
  else if (op == "Add") on_add(n);
  else if (op == "Mul") on_mul(n);
  else if (op == "Pow") on_pow(n);
  else if (op == "Flatten") on_flatten(n);
  else if (op == "Reshape") on_reshape(n);
  else if (op == "Softmax") on_softmax(n, FinalOp::softmax);
  else if (op == "LogSoftmax") on_softmax(n, FinalOp::log_softmax);
  else if (op == "Dropout") expect_arity(n, 1, 3);  // inference: identity; ratio/training_mode are constants
  else expect_arity(n, 1, 1);                       // Identity
  advance(n);
}

void Importer::finish() {
  for (FloatLayer& layer : out_.layers) seal(layer);
  if (out_.layers.empty())
    fail("the graph has no MatMul/Gemm/Conv layer", "nnproof proves networks of fully connected and convolutional layers");
  if (stage_ == Stage::square)
    fail(last_op_ + ": the model ends with an activation, but the last layer must be affine",
         "remove the final activation");
  if (current_ != output_name_)
    fail("the graph output " + in_quotes(output_name_) + " is not the end of the chain (which ends at " + in_quotes(current_) +
             ")",
         "the graph must be a single chain from input to output");
}

// ---- graph plumbing ---------------------------------------------------------------------------

void Importer::expect_arity(const onnx::NodeProto& n, int min_inputs, int max_inputs) const {
  if (n.input_size() < min_inputs || n.input_size() > max_inputs)
    fail_node(n, "has " + std::to_string(n.input_size()) + " inputs", "the model does not follow the ONNX spec; re-export it");
  if (n.output_size() < 1 || n.output(0).empty())
    fail_node(n, "has no output", "the model does not follow the ONNX spec; re-export it");
}

void Importer::check_inputs(const onnx::NodeProto& n) const {
  bool reads_activation = false;
  for (const auto& in : n.input()) {
    if (in.empty()) continue;  // an omitted optional input
    if (in == current_) {
      reads_activation = true;
    } else if (!constants_.count(in)) {
      if (produced_.count(in))
        fail_node(n, "reads " + in_quotes(in) + ", not the chain's current tensor " + in_quotes(current_) +
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
      fail_node(n, "writes " + in_quotes(out) + ", which already exists", "ONNX tensors are assigned once; re-export the model");
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

// ---- tensors ----------------------------------------------------------------------------------

// Reads an initializer, trusting nothing: the dims product is bounded before use and compared with
// the data actually present before anything is allocated.
Tensor Importer::load(const onnx::TensorProto& t) const {
  const std::string what = "tensor " + in_quotes(t.name());
  if (t.data_location() == onnx::TensorProto::EXTERNAL)
    fail(what + " is stored outside the file (external data)",
         "save the model as one file: onnx.save_model(model, path, save_as_external_data=False)");
  const int type = t.data_type();
  if (element_size(type) == 0)
    fail(what + " has element type " + type_name(type), "store weights as float32, float64 or integers");
  Tensor out;
  std::uint64_t count = 1;
  for (auto d : t.dims()) {
    if (d < 0) fail(what + " has a negative dimension", "the file is corrupt; re-export it");
    if (static_cast<std::uint64_t>(d) > kMaxElements || (count *= d) > kMaxElements)
      fail(what + " has more than 2^31 elements", "nnproof refuses tensors this large");
    out.dims.push_back(static_cast<std::size_t>(d));
  }
  auto check_count = [&](std::size_t have) {
    if (have != count)
      fail(what + " holds " + std::to_string(have) + " values but its shape " + shape_str(out.dims) + " needs " +
               std::to_string(count),
           "the file is corrupt; re-export it");
  };
  if (t.has_raw_data()) {
    const std::string& raw = t.raw_data();
    const std::size_t es = element_size(type);
    if (raw.size() != count * es)
      fail(what + " holds " + std::to_string(raw.size()) + " bytes of data but its shape " + shape_str(out.dims) +
               " needs " + std::to_string(count * es),
           "the file is corrupt; re-export it");
    out.values.resize(count);
    decode_raw(type, raw.data(), count, out.values.data());
  } else if (type == onnx::TensorProto::FLOAT) {
    check_count(t.float_data_size());
    out.values.assign(t.float_data().begin(), t.float_data().end());
  } else if (type == onnx::TensorProto::DOUBLE) {
    check_count(t.double_data_size());
    out.values.assign(t.double_data().begin(), t.double_data().end());
  } else if (type == onnx::TensorProto::INT64) {
    check_count(t.int64_data_size());
    out.values.assign(t.int64_data().begin(), t.int64_data().end());
  } else {  // INT8, UINT8, INT16, UINT16, INT32 all live in int32_data
    check_count(t.int32_data_size());
    out.values.assign(t.int32_data().begin(), t.int32_data().end());
  }
  for (double v : out.values) {
    if (!std::isfinite(v)) fail(what + " holds NaN or infinity", "fix the trained weights");
    if (is_integer_type(type) && std::fabs(v) > kMaxExactInteger)
      fail(what + " holds an integer beyond 2^53", "nnproof reads weights as doubles; scale the weights down");
  }
  return out;
}

// ---- layers -----------------------------------------------------------------------------------

// input_major: w is stored (n_in, n_out) as MatMul and Gemm(transB=0) use it, so transpose into
// the rows = outputs layout of PROTOCOL.md section 2. Otherwise (nn.Linear's Gemm, transB=1) the
// values are already in that layout and are moved, not copied.
FloatLayer Importer::make_layer(const onnx::NodeProto& n, Tensor w, bool input_major) const {
  if (w.rank() != 2)
    fail_node(n, "weight " + in_quotes(n.input(1)) + " has shape " + shape_str(w.dims) + ", expected a matrix",
              "export fully connected layers (nn.Linear)");
  FloatLayer l;
  l.rows = input_major ? w.dims[1] : w.dims[0];
  l.cols = input_major ? w.dims[0] : w.dims[1];
  if (l.rows == 0 || l.cols == 0) fail_node(n, "weight has an empty dimension " + shape_str(w.dims), "re-export the model");
  if (input_major) {
    l.weights.resize(l.rows * l.cols);
    for (std::size_t r = 0; r < l.rows; ++r)
      for (std::size_t c = 0; c < l.cols; ++c) l.weights[r * l.cols + c] = w.values[c * l.rows + r];
  } else {
    l.weights = std::move(w.values);
  }
  l.bias.assign(l.rows, 0.0);
  return l;
}

// A bias broadcasts over the batch: shape (n_out) or (1, n_out) (any leading 1s); on an image also
// (C, 1, 1), one entry per channel (what PyTorch exports for a separate per-channel Add).
void Importer::add_bias(const onnx::NodeProto& n, FloatLayer& layer, const Tensor& b, const std::string& name) const {
  std::vector<std::size_t> dims = b.dims;
  while (dims.size() > 1 && dims.front() == 1) dims.erase(dims.begin());
  const bool image = !flat_ && chw_;
  const bool per_feature = (dims.size() == 1 && dims[0] == layer.rows) ||
                           (image && dims == std::vector<std::size_t>{(*chw_)[0], (*chw_)[1], (*chw_)[2]});
  const bool per_channel = image && dims == std::vector<std::size_t>{(*chw_)[0], 1, 1};
  if (per_channel) {
    const std::size_t plane = layer.rows / (*chw_)[0];
    for (std::size_t i = 0; i < layer.rows; ++i) layer.bias[i] += b.values[i / plane];
    return;
  }
  if (!per_feature)
    fail_node(n, "bias " + in_quotes(name) + " has shape " + shape_str(b.dims) + ", expected (" + std::to_string(layer.rows) + ")" +
                     (!flat_ && chw_ ? " or (" + std::to_string((*chw_)[0]) + ", 1, 1)" : ""),
              "export one bias entry per output feature or channel");
  for (std::size_t i = 0; i < layer.rows; ++i) layer.bias[i] += b.values[i];
}

void Importer::add_linear(const onnx::NodeProto& n, FloatLayer layer) {
  if (!flat_) fail_node(n, "reads a tensor of rank above 2", "add a Flatten before it so its input is (batch, features)");
  FloatOp op;
  op.rows = layer.rows;
  op.cols = layer.cols;
  op.weights = std::move(layer.weights);
  add_op(n, std::move(op), std::move(layer.bias));
}

// Appends a linear op to the current layer, or starts a layer after an activation. A bias already
// in the layer passes through the new op in float (W2 (W1 x + b1) + b2 = W2 W1 x + (W2 b1 + b2)).
void Importer::check_size(const onnx::NodeProto& n, const FloatOp& op) const {
  if (op.rows > kMaxFeatures || op.cols > kMaxFeatures)
    fail_node(n, "maps " + std::to_string(op.cols) + " to " + std::to_string(op.rows) + " features per sample, more than 2^26",
              "nnproof refuses layers this large");
  if (op.kind != LinearOp::Kind::conv) return;
  const ConvShape& c = op.conv;
  const u128 kernel = static_cast<u128>(c.out_channels) * c.group_in() * c.kernel_h * c.kernel_w;
  const u128 taps = static_cast<u128>(c.out_size()) * c.group_in() * c.kernel_h * c.kernel_w;
  if (kernel > kMaxFeatures || taps > kMaxTaps)
    fail_node(n, "has a " + std::to_string(c.kernel_h) + " x " + std::to_string(c.kernel_w) + " window over " +
                     std::to_string(c.group_in()) + " channels: more than 2^26 kernel entries or 2^32 taps in all",
              "nnproof refuses layers this large");
}

void Importer::add_op(const onnx::NodeProto& n, FloatOp op, std::vector<double> bias) {
  check_size(n, op);
  if (width_ && *width_ != op.cols)
    fail_node(n, "takes " + std::to_string(op.cols) + " inputs but " +
                     (out_.layers.empty() ? "the model input " + in_quotes(input_name_) : std::string("the previous layer")) +
                     " gives " + std::to_string(*width_));
  if (stage_ == Stage::linear) {
    FloatLayer& layer = out_.layers.back();
    std::vector<double> carried = apply_float(op, layer.bias);
    for (std::size_t a = 0; a < op.rows; ++a) bias[a] += carried[a];
    layer.rows = op.rows;
    layer.ops.push_back(std::move(op));
    layer.bias = std::move(bias);
  } else {
    FloatLayer layer;
    layer.name = n.name().empty() ? "layer " + std::to_string(out_.layers.size() + 1) : n.name();
    layer.rows = op.rows;
    layer.cols = op.cols;
    layer.ops.push_back(std::move(op));
    layer.bias = std::move(bias);
    out_.layers.push_back(std::move(layer));
  }
  width_ = out_.layers.back().rows;
  stage_ = Stage::linear;
  last_op_ = describe(n);
}

void Importer::add_square(const onnx::NodeProto& n) {
  if (stage_ == Stage::start)
    fail_node(n, "squares the input before any linear layer", "the network must start with a MatMul/Gemm/Conv layer");
  if (stage_ == Stage::square)
    fail_node(n, "follows the activation " + last_op_ + ": two activations in a row are not supported",
              "put a linear layer between them");
  stage_ = Stage::square;
  last_op_ = describe(n);
}

// ---- ops --------------------------------------------------------------------------------------

void Importer::on_matmul(const onnx::NodeProto& n) {
  expect_arity(n, 2, 2);
  if (n.input(0) != current_)
    fail_node(n, "multiplies a weight by the activation, MatMul(W, x), which is not supported",
              "write x @ W so the weight is the second input (as nn.Linear exports)");
  if (n.input(1) == current_) fail_node(n, "multiplies the activation by itself as a matrix", "use Mul(x, x) to square");
  add_linear(n, make_layer(n, constant_input(n, 1), /*input_major=*/true));
}

// Gemm computes alpha * A' * B' + beta * C with A' = A or A^T, B' = B or B^T.
void Importer::on_gemm(const onnx::NodeProto& n) {
  expect_arity(n, 2, 3);
  if (n.input(0) != current_)
    fail_node(n, "takes the weight as its first input, Gemm(W, x), which is not supported",
              "export x @ W.T + b as nn.Linear does");
  if (n.input(1) == current_) fail_node(n, "multiplies the activation by itself as a matrix", "use Mul(x, x) to square");
  if (attr_int(n, "transA", 0) != 0)
    fail_node(n, "transA=1 transposes the activation, which is not supported", "export x @ W.T + b as nn.Linear does");
  const double alpha = attr_float(n, "alpha", 1.0);
  if (alpha != 1.0)
    fail_node(n, "alpha=" + fmt_double(alpha) + " is not supported", "fold the scale into the weights and export alpha=1");
  const std::int64_t trans_b = attr_int(n, "transB", 0);
  if (trans_b != 0 && trans_b != 1) fail_node(n, "transB=" + std::to_string(trans_b) + " is not 0 or 1", "re-export the model");
  FloatLayer layer = make_layer(n, constant_input(n, 1), /*input_major=*/trans_b == 0);
  if (n.input_size() == 3 && !n.input(2).empty()) {
    const double beta = attr_float(n, "beta", 1.0);
    if (beta != 1.0)
      fail_node(n, "beta=" + fmt_double(beta) + " is not supported", "fold the scale into the bias and export beta=1");
    add_bias(n, layer, constant_input(n, 2), n.input(2));
  }
  add_linear(n, std::move(layer));
}

// ---- convolution and pooling -------------------------------------------------------------------

void Importer::expect_no_auto_pad(const onnx::NodeProto& n) const {
  const auto* a = attr(n, "auto_pad", onnx::AttributeProto::STRING);
  if (a && a->s() != "NOTSET" && a->s() != "VALID")
    fail_node(n, "auto_pad=" + printable(a->s()) + " is not supported", "export explicit pads (PyTorch does by default)");
}

void Importer::expect_unit_dilations(const onnx::NodeProto& n) const {
  for (std::int64_t d : attr_ints(n, "dilations", {}))
    if (d != 1) fail_node(n, "dilation " + std::to_string(d) + " is not supported", "use dilation 1");
}

const std::array<std::size_t, 3>& Importer::spatial_input(const onnx::NodeProto& n) const {
  if (flat_ || !chw_)
    fail_node(n, flat_ ? "reads a flat (batch, features) tensor, not an image"
                       : "reads an image of unknown size",
              "export the model with a static (batch, C, H, W) input shape");
  return *chw_;
}

// The window geometry shared by Conv and AveragePool: strides, pads [top, left, bottom, right].
ConvShape Importer::window_shape(const onnx::NodeProto& n, std::size_t kernel_h, std::size_t kernel_w) const {
  const auto& [c, h, w] = spatial_input(n);
  const auto strides = attr_ints(n, "strides", {1, 1});
  const auto pads = attr_ints(n, "pads", {0, 0, 0, 0});
  if (strides.size() != 2 || pads.size() != 4)
    fail_node(n, "is not a 2-D window (strides or pads of the wrong length)", "nnproof supports 2-D convolution and pooling");
  for (auto v : strides)
    if (v < 1 || static_cast<std::uint64_t>(v) > kMaxElements) fail_node(n, "stride " + std::to_string(v) + " is invalid", "re-export the model");
  for (auto v : pads)
    if (v < 0 || static_cast<std::uint64_t>(v) > kMaxElements) fail_node(n, "padding " + std::to_string(v) + " is invalid", "re-export the model");
  ConvShape shape;
  shape.in_channels = shape.out_channels = c;
  shape.in_h = h;
  shape.in_w = w;
  shape.kernel_h = kernel_h;
  shape.kernel_w = kernel_w;
  shape.stride_h = static_cast<std::size_t>(strides[0]);
  shape.stride_w = static_cast<std::size_t>(strides[1]);
  shape.pad_top = static_cast<std::size_t>(pads[0]);
  shape.pad_left = static_cast<std::size_t>(pads[1]);
  shape.pad_bottom = static_cast<std::size_t>(pads[2]);
  shape.pad_right = static_cast<std::size_t>(pads[3]);
  return shape;
}

// A Conv's or pool's shape checked (ConvShape::validate), its feature counts set and capped, all
// before anything is sized by it.
void Importer::finish_window(const onnx::NodeProto& n, FloatOp& op) const {
  try {
    op.conv.validate();
  } catch (const std::invalid_argument& e) {
    fail_node(n, e.what(), "nnproof needs padding smaller than the kernel and a kernel no larger than the padded input");
  }
  op.rows = op.conv.out_size();
  op.cols = op.conv.in_size();
  check_size(n, op);
}

void Importer::on_conv(const onnx::NodeProto& n) {
  spatial_input(n);
  expect_arity(n, 2, 3);
  if (n.input(0) != current_) fail_node(n, "convolves a constant with the activation", "the activation must be Conv's first input");
  expect_no_auto_pad(n);
  expect_unit_dilations(n);
  const Tensor w = constant_input(n, 1);
  if (w.rank() != 4) fail_node(n, "weight has shape " + shape_str(w.dims) + ", expected (M, C/group, kH, kW)", "nnproof supports 2-D convolutions");
  const std::int64_t group = attr_int(n, "group", 1);
  const std::size_t channels = spatial_input(n)[0];
  if (group < 1 || channels % static_cast<std::size_t>(group) != 0 || w.dims[0] % static_cast<std::size_t>(group) != 0 ||
      w.dims[1] * static_cast<std::size_t>(group) != channels)
    fail_node(n, "weight " + shape_str(w.dims) + " with group=" + std::to_string(group) + " does not fit " +
                     std::to_string(channels) + " input channels",
              "re-export the model");
  const auto kernel = attr_ints(n, "kernel_shape", {static_cast<std::int64_t>(w.dims[2]), static_cast<std::int64_t>(w.dims[3])});
  if (kernel.size() != 2 || kernel[0] != static_cast<std::int64_t>(w.dims[2]) || kernel[1] != static_cast<std::int64_t>(w.dims[3]))
    fail_node(n, "kernel_shape does not match the weight " + shape_str(w.dims), "re-export the model");
  FloatOp op;
  op.kind = LinearOp::Kind::conv;
  op.conv = window_shape(n, w.dims[2], w.dims[3]);
  op.conv.out_channels = w.dims[0];
  op.conv.groups = static_cast<std::size_t>(group);
  finish_window(n, op);
  op.weights = w.values;
  std::vector<double> bias(op.rows, 0.0);
  bool has_bias = false;
  if (n.input_size() == 3 && !n.input(2).empty()) {
    const Tensor b = constant_input(n, 2);
    if (b.values.size() != op.conv.out_channels)
      fail_node(n, "bias has shape " + shape_str(b.dims) + ", expected (" + std::to_string(op.conv.out_channels) + ")", "re-export the model");
    const std::size_t plane = op.conv.out_h() * op.conv.out_w();
    for (std::size_t i = 0; i < op.rows; ++i) bias[i] = b.values[i / plane];
    for (double v : b.values) has_bias = has_bias || v != 0;
  }
  // A kernel of 0s and 1s with no bias is sum pooling written as a Conv: exact at every scale.
  op.exact = !has_bias && std::all_of(op.weights.begin(), op.weights.end(), [](double v) { return v == 0 || v == 1; });
  chw_ = std::array<std::size_t, 3>{op.conv.out_channels, op.conv.out_h(), op.conv.out_w()};
  add_op(n, std::move(op), std::move(bias));
}

// AveragePool = (1/k^2) x sum pooling: nnproof proves the sum and folds 1/k^2 into the scale.
void Importer::on_average_pool(const onnx::NodeProto& n, bool global) {
  expect_arity(n, 1, 1);
  const auto [c, h, w] = spatial_input(n);
  std::vector<std::int64_t> kernel{static_cast<std::int64_t>(h), static_cast<std::int64_t>(w)};
  if (!global) {
    expect_no_auto_pad(n);
    expect_unit_dilations(n);
    kernel = attr_ints(n, "kernel_shape", {});
    if (kernel.size() != 2 || kernel[0] < 1 || kernel[1] < 1 || static_cast<std::uint64_t>(kernel[0]) > kMaxElements ||
        static_cast<std::uint64_t>(kernel[1]) > kMaxElements)
      fail_node(n, "kernel_shape is missing or not 2-D", "nnproof supports 2-D pooling");
  }
  FloatOp op;
  op.kind = LinearOp::Kind::conv;
  if (global) {  // the whole image, whatever attributes a malformed file carries
    op.conv.in_channels = op.conv.out_channels = c;
    op.conv.in_h = op.conv.kernel_h = h;
    op.conv.in_w = op.conv.kernel_w = w;
  } else {
    op.conv = window_shape(n, static_cast<std::size_t>(kernel[0]), static_cast<std::size_t>(kernel[1]));
  }
  op.conv.groups = c;
  const ConvShape& g = op.conv;
  const bool padded = g.pad_top + g.pad_left + g.pad_bottom + g.pad_right > 0;
  if (padded && attr_int(n, "count_include_pad", 0) == 0)
    fail_node(n, "pads with count_include_pad=0, so border windows divide by fewer than k^2 and are not a sum pool",
              "pool without padding, or with count_include_pad=1");
  finish_window(n, op);
  if (attr_int(n, "ceil_mode", 0) != 0 && ((g.in_h + g.pad_top + g.pad_bottom - g.kernel_h) % g.stride_h != 0 ||
                                           (g.in_w + g.pad_left + g.pad_right - g.kernel_w) % g.stride_w != 0))
    fail_node(n, "ceil_mode=1 adds partial windows", "use ceil_mode=0 or sizes the stride divides");
  op.weights.assign(g.kernel_size(), 1.0);
  op.exact = true;
  op.factor = 1.0 / static_cast<double>(g.kernel_h * g.kernel_w);
  chw_ = std::array<std::size_t, 3>{c, g.out_h(), g.out_w()};
  add_op(n, std::move(op), std::vector<double>(g.out_size(), 0.0));
}

void Importer::on_add(const onnx::NodeProto& n) {
  expect_arity(n, 2, 2);
  if (n.input(0) == current_ && n.input(1) == current_)
    fail_node(n, "adds the activation to itself", "fold the factor 2 into the previous layer's weights");
  if (stage_ != Stage::linear)
    fail_node(n, "adds a constant away from a linear layer; only a bias right after MatMul/Gemm is supported",
              "fold the constant into the neighbouring layer's bias");
  const int k = n.input(0) == current_ ? 1 : 0;
  add_bias(n, out_.layers.back(), constant_input(n, k), n.input(k));
}

void Importer::on_mul(const onnx::NodeProto& n) {
  expect_arity(n, 2, 2);
  if (n.input(0) != current_ || n.input(1) != current_)
    fail_node(n, "multiplies by a constant, which is not supported",
              "fold the constant into the neighbouring layer's weights; the activation must be Mul(x, x)");
  add_square(n);
}

void Importer::on_pow(const onnx::NodeProto& n) {
  expect_arity(n, 2, 2);
  if (n.input(0) != current_) fail_node(n, "raises a constant to a computed power", "only Pow(x, 2) is supported");
  const Tensor e = constant_input(n, 1);
  if (e.values.size() != 1 || e.values[0] != 2.0)
    fail_node(n, "exponent " + (e.values.size() == 1 ? fmt_double(e.values[0]) : "tensor " + shape_str(e.dims)) +
                     " is not supported",
              "only Pow(x, 2), the quadratic activation, is supported");
  add_square(n);
}

void Importer::on_flatten(const onnx::NodeProto& n) {
  expect_arity(n, 1, 1);
  const std::int64_t axis = attr_int(n, "axis", 1);
  if (axis != 1)
    fail_node(n, "axis=" + std::to_string(axis) + " does not keep (batch, features)",
              "flatten from axis 1 (nn.Flatten() / torch.flatten(x, 1))");
  flat_ = true;  // width_ already counts all non-batch features
}

// Allowed only when the result is (batch, features): target (-1, n), (0, n) or (0, -1).
void Importer::on_reshape(const onnx::NodeProto& n) {
  expect_arity(n, 2, 2);
  if (n.input(0) != current_) fail_node(n, "reshapes a constant by a computed shape", "fold constants before export");
  const Tensor s = constant_input(n, 1);
  const bool allow_zero = attr_int(n, "allowzero", 0) != 0;  // then 0 means size 0, not "copy"
  const std::string fix = "reshape to (-1, features) or (0, features), or use Flatten";
  if (s.values.size() != 2) fail_node(n, "target shape of " + std::to_string(s.values.size()) + " dims does not keep (batch, features)", fix);
  const double batch = s.values[0], features = s.values[1];
  if (!(batch == -1 || (batch == 0 && !allow_zero)))
    fail_node(n, "target shape (" + fmt_double(batch) + ", " + fmt_double(features) + ") changes the batch dimension", fix);
  if (features == -1) {
    if (batch == -1) fail_node(n, "target shape (-1, -1) is invalid", fix);
  } else if (features == 0 && !allow_zero) {
    if (!flat_) fail_node(n, "target shape (0, 0) keeps only the second of several feature dims", fix);
  } else if (features >= 1 && features == std::floor(features)) {
    if (width_ && static_cast<double>(*width_) != features)
      fail_node(n, "reshapes " + std::to_string(*width_) + " features per sample into " + fmt_double(features), fix);
    width_ = static_cast<std::size_t>(features);
  } else {
    fail_node(n, "target feature count " + fmt_double(features) + " is invalid", fix);
  }
  flat_ = true;
}

void Importer::on_softmax(const onnx::NodeProto& n, FinalOp op) {
  expect_arity(n, 1, 1);
  // opset 13 made the default axis -1; before it was 1. On (batch, features) both mean features.
  const std::int64_t axis = attr_int(n, "axis", opset_ >= 13 ? -1 : 1);
  if (axis != -1 && axis != 1)
    fail_node(n, "axis=" + std::to_string(axis) + " is not the feature axis", "apply it over the features (axis=-1)");
  if (stage_ == Stage::square)
    fail(last_op_ + ": the model ends with an activation before " + describe(n) + ", but the last layer must be affine",
         "remove the final activation");
  if (stage_ == Stage::start) fail_node(n, "comes before any linear layer", "export a model with a MatMul/Gemm layer");
  out_.final_op = op;
  stage_ = Stage::final;
  last_op_ = describe(n);
}

onnx::ModelProto parse_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw ModelError(path + ": is a directory; pass an .onnx file");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw ModelError(path + ": cannot open file (" + std::strerror(errno) + "); check the path");
  const auto size = std::filesystem::file_size(path, ec);
  if (!ec && size > static_cast<std::uintmax_t>(std::numeric_limits<int>::max()))
    throw ModelError(path + ": cannot parse ONNX: the file is over 2 GiB, the protobuf limit; nnproof refuses models this large");
  // Parsed from the stream: reading the file into a string first cost a copy of its size and
  // ~10% of loading a large model.
  onnx::ModelProto model;
  const bool parsed = model.ParseFromIstream(&f);
  if (f.bad()) throw ModelError(path + ": cannot read file; check the path and permissions");
  if (!parsed)
    throw ModelError(path + ": cannot parse ONNX: the file is not a valid ONNX protobuf; "
                            "pass a model written by torch.onnx.export or onnx.save");
  // An empty or text file can decode as a protobuf with no graph: report it as unparsable too.
  if (!model.has_graph())
    throw ModelError(path + ": cannot parse ONNX: the file holds no graph; "
                            "pass a model written by torch.onnx.export or onnx.save");
  return model;
}

}  // namespace

void write_onnx_with_scales(const std::string& in, const std::string& out, double alpha, double beta) {
  onnx::ModelProto model = parse_file(in);
  auto* props = model.mutable_metadata_props();
  for (int i = props->size() - 1; i >= 0; --i)
    if (props->Get(i).key() == "nnproof.alpha" || props->Get(i).key() == "nnproof.beta") props->DeleteSubrange(i, 1);
  for (auto [key, value] : {std::pair{"nnproof.alpha", alpha}, std::pair{"nnproof.beta", beta}}) {
    auto* p = model.add_metadata_props();
    p->set_key(key);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", value);  // round-trips exactly
    p->set_value(buf);
  }
  std::ofstream f(out, std::ios::binary | std::ios::trunc);
  if (!f || !model.SerializeToOstream(&f)) throw ModelError(out + ": cannot write (" + std::strerror(errno) + "); check the path");
}

FloatModel import_onnx(const std::string& path) {
  const onnx::ModelProto model = parse_file(path);
  return Importer(path, model).run();
}

}  // namespace nnproof
