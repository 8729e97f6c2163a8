// SPDX-License-Identifier: Apache-2.0
#include "verifier/linear_op.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "core/saturating.hpp"

namespace nnproof {
namespace {

// Feature counts above 2^31 are refused everywhere (the proof format's kMaxDimension is smaller).
constexpr std::size_t kMaxExtent = std::size_t{1} << 31;

}  // namespace

void ConvShape::validate() const {
  auto fail = [](const std::string& what) { throw std::invalid_argument("convolution: " + what); };
  for (std::size_t d : {in_channels, in_h, in_w, out_channels, kernel_h, kernel_w, stride_h, stride_w, groups})
    if (d == 0 || d >= kMaxExtent) fail("a size, stride or group count is zero or too large");
  for (std::size_t p : {pad_top, pad_left, pad_bottom, pad_right})
    if (p >= kMaxExtent) fail("padding too large");
  if (in_channels % groups != 0 || out_channels % groups != 0) fail("channels are not divisible by the group count");
  if (kernel_h > in_h + pad_top + pad_bottom || kernel_w > in_w + pad_left + pad_right)
    fail("the kernel is larger than the padded input");
  // Padding of a kernel's size or more would give output features that read only zeros.
  if (pad_top >= kernel_h || pad_bottom >= kernel_h || pad_left >= kernel_w || pad_right >= kernel_w)
    fail("padding must be smaller than the kernel");
  if (static_cast<u128>(in_channels) * in_h * in_w >= kMaxExtent ||
      static_cast<u128>(out_channels) * out_h() * out_w() >= kMaxExtent ||
      static_cast<u128>(out_channels) * group_in() * kernel_h * kernel_w >= kMaxExtent)
    fail("more than 2^31 features or kernel entries");
  if (in_size() >= kMaxExtent || out_size() >= kMaxExtent)  // below 2^33 each here: no overflow
    fail("more than 2^31 features once padded to powers of two");
}

LinearOp LinearOp::dense(std::size_t rows, std::size_t cols, WeightMatrix weights) {
  LinearOp op;
  op.kind = Kind::dense;
  op.rows = rows;
  op.cols = cols;
  op.weights = std::move(weights);
  return op;
}

LinearOp LinearOp::convolution(const ConvShape& shape, WeightMatrix kernel) {
  shape.validate();
  LinearOp op;
  op.kind = Kind::conv;
  op.conv = shape;
  op.rows = shape.out_size();
  op.cols = shape.in_size();
  op.weights = std::move(kernel);
  return op;
}

LinearOp LinearOp::sum_pool(const ConvShape& shape) {
  if (shape.groups != shape.in_channels || shape.out_channels != shape.in_channels)
    throw std::invalid_argument("a sum pool is depthwise: groups = input channels = output channels");
  LinearOp op = convolution(shape, WeightMatrix(std::vector<std::int64_t>(shape.kernel_size(), 1)));
  op.fixed = true;
  op.fixed_gain = static_cast<double>(shape.kernel_h * shape.kernel_w);
  return op;
}

bool LinearOp::is_ones_pool() const {
  if (kind != Kind::conv || conv.groups != conv.in_channels || conv.out_channels != conv.in_channels) return false;
  for (std::size_t i = 0; i < weights.size(); ++i)
    if (weights[i] != 1) return false;
  return true;
}

std::size_t LinearOp::nnz_bound() const {
  if (kind == Kind::dense) return rows * cols;
  return conv.out_size() * conv.group_in() * conv.kernel_h * conv.kernel_w;
}

void LinearOp::validate() const {
  if (rows == 0 || cols == 0) throw std::invalid_argument("an operator has an empty dimension");
  if (kind == Kind::dense) {
    if (weights.size() != rows * cols) throw std::invalid_argument("dense operator: weight count != rows * cols");
    return;
  }
  if (kind != Kind::conv) throw std::invalid_argument("unknown operator kind");
  conv.validate();
  if (rows != conv.out_size() || cols != conv.in_size())
    throw std::invalid_argument("convolution: rows/cols do not match its shape");
  if (weights.size() != conv.kernel_size())
    throw std::invalid_argument("convolution: kernel size does not match its shape");
}

std::vector<u128> chain_abs_row_sums(std::span<const LinearOp> chain) {
  std::vector<u128> cur(chain.front().cols, 1);
  for (const LinearOp& op : chain) {
    std::vector<u128> next(op.rows, 0);
    for (std::size_t a = 0; a < op.rows; ++a)
      for_each_entry(op, a,
                     [&](std::size_t j, std::int64_t w) { next[a] = sat_add(next[a], sat_mul(abs128(w), cur[j])); });
    cur = std::move(next);
  }
  return cur;
}

namespace {

// Per input channel of a convolution, the largest of `per_feature` over the channel's features.
std::vector<u128> channel_max(const ConvShape& c, const std::vector<u128>& per_feature) {
  std::vector<u128> m(c.in_channels, 0);
  const std::size_t plane = c.in_h * c.in_w;
  for (std::size_t j = 0; j < per_feature.size(); ++j) m[j / plane] = std::max(m[j / plane], per_feature[j]);
  return m;
}

// Each output channel's bound repeated over its out_h x out_w features (the dense layout).
std::vector<u128> spread(const ConvShape& c, const std::vector<u128>& per_channel) {
  const std::size_t plane = c.out_h() * c.out_w();
  std::vector<u128> f(c.out_channels * plane);
  for (std::size_t j = 0; j < f.size(); ++j) f[j] = per_channel[j / plane];
  return f;
}

}  // namespace

std::vector<u128> chain_abs_row_bounds(std::span<const LinearOp> chain) {
  // The bound in hand: per feature (`features`) or, after a convolution, per channel (`channels`).
  std::vector<u128> features, channels;
  bool by_channel = chain.front().kind == LinearOp::Kind::conv;
  if (by_channel)
    channels.assign(chain.front().conv.in_channels, 1);
  else
    features.assign(chain.front().cols, 1);
  for (std::size_t k = 0; k < chain.size(); ++k) {
    const LinearOp& op = chain[k];
    if (op.kind == LinearOp::Kind::conv) {
      const ConvShape& c = op.conv;
      if (!by_channel) channels = channel_max(c, features);
      // Every output feature of channel oc reads at most every tap once: sum |K| x its channel's bound.
      std::vector<u128> next(c.out_channels, 0);
      const std::size_t gin = c.group_in(), window = c.kernel_h * c.kernel_w, per_group = c.out_channels / c.groups;
      op.weights.visit([&](const auto* w) {
        for (std::size_t oc = 0; oc < c.out_channels; ++oc)
          for (std::size_t cl = 0; cl < gin; ++cl) {
            const u128 in = channels[oc / per_group * gin + cl];
            for (std::size_t t = 0; t < window; ++t)
              next[oc] = sat_add(next[oc], sat_mul(abs128(w[(oc * gin + cl) * window + t]), in));
          }
      });
      channels = std::move(next);
      by_channel = true;
    } else {
      if (by_channel) features = spread(chain[k - 1].conv, channels);
      std::vector<u128> next(op.rows, 0);
      for (std::size_t a = 0; a < op.rows; ++a)
        for_each_entry(
            op, a, [&](std::size_t j, std::int64_t w) { next[a] = sat_add(next[a], sat_mul(abs128(w), features[j])); });
      features = std::move(next);
      by_channel = false;
    }
  }
  return by_channel ? spread(chain.back().conv, channels) : features;
}

}  // namespace nnproof
