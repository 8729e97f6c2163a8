// SPDX-License-Identifier: Apache-2.0
// The compact encoding of the input binding (verifier/input_binding.hpp): each element's centered
// value in the narrowest two's complement holding every value of the chunk. It runs on every input
// element the client reads, so the m61 and m127 loops work on the raw words, branch-free, compiled
// for AVX-512, AVX2 and the baseline (core/simd/x86.hpp): one loop writes the one-byte encoding
// and ORs the magnitudes, and only a chunk that needs more bytes is encoded again (from cache).
#include <bit>
#include <cstring>
#include <type_traits>

#include "core/simd/x86.hpp"
#include "verifier/input_binding.hpp"

namespace nnproof {
namespace {

constexpr bool kLittleEndian = std::endian::native == std::endian::little;
using u64 = std::uint64_t;
// m127 values are read as their two 64-bit words: an aliasing type (GCC and Clang).
using u64_words = std::uint64_t __attribute__((__may_alias__));

// m61: c = x - p for x > p/2, else x; |c| - [c < 0] is OR'ed into the returned bits (c fits w
// bytes iff the bits are below 2^(8w - 1)); out[i] = c truncated to T.
#define NNP_M61_ENCODE(T, name)                                          \
  NNP_CLONES_V4_V3 u64 name(const u64_words* x, std::size_t n, T* out) { \
    constexpr u64 P = Fp61::P;                                           \
    u64 bits = 0;                                                        \
    for (std::size_t i = 0; i < n; ++i) {                                \
      const u64 neg = x[i] > P / 2 ? ~u64{0} : 0;                        \
      bits |= (x[i] ^ neg) + (P & neg);                                  \
      out[i] = static_cast<T>(x[i] - (P & neg));                         \
    }                                                                    \
    return bits;                                                         \
  }
NNP_M61_ENCODE(std::int8_t, m61_encode_1)
NNP_M61_ENCODE(std::int16_t, m61_encode_2)
NNP_M61_ENCODE(std::int32_t, m61_encode_4)
NNP_M61_ENCODE(std::int64_t, m61_encode_8)
#undef NNP_M61_ENCODE
// (x ^ neg) + (P & neg) for negative c = x - P: ~x + P = P - 1 - x = |c| - 1 (mod 2^64).

// m127 on (lo, hi) word pairs: negative iff bit 126 is set, and then c = x - p = x + 1 - 2^127.
// c fits 64 bits iff hi is 0 (c >= 0) or 2^63 - 1 (c < 0) and c's low word lo + [c < 0] has c's
// sign; then that word is c, its magnitude bits are OR'ed as for m61, and out[i] is it truncated.
// Any other element sets *wide (the chunk takes 16 bytes). Plain 64-bit operations: vectorized.
#define NNP_M127_ENCODE(T, name)                                                    \
  NNP_CLONES_V4_V3 u64 name(const u64_words* x, std::size_t n, T* out, u64* wide) { \
    u64 bits = 0, bad = 0;                                                          \
    for (std::size_t i = 0; i < n; ++i) {                                           \
      const u64 lo = x[2 * i], hi = x[2 * i + 1];                                   \
      const u64 neg = hi >> 62, c = lo + neg;                                       \
      bad |= (hi ^ ((u64{0} - neg) >> 1)) | ((c >> 63) ^ neg);                      \
      bits |= c ^ (u64{0} - (c >> 63));                                             \
      out[i] = static_cast<T>(c);                                                   \
    }                                                                               \
    *wide = bad;                                                                    \
    return bits;                                                                    \
  }
NNP_M127_ENCODE(std::int8_t, m127_encode_1)
NNP_M127_ENCODE(std::int16_t, m127_encode_2)
NNP_M127_ENCODE(std::int32_t, m127_encode_4)
NNP_M127_ENCODE(std::int64_t, m127_encode_8)
#undef NNP_M127_ENCODE

// The narrowest of 1, 2, 4, 8 bytes for magnitude bits below 2^63, else 16.
unsigned width_for(u64 bits_lo, u64 bits_hi) {
  if (bits_hi != 0) return 16;
  unsigned w = 1;
  while (w < 16 && (bits_lo >> (8 * w - 1)) != 0) w *= 2;
  return w;
}

// Each centered value as T, little-endian (any byte order), for the portable path.
template <class T, class F>
void encode_as(std::span<const F> v, unsigned char* out) {
  for (std::size_t i = 0; i < v.size(); ++i) {
    using U = std::conditional_t<sizeof(T) == 16, u128, std::make_unsigned_t<T>>;
    const U u = static_cast<U>(static_cast<T>(v[i].centered()));
    for (std::size_t b = 0; b < sizeof(T); ++b) out[i * sizeof(T) + b] = static_cast<unsigned char>(u >> (8 * b));
  }
}

template <class F>
std::size_t encode_portable(std::span<const F> v, std::vector<unsigned char>& buf) {
  const unsigned w = compact_width(v);
  if (buf.size() < kCompactLead + 1 + v.size() * w) buf.resize(kCompactLead + 1 + v.size() * w);
  buf[kCompactLead] = static_cast<unsigned char>(w);
  switch (w) {
    case 1:
      encode_as<std::int8_t>(v, buf.data() + kCompactLead + 1);
      break;
    case 2:
      encode_as<std::int16_t>(v, buf.data() + kCompactLead + 1);
      break;
    case 4:
      encode_as<std::int32_t>(v, buf.data() + kCompactLead + 1);
      break;
    case 8:
      encode_as<std::int64_t>(v, buf.data() + kCompactLead + 1);
      break;
    default:
      encode_as<i128>(v, buf.data() + kCompactLead + 1);
      break;
  }
  return 1 + v.size() * w;
}

}  // namespace

template <class F>
unsigned compact_width(std::span<const F> v) {
  using C = decltype(F{}.centered());  // std::int64_t (m61), i128 (m127)
  using U = std::conditional_t<std::is_same_v<C, i128>, u128, std::make_unsigned_t<C>>;
  U bits = 0;  // |c| for c >= 0, |c| - 1 below: c fits w bytes iff that is < 2^(8w - 1)
  for (const F& x : v) {
    const C c = x.centered();
    bits |= static_cast<U>(c ^ (c >> (8 * sizeof(C) - 1)));
  }
  return width_for(static_cast<u64>(bits), static_cast<u64>(bits >> 32 >> 32));
}

template <class F>
std::size_t compact_encode_into(std::span<const F> v, std::vector<unsigned char>& buf) {
  static_assert(sizeof(F) == F::kBytes && std::is_trivially_copyable_v<F>);
  if constexpr (!kLittleEndian) {
    return encode_portable(v, buf);
  } else {
    const std::size_t n = v.size();
    if (buf.size() < kCompactLead + 1 + n) buf.resize(kCompactLead + 1 + n);
    const u64_words* x = reinterpret_cast<const u64_words*>(v.data());  // F is its value's words, low first
    u64 hi = 0;
    unsigned w;
    auto* out = buf.data() + kCompactLead + 1;
    if constexpr (std::is_same_v<F, Fp61>) {
      w = width_for(m61_encode_1(x, n, reinterpret_cast<std::int8_t*>(out)), 0);
    } else {
      const u64 lo = m127_encode_1(x, n, reinterpret_cast<std::int8_t*>(out), &hi);  // hi: wide elements
      w = width_for(lo, hi);
    }
    if (w == 16) return encode_portable(v, buf);  // m127 values of 64 bits or more
    if (buf.size() < kCompactLead + 1 + n * w) buf.resize(kCompactLead + 1 + n * w);
    out = buf.data() + kCompactLead + 1;
    buf[kCompactLead] = static_cast<unsigned char>(w);
    if (w == 1) return 1 + n;
    // The chunk again (from cache) at its width: its values did not all fit one byte.
    if constexpr (std::is_same_v<F, Fp61>) {
      if (w == 2) m61_encode_2(x, n, reinterpret_cast<std::int16_t*>(out));
      if (w == 4) m61_encode_4(x, n, reinterpret_cast<std::int32_t*>(out));
      if (w == 8) m61_encode_8(x, n, reinterpret_cast<std::int64_t*>(out));
    } else {
      if (w == 2) m127_encode_2(x, n, reinterpret_cast<std::int16_t*>(out), &hi);
      if (w == 4) m127_encode_4(x, n, reinterpret_cast<std::int32_t*>(out), &hi);
      if (w == 8) m127_encode_8(x, n, reinterpret_cast<std::int64_t*>(out), &hi);
    }
    return 1 + n * w;
  }
}

template <class F>
std::vector<unsigned char> compact_encoding(std::span<const F> v) {
  std::vector<unsigned char> buf;
  const std::size_t bytes = compact_encode_into(v, buf);
  return {buf.begin() + kCompactLead, buf.begin() + static_cast<std::ptrdiff_t>(kCompactLead + bytes)};
}

template <class F>
std::vector<unsigned char> compact_encoding_portable(std::span<const F> v) {
  std::vector<unsigned char> buf;
  const std::size_t bytes = encode_portable(v, buf);
  return {buf.begin() + kCompactLead, buf.begin() + static_cast<std::ptrdiff_t>(kCompactLead + bytes)};
}

#define NNP_INSTANTIATE(F)                                                                   \
  template unsigned compact_width(std::span<const F>);                                       \
  template std::size_t compact_encode_into(std::span<const F>, std::vector<unsigned char>&); \
  template std::vector<unsigned char> compact_encoding(std::span<const F>);                  \
  template std::vector<unsigned char> compact_encoding_portable(std::span<const F>);
NNP_INSTANTIATE(Fp61)
NNP_INSTANTIATE(Fp127)
#undef NNP_INSTANTIATE

}  // namespace nnproof
