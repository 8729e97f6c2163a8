// SPDX-License-Identifier: Apache-2.0
#include "verifier/image_layout.hpp"

#include <algorithm>
#include <optional>
#include <type_traits>

namespace nnproof {
namespace {

struct Image {
  std::size_t c = 0, h = 0, w = 0;
  bool operator==(const Image&) const = default;
  std::size_t dense_size() const { return c * h * w; }
  std::size_t padded_size() const { return c * ConvShape::pow2_at_least(h) * ConvShape::pow2_at_least(w); }
};

// The ops of the whole model in order, a dense layer counting as one op (nullptr: its `weights`).
struct OpRef {
  std::size_t layer;
  const LinearOp* op;  // nullptr for a dense layer
};

std::vector<OpRef> all_ops(const QuantizedModel& m) {
  std::vector<OpRef> ops;
  for (std::size_t l = 0; l < m.layers.size(); ++l) {
    if (!m.layers[l].structured()) ops.push_back({l, nullptr});
    for (const LinearOp& op : m.layers[l].ops) ops.push_back({l, &op});
  }
  return ops;
}

bool is_conv(const OpRef& r) { return r.op && r.op->kind == LinearOp::Kind::conv; }

// Boundary b lies before op b (b = ops.size(): the outputs). It is a padded image when an adjacent
// op is a convolution (both, if both are, with the same image), except at the outputs, which stay
// in the model's order for the statement.
std::vector<std::optional<Image>> padded_boundaries(const std::vector<OpRef>& ops) {
  std::vector<std::optional<Image>> img(ops.size() + 1);
  for (std::size_t b = 0; b < ops.size(); ++b) {
    std::optional<Image> out, in;
    if (b > 0 && is_conv(ops[b - 1])) {
      const ConvShape& c = ops[b - 1].op->conv;
      out = Image{c.out_channels, c.out_h(), c.out_w()};
    }
    if (is_conv(ops[b])) {
      const ConvShape& c = ops[b].op->conv;
      in = Image{c.in_channels, c.in_h, c.in_w};
    }
    if (out && in && !(*out == *in)) continue;  // a reshape between two convolutions: dense there
    img[b] = out ? out : in;
  }
  return img;
}

// rows x cols weights with rows and columns moved by the maps (empty: unchanged), zeros elsewhere,
// written in the storage's own width (an int64 copy of a large padded layer would be 8x its bytes).
WeightMatrix remap_dense(const WeightMatrix& w, std::size_t rows, std::size_t cols,
                         const std::vector<std::size_t>& rmap, std::size_t new_rows,
                         const std::vector<std::size_t>& cmap, std::size_t new_cols) {
  return w.visit([&](const auto* src) {
    std::int64_t lo = 0, hi = 0;
    for (std::size_t i = 0; i < rows * cols; ++i)
      lo = std::min<std::int64_t>(lo, src[i]), hi = std::max<std::int64_t>(hi, src[i]);
    return WeightMatrix::with_range(lo, hi, new_rows * new_cols, [&](auto* out) {
      using T = std::remove_pointer_t<decltype(out)>;
      std::fill(out, out + new_rows * new_cols, T{0});
      for (std::size_t a = 0; a < rows; ++a) {
        const std::size_t ra = rmap.empty() ? a : rmap[a];
        for (std::size_t j = 0; j < cols; ++j)
          out[ra * new_cols + (cmap.empty() ? j : cmap[j])] = static_cast<T>(src[a * cols + j]);
      }
    });
  });
}

}  // namespace

std::vector<std::size_t> pow2_image_map(std::size_t channels, std::size_t h, std::size_t w) {
  const std::size_t hp = ConvShape::pow2_at_least(h), wp = ConvShape::pow2_at_least(w);
  std::vector<std::size_t> map(channels * h * w);
  for (std::size_t c = 0; c < channels; ++c)
    for (std::size_t y = 0; y < h; ++y)
      for (std::size_t x = 0; x < w; ++x) map[(c * h + y) * w + x] = (c * hp + y) * wp + x;
  return map;
}

std::vector<std::size_t> proof_dims(const QuantizedModel& model, std::uint32_t version) {
  std::vector<std::size_t> dims = model.dims();
  if (version < kPow2ImageVersion) return dims;
  const std::vector<OpRef> ops = all_ops(model);
  const std::vector<std::optional<Image>> img = padded_boundaries(ops);
  if (img[0]) dims[0] = img[0]->padded_size();
  for (std::size_t b = 1; b < ops.size(); ++b)  // boundary b ends layer ops[b - 1].layer when op b starts another
    if (ops[b].layer != ops[b - 1].layer && img[b]) dims[ops[b].layer] = img[b]->padded_size();
  return dims;
}

ProofLayout::ProofLayout(const QuantizedModel& model, std::uint32_t version) : original_(&model) {
  if (version < kPow2ImageVersion) return;
  const std::vector<OpRef> ops = all_ops(model);
  const std::vector<std::optional<Image>> img = padded_boundaries(ops);
  bool any = false;
  for (const auto& i : img) any = any || i.has_value();
  if (!any) return;
  auto m = std::make_shared<QuantizedModel>(model);
  // A map only where the padding moves features; empty where H and W are powers of two already.
  auto map_of = [&](std::size_t b) {
    if (!img[b] || img[b]->padded_size() == img[b]->dense_size()) return std::vector<std::size_t>{};
    return pow2_image_map(img[b]->c, img[b]->h, img[b]->w);
  };
  auto size_of = [&](std::size_t b, std::size_t dense) { return img[b] ? img[b]->padded_size() : dense; };
  std::size_t b = 0;  // the boundary before the current op
  for (std::size_t l = 0; l < m->layers.size(); ++l) {
    QuantizedLayer& layer = m->layers[l];
    const std::size_t first = b;
    if (!layer.structured()) {
      const auto rmap = map_of(b + 1), cmap = map_of(b);
      const std::size_t rows = size_of(b + 1, layer.rows), cols = size_of(b, layer.cols);
      if (!rmap.empty() || !cmap.empty())
        layer.weights = remap_dense(layer.weights, layer.rows, layer.cols, rmap, rows, cmap, cols);
      ++b;
    }
    for (LinearOp& op : layer.ops) {
      if (op.kind == LinearOp::Kind::conv) {
        op.conv.pow2_in = img[b].has_value();
        op.conv.pow2_out = img[b + 1].has_value();
        op.rows = op.conv.out_size();
        op.cols = op.conv.in_size();
      } else {
        const auto rmap = map_of(b + 1), cmap = map_of(b);
        const std::size_t rows = size_of(b + 1, op.rows), cols = size_of(b, op.cols);
        if (!rmap.empty() || !cmap.empty())
          op.weights = remap_dense(op.weights, op.rows, op.cols, rmap, rows, cmap, cols);
        op.rows = rows;
        op.cols = cols;
      }
      ++b;
    }
    const std::size_t rows = size_of(b, layer.rows);
    if (const auto rmap = map_of(b); !rmap.empty()) {
      std::vector<i128> bias(rows, 0);
      for (std::size_t a = 0; a < layer.rows; ++a) bias[rmap[a]] = layer.bias[a];
      layer.bias = std::move(bias);
    }
    if (first == 0) input_map_ = map_of(0);
    layer.rows = rows;
    layer.cols = size_of(first, layer.cols);
  }
  remapped_ = std::move(m);
}

}  // namespace nnproof
