#include "verifier/model.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace nnproof {

std::vector<std::size_t> QuantizedModel::dims() const {
  std::vector<std::size_t> d{in_dim()};
  for (const auto& l : layers) d.push_back(l.rows);
  return d;
}

double QuantizedModel::output_scale() const {
  double s = alpha;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    s *= beta;                                  // s_Z(i) = beta * s_Y(i-1)
    if (i + 1 < layers.size()) s = s * s;       // s_Y(i) = s_Z(i)^2
  }
  return s;
}

void QuantizedModel::validate() const {
  if (layers.empty()) throw std::invalid_argument("the model has no layers");
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const auto& l = layers[i];
    std::string name = "layer " + std::to_string(i + 1);
    if (l.rows == 0 || l.cols == 0) throw std::invalid_argument(name + " has an empty dimension");
    if (l.weights.size() != l.rows * l.cols) throw std::invalid_argument(name + ": weight count != rows * cols");
    if (l.bias.size() != l.rows) throw std::invalid_argument(name + ": bias count != rows");
    if (i > 0 && l.cols != layers[i - 1].rows)
      throw std::invalid_argument(name + " takes " + std::to_string(l.cols) + " inputs but layer " +
                                  std::to_string(i) + " gives " + std::to_string(layers[i - 1].rows));
  }
}

namespace {
// The narrowest two's-complement width (1, 2, 4 or 8 bytes) holding every weight: keeps the digest
// of an int8-quantized model cheap while staying canonical (the width is a function of the values).
unsigned weight_width(const std::vector<std::int64_t>& w) {
  std::int64_t lo = 0, hi = 0;
  for (auto x : w) {
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  for (unsigned bytes : {1u, 2u, 4u}) {
    std::int64_t lim = std::int64_t{1} << (8 * bytes - 1);
    if (lo >= -lim && hi < lim) return bytes;
  }
  return 8;
}
}  // namespace

Digest model_digest(const QuantizedModel& model) {
  Sha256 h;
  h.update_str("nnproof/model/v1").update_u8(static_cast<std::uint8_t>(model.final_op)).update_u64(model.depth());
  std::vector<unsigned char> buf;
  for (const auto& l : model.layers) {
    unsigned width = weight_width(l.weights);
    h.update_u64(l.rows).update_u64(l.cols).update_u8(static_cast<std::uint8_t>(width));
    buf.resize(l.weights.size() * width);
    for (std::size_t i = 0; i < l.weights.size(); ++i)
      for (unsigned b = 0; b < width; ++b) buf[i * width + b] = static_cast<unsigned char>(static_cast<std::uint64_t>(l.weights[i]) >> (8 * b));
    h.update(buf.data(), buf.size());
    buf.resize(l.bias.size() * 16);
    for (std::size_t i = 0; i < l.bias.size(); ++i)
      for (unsigned b = 0; b < 16; ++b) buf[i * 16 + b] = static_cast<unsigned char>(static_cast<u128>(l.bias[i]) >> (8 * b));
    h.update(buf.data(), buf.size());
  }
  return h.finish();
}

}  // namespace nnproof
