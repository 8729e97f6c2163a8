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
namespace {

// Whether an AveragePool's own pads (top, left, bottom, right; each in [0, 2^31]) only extend the
// end of the image where no window reaches: every window of `g` (which holds them) then lies in the
// image with the end pads taken away, so the pool is the same without them.
bool inert_end_pads(const std::vector<std::int64_t>& own, const ConvShape& g) {
  if (own.size() != 4 || own[0] != 0 || own[1] != 0) return false;
  const auto inert = [](std::size_t padded, std::size_t kernel, std::size_t stride, std::size_t end_pad) {
    if (padded < kernel) return false;  // no window at all: finish_window refuses the shape
    const std::size_t last_end = (padded - kernel) / stride * stride + kernel;
    return last_end <= padded - end_pad;
  };
  return inert(g.in_h + g.pad_top + g.pad_bottom, g.kernel_h, g.stride_h, static_cast<std::size_t>(own[2])) &&
         inert(g.in_w + g.pad_left + g.pad_right, g.kernel_w, g.stride_w, static_cast<std::size_t>(own[3]));
}

}  // namespace

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
  // A zero Pad before the node is more of its padding (both below 2^31, so the sums cannot wrap).
  const std::array<std::size_t, 4> extra = pending_pad_.value_or(std::array<std::size_t, 4>{});
  shape.pad_top = static_cast<std::size_t>(pads[0]) + extra[0];
  shape.pad_left = static_cast<std::size_t>(pads[1]) + extra[1];
  shape.pad_bottom = static_cast<std::size_t>(pads[2]) + extra[2];
  shape.pad_right = static_cast<std::size_t>(pads[3]) + extra[3];
  return shape;
}

// A constant-zero Pad of an image's H and W is padding of the Conv or AveragePool that reads it:
// nn.AvgPool2d(count_include_pad=True) exports as Pad then AveragePool, nn.ZeroPad2d as Pad.
// Opset 11 moved pads (and the value) from attributes to inputs; opset 18 added axes.
void Importer::on_pad(const onnx::NodeProto& n) {
  expect_arity(n, 1, 4);
  spatial_input(n);
  const std::string fix = "pad with zeros inside the Conv or AveragePool (padding=...)";
  if (n.input(0) != current_) fail_node(n, "pads a constant", "the activation must be Pad's first input");
  const auto* mode = attr(n, "mode", onnx::AttributeProto::STRING);
  if (mode && mode->s() != "constant") fail_node(n, "mode=" + printable(mode->s()) + " is not zero padding", fix);
  std::vector<std::int64_t> pads;
  double value = attr_float(n, "value", 0.0);
  if (opset_ < 11) {
    pads = attr_ints(n, "pads", {});
  } else {
    const Tensor p = constant_input(n, 1);
    for (double v : p.values) {
      if (v != std::floor(v) || std::fabs(v) > static_cast<double>(kMaxElements))
        fail_node(n, "pad " + fmt_double(v) + " is invalid", "re-export the model");
      pads.push_back(static_cast<std::int64_t>(v));
    }
    if (n.input_size() > 2 && !n.input(2).empty()) {
      const Tensor v = constant_input(n, 2);
      if (v.values.size() != 1) fail_node(n, "constant_value is not a scalar", "re-export the model");
      value = v.values[0];
    }
  }
  if (value != 0) fail_node(n, "pads with the value " + fmt_double(value) + ", not zero", fix);
  // Per axis (begin, end) of the listed axes, all four by default.
  std::vector<std::int64_t> axes = {0, 1, 2, 3};
  if (n.input_size() > 3 && !n.input(3).empty()) {
    axes.clear();
    for (double v : constant_input(n, 3).values) {
      if (v != std::floor(v) || v < -4 || v > 3) fail_node(n, "axis " + fmt_double(v) + " is out of range");
      axes.push_back(static_cast<std::int64_t>(v) + (v < 0 ? 4 : 0));
    }
  }
  if (pads.size() != 2 * axes.size())
    fail_node(n, std::to_string(pads.size()) + " pads for a rank-4 tensor", "re-export the model");
  std::array<std::int64_t, 8> full{};  // ONNX order: begins of axes 0..3, then ends
  for (std::size_t i = 0; i < axes.size(); ++i) {
    if (axes[i] < 0 || axes[i] > 3) fail_node(n, "pads an axis out of range", "re-export the model");
    full[static_cast<std::size_t>(axes[i])] = pads[i];
    full[4 + static_cast<std::size_t>(axes[i])] = pads[axes.size() + i];
  }
  if (full[0] != 0 || full[1] != 0 || full[4] != 0 || full[5] != 0)
    fail_node(n, "pads the batch or channel axis", "pad only the image's height and width");
  for (std::int64_t v : full)
    if (v < 0) fail_node(n, "negative padding crops the image", fix);
  // Consecutive Pads add up; each sum stays below 2^31, as window_shape's pads do.
  std::array<std::size_t, 4> pad = pending_pad_.value_or(std::array<std::size_t, 4>{});
  const std::array<std::int64_t, 4> add = {full[2], full[3], full[6], full[7]};  // top, left, bottom, right
  for (std::size_t i = 0; i < 4; ++i) {
    if (static_cast<std::uint64_t>(add[i]) > kMaxElements ||
        (pad[i] += static_cast<std::size_t>(add[i])) > kMaxElements)
      fail_node(n, "padding " + std::to_string(add[i]) + " is invalid", "re-export the model");
  }
  pending_pad_ = pad;
  pad_node_ = describe(n);
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
  pending_pad_.reset();
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
  // Only the node's own pads: a Pad before it wrote real zeros, which every window counts.
  const auto own = global ? std::vector<std::int64_t>{} : attr_ints(n, "pads", {});
  const bool padded = std::any_of(own.begin(), own.end(), [](std::int64_t p) { return p != 0; });
  if (padded && attr_int(n, "count_include_pad", 0) == 0) {
    if (!inert_end_pads(own, op.conv))
      fail_node(n, "pads with count_include_pad=0, so border windows divide by fewer than k^2 and are not a sum pool",
                "pool without padding, with count_include_pad=1, or (ceil_mode=True at opset 9) on sizes the "
                "stride divides");
    // nn.AvgPool2d(ceil_mode=True) at opset 9 (AveragePool-7 has no ceil_mode): PyTorch pads the
    // end for the partial window ceil would add; where the stride divides, no window reads it.
    op.conv.pad_bottom -= static_cast<std::size_t>(own[2]);
    op.conv.pad_right -= static_cast<std::size_t>(own[3]);
  }
  finish_window(n, op);
  if (attr_int(n, "ceil_mode", 0) != 0 && ((g.in_h + g.pad_top + g.pad_bottom - g.kernel_h) % g.stride_h != 0 ||
                                           (g.in_w + g.pad_left + g.pad_right - g.kernel_w) % g.stride_w != 0))
    fail_node(n, "ceil_mode=1 adds partial windows", "use ceil_mode=0 or sizes the stride divides");
  op.weights.assign(g.kernel_size(), 1.0);
  op.exact = true;
  op.factor = 1.0 / static_cast<double>(g.kernel_h * g.kernel_w);
  chw_ = std::array<std::size_t, 3>{c, g.out_h(), g.out_w()};
  pending_pad_.reset();
  check_pool_work(n, op);
  add_op(n, std::move(op), std::vector<double>(g.out_size(), 0.0));
}

