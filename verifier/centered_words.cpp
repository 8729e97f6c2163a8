// SPDX-License-Identifier: Apache-2.0
#include "verifier/centered_words.hpp"

#include "core/simd/x86.hpp"

namespace nnproof {
namespace {

using u64 = std::uint64_t;
// m127 values are read as their two 64-bit words: an aliasing type (GCC and Clang).
using u64_words = std::uint64_t __attribute__((__may_alias__));

template <class F>
const u64_words* words(const F* x) {
  static_assert(sizeof(F) == F::kBytes && std::is_trivially_copyable_v<F>);
  return reinterpret_cast<const u64_words*>(x);  // F is its value's words, low first
}

// m61: c = x - p for x > p/2, else x; |c| - [c < 0] is OR'ed into the returned bits.
// (x ^ neg) + (P & neg) for negative c = x - P: ~x + P = P - 1 - x = |c| - 1 (mod 2^64).
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

// m127 on (lo, hi) word pairs: negative iff bit 126 is set, and then c = x - p = x + 1 - 2^127.
// c fits 64 bits iff hi is 0 (c >= 0) or 2^63 - 1 (c < 0) and c's low word lo + [c < 0] has c's
// sign; then that word is c, its magnitude bits are OR'ed as for m61, and out[i] is it truncated.
// Any other element sets *wide. Plain 64-bit operations: vectorized.
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

// The ORs of the raw words and of the magnitudes: m61 |c| = P - x for x > p/2.
NNP_CLONES_V4_V3 void m61_value_ors(const u64_words* x, std::size_t n, u64* raw, u64* magnitude) {
  constexpr u64 P = Fp61::P;
  u64 r = 0, m = 0;
  for (std::size_t i = 0; i < n; ++i) {
    r |= x[i];
    m |= x[i] > P / 2 ? P - x[i] : x[i];
  }
  *raw = r, *magnitude = m;
}

// m127: for x > p/2, |c| = p - x = (~lo, (2^63 - 1) - hi) (p's low word is all ones: no borrow),
// i.e. both words complemented, the top bit of hi cleared.
NNP_CLONES_V4_V3 void m127_value_ors(const u64_words* x, std::size_t n, u64* raw, u64* magnitude) {
  u64 r_lo = 0, r_hi = 0, m_lo = 0, m_hi = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const u64 lo = x[2 * i], hi = x[2 * i + 1], neg = u64{0} - (hi >> 62);
    r_lo |= lo, r_hi |= hi;
    m_lo |= lo ^ neg, m_hi |= (hi ^ neg) & (~u64{0} >> 1);
  }
  raw[0] = r_lo, raw[1] = r_hi, magnitude[0] = m_lo, magnitude[1] = m_hi;
}

}  // namespace

template <class F, class T>
std::uint64_t encode_centered(const F* x, std::size_t n, T* out, std::uint64_t* wide) {
  const u64_words* w = words(x);
  if constexpr (std::is_same_v<F, Fp61>) {
    *wide = 0;
    if constexpr (sizeof(T) == 1) return m61_encode_1(w, n, out);
    if constexpr (sizeof(T) == 2) return m61_encode_2(w, n, out);
    if constexpr (sizeof(T) == 4) return m61_encode_4(w, n, out);
    if constexpr (sizeof(T) == 8) return m61_encode_8(w, n, out);
  } else {
    static_assert(std::is_same_v<F, Fp127>);
    if constexpr (sizeof(T) == 1) return m127_encode_1(w, n, out, wide);
    if constexpr (sizeof(T) == 2) return m127_encode_2(w, n, out, wide);
    if constexpr (sizeof(T) == 4) return m127_encode_4(w, n, out, wide);
    if constexpr (sizeof(T) == 8) return m127_encode_8(w, n, out, wide);
  }
}

template <class F>
ValueOrs value_ors(const F* x, std::size_t n) {
  u64 raw[2] = {0, 0}, magnitude[2] = {0, 0};
  if constexpr (std::is_same_v<F, Fp61>) {
    m61_value_ors(words(x), n, raw, magnitude);
  } else {
    static_assert(std::is_same_v<F, Fp127>);
    m127_value_ors(words(x), n, raw, magnitude);
  }
  return {raw[0] | static_cast<u128>(raw[1]) << 64, magnitude[0] | static_cast<u128>(magnitude[1]) << 64};
}

#define NNP_INSTANTIATE(F)                                                                      \
  template std::uint64_t encode_centered(const F*, std::size_t, std::int8_t*, std::uint64_t*);  \
  template std::uint64_t encode_centered(const F*, std::size_t, std::int16_t*, std::uint64_t*); \
  template std::uint64_t encode_centered(const F*, std::size_t, std::int32_t*, std::uint64_t*); \
  template std::uint64_t encode_centered(const F*, std::size_t, std::int64_t*, std::uint64_t*); \
  template ValueOrs value_ors(const F*, std::size_t);
NNP_INSTANTIATE(Fp61)
NNP_INSTANTIATE(Fp127)
#undef NNP_INSTANTIATE

}  // namespace nnproof
