#include "verifier/model.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
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
template <class T>
bool fits(std::int64_t lo, std::int64_t hi) {
  return lo >= std::numeric_limits<T>::min() && hi <= std::numeric_limits<T>::max();
}
template <class T>
std::vector<T> narrow(const std::vector<std::int64_t>& v) {
  return std::vector<T>(v.begin(), v.end());
}
}  // namespace

WeightMatrix::WeightMatrix(std::vector<std::int64_t> values) {
  std::int64_t lo = 0, hi = 0;
  for (auto x : values) lo = std::min(lo, x), hi = std::max(hi, x);
  if (fits<std::int8_t>(lo, hi)) data_ = narrow<std::int8_t>(values);
  else if (fits<std::int16_t>(lo, hi)) data_ = narrow<std::int16_t>(values);
  else if (fits<std::int32_t>(lo, hi)) data_ = narrow<std::int32_t>(values);
  else data_ = std::move(values);
}

std::size_t WeightMatrix::size() const {
  return std::visit([](const auto& v) { return v.size(); }, data_);
}

std::int64_t WeightMatrix::operator[](std::size_t i) const {
  return std::visit([i](const auto& v) { return static_cast<std::int64_t>(v[i]); }, data_);
}

void WeightMatrix::set(std::size_t i, std::int64_t value) {
  std::vector<std::int64_t> all = to_vector();
  all[i] = value;
  *this = WeightMatrix(std::move(all));  // re-pick the narrowest width: the encoding stays canonical
}

unsigned WeightMatrix::width() const {
  return std::visit([](const auto& v) { return static_cast<unsigned>(sizeof(v[0])); }, data_);
}

std::vector<std::int64_t> WeightMatrix::to_vector() const {
  return std::visit([](const auto& v) { return std::vector<std::int64_t>(v.begin(), v.end()); }, data_);
}

std::uint64_t WeightMatrix::max_abs() const {
  return std::visit(
      [](const auto& v) {
        std::uint64_t m = 0;
        for (auto x : v) m = std::max(m, x < 0 ? static_cast<std::uint64_t>(-(x + 1)) + 1 : static_cast<std::uint64_t>(x));
        return m;
      },
      data_);
}

Digest model_digest(const QuantizedModel& model) {
  Sha256 h;
  h.update_str("nnproof/model/v1").update_u8(static_cast<std::uint8_t>(model.final_op)).update_u64(model.depth());
  std::vector<unsigned char> buf;
  for (const auto& l : model.layers) {
    // The narrowest width is a function of the values, so the encoding is canonical.
    const unsigned width = l.weights.width();
    h.update_u64(l.rows).update_u64(l.cols).update_u8(static_cast<std::uint8_t>(width));
    buf.resize(l.weights.size() * width);
    l.weights.visit([&](const auto* w) {
      for (std::size_t i = 0; i < l.weights.size(); ++i)
        for (unsigned b = 0; b < width; ++b) buf[i * width + b] = static_cast<unsigned char>(static_cast<std::uint64_t>(static_cast<std::int64_t>(w[i])) >> (8 * b));
    });
    h.update(buf.data(), buf.size());
    buf.resize(l.bias.size() * 16);
    for (std::size_t i = 0; i < l.bias.size(); ++i)
      for (unsigned b = 0; b < 16; ++b) buf[i * 16 + b] = static_cast<unsigned char>(static_cast<u128>(l.bias[i]) >> (8 * b));
    h.update(buf.data(), buf.size());
  }
  return h.finish();
}

}  // namespace nnproof
