// SPDX-License-Identifier: Apache-2.0
#pragma once
// The ONNX importer's insides, shared by the files of host/onnx/ and by nothing else (the rest of
// nnproof includes onnx_import.hpp):
//   onnx_import.cpp  the entry points import_onnx and write_onnx_with_scales: the file parsed;
//   importer.cpp     the walk over the graph: each node's inputs, arity and attributes, Constant
//                    nodes, refusals of unsupported ops;
//   model_info.cpp   what the model says before its first node: opset, metadata, the one input and
//                    output;
//   tensors.cpp      initializers and Constant values decoded into doubles, trusting nothing;
//   operators.cpp    one handler per supported op (MatMul, Gemm, Conv, Pad, pooling, Pow, Flatten,
//                    Softmax), each checking what it reads before it sizes anything;
//   folding.cpp      constants applied to the activation (BatchNormalization, Add / Sub / Mul / Div by
//                    a constant) folded exactly into the neighbouring linear op and its bias;
//   constants.cpp    Cast (to a float type) and Transpose of a constant, folded into a constant;
//   shapes.cpp       the shape subgraph PyTorch writes for x.view(x.size(0), -1) (Shape, Gather,
//                    Unsqueeze, Concat, ...) evaluated symbolically, and Reshape;
//   layers.cpp       growing the chain of affine layers (ops, carried biases, activations), the cap
//                    on pooling work, and sealing each layer at the end.
#include <onnx/onnx_pb.h>

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "host/onnx/onnx_import.hpp"

namespace nnproof::onnx_detail {

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
// The metadata key of the proof field (FloatModel::field).
constexpr const char* kFieldKey = "nnproof.field";
// Entries of a shape value (a rank is far below this; a hostile Concat could grow one without end).
constexpr std::uint64_t kMaxShapeEntries = 64;
// The metadata key of the calibration inputs' range (FloatModel::input_range).
constexpr const char* kInputRangeKey = "nnproof.input_range";
// The metadata prefix of a layer's exact biases (FloatModel::exact_biases).
constexpr const char* kExactBiasKey = "nnproof.bias.";
// Integers beyond 2^53 do not survive the trip through double.
constexpr double kMaxExactInteger = 9007199254740992.0;

// Names come from the file: keep messages one printable line even when a name is hostile.
std::string printable(const std::string& s);
std::string in_quotes(const std::string& s);
std::string fmt_double(double v);
std::string shape_str(const std::vector<std::size_t>& dims);

// A constant (initializer or Constant node) decoded into doubles, whatever its element type.
struct Tensor {
  std::vector<std::size_t> dims;
  std::vector<double> values;
  std::size_t rank() const { return dims.size(); }
};

// A layer's chain of ops multiplied out into one dense matrix where that pays (layers.cpp).
void seal(FloatLayer& layer);

// y = op(x) in float (layers.cpp): carries a bias or a shift through an op.
std::vector<double> apply_float(const FloatOp& op, const std::vector<double>& x);

// One entry of a shape computed in the graph (shapes.cpp): a known integer, the batch size (known
// only when proving), or unknown.
struct ShapeDim {
  enum class Kind { value, batch, unknown };
  Kind kind = Kind::value;
  std::int64_t value = 0;
};

// A 1-D integer tensor (or a scalar) of the shape subgraph.
struct ShapeValue {
  std::vector<ShapeDim> dims;
  bool scalar = false;
};

// A per-feature affine map y = scale[j] x[j] + shift[j] on the activation (folding.cpp).
struct Affine {
  std::vector<double> scale, shift;
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

  // The model's opset, metadata, input and output (model_info.cpp).
  void read_opset();
  void read_metadata();
  double parse_scale(const std::string& key, const std::string& value) const;
  FieldId parse_field(const std::string& value) const;
  InputRange parse_input_range(const std::string& value) const;
  void read_exact_bias(const std::string& key, const std::string& value);
  void find_input_and_output();
  void read_input_shape(const onnx::ValueInfoProto& v);

  // The graph walk (importer.cpp).
  void on_node(const onnx::NodeProto& n);
  void dispatch(const onnx::NodeProto& n);
  void finish();
  void expect_arity(const onnx::NodeProto& n, int min_inputs, int max_inputs) const;
  void check_inputs(const onnx::NodeProto& n) const;
  void advance(const onnx::NodeProto& n);
  const onnx::AttributeProto* attr(const onnx::NodeProto& n, const std::string& name,
                                   onnx::AttributeProto::AttributeType type) const;
  std::int64_t attr_int(const onnx::NodeProto& n, const std::string& name, std::int64_t fallback) const;
  double attr_float(const onnx::NodeProto& n, const std::string& name, double fallback) const;
  std::vector<std::int64_t> attr_ints(const onnx::NodeProto& n, const std::string& name,
                                      std::vector<std::int64_t> fallback) const;
  Tensor constant_input(const onnx::NodeProto& n, int k) const;
  void on_constant(const onnx::NodeProto& n);
  bool fold_constant_op(const onnx::NodeProto& n);              // constants.cpp: true when n became a constant
  std::optional<std::vector<std::size_t>> sample_dims() const;  // of current_, without the batch

