// SPDX-License-Identifier: Apache-2.0
// One handler per ONNX op the importer supports. Each checks the node's inputs and attributes
// against what nnproof can prove (refusing with the node named and a fix) before it sizes anything,
// then hands a linear op to the layer chain (layers.cpp) or marks an activation or the final op.
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "host/onnx/importer.hpp"

namespace nnproof::onnx_detail {

// ---- fully connected ----------------------------------------------------------------------------

void Importer::on_matmul(const onnx::NodeProto& n) {
  expect_arity(n, 2, 2);
  if (n.input(0) != current_)
    fail_node(n, "multiplies a weight by the activation, MatMul(W, x), which is not supported",
              "write x @ W so the weight is the second input (as nn.Linear exports)");
  if (n.input(1) == current_)
    fail_node(n, "multiplies the activation by itself as a matrix", "use Mul(x, x) to square");
  add_linear(n, make_layer(n, constant_input(n, 1), /*input_major=*/true));
}

// Gemm computes alpha * A' * B' + beta * C with A' = A or A^T, B' = B or B^T.
void Importer::on_gemm(const onnx::NodeProto& n) {
  expect_arity(n, 2, 3);
  if (n.input(0) != current_)
    fail_node(n, "takes the weight as its first input, Gemm(W, x), which is not supported",
              "export x @ W.T + b as nn.Linear does");
  if (n.input(1) == current_)
    fail_node(n, "multiplies the activation by itself as a matrix", "use Mul(x, x) to square");
  if (attr_int(n, "transA", 0) != 0)
    fail_node(n, "transA=1 transposes the activation, which is not supported", "export x @ W.T + b as nn.Linear does");
  const double alpha = attr_float(n, "alpha", 1.0);
  if (alpha != 1.0)
    fail_node(n, "alpha=" + fmt_double(alpha) + " is not supported",
              "fold the scale into the weights and export alpha=1");
  const std::int64_t trans_b = attr_int(n, "transB", 0);
  if (trans_b != 0 && trans_b != 1)
    fail_node(n, "transB=" + std::to_string(trans_b) + " is not 0 or 1", "re-export the model");
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
    fail_node(n, "auto_pad=" + printable(a->s()) + " is not supported",
              "export explicit pads (PyTorch does by default)");
}

void Importer::expect_unit_dilations(const onnx::NodeProto& n) const {
  for (std::int64_t d : attr_ints(n, "dilations", {}))
    if (d != 1) fail_node(n, "dilation " + std::to_string(d) + " is not supported", "use dilation 1");
}

// The (C, H, W) a Conv or pool reads: its output size comes from the declared shape, so an image
// of unknown size cannot be convolved.
const std::array<std::size_t, 3>& Importer::spatial_input(const onnx::NodeProto& n) const {
  if (flat_ || !chw_)
    fail_node(n, flat_ ? "reads a flat (batch, features) tensor, not an image" : "reads an image of unknown size",
              "export the model with a static (batch, C, H, W) input shape");
  return *chw_;
}

// The window geometry shared by Conv and AveragePool: strides, pads [top, left, bottom, right].
ConvShape Importer::window_shape(const onnx::NodeProto& n, std::size_t kernel_h, std::size_t kernel_w) const {
  const auto& [c, h, w] = spatial_input(n);
  const auto strides = attr_ints(n, "strides", {1, 1});
  const auto pads = attr_ints(n, "pads", {0, 0, 0, 0});
  if (strides.size() != 2 || pads.size() != 4)
    fail_node(n, "is not a 2-D window (strides or pads of the wrong length)",
              "nnproof supports 2-D convolution and pooling");
  for (auto v : strides)
    if (v < 1 || static_cast<std::uint64_t>(v) > kMaxElements)
      fail_node(n, "stride " + std::to_string(v) + " is invalid", "re-export the model");
  for (auto v : pads)
    if (v < 0 || static_cast<std::uint64_t>(v) > kMaxElements)
      fail_node(n, "padding " + std::to_string(v) + " is invalid", "re-export the model");
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
    fail_node(n, e.what(),
              "nnproof needs padding smaller than the kernel and a kernel no larger than the padded input");
  }
  op.rows = op.conv.out_size();
  op.cols = op.conv.in_size();
  check_size(n, op);
}

// The weight's shape against the input's channels and the attributes: (M, C/group, kH, kW) with
// the groups dividing both channel counts. Returns the group count.
std::size_t Importer::conv_groups(const onnx::NodeProto& n, const Tensor& w) const {
  if (w.rank() != 4)
    fail_node(n, "weight has shape " + shape_str(w.dims) + ", expected (M, C/group, kH, kW)",
              "nnproof supports 2-D convolutions");
  const std::int64_t group = attr_int(n, "group", 1);
  const std::size_t channels = spatial_input(n)[0];
  if (group < 1 || channels % static_cast<std::size_t>(group) != 0 ||
      w.dims[0] % static_cast<std::size_t>(group) != 0 || w.dims[1] * static_cast<std::size_t>(group) != channels)
    fail_node(n,
              "weight " + shape_str(w.dims) + " with group=" + std::to_string(group) + " does not fit " +
                  std::to_string(channels) + " input channels",
              "re-export the model");
  const auto kernel =
      attr_ints(n, "kernel_shape", {static_cast<std::int64_t>(w.dims[2]), static_cast<std::int64_t>(w.dims[3])});
  if (kernel.size() != 2 || kernel[0] != static_cast<std::int64_t>(w.dims[2]) ||
      kernel[1] != static_cast<std::int64_t>(w.dims[3]))
    fail_node(n, "kernel_shape does not match the weight " + shape_str(w.dims), "re-export the model");
  return static_cast<std::size_t>(group);
}

