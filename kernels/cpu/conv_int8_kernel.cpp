// SPDX-License-Identifier: Apache-2.0
#include "kernels/cpu/conv_int8_kernel.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "kernels/cpu/isa.hpp"
#include "kernels/cpu/structured_limbs.hpp"

namespace nnproof::conv_kernel {

std::optional<std::pair<std::int8_t, std::int8_t>> split_weight(std::int64_t w) {
  const std::int64_t lo = ((w + 128) & 255) - 128, hi = (w - lo) / 256;
  if (hi < -128 || hi > 127) return std::nullopt;
  return std::pair{static_cast<std::int8_t>(lo), static_cast<std::int8_t>(hi)};
}

bool clamped_kernel_fits(const LinearOp& op) {
  if (op.kind != LinearOp::Kind::conv || op.weights.width() != 2) return false;
  std::size_t outside = 0;
  for (std::size_t i = 0; i < op.weights.size(); ++i) {
    const std::int64_t w = op.weights[i];
    outside += w < -128 || w > 127;
  }
  return outside <= op.weights.size() / kResidualShare && 255 * max_abs_row_sum(op) < (std::uint64_t{1} << 31);
}

namespace {

// op's int16 kernel clamped into int8, the rest as residual taps.
Int8Kernel clamped_kernel(const LinearOp& op) {
  const ConvShape& c = op.conv;
  const std::size_t gi = c.group_in(), ocg = c.out_channels / c.groups, KH = c.kernel_h, KW = c.kernel_w;
  Int8Kernel k;
  k.w.resize(op.weights.size());
  for (std::size_t i = 0; i < k.w.size(); ++i) {
    const std::int64_t w = op.weights[i], clamped = std::clamp<std::int64_t>(w, -128, 127);
    k.w[i] = static_cast<std::int8_t>(clamped);
    if (w == clamped) continue;
    const std::size_t oc = i / (gi * KH * KW), t = i % (gi * KH * KW);
    k.residual.push_back(
        {oc, oc / ocg * gi + t / (KH * KW), t / KW % KH, t % KW, static_cast<std::int32_t>(w - clamped)});
  }
  return k;
}

}  // namespace

Int8Kernel int8_kernel(const LinearOp& op) {
  Int8Kernel k;
  const std::size_t n = op.weights.size();
  if (const std::int8_t* w = op.weights.int8_data()) {
    k.w.assign(w, w + n);
    return k;
  }
  if (clamped_kernel_fits(op)) return clamped_kernel(op);
  const ConvShape& c = op.conv;
  const std::size_t ocg = c.out_channels / c.groups, per_oc = n / c.out_channels;  // group_in x kh x kw
  k.halves = 2;
  k.w.resize(2 * n);
  for (std::size_t co = 0; co < c.out_channels; ++co) {
    const std::size_t g = co / ocg, j = co % ocg;
    for (std::size_t t = 0; t < per_oc; ++t) {
      const auto parts = split_weight(op.weights[co * per_oc + t]);
      k.w[((g * 2 + 0) * ocg + j) * per_oc + t] = parts->first;
      k.w[((g * 2 + 1) * ocg + j) * per_oc + t] = parts->second;
    }
  }
  return k;
}

void add_residual(const ConvShape& c, const Int8Kernel& k, std::size_t o0, std::size_t ocb, std::size_t images,
                  const std::uint8_t* src, std::int32_t* dst) {
  const std::size_t H = c.in_h, W = c.in_w, C = c.in_channels, OH = c.out_h(), OW = c.out_w();
  // The outputs o along one side whose tap at kernel offset t reads inside the image:
  // 0 <= o stride + t - pad < size.
  const auto inside = [](std::size_t t, std::size_t pad, std::size_t stride, std::size_t size, std::size_t outs) {
    std::size_t first = 0;
    while (first < outs && first * stride + t < pad) ++first;
    std::size_t end = first;
    while (end < outs && end * stride + t - pad < size) ++end;
    return std::pair{first, end};
  };
  // The block's taps with their output ranges; then image by image, so that an image's products
  // (OH OW ocb int32) stay in cache for all of them.
  struct Span {
    const ResidualTap* tap;
    std::size_t oh0, oh1, ow0, ow1;
  };
  std::vector<Span> spans;
  for (const ResidualTap& tap : k.residual) {
    if (tap.oc < o0 || tap.oc >= o0 + ocb) continue;
    const auto [oh0, oh1] = inside(tap.kh, c.pad_top, c.stride_h, H, OH);
    const auto [ow0, ow1] = inside(tap.kw, c.pad_left, c.stride_w, W, OW);
    spans.push_back({&tap, oh0, oh1, ow0, ow1});
  }
  for (std::size_t m = 0; m < images; ++m)
    for (const Span& s : spans) {
      const ResidualTap& tap = *s.tap;
      for (std::size_t oh = s.oh0; oh < s.oh1; ++oh) {
        const std::size_t ih = oh * c.stride_h + tap.kh - c.pad_top;
        const std::uint8_t* in = src + ((m * H + ih) * W) * C + tap.ic;
        std::int32_t* out = dst + ((m * OH + oh) * OW) * ocb + (tap.oc - o0);
        for (std::size_t ow = s.ow0; ow < s.ow1; ++ow)
          out[ow * ocb] += tap.r * static_cast<std::int32_t>(in[(ow * c.stride_w + tap.kw - c.pad_left) * C]);
      }
    }
}

Int8Kernel kernel_block(const Int8Kernel& k, std::size_t OC, std::size_t o0, std::size_t ocb) {
  const std::size_t per_oc = k.w.size() / (k.halves * OC);
  Int8Kernel b;
  b.halves = k.halves;
  for (std::size_t h = 0; h < k.halves; ++h) {
    const auto first = k.w.begin() + static_cast<std::ptrdiff_t>((h * OC + o0) * per_oc);
    b.w.insert(b.w.end(), first, first + static_cast<std::ptrdiff_t>(ocb * per_oc));
  }
  return b;
}

bool fold_kernel_columns(const ConvShape& c) {
  static const bool forced = [] {
    const char* v = std::getenv("NNPROOF_CONV_FOLD");
    return v != nullptr && std::string(v) == "always";
  }();
  return c.groups == 1 && c.kernel_w > 1 && c.in_channels < 32 && (forced || int8_amx_allowed());
}

ConvShape folded_shape(const ConvShape& c) {
  ConvShape f = c;
  f.in_channels = c.kernel_w * c.in_channels;
  f.in_w = c.out_w();
  f.kernel_w = 1, f.stride_w = 1, f.pad_left = f.pad_right = 0;
  return f;
}

Int8Kernel folded_kernel(const Int8Kernel& k, const ConvShape& c) {
  const std::size_t C = c.in_channels, KH = c.kernel_h, KW = c.kernel_w, per_oc = C * KH * KW;
  Int8Kernel f;
  f.halves = k.halves;
  f.w.resize(k.w.size());
  for (std::size_t o = 0; o < k.w.size() / per_oc; ++o)
    for (std::size_t ci = 0; ci < C; ++ci)
      for (std::size_t kh = 0; kh < KH; ++kh)
        for (std::size_t kw = 0; kw < KW; ++kw)
          f.w[o * per_oc + (kw * C + ci) * KH + kh] = k.w[o * per_oc + (ci * KH + kh) * KW + kw];
  return f;
}

void fold_columns(const ConvShape& c, std::size_t images, const std::uint8_t* src, std::uint8_t* dst) {
  const std::size_t C = c.in_channels, W = c.in_w, OW = c.out_w(), KW = c.kernel_w;
  for (std::size_t r = 0; r < images * c.in_h; ++r) {
    const std::uint8_t* in = src + r * W * C;
    std::uint8_t* out = dst + r * OW * KW * C;
    for (std::size_t ow = 0; ow < OW; ++ow, out += KW * C) {
      const std::ptrdiff_t x0 = static_cast<std::ptrdiff_t>(ow * c.stride_w) - static_cast<std::ptrdiff_t>(c.pad_left);
      if (x0 >= 0 && static_cast<std::size_t>(x0) + KW <= W) {
        std::memcpy(out, in + static_cast<std::size_t>(x0) * C, KW * C);
        continue;
      }
      for (std::size_t kw = 0; kw < KW; ++kw) {
        const std::ptrdiff_t x = x0 + static_cast<std::ptrdiff_t>(kw);
        if (x >= 0 && static_cast<std::size_t>(x) < W)
          std::memcpy(out + kw * C, in + static_cast<std::size_t>(x) * C, C);
        else
          std::memset(out + kw * C, 0, C);
      }
    }
  }
}

}  // namespace nnproof::conv_kernel
