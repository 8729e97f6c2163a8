// SPDX-License-Identifier: Apache-2.0
// The compact encoding of the input binding (verifier/input_binding.hpp): each element's centered
// value in the narrowest two's complement holding every value of the chunk. It runs on every input
// element the client reads, so it runs on the raw words' branch-free loops (centered_words.hpp): one
// loop writes the one-byte encoding and ORs the magnitudes, and only a chunk that needs more bytes
// is encoded again (from cache).
#include <bit>
#include <cstring>
#include <type_traits>

#include "verifier/centered_words.hpp"
#include "verifier/input_binding.hpp"

namespace nnproof {
namespace {

constexpr bool kLittleEndian = kCenteredWords;
using u64 = std::uint64_t;

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
    u64 hi = 0;  // m127: nonzero where an element needs 16 bytes
    auto* out = buf.data() + kCompactLead + 1;
    const u64 bits = encode_centered(v.data(), n, reinterpret_cast<std::int8_t*>(out), &hi);
    const unsigned w = width_for(bits, hi);
    if (w == 16) return encode_portable(v, buf);  // m127 values of 64 bits or more
    if (buf.size() < kCompactLead + 1 + n * w) buf.resize(kCompactLead + 1 + n * w);
    out = buf.data() + kCompactLead + 1;
    buf[kCompactLead] = static_cast<unsigned char>(w);
    if (w == 1) return 1 + n;
    // The chunk again (from cache) at its width: its values did not all fit one byte.
    if (w == 2) encode_centered(v.data(), n, reinterpret_cast<std::int16_t*>(out), &hi);
    if (w == 4) encode_centered(v.data(), n, reinterpret_cast<std::int32_t*>(out), &hi);
    if (w == 8) encode_centered(v.data(), n, reinterpret_cast<std::int64_t*>(out), &hi);
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