// One bias entry per output channel, spread over the channel's plane of outputs (zeros without one).
std::vector<double> Importer::conv_bias(const onnx::NodeProto& n, const FloatOp& op) const {
  std::vector<double> bias(op.rows, 0.0);
  if (n.input_size() == 3 && !n.input(2).empty()) {
    const Tensor b = constant_input(n, 2);
    if (b.values.size() != op.conv.out_channels)
      fail_node(n, "bias has shape " + shape_str(b.dims) + ", expected (" + std::to_string(op.conv.out_channels) + ")",
                "re-export the model");
    const std::size_t plane = op.conv.out_h() * op.conv.out_w();
    for (std::size_t i = 0; i < op.rows; ++i) bias[i] = b.values[i / plane];
  }
  return bias;
}

void Importer::on_conv(const onnx::NodeProto& n) {
  spatial_input(n);
  expect_arity(n, 2, 3);
  if (n.input(0) != current_)
    fail_node(n, "convolves a constant with the activation", "the activation must be Conv's first input");
  expect_no_auto_pad(n);
  expect_unit_dilations(n);
  const Tensor w = constant_input(n, 1);
  const std::size_t groups = conv_groups(n, w);
  FloatOp op;
  op.kind = LinearOp::Kind::conv;
  op.conv = window_shape(n, w.dims[2], w.dims[3]);
  op.conv.out_channels = w.dims[0];
  op.conv.groups = groups;
  finish_window(n, op);
  op.weights = w.values;
  std::vector<double> bias = conv_bias(n, op);
  // A kernel of 0s and 1s with no bias is sum pooling written as a Conv: exact at every scale.
  // (Every channel's bias fills a whole plane of at least one output, so bias is all zeros exactly
  // when the node's bias is.)
  const bool has_bias = std::any_of(bias.begin(), bias.end(), [](double v) { return v != 0; });
  op.exact = !has_bias && std::all_of(op.weights.begin(), op.weights.end(), [](double v) { return v == 0 || v == 1; });
  chw_ = std::array<std::size_t, 3>{op.conv.out_channels, op.conv.out_h(), op.conv.out_w()};
  add_op(n, std::move(op), std::move(bias));
}

// A pool's window: the whole image for GlobalAveragePool (whatever attributes a malformed file
// carries), else kernel_shape with the strides and pads of window_shape.
ConvShape Importer::pool_shape(const onnx::NodeProto& n, bool global) const {
  const auto& [c, h, w] = spatial_input(n);
  if (global) {
    ConvShape shape;
    shape.in_channels = shape.out_channels = c;
    shape.in_h = shape.kernel_h = h;
    shape.in_w = shape.kernel_w = w;
    return shape;
  }
  expect_no_auto_pad(n);
  expect_unit_dilations(n);
  const auto kernel = attr_ints(n, "kernel_shape", {});
  if (kernel.size() != 2 || kernel[0] < 1 || kernel[1] < 1 || static_cast<std::uint64_t>(kernel[0]) > kMaxElements ||
      static_cast<std::uint64_t>(kernel[1]) > kMaxElements)
    fail_node(n, "kernel_shape is missing or not 2-D", "nnproof supports 2-D pooling");
  return window_shape(n, static_cast<std::size_t>(kernel[0]), static_cast<std::size_t>(kernel[1]));
}

// AveragePool = (1/k^2) x sum pooling: nnproof proves the sum and folds 1/k^2 into the scale.
void Importer::on_average_pool(const onnx::NodeProto& n, bool global) {
  expect_arity(n, 1, 1);
  const std::size_t c = spatial_input(n)[0];
  FloatOp op;
  op.kind = LinearOp::Kind::conv;
  op.conv = pool_shape(n, global);
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

// ---- bias, activation, reshaping, final op ---------------------------------------------------

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
    fail_node(n,
              "exponent " + (e.values.size() == 1 ? fmt_double(e.values[0]) : "tensor " + shape_str(e.dims)) +
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
  if (s.values.size() != 2)
    fail_node(n, "target shape of " + std::to_string(s.values.size()) + " dims does not keep (batch, features)", fix);
  const double batch = s.values[0], features = s.values[1];
  if (!(batch == -1 || (batch == 0 && !allow_zero)))
    fail_node(n, "target shape (" + fmt_double(batch) + ", " + fmt_double(features) + ") changes the batch dimension",
              fix);
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

}  // namespace nnproof::onnx_detail