// ---- activation, flattening, final op -------------------------------------------------------

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

// The verifier normalizes over all of a sample's features. ONNX normalizes over `axis` alone from
// opset 13 on, and before it over the axes from `axis` on (the input coerced to 2-D): the two agree
// exactly when every other non-batch axis has size 1, which is what this accepts.
void Importer::on_softmax(const onnx::NodeProto& n, FinalOp op) {
  expect_arity(n, 1, 1);
  const std::int64_t axis = attr_int(n, "axis", opset_ >= 13 ? -1 : 1);
  if (stage_ == Stage::square)
    fail(last_op_ + ": the model ends with an activation before " + describe(n) + ", but the last layer must be affine",
         "remove the final activation");
  if (stage_ == Stage::start) fail_node(n, "comes before any linear layer", "export a model with a MatMul/Gemm layer");
  const auto dims = sample_dims();
  const std::string fix = "apply it over the features of a flat (batch, features) tensor (Flatten first, axis=-1)";
  if (!dims) fail_node(n, "reads a tensor of unknown shape", fix);
  const auto rank = static_cast<std::int64_t>(dims->size()) + 1;
  const std::int64_t a = axis < 0 ? axis + rank : axis;
  if (a == 0) fail_node(n, "axis=" + std::to_string(axis) + " normalizes over the batch, not the features", fix);
  if (a < 0 || a >= rank)
    fail_node(n, "axis=" + std::to_string(axis) + " is out of range for a rank-" + std::to_string(rank) + " tensor",
              fix);
  for (std::int64_t d = 1; d < rank; ++d) {
    const bool normalized = opset_ >= 13 ? d == a : d >= a;
    if (!normalized && (*dims)[static_cast<std::size_t>(d - 1)] != 1)
      fail_node(n,
                "axis=" + std::to_string(axis) + " on a (batch" + shape_str(*dims).replace(0, 1, ", ") +
                    " tensor normalizes over part of each sample (opset " + std::to_string(opset_) +
                    "), but the verifier normalizes over all of its features",
                fix);
  }
  out_.final_op = op;
  stage_ = Stage::final;
  last_op_ = describe(n);
}

}  // namespace nnproof::onnx_detail
