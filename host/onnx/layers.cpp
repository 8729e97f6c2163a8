// SPDX-License-Identifier: Apache-2.0
// The chain of affine layers the importer grows: linear ops appended to the current layer (a bias
// already there carried through them in float), a square activation closing it, and at the end
// each layer sealed (a chain of dense ops multiplied out where that is no larger).
#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "host/onnx/importer.hpp"

namespace nnproof::onnx_detail {

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
// more precise than rounding each factor, and the protocol then sees an ordinary dense layer. The
// product is formed first op first (W_2 W_1, then W_3 (W_2 W_1), ...), and only when every partial
// product, the last included, has no more entries than the ops together: otherwise the ops stay a
// structured chain. So an n -> 1 -> n chain (n^2 entries from 2n) stays a chain, and so does
// n0 -> 1 -> M -> 1, whose product is small but whose partial product W_2 W_1 is M x n0: a file of
// a few hundred KB must not make import allocate gigabytes.
void seal(FloatLayer& layer) {
  std::uint64_t factors = 0;
  for (const FloatOp& op : layer.ops) {
    if (op.kind != LinearOp::Kind::dense || op.exact) return;
    factors += static_cast<std::uint64_t>(op.rows) * op.cols;
  }
  for (const FloatOp& op : layer.ops)  // the partial products are rows_k x cols
    if (static_cast<std::uint64_t>(op.rows) * layer.cols > factors) return;
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
  if (l.rows == 0 || l.cols == 0)
    fail_node(n, "weight has an empty dimension " + shape_str(w.dims), "re-export the model");
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
    fail_node(n,
              "bias " + in_quotes(name) + " has shape " + shape_str(b.dims) + ", expected (" +
                  std::to_string(layer.rows) + ")" +
                  (!flat_ && chw_ ? " or (" + std::to_string((*chw_)[0]) + ", 1, 1)" : ""),
              "export one bias entry per output feature or channel");
  for (std::size_t i = 0; i < layer.rows; ++i) layer.bias[i] += b.values[i];
}

void Importer::add_linear(const onnx::NodeProto& n, FloatLayer layer) {
  if (!flat_)
    fail_node(n, "reads a tensor of rank above 2", "add a Flatten before it so its input is (batch, features)");
  FloatOp op;
  op.rows = layer.rows;
  op.cols = layer.cols;
  op.weights = std::move(layer.weights);
  add_op(n, std::move(op), std::move(layer.bias));
}

// Refuses an op too large to prove before anything is sized by it: its feature counts, and for a
// convolution or pool its kernel entries and taps.
void Importer::check_size(const onnx::NodeProto& n, const FloatOp& op) const {
  if (op.rows > kMaxFeatures || op.cols > kMaxFeatures)
    fail_node(
        n,
        "maps " + std::to_string(op.cols) + " to " + std::to_string(op.rows) + " features per sample, more than 2^26",
        "nnproof refuses layers this large");
  if (op.kind != LinearOp::Kind::conv) return;
  const ConvShape& c = op.conv;
  const u128 kernel = static_cast<u128>(c.out_channels) * c.group_in() * c.kernel_h * c.kernel_w;
  const u128 taps = static_cast<u128>(c.out_size()) * c.group_in() * c.kernel_h * c.kernel_w;
  if (kernel > kMaxFeatures || taps > kMaxTaps)
    fail_node(n,
              "has a " + std::to_string(c.kernel_h) + " x " + std::to_string(c.kernel_w) + " window over " +
                  std::to_string(c.group_in()) + " channels: more than 2^26 kernel entries or 2^32 taps in all",
              "nnproof refuses layers this large");
}

// Appends a linear op to the current layer, or starts a layer after an activation. A bias already
// in the layer passes through the new op in float (W2 (W1 x + b1) + b2 = W2 W1 x + (W2 b1 + b2)).
void Importer::add_op(const onnx::NodeProto& n, FloatOp op, std::vector<double> bias) {
  check_size(n, op);
  if (width_ && *width_ != op.cols)
    fail_node(
        n, "takes " + std::to_string(op.cols) + " inputs but " +
               (out_.layers.empty() ? "the model input " + in_quotes(input_name_) : std::string("the previous layer")) +
               " gives " + std::to_string(*width_));
  if (pending_ && stage_ != Stage::linear) fold_into_columns(n, op, bias);
  if (out_.layers.empty()) features_ += op.cols;
  features_ += op.rows;
  if (stage_ == Stage::linear) {
    FloatLayer& layer = out_.layers.back();
    if (std::any_of(layer.bias.begin(), layer.bias.end(), [](double b) { return b != 0; })) {
      std::vector<double> carried = apply_float(op, layer.bias);  // O(taps): skipped for a zero bias
      for (std::size_t a = 0; a < op.rows; ++a) bias[a] += carried[a];
    }
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

// Pools are the one op whose work the file does not pay for: a 1 KB file can chain AveragePools
// with large windows and stride 1, each ~2^26 taps (~1 s of verifying, and of carrying a bias at
// import). Up to each pool, the pools' taps together may be at most 2^24 plus 32 per feature so far
// (the input's and every op's outputs, this pool's included): far above what pooling costs in real
// networks (a k x k window at stride k reads each input once; 3 x 3 at stride 1, nine times) and in
// proportion to the model. Checked before the pool is added, so nothing is spent on a refused one.
// Conv and dense work is paid for by weights stored in the file and bounded per op by check_size.
void Importer::check_pool_work(const onnx::NodeProto& n, const FloatOp& pool) {
  constexpr std::uint64_t kFreeTaps = std::uint64_t{1} << 24, kTapsPerFeature = 32;
  const std::uint64_t features = features_ + (out_.layers.empty() ? pool.cols : 0) + pool.rows;
  pool_taps_ += pool.rows * pool.conv.kernel_h * pool.conv.kernel_w;  // below 2^32 each (check_size)
  if (pool_taps_ > kFreeTaps + kTapsPerFeature * features)
    fail_node(n,
              "pooling windows would sum " + std::to_string(pool_taps_) +
                  " inputs per sample by here, more than 2^24 + 32 per feature of the model so far (" +
                  std::to_string(features) + "); the verifier's work would not be in proportion to the model",
              "use smaller pooling windows or strides equal to the kernel");
}

// A square activation closes the current layer: the network starts with a linear layer and has
// one between any two activations.
void Importer::add_square(const onnx::NodeProto& n) {
  if (stage_ == Stage::start)
    fail_node(n, "squares the input before any linear layer", "the network must start with a MatMul/Gemm/Conv layer");
  if (stage_ == Stage::square)
    fail_node(n, "follows the activation " + last_op_ + ": two activations in a row are not supported",
              "put a linear layer between them");
  stage_ = Stage::square;
  last_op_ = describe(n);
}

}  // namespace nnproof::onnx_detail
