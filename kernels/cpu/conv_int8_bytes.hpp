// SPDX-License-Identifier: Apache-2.0
#pragma once
// The int8 convolution's byte plumbing (conv_int8.cpp): the input's values cut into the bytes of
// oneDNN's u8 images (split_bytes), and its int32 outputs rebuilt into field elements (or a narrow
// Z's int64 entries) and written to the layer's feature-major rows (join_bytes). Included by
// conv_int8.cpp, conv_int8_split.cpp and conv_int8_join.cpp (its vector kernels), and their tests.
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "core/fields.hpp"
#include "kernels/cpu/int8_limbs.hpp"
#include "kernels/cpu/op_output.hpp"
#include "kernels/cpu/prefetch_rows.hpp"
#include "verifier/linear_op.hpp"
#include "verifier/parallel.hpp"

namespace nnproof::conv_bytes {

// Output entries rebuilt at a time, all samples of a block together: 32 KiB of m127 (L1).
constexpr std::size_t kJoinEntries = 2048;

// Entries of a join piece, per sample: whole positions (oc entries each), about kJoinEntries in all.
inline std::size_t join_piece(std::size_t oc, std::size_t samples) {
  return std::max<std::size_t>(1, kJoinEntries / samples / oc) * oc;
}

// The feature index of channel ch, position p = h W + w of an input / output image in the op's
// layouts: dense, or padded to powers of two (format version 3, docs/IMAGE_LAYOUT.md), where the
// padding positions are never read and stay zero in the output.
inline std::size_t in_feature(const ConvShape& c, std::size_t ch, std::size_t p) {
  return (ch * c.in_rows() + p / c.in_w) * c.in_cols() + p % c.in_w;
}
inline std::size_t out_feature(const ConvShape& c, std::size_t ch, std::size_t p) {
  return (ch * c.out_rows() + p / c.out_w()) * c.out_cols() + p % c.out_w();
}

// The input may be field elements (their representatives' bytes) or non-negative 64-bit integers
// (a pool of squares' sums, structured_cpu.hpp).
inline u128 raw_bits_of(const Fp61& x) { return x.v; }
inline u128 raw_bits_of(const Fp127& x) { return x.v; }
inline std::uint64_t raw_bits_of(std::uint64_t x) { return x; }

// The 8 x 8 byte transpose in place: byte c of v[l] becomes byte l of v[c]. Three rounds, each
// swapping the off-diagonal blocks of s x s bytes between rows c and c + s (s = 4, 2, 1). Word is
// a 64-bit integer, or a vector of them (split_eight_channels: a transpose in every lane).
template <class Word>
inline void transpose_bytes_8x8(Word (&v)[8]) {
  constexpr std::uint64_t kLowBlocks[3] = {0x00000000FFFFFFFFull, 0x0000FFFF0000FFFFull, 0x00FF00FF00FF00FFull};
  for (unsigned round = 0, s = 4; round < 3; ++round, s /= 2)
    for (unsigned c = 0; c < 8; ++c) {
      if (c & s) continue;
      const Word t = ((v[c] >> (8 * s)) ^ v[c + s]) & kLowBlocks[round];
      v[c + s] ^= t;
      v[c] ^= t << (8 * s);
    }
}

// For i < n, l < L <= 8: the eight bytes at dst + i sample_stride + l plane_stride are byte l of
// rows[0..8)[i]: eight channels' 64-bit values cut into bytes, as split_bytes' loop over samples
// does for field elements, eight samples at a time in vector lanes (conv_int8_split.cpp).
void split_eight_channels(const std::uint64_t* const (&rows)[8], std::size_t n, std::size_t L, std::uint8_t* dst,
                          std::size_t sample_stride, std::size_t plane_stride);

// For r < 8, i < n: rows[r][i] = z[i z_stride + r] + bias[r] (mod 2^64): eight channels' rebuilt
// values of n samples (sample-major, as join_bytes' pieces hold them) written to their rows, eight
// samples at a time transposed in vector lanes (conv_int8_join.cpp). Returns the OR of
// |v| - [v < 0] over the values v written, as join_bytes does.
std::uint64_t join_eight_channels(const std::uint64_t* z, std::size_t z_stride, std::size_t n,
                                  const std::uint64_t (&bias)[8], std::int64_t* const (&rows)[8]);

// The split reads, and the join writes, the n <= 16 samples of a block (at most four cache lines in
// m127) of each row of a feature-major table: each asks for the row kPrefetchRowsAhead ahead itself
// (prefetch_rows.hpp).
// src[((i L + l) H W + p) C + c] = byte l of in[in_feature(c, p) in_stride + k0 + i] for l < L: the
// low L bytes of samples [k0, k0 + n) as n L images in nhwc. Where L <= 8 and the channels come
// in eights, eight channels' values at a time are transposed into eight-byte rows, one store per
// byte position, where a byte a store made CIFAR's second convolution's split 11% of its proof.
template <class In>
void split_bytes(const ConvShape& c, std::size_t L, const In* in, std::size_t in_stride, std::size_t k0, std::size_t n,
                 std::uint8_t* src) {
  const std::size_t hw = c.in_h * c.in_w, C = c.in_channels;
  static_assert(std::endian::native == std::endian::little);  // v[l]'s byte c is channel ch + c
  const std::size_t step = L <= 8 && C % 8 == 0 ? 8 : 1;
  // Position-major: a position's channels fill whole cache lines of each (i, l) image at once.
  for (std::size_t p = 0; p < hw; ++p)
    for (std::size_t ch = 0; ch < C; ch += step) {
      for (std::size_t ahead = p * C + ch + kPrefetchRowsAhead;
           ahead < std::min(hw * C, p * C + ch + kPrefetchRowsAhead + step); ++ahead)
        prefetch_entries(in + in_feature(c, ahead % C, ahead / C) * in_stride + k0, n);
      const In* x = in + in_feature(c, ch, p) * in_stride + k0;
      if (step == 8) {
        const In* rows[8];
        for (std::size_t r = 0; r < 8; ++r) rows[r] = in + in_feature(c, ch + r, p) * in_stride + k0;
        if constexpr (std::is_same_v<In, std::uint64_t>) {
          split_eight_channels(rows, n, L, src + p * C + ch, L * hw * C, hw * C);
          continue;
        }
        for (std::size_t i = 0; i < n; ++i) {
          std::uint64_t v[8];
          for (std::size_t r = 0; r < 8; ++r) v[r] = static_cast<std::uint64_t>(raw_bits_of(rows[r][i]));
          transpose_bytes_8x8(v);  // v[l]: byte l of the eight channels' values
          std::uint8_t* dst = src + (i * L * hw + p) * C + ch;
          for (std::size_t l = 0; l < L; ++l) std::memcpy(dst + l * hw * C, &v[l], 8);
        }
        continue;
      }
      for (std::size_t i = 0; i < n; ++i) {
        auto v = raw_bits_of(x[i]);
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

// The bytes a full-width join rebuilds: the field's limbs, or 8 for 64-bit integers (mod 2^64, bytes
// past the eighth weigh nothing).
template <class Out>
constexpr std::size_t full_width_bytes() {
  if constexpr (std::is_same_v<typename Out::Value, std::uint64_t>)
    return 8;
  else
    return Out::Value::kBits <= 64 ? kM61Limbs : kM127Limbs;
}

// A join piece's values z[e] = sum_{l < L} 2^(8 l) g[l limb_stride + e], e < m: mod p for field
// elements (recombine_limbs adding `zeros` at full width, else recombine_short), mod 2^64 for
// integers (exact where the value fits int64; a loop that vectorizes).
template <std::size_t kFull, class F>
void recombine_piece(const std::int32_t* g, std::size_t limb_stride, std::size_t L, std::size_t m, const F* zeros,
                     F* z) {
  if (L == kFull)
    recombine_limbs(g, limb_stride, m, zeros, z);
  else
    recombine_short(g, limb_stride, L, m, z);
}
template <std::size_t kFull>
void recombine_piece(const std::int32_t* g, std::size_t limb_stride, std::size_t L, std::size_t m, const std::uint64_t*,
                     std::uint64_t* z) {
  recombine_limbs_u64(g, limb_stride, L, m, z);
}

// The field's 256, or the integers'.
template <class V>
V two_to_the_8() {
  if constexpr (std::is_same_v<V, std::uint64_t>)
    return 256;
  else
    return V::from_int(256);
}

// out row out_feature(o0 + oc, p), samples k0 + i = sum_l 2^(8 l) dst[((i L + l) OH OW + p) OC' + oc']
// for the block's channels (OC' = halves ocb; with two halves, the lo channel's value plus 256 times
// the hi channel's), plus the row's bias, in pieces of positions: each piece's values for the n
// samples are rebuilt into z (recombine_piece: L is the full width or at most kShortBytes), then
// written as runs of n consecutive entries of out's rows. Out is an OpOutput (field elements) or a
// NarrowOutput (int64, the values' type V = uint64: mod 2^64); for the latter, returns the OR of
// |v| - [v < 0] over the values v written (0 for the former): every |v| is below 2^(its bit
// length + 1).
template <std::size_t kFull, class Out, class V = typename Out::Value>
std::uint64_t join_bytes(const ConvShape& c, const OutputBlock& b, std::size_t halves, std::size_t L,
                         const std::int32_t* dst, const Out& out, V* z, const V* zeros) {
  const std::size_t ocb = b.ocb, ocx = halves * ocb, ocg = ocb / c.groups, ohw = c.out_h() * c.out_w();
  const std::size_t P = ohw * ocx, piece = join_piece(ocx, b.n);  // entries, whole positions
  const V f256 = two_to_the_8<V>();
  std::uint64_t magnitudes = 0;
  // A row's run of n values, their magnitudes OR'ed in a register (the rows' int64 stores may alias
  // a variable of their type in memory: an OR kept there made the join a third slower).
  const auto write_run = [&](auto* row, const auto& value) {
    std::uint64_t ors = 0;
    for (std::size_t i = 0; i < b.n; ++i) {
      const V v = value(i);
      row[i] = v;
      if constexpr (std::is_same_v<V, std::uint64_t>)  // |v| - [v < 0]: no branch, one bit short at -2^k
        ors |= v ^ static_cast<std::uint64_t>(static_cast<std::int64_t>(v) >> 63);
    }
    magnitudes |= ors;
  };
  for (std::size_t e0 = 0; e0 < P; e0 += piece) {
    const std::size_t m = std::min(P, e0 + piece) - e0;
    for (std::size_t i = 0; i < b.n; ++i) recombine_piece<kFull>(dst + i * L * P + e0, P, L, m, zeros, z + i * piece);
    for (std::size_t e = 0; e < m / ocx; ++e) {
      const std::size_t p = e0 / ocx + e;
      std::size_t oc = 0;
      if constexpr (std::is_same_v<V, std::uint64_t>)  // a narrow Z, one half: eight channels at a time
        for (; halves == 1 && oc + 8 <= ocb; oc += 8) {
          std::int64_t* rows[8];
          std::uint64_t bias[8];
          for (std::size_t r = 0; r < 8; ++r) {
            const std::size_t a = out_feature(c, b.o0 + oc + r, p);
            rows[r] = out.row(a) + b.k0;
            bias[r] = out.add_bias(a, 0);
            if (oc + r + kPrefetchRowsAhead < ocb)
              prefetch_entries(out.row(out_feature(c, b.o0 + oc + r + kPrefetchRowsAhead, p)) + b.k0, b.n, true);
          }
          magnitudes |= join_eight_channels(z + e * ocx + oc, piece, b.n, bias, rows);
        }
      for (; oc < ocb; ++oc) {
        const std::size_t lo = e * ocx + (oc / ocg * halves) * ocg + oc % ocg;  // its group's lo block
        const std::size_t a = out_feature(c, b.o0 + oc, p);
        if (oc + kPrefetchRowsAhead < ocb)
          prefetch_entries(out.row(out_feature(c, b.o0 + oc + kPrefetchRowsAhead, p)) + b.k0, b.n, true);
        auto* row = out.row(a) + b.k0;
        if (halves == 1)
          write_run(row, [&](std::size_t i) { return out.add_bias(a, z[i * piece + lo]); });
        else
          write_run(row,
                    [&](std::size_t i) { return out.add_bias(a, z[i * piece + lo] + f256 * z[i * piece + lo + ocg]); });
      }
    }
  }
  return magnitudes;
}

// The output rows at the padding of a pow2 layout (no position of the image): zero plus the bias.
template <class Out>
void write_padding_rows(const ConvShape& c, std::size_t batch, const Out& out) {
  const std::size_t rows = c.out_rows(), cols = c.out_cols(), oh = c.out_h(), ow = c.out_w();
  if (rows == oh && cols == ow) return;
  parallel_for(c.out_channels * rows, [&](std::size_t cr) {
    const std::size_t h = cr % rows;
    for (std::size_t w = 0; w < cols; ++w) {
      if (h < oh && w < ow) continue;
      const std::size_t a = cr * cols + w;
      auto* row = out.row(a);
      for (std::size_t k = 0; k < batch; ++k) row[k] = out.add_bias(a, typename Out::Value{});
    }
  });
}

}  // namespace nnproof::conv_bytes
