// SPDX-License-Identifier: Apache-2.0
// Constants applied to the activation, folded into the neighbouring linear op, so that the proved
// network is still affine layers and squares. Each such node is a per-feature affine map
// y = s x + t (BatchNormalization in eval mode, Add / Sub / Mul / Div by a constant). After a
// linear op it folds into that op's rows and the layer's bias (W' = s W, b' = s b + t); before the
// first layer or after an activation it waits (pending_) and folds into the next op's columns and
// bias (W' = W diag(s), b' = b + W t). All in double, in that order: the folded floats are what
// quantization then rounds (docs/ARCHITECTURE.md, "Import folds").
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "host/onnx/importer.hpp"

namespace nnproof::onnx_detail {
namespace {

bool all_equal(const std::vector<double>& v, double x) {
  return std::all_of(v.begin(), v.end(), [x](double y) { return y == x; });
}

// A pool's integer weights and factor become ordinary weights (factor x 1), quantized with beta
// like any kernel: the price of scaling its channels differently.
void make_weighted(FloatOp& op) {
  for (double& w : op.weights) w *= op.factor;
  op.factor = 1;
  op.exact = false;
}

}  // namespace

// `c` broadcast (NumPy rules) against (batch, sample dims): one value per feature of a sample.
std::vector<double> Importer::per_feature(const onnx::NodeProto& n, const Tensor& c, const std::string& name) const {
  const auto dims = sample_dims();
  if (!dims) fail_node(n, "applies a constant to a tensor of unknown shape", "export with a static input shape");
  std::vector<std::size_t> cd = c.dims;
  const std::string fix = "use a scalar, per-channel (C, 1, 1) or per-feature constant";
  auto bad = [&] {
    fail_node(n,
              "constant " + in_quotes(name) + " of shape " + shape_str(c.dims) + " does not broadcast to (batch" +
                  shape_str(*dims).replace(0, 1, ", ") + " without changing the batch",
              fix);
  };
  if (cd.size() == dims->size() + 1) {
    if (cd[0] != 1) bad();
    cd.erase(cd.begin());
  }
  if (cd.size() > dims->size()) bad();
  cd.insert(cd.begin(), dims->size() - cd.size(), 1);
  std::size_t width = 1;
  for (std::size_t i = 0; i < dims->size(); ++i) {
    if (cd[i] != 1 && cd[i] != (*dims)[i]) bad();
    width *= (*dims)[i];
  }
  std::vector<double> out(width);
  for (std::size_t f = 0; f < width; ++f) {
    std::size_t rest = f, index = 0, stride = 1;  // the constant's entry for feature f
    for (std::size_t i = dims->size(); i-- > 0;) {
      const std::size_t coord = rest % (*dims)[i];
      rest /= (*dims)[i];
      if (cd[i] != 1) index += coord * stride;
      stride *= cd[i];
    }
    out[f] = c.values[index];
  }
  return out;
}

void Importer::apply_affine(const onnx::NodeProto& n, Affine a) {
  if (pending_ && stage_ != Stage::linear) {  // s2 (s1 x + t1) + t2
    for (std::size_t j = 0; j < a.scale.size(); ++j) {
      a.shift[j] += a.scale[j] * pending_->shift[j];
      a.scale[j] *= pending_->scale[j];
    }
  }
  for (std::size_t j = 0; j < a.scale.size(); ++j)
    if (!std::isfinite(a.scale[j]) || !std::isfinite(a.shift[j]))
      fail_node(n, "scales or shifts feature " + std::to_string(j) + " beyond a double's range",
                "fix the constants the model applies to its activations");
  if (stage_ == Stage::linear) return fold_into_rows(n, a);
  pending_ = std::move(a);
}

// s (W x + b) + t: row a of the layer's last op times s[a] (one factor per output channel of a
// Conv), then the layer's bias.
void Importer::fold_into_rows(const onnx::NodeProto& n, const Affine& a) {
  FloatLayer& layer = out_.layers.back();
  FloatOp& op = layer.ops.back();
  if (!all_equal(a.scale, 1.0)) {
    if (op.kind == LinearOp::Kind::dense) {
      for (std::size_t r = 0; r < op.rows; ++r)
        for (std::size_t j = 0; j < op.cols; ++j) op.weights[r * op.cols + j] *= a.scale[r];
    } else {
      const ConvShape& g = op.conv;
      const std::size_t plane = g.out_h() * g.out_w(), per_channel = g.group_in() * g.kernel_h * g.kernel_w;
      std::vector<double> channel(g.out_channels);
      for (std::size_t co = 0; co < g.out_channels; ++co) {
        channel[co] = a.scale[co * plane];
        for (std::size_t i = 0; i < plane; ++i)
          if (a.scale[co * plane + i] != channel[co])
            fail_node(n, "scales the outputs of one channel of " + last_op_ + " differently",
                      "only per-channel constants fold into a Conv or pool");
      }
      if (op.exact && channel[0] > 0 && std::isnormal(op.factor * channel[0]) && all_equal(channel, channel[0])) {
        op.factor *= channel[0];  // still a sum pool, its factor folded into the next scale
      } else {
        if (op.exact) make_weighted(op);
        for (std::size_t t = 0; t < op.weights.size(); ++t) op.weights[t] *= channel[t / per_channel];
      }
    }
  }
  for (std::size_t r = 0; r < layer.rows; ++r) layer.bias[r] = a.scale[r] * layer.bias[r] + a.shift[r];
}

// W (s x + t) + b = W diag(s) x + (b + W t): the pending map folded into the op starting a layer.
void Importer::fold_into_columns(const onnx::NodeProto& n, FloatOp& op, std::vector<double>& bias) {
  const Affine a = std::move(*pending_);
  pending_.reset();
  if (!all_equal(a.shift, 0.0)) {
    const std::vector<double> carried = apply_float(op, a.shift);  // zero padding stays zero
    for (std::size_t r = 0; r < op.rows; ++r) bias[r] += carried[r];
  }
  if (all_equal(a.scale, 1.0)) return;
  if (op.kind == LinearOp::Kind::dense) {
    for (std::size_t r = 0; r < op.rows; ++r)
      for (std::size_t j = 0; j < op.cols; ++j) op.weights[r * op.cols + j] *= a.scale[j];
    return;
  }
  const ConvShape& g = op.conv;
  const std::size_t plane = g.in_h * g.in_w, gin = g.group_in(), taps = g.kernel_h * g.kernel_w;
  std::vector<double> channel(g.in_channels);
  for (std::size_t ci = 0; ci < g.in_channels; ++ci) {
    channel[ci] = a.scale[ci * plane];
    for (std::size_t i = 0; i < plane; ++i)
      if (a.scale[ci * plane + i] != channel[ci])
        fail_node(n, "reads features that earlier constants scale differently within one channel",
                  "only per-channel constants fold into a Conv or pool");
  }
  if (op.exact && channel[0] > 0 && std::isnormal(op.factor * channel[0]) && all_equal(channel, channel[0])) {
    op.factor *= channel[0];
    return;
  }
  if (op.exact) make_weighted(op);
  const std::size_t per_group = g.out_channels / g.groups;
  for (std::size_t t = 0; t < op.weights.size(); ++t) {
    const std::size_t co = t / (gin * taps), cl = t / taps % gin;
    op.weights[t] *= channel[co / per_group * gin + cl];
  }
}

// ---- the nodes -------------------------------------------------------------------------------

void Importer::on_add(const onnx::NodeProto& n) {
  expect_arity(n, 2, 2);
  if (n.input(0) == current_ && n.input(1) == current_)
    fail_node(n, "adds the activation to itself", "fold the factor 2 into the previous layer's weights");
  const int k = n.input(0) == current_ ? 1 : 0;
  std::vector<double> t = per_feature(n, constant_input(n, k), n.input(k));
  apply_affine(n, {std::vector<double>(t.size(), 1.0), std::move(t)});
}

// x - c, or c - x.
void Importer::on_sub(const onnx::NodeProto& n) {
  expect_arity(n, 2, 2);
  if (n.input(0) == current_ && n.input(1) == current_) fail_node(n, "subtracts the activation from itself");
  const int k = n.input(0) == current_ ? 1 : 0;
  std::vector<double> c = per_feature(n, constant_input(n, k), n.input(k));
  if (k == 1)
    for (double& v : c) v = -v;
  apply_affine(n, {std::vector<double>(c.size(), k == 1 ? 1.0 : -1.0), std::move(c)});
}

// Mul(x, x) is the activation; Mul by a constant scales.
void Importer::on_mul(const onnx::NodeProto& n) {
  expect_arity(n, 2, 2);
  if (n.input(0) == current_ && n.input(1) == current_) return add_square(n);
  const int k = n.input(0) == current_ ? 1 : 0;
  std::vector<double> s = per_feature(n, constant_input(n, k), n.input(k));
  apply_affine(n, {s, std::vector<double>(s.size(), 0.0)});
}

// x / c is x * (1 / c), the reciprocal rounded once.
void Importer::on_div(const onnx::NodeProto& n) {
  expect_arity(n, 2, 2);
  if (n.input(0) != current_ || n.input(1) == current_)
    fail_node(n, "divides by the activation, which is not arithmetic over the field",
              "only division by a constant is supported (it is folded into the neighbouring layer)");
  std::vector<double> s = per_feature(n, constant_input(n, 1), n.input(1));
  for (double& v : s) {
    if (v == 0) fail_node(n, "divides by zero", "fix the constant " + in_quotes(n.input(1)));
    v = 1.0 / v;
  }
  apply_affine(n, {s, std::vector<double>(s.size(), 0.0)});
}

// Eval-mode BatchNormalization over axis 1 (1d and 2d alike): y = a (x - mean) + B with
// a = scale / sqrt(var + epsilon), folded as s = a, t = B - a mean.
void Importer::on_batch_norm(const onnx::NodeProto& n) {
  expect_arity(n, 5, 5);
  const std::string eval = "call model.eval() before torch.onnx.export";
  if (n.input(0) != current_) fail_node(n, "normalizes a constant", "the activation must be its first input");
  if (attr_int(n, "training_mode", 0) != 0) fail_node(n, "is in training mode (batch statistics)", eval);
  if (opset_ < 9 && attr_int(n, "spatial", 1) != 1) fail_node(n, "spatial=0 normalizes per feature", eval);
  for (int k = 1; k < n.output_size(); ++k)
    if (!n.output(k).empty()) fail_node(n, "outputs running statistics, as in training mode", eval);
  const double epsilon = attr_float(n, "epsilon", 1e-5);
  const auto dims = sample_dims();
  if (!dims) fail_node(n, "normalizes a tensor of unknown shape", "export with a static input shape");
  std::size_t width = 1;
  for (std::size_t d : *dims) width *= d;
  const std::size_t channels = (*dims)[0], plane = width / channels;
  std::vector<std::vector<double>> p;  // scale, B, mean, var
  for (int k = 1; k <= 4; ++k) {
    Tensor t = constant_input(n, k);
    if (t.values.size() != channels)
      fail_node(n,
                "input " + in_quotes(n.input(k)) + " has " + std::to_string(t.values.size()) + " entries for " +
                    std::to_string(channels) + " channels",
                "re-export the model");
    p.push_back(std::move(t.values));
  }
  Affine a{std::vector<double>(width), std::vector<double>(width)};
  for (std::size_t c = 0; c < channels; ++c) {
    const double denominator = p[3][c] + epsilon, s = p[0][c] / std::sqrt(denominator), t = p[1][c] - s * p[2][c];
    if (!(denominator > 0) || !std::isfinite(s) || !std::isfinite(t))
      fail_node(n,
                "channel " + std::to_string(c) + " has var + epsilon = " + fmt_double(denominator) +
                    ", which does not normalize",
                "fix the running variance");
    std::fill_n(a.scale.begin() + static_cast<std::ptrdiff_t>(c * plane), plane, s);
    std::fill_n(a.shift.begin() + static_cast<std::ptrdiff_t>(c * plane), plane, t);
  }
  apply_affine(n, std::move(a));
}

}  // namespace nnproof::onnx_detail
