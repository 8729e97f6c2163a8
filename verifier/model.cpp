// SPDX-License-Identifier: Apache-2.0
#include "verifier/model.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace nnproof {

std::vector<std::size_t> QuantizedModel::dims() const {
  std::vector<std::size_t> d{in_dim()};
  for (const auto& l : layers) d.push_back(l.rows);
  return d;
}

double QuantizedModel::output_scale() const {
  double s = alpha;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    s *= layers[i].gain.value_or(beta);    // s_Z(i) = beta * s_Y(i-1) for one weighted op
    if (i + 1 < layers.size()) s = s * s;  // s_Y(i) = s_Z(i)^2
  }
  return s;
}

namespace {

void validate_chain(const QuantizedLayer& l, const std::string& name) {
  if (l.weights.size() != 0) throw std::invalid_argument(name + " has both dense weights and structured ops");
  for (std::size_t k = 0; k < l.ops.size(); ++k) {
    try {
      l.ops[k].validate();
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(name + " op " + std::to_string(k + 1) + ": " + e.what());
    }
    if (k > 0 && l.ops[k].cols != l.ops[k - 1].rows) throw std::invalid_argument(name + ": its ops do not chain");
  }
  if (l.ops.front().cols != l.cols || l.ops.back().rows != l.rows)
    throw std::invalid_argument(name + ": its ops do not map " + std::to_string(l.cols) + " to " +
                                std::to_string(l.rows) + " features");
}

void hash_weights(Sha256& h, const WeightMatrix& weights, std::vector<unsigned char>& buf) {
  // The narrowest width is a function of the values, so the encoding is canonical. It is each
  // entry's `width` little-endian bytes, and the storage is that wide: on a little-endian machine
  // the stored entries are hashed in place (a byte loop was ~10% of loading a 12M-weight model).
  const unsigned width = weights.width();
  h.update_u8(static_cast<std::uint8_t>(width));
  weights.visit([&](const auto* w) {
    static_assert(std::is_signed_v<std::remove_pointer_t<decltype(w)>>);
    if constexpr (std::endian::native == std::endian::little) {
      h.update(w, weights.size() * width);
    } else {
      buf.resize(weights.size() * width);
      for (std::size_t i = 0; i < weights.size(); ++i)
        for (unsigned b = 0; b < width; ++b)
          buf[i * width + b] =
              static_cast<unsigned char>(static_cast<std::uint64_t>(static_cast<std::int64_t>(w[i])) >> (8 * b));
      h.update(buf.data(), buf.size());
    }
  });
}

// Width byte 0 (never a storage width) marks a structured layer: then its scale gain (which
// dequantizes the outputs: an average pool and a ones-kernel sum pool give the same integers but
// different gains), the op count and each op's kind, shape and kernel follow (docs/FORMAT.md).
void hash_ops(Sha256& h, const QuantizedLayer& layer, std::vector<unsigned char>& buf) {
  const std::vector<LinearOp>& ops = layer.ops;
  h.update_u8(0).update_u64(std::bit_cast<std::uint64_t>(layer.gain.value_or(0.0))).update_u64(ops.size());
  for (const LinearOp& op : ops) {
    h.update_u8(static_cast<std::uint8_t>(op.kind)).update_u64(op.rows).update_u64(op.cols);
    if (op.kind == LinearOp::Kind::conv) {
      const ConvShape& c = op.conv;
      for (std::size_t v : {c.in_channels, c.in_h, c.in_w, c.out_channels, c.kernel_h, c.kernel_w, c.stride_h,
                            c.stride_w, c.pad_top, c.pad_left, c.pad_bottom, c.pad_right, c.groups})
        h.update_u64(v);
    }
    hash_weights(h, op.weights, buf);
  }
}

}  // namespace

void QuantizedModel::validate() const {
  if (layers.empty()) throw std::invalid_argument("the model has no layers");
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const auto& l = layers[i];
    std::string name = "layer " + std::to_string(i + 1);
    if (l.rows == 0 || l.cols == 0) throw std::invalid_argument(name + " has an empty dimension");
    if (l.structured())
      validate_chain(l, name);
    else if (l.weights.size() != l.rows * l.cols)
      throw std::invalid_argument(name + ": weight count != rows * cols");
    if (l.bias.size() != l.rows) throw std::invalid_argument(name + ": bias count != rows");
    if (i > 0 && l.cols != layers[i - 1].rows)
      throw std::invalid_argument(name + " takes " + std::to_string(l.cols) + " inputs but layer " + std::to_string(i) +
                                  " gives " + std::to_string(layers[i - 1].rows));
  }
}

Digest model_digest(const QuantizedModel& model) {
  Sha256 h;
  h.update_str("nnproof/model/v1").update_u8(static_cast<std::uint8_t>(model.final_op)).update_u64(model.depth());
  std::vector<unsigned char> buf;
  for (const auto& l : model.layers) {
    h.update_u64(l.rows).update_u64(l.cols);
    if (l.structured())
      hash_ops(h, l, buf);
    else
      hash_weights(h, l.weights, buf);
    buf.resize(l.bias.size() * 16);
    for (std::size_t i = 0; i < l.bias.size(); ++i)
      for (unsigned b = 0; b < 16; ++b)
        buf[i * 16 + b] = static_cast<unsigned char>(static_cast<u128>(l.bias[i]) >> (8 * b));
    h.update(buf.data(), buf.size());
  }
  return h.finish();
}

}  // namespace nnproof
