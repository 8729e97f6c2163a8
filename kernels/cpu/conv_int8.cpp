// SPDX-License-Identifier: Apache-2.0
#include "kernels/cpu/conv_int8.hpp"

#include <algorithm>
#include <oneapi/dnnl/dnnl.hpp>
#include <optional>
#include <stdexcept>
#include <string>

#include "core/lazy.hpp"
#include "kernels/cpu/int8_limbs.hpp"
#include "kernels/cpu/isa.hpp"
#include "kernels/cpu/prefetch_rows.hpp"
#include "kernels/cpu/structured_limbs.hpp"
#include "kernels/engine/uninitialized.hpp"
#include "verifier/parallel.hpp"

namespace nnproof {

namespace {
using dnnl::memory;
memory::dim md(std::size_t d) { return static_cast<memory::dim>(d); }
// Output entries rebuilt at a time, all samples of a block together: 32 KiB of m127 (L1).
constexpr std::size_t kJoinEntries = 2048;

// Entries of a join piece, per sample: whole positions (oc entries each), about kJoinEntries in all.
std::size_t join_piece(std::size_t oc, std::size_t samples) {
  return std::max<std::size_t>(1, kJoinEntries / samples / oc) * oc;
}

// The kernel as int8: itself when stored as int8 (halves = 1); an int16 kernel as two int8 kernels
// w = lo + 256 hi, lo in [-128, 127], side by side as twice the output channels (halves = 2): in
// each group its lo channels, then its hi channels.
struct Int8Kernel {
  std::size_t halves = 1;
  std::vector<std::int8_t> w;  // (halves out_channels) x group_in x kernel_h x kernel_w
};

// The halves of w, or nothing when hi leaves int8 (w > 32639).
std::optional<std::pair<std::int8_t, std::int8_t>> split_weight(std::int64_t w) {
  const std::int64_t lo = ((w + 128) & 255) - 128, hi = (w - lo) / 256;
  if (hi < -128 || hi > 127) return std::nullopt;
  return std::pair{static_cast<std::int8_t>(lo), static_cast<std::int8_t>(hi)};
}

Int8Kernel int8_kernel(const LinearOp& op) {
  Int8Kernel k;
  const std::size_t n = op.weights.size();
  if (const std::int8_t* w = op.weights.int8_data()) {
    k.w.assign(w, w + n);
    return k;
  }
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

// The kernel's output channels [o0, o0 + ocb) as an Int8Kernel of a convolution with ocb output
// channels (groups == 1): its lo channels, then its hi channels.
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

// One oneDNN convolution of shape c over `images` images of bytes (nhwc, u8) into int32 (nhwc),
// for each of several kernels of that shape (output-channel blocks), each repacked into the layout
// its implementation reads. Run by several threads at once, each with its own scratchpad
// (scratchpad_mode::user), each call single-threaded (oneDNN runs a primitive called inside an
// OpenMP parallel region on the calling thread alone).
struct ByteConv {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::convolution_forward::primitive_desc pd;
  dnnl::convolution_forward conv;
  std::vector<memory> weights;  // one per kernel

  ByteConv(const ConvShape& c, const std::vector<Int8Kernel>& kernels, std::size_t images) {
    const std::size_t oc = kernels.front().halves * c.out_channels;
    using dt = memory::data_type;
    using tag = memory::format_tag;
    const memory::dims wdims =
        c.groups == 1 ? memory::dims{md(oc), md(c.in_channels), md(c.kernel_h), md(c.kernel_w)}
                      : memory::dims{md(c.groups), md(oc / c.groups), md(c.group_in()), md(c.kernel_h), md(c.kernel_w)};
    const memory::desc src({md(images), md(c.in_channels), md(c.in_h), md(c.in_w)}, dt::u8, tag::nhwc),
        w_any(wdims, dt::s8, tag::any), dst({md(images), md(oc), md(c.out_h()), md(c.out_w())}, dt::s32, tag::nhwc);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    pd = dnnl::convolution_forward::primitive_desc({dnnl::prop_kind::forward_inference,
                                                    dnnl::algorithm::convolution_direct,
                                                    src,
                                                    w_any,
                                                    dst,
                                                    {md(c.stride_h), md(c.stride_w)},
                                                    {md(c.pad_top), md(c.pad_left)},
                                                    {md(c.pad_bottom), md(c.pad_right)}},
                                                   attr, eng);
    conv = dnnl::convolution_forward(pd);
    dnnl::stream s(eng);
    for (const Int8Kernel& k : kernels) {
      memory given(memory::desc(wdims, dt::s8, c.groups == 1 ? tag::oihw : tag::goihw), eng,
                   const_cast<std::int8_t*>(k.w.data()));
      weights.emplace_back(pd.weights_desc(), eng);
      dnnl::reorder(given, weights.back()).execute(s, given, weights.back());
    }
    s.wait();
  }

  std::size_t scratchpad_bytes() const { return pd.scratchpad_desc().get_size(); }

  void run(std::size_t kernel, const std::uint8_t* src, std::int32_t* dst, std::uint8_t* scratchpad) const {
    memory s_mem(pd.src_desc(), eng, const_cast<std::uint8_t*>(src)), d_mem(pd.dst_desc(), eng, dst),
        pad(pd.scratchpad_desc(), eng, scratchpad);
    dnnl::stream s(eng);
    conv.execute(s, {{DNNL_ARG_SRC, s_mem},
                     {DNNL_ARG_WEIGHTS, weights[kernel]},
                     {DNNL_ARG_DST, d_mem},
                     {DNNL_ARG_SCRATCHPAD, pad}});
    s.wait();
  }
};

// The feature index of channel ch, position p = h W + w of an input / output image in the op's
// layouts: dense, or padded to powers of two (format version 3, docs/IMAGE_LAYOUT.md), where the
// padding positions are never read and stay zero in the output.
inline std::size_t in_feature(const ConvShape& c, std::size_t ch, std::size_t p) {
  return (ch * c.in_rows() + p / c.in_w) * c.in_cols() + p % c.in_w;
}
inline std::size_t out_feature(const ConvShape& c, std::size_t ch, std::size_t p) {
  return (ch * c.out_rows() + p / c.out_w()) * c.out_cols() + p % c.out_w();
}

// The split reads, and the join writes, n <= 4 samples (one cache line) of each row of a
// feature-major table: each asks for the row kPrefetchRowsAhead ahead itself (prefetch_rows.hpp).
// CIFAR 256 forward 0.130 -> 0.122 s.
// src[((i L + l) H W + p) C + c] = byte l of in[in_feature(c, p) in_stride + k0 + i] for l < L: the
// low L bytes of samples [k0, k0 + n) as n L images in nhwc.
template <class F>
void split_bytes(const ConvShape& c, std::size_t L, const F* in, std::size_t in_stride, std::size_t k0, std::size_t n,
                 std::uint8_t* src) {
  const std::size_t hw = c.in_h * c.in_w, C = c.in_channels;
  // Position-major: a position's channels fill whole cache lines of each (i, l) image at once.
  for (std::size_t p = 0; p < hw; ++p)
    for (std::size_t ch = 0; ch < C; ++ch) {
      const std::size_t ahead = p * C + ch + kPrefetchRowsAhead;
      if (ahead < hw * C) prefetch_entries(in + in_feature(c, ahead % C, ahead / C) * in_stride + k0, n);
      const F* x = in + in_feature(c, ch, p) * in_stride + k0;
      for (std::size_t i = 0; i < n; ++i) {
        u128 v = static_cast<u128>(x[i].v);
        std::uint8_t* dst = src + (i * L * hw + p) * C + ch;
        for (std::size_t l = 0; l < L; ++l, v >>= 8) dst[l * hw * C] = static_cast<std::uint8_t>(v);
      }
    }
}

// Inputs of at most kShortBytes bytes are rebuilt in 128-bit integers: sum_l 2^(8 l) g_l with
// |g_l| < 2^31 stays below 2^111, and lo + 256 hi (two halves) below 2^120.
constexpr std::size_t kShortBytes = 10;

// z[e] = sum_{l < L} 2^(8 l) g[l limb_stride + e] mod p for e < m, L <= kShortBytes: three int64
// digits of radix 2^32 (each below 2^57 in magnitude; a loop that vectorizes), joined in 128 bits.
template <class F>
void recombine_short(const std::int32_t* g, std::size_t limb_stride, std::size_t L, std::size_t m, F* z) {
  constexpr std::size_t kChunk = 64;
  std::int64_t d[3][kChunk];
  for (std::size_t e0 = 0; e0 < m; e0 += kChunk) {
    const std::size_t len = std::min(kChunk, m - e0);
    for (std::size_t dg = 0; dg < 3; ++dg) {
      for (std::size_t e = 0; e < len; ++e) d[dg][e] = 0;
      for (std::size_t l = 4 * dg; l < std::min(L, 4 * dg + 4); ++l) {
        const std::int32_t* row = g + l * limb_stride + e0;
        const unsigned shift = static_cast<unsigned>(8 * (l - 4 * dg));
        for (std::size_t e = 0; e < len; ++e)
          d[dg][e] += static_cast<std::int64_t>(row[e]) * (std::int64_t{1} << shift);
      }
    }
    for (std::size_t e = 0; e < len; ++e)
      z[e0 + e] = from_small_i128<F>(static_cast<i128>(d[0][e]) + (static_cast<i128>(d[1][e]) << 32) +
                                     (static_cast<i128>(d[2][e]) << 64));
  }
}

// A block of the convolution's outputs: output channels [o0, o0 + ocb) (all of them where the
// convolution has groups) of samples [k0, k0 + n).
struct OutputBlock {
  std::size_t o0, ocb, k0, n;
};

// out row out_feature(o0 + oc, p), samples k0 + i = sum_l 2^(8 l) dst[((i L + l) OH OW + p) OC' + oc']
// for the block's channels (OC' = halves ocb; with two halves, the lo channel's value plus 256 times
// the hi channel's), plus the row's bias, in pieces of positions: each piece's values for the n
// samples are rebuilt into z, then written as runs of n consecutive entries of out's rows. L is the
// full width (recombine_limbs) or at most kShortBytes (recombine_short).
template <std::size_t kFull, class F>
void join_bytes(const ConvShape& c, const OutputBlock& b, std::size_t halves, std::size_t L, const std::int32_t* dst,
                const OpOutput<F>& out, F* z) {
  const std::size_t ocb = b.ocb, ocx = halves * ocb, ocg = ocb / c.groups, ohw = c.out_h() * c.out_w();
  const std::size_t P = ohw * ocx, piece = join_piece(ocx, b.n);  // entries, whole positions
  static const std::vector<F> zeros(kJoinEntries);                // recombine_limbs adds a bias: none here
  const std::vector<F> bias(piece > zeros.size() ? piece : 0);
  const F* no_bias = piece > zeros.size() ? bias.data() : zeros.data();
  const F f256 = F::from_int(256);
  for (std::size_t e0 = 0; e0 < P; e0 += piece) {
    const std::size_t m = std::min(P, e0 + piece) - e0;
    for (std::size_t i = 0; i < b.n; ++i) {
      if (L == kFull)
        recombine_limbs(dst + i * L * P + e0, P, m, no_bias, z + i * piece);
      else
        recombine_short(dst + i * L * P + e0, P, L, m, z + i * piece);
    }
    for (std::size_t e = 0; e < m / ocx; ++e) {
      const std::size_t p = e0 / ocx + e;
      for (std::size_t oc = 0; oc < ocb; ++oc) {
        const std::size_t lo = e * ocx + (oc / ocg * halves) * ocg + oc % ocg;  // its group's lo block
        const std::size_t a = out_feature(c, b.o0 + oc, p);
        if (oc + kPrefetchRowsAhead < ocb)
          prefetch_entries(out.row(out_feature(c, b.o0 + oc + kPrefetchRowsAhead, p)) + b.k0, b.n, true);
        F* row = out.row(a) + b.k0;
        if (halves == 1)
          for (std::size_t i = 0; i < b.n; ++i) row[i] = out.add_bias(a, z[i * piece + lo]);
        else
          for (std::size_t i = 0; i < b.n; ++i)
            row[i] = out.add_bias(a, z[i * piece + lo] + f256 * z[i * piece + lo + ocg]);
      }
    }
  }
}

// The output rows at the padding of a pow2 layout (no position of the image): zero plus the bias.
template <class F>
void write_padding_rows(const ConvShape& c, std::size_t batch, const OpOutput<F>& out) {
  const std::size_t rows = c.out_rows(), cols = c.out_cols(), oh = c.out_h(), ow = c.out_w();
  if (rows == oh && cols == ow) return;
  parallel_for(c.out_channels * rows, [&](std::size_t cr) {
    const std::size_t h = cr % rows;
    for (std::size_t w = 0; w < cols; ++w) {
      if (h < oh && w < ow) continue;
      const std::size_t a = cr * cols + w;
      F* row = out.row(a);
      for (std::size_t k = 0; k < batch; ++k) row[k] = out.add_bias(a, F::zero());
    }
  });
}

// How conv_int8 cuts its work: blocks of `samples` samples (their bytes split once, for every
// block of channels: a task) times `oc_block` output channels (a divisor of the output channels; all of
// them where the convolution has groups), each block's int32 products within the byte bound.
// The tables are feature-major, and a block reads and writes `samples` consecutive entries of each
// row it visits: 16 m127 samples are four cache lines of a row, where the first version's blocks of
// four samples times every channel read and wrote one line a row, each in another page (the split
// and join were 94% of CIFAR's second convolution, oneDNN's own work 6%).
struct ConvBlocks {
  std::size_t samples = 1, oc_block = 1;
};

inline constexpr std::size_t kSampleBlock = 16;

ConvBlocks conv_blocks(const ConvShape& c, std::size_t halves, std::size_t L, std::size_t batch,
                       std::size_t max_block_bytes) {
  const std::size_t per_channel = L * halves * c.out_h() * c.out_w() * sizeof(std::int32_t);  // a sample's
  const std::size_t OC = c.out_channels;
  for (std::size_t samples = std::min(kSampleBlock, batch); samples >= 1; samples /= 2) {
    for (std::size_t ocb = OC; ocb >= 1; --ocb) {
      if (OC % ocb != 0) continue;
      if (ocb * samples * per_channel <= max_block_bytes) return {samples, ocb};
      if (c.groups != 1) break;  // a grouped convolution keeps its channels together
    }
    if (samples == 1) break;
  }
  return {1, c.groups == 1 ? 1 : OC};
}

template <class F>
void conv_int8(const LinearOp& op, const F* in, std::size_t in_stride, std::size_t batch, const OpOutput<F>& out,
               std::size_t max_block_bytes) {
  constexpr std::size_t kFull = F::kBits <= 64 ? kM61Limbs : kM127Limbs;
  const ConvShape& c = op.conv;
  const Int8Kernel kernel = int8_kernel(op);
  // The input's bytes that are not zero in every value (pooled squares: about half of m127's),
  // rebuilt in 128 bits; else all of them (any value negative, or wide).
  const std::size_t used = (value_width(in, op.cols, in_stride, batch).raw + 7) / 8;
  const std::size_t L = used <= kShortBytes ? std::max<std::size_t>(used, 1) : kFull;
  const ConvBlocks blocks = conv_blocks(c, kernel.halves, L, batch, max_block_bytes);
  const std::size_t S = blocks.samples, ocb = blocks.oc_block, oc_blocks = c.out_channels / ocb;
  const std::size_t sample_blocks = (batch + S - 1) / S, rest = batch - (sample_blocks - 1) * S;
  ConvShape block_shape = c;
  block_shape.out_channels = ocb;
  std::vector<Int8Kernel> kernels;
  for (std::size_t g = 0; g < oc_blocks; ++g)
    kernels.push_back(oc_blocks == 1 ? kernel : kernel_block(kernel, c.out_channels, g * ocb, ocb));
  std::string failure;
  try {
    const ByteConv full(block_shape, kernels, S * L);
    const std::optional<ByteConv> last =
        rest == S ? std::nullopt : std::make_optional<ByteConv>(block_shape, kernels, rest * L);
    const std::size_t pad_bytes = std::max(full.scratchpad_bytes(), last ? last->scratchpad_bytes() : 0);
    // One parallel region per op, a task per block of samples: split, then convolve and join each
    // block of channels, on one thread, in its cache (a barrier per block cost more than the work
    // on a loaded 2-core machine).
#pragma omp parallel
    {
      UninitializedVector<std::uint8_t> src(S * L * c.in_size()), pad(pad_bytes);
      UninitializedVector<std::int32_t> dst(S * L * kernel.halves * block_shape.out_size());
      std::vector<F> z(std::max(S * kernel.halves * ocb, kJoinEntries));  // join_bytes' pieces, any n <= S
#pragma omp for schedule(dynamic)
      for (std::int64_t t = 0; t < static_cast<std::int64_t>(sample_blocks); ++t) {
        const std::size_t k0 = static_cast<std::size_t>(t) * S, n = std::min(S, batch - k0);
        try {
          split_bytes(c, L, in, in_stride, k0, n, src.data());
          for (std::size_t g = 0; g < oc_blocks; ++g) {
            (n == S ? full : *last).run(g, src.data(), dst.data(), pad.data());
            join_bytes<kFull>(c, OutputBlock{g * ocb, ocb, k0, n}, kernel.halves, L, dst.data(), out, z.data());
          }
        } catch (const dnnl::error& e) {
#pragma omp critical(nnproof_conv_int8)
          failure = e.what();
        }
      }
    }
  } catch (const dnnl::error& e) {
    failure = e.what();
  }
  if (!failure.empty()) throw std::runtime_error("oneDNN int8 convolution failed: " + failure);
  write_padding_rows(c, batch, out);
}

template <class F>
std::vector<F> conv_int8_vector(const LinearOp& op, const F* in, std::size_t in_stride, std::size_t batch,
                                std::size_t max_chunk_bytes) {
  std::vector<F> out(op.rows * batch);
  conv_int8(op, in, in_stride, batch, OpOutput<F>{out.data(), batch}, max_chunk_bytes);
  return out;
}

}  // namespace

bool int8_conv_exact(const LinearOp& op) {
  if (op.kind != LinearOp::Kind::conv || op.weights.width() > 2) return false;
  if (!op.weights.int8_data())  // int16: every weight must split into two int8 halves
    for (std::size_t i = 0; i < op.weights.size(); ++i)
      if (!split_weight(op.weights[i])) return false;
  return int8_byte_sums_exact(max_taps_per_row(op)) && int8_limb_gemm_available();
}

bool int8_conv_route_fits(const LinearOp& op) {
  return max_taps_per_row(op) >= kInt8ConvMinTaps && int8_conv_exact(op);
}

std::vector<Fp61> apply_conv_int8(const LinearOp& op, const Fp61* in, std::size_t in_stride, std::size_t batch,
                                  std::size_t max_chunk_bytes) {
  return conv_int8_vector(op, in, in_stride, batch, max_chunk_bytes);
}

std::vector<Fp127> apply_conv_int8(const LinearOp& op, const Fp127* in, std::size_t in_stride, std::size_t batch,
                                   std::size_t max_chunk_bytes) {
  return conv_int8_vector(op, in, in_stride, batch, max_chunk_bytes);
}

void apply_conv_int8_into(const LinearOp& op, const Fp61* in, std::size_t in_stride, std::size_t batch,
                          const OpOutput<Fp61>& out) {
  conv_int8(op, in, in_stride, batch, out, kConvChunkBytes);
}

void apply_conv_int8_into(const LinearOp& op, const Fp127* in, std::size_t in_stride, std::size_t batch,
                          const OpOutput<Fp127>& out) {
  conv_int8(op, in, in_stride, batch, out, kConvChunkBytes);
}

}  // namespace nnproof