  // Constants decoded (tensors.cpp).
  Tensor load(const onnx::TensorProto& t) const;
  void load_values(const onnx::TensorProto& t, const std::string& what, std::uint64_t count, Tensor& out) const;
  void check_values(const std::string& what, int type, const std::vector<double>& values) const;
  Tensor load_ints(const onnx::TensorProto& t, std::vector<std::int64_t>& ints) const;  // dims only in the Tensor

  // The operator handlers (operators.cpp).
  void on_matmul(const onnx::NodeProto& n);
  void on_gemm(const onnx::NodeProto& n);
  void on_conv(const onnx::NodeProto& n);
  void on_average_pool(const onnx::NodeProto& n, bool global);
  void on_pad(const onnx::NodeProto& n);
  void on_pow(const onnx::NodeProto& n);
  void on_flatten(const onnx::NodeProto& n);
  void on_softmax(const onnx::NodeProto& n, FinalOp op);
  void expect_no_auto_pad(const onnx::NodeProto& n) const;
  void expect_unit_dilations(const onnx::NodeProto& n) const;
  const std::array<std::size_t, 3>& spatial_input(const onnx::NodeProto& n) const;
  ConvShape window_shape(const onnx::NodeProto& n, std::size_t kernel_h, std::size_t kernel_w) const;
  void finish_window(const onnx::NodeProto& n, FloatOp& op) const;
  std::size_t conv_groups(const onnx::NodeProto& n, const Tensor& w) const;
  std::vector<double> conv_bias(const onnx::NodeProto& n, const FloatOp& op) const;
  ConvShape pool_shape(const onnx::NodeProto& n, bool global) const;

  // Constants on the activation, folded (folding.cpp).
  void on_add(const onnx::NodeProto& n);
  void on_sub(const onnx::NodeProto& n);
  void on_mul(const onnx::NodeProto& n);
  void on_div(const onnx::NodeProto& n);
  void on_batch_norm(const onnx::NodeProto& n);
  std::vector<double> per_feature(const onnx::NodeProto& n, const Tensor& c, const std::string& name) const;
  void apply_affine(const onnx::NodeProto& n, Affine a);
  void fold_into_rows(const onnx::NodeProto& n, const Affine& a);
  void fold_into_columns(const onnx::NodeProto& n, FloatOp& op, std::vector<double>& bias);

  // The shape subgraph and Reshape (shapes.cpp).
  static bool is_shape_op(const std::string& op);
  void on_shape_op(const onnx::NodeProto& n);
  ShapeValue shape_input(const onnx::NodeProto& n, int k) const;
  ShapeValue eval_shape_op(const onnx::NodeProto& n);
  std::vector<std::int64_t> int_list(const onnx::NodeProto& n, int input, const std::string& attr_name) const;
  void on_reshape(const onnx::NodeProto& n);
  // The chain of layers (layers.cpp).
  FloatLayer make_layer(const onnx::NodeProto& n, Tensor w, bool input_major) const;
  void add_bias(const onnx::NodeProto& n, FloatLayer& layer, const Tensor& b, const std::string& name) const;
  void add_linear(const onnx::NodeProto& n, FloatLayer layer);
  void add_op(const onnx::NodeProto& n, FloatOp op, std::vector<double> bias);
  void check_size(const onnx::NodeProto& n, const FloatOp& op) const;  // before anything is sized by it
  void add_square(const onnx::NodeProto& n);
  void check_pool_work(const onnx::NodeProto& n, const FloatOp& pool);

  std::string path_;
  const onnx::ModelProto& model_;
  FloatModel out_;
  std::int64_t opset_ = 13;
  std::unordered_map<std::string, const onnx::TensorProto*> constants_;  // initializers and Constant outputs
  std::deque<onnx::TensorProto> owned_;       // Constant node values (a deque keeps their addresses stable)
  std::unordered_set<std::string> produced_;  // every tensor computed so far, the graph input included
  std::string current_, input_name_, output_name_;
  std::optional<std::size_t> width_;               // features per sample of current_, when known
  bool flat_ = true;                               // current_ is (batch, features), as MatMul/Gemm need
  std::optional<std::array<std::size_t, 3>> chw_;  // (C, H, W) of current_ when it is a known image
  Stage stage_ = Stage::start;
  std::string last_op_;  // describe() of the last linear / square / final node, for structure errors
  int node_index_ = 0;
  // Normalization before the first layer or after an activation, waiting for the next linear op.
  std::optional<Affine> pending_;
  // Zero padding (top, left, bottom, right) a Pad node leaves for the Conv / AveragePool reading it,
  // and the Pad's describe().
  std::optional<std::array<std::size_t, 4>> pending_pad_;
  std::string pad_node_;
  std::unordered_map<std::string, ShapeValue> shapes_;  // the shape subgraph's tensors
  // Elements of the constants folded so far (constants.cpp) and their cap, from the file's size.
  std::uint64_t folded_elements_ = 0;
  std::optional<std::uint64_t> fold_budget_;
  // Pools hold no weights in the file, so their taps are capped by the model's features
  // (check_pool_work): the pools' taps so far, and the features of the input and every op's output.
  std::uint64_t pool_taps_ = 0, features_ = 0;
};

}  // namespace nnproof::onnx_detail
