// SPDX-License-Identifier: Apache-2.0
// The statement's input held as small integers (verifier/statement.hpp, SmallInput) and the
// compact encoding of its chunks (verifier/input_binding.hpp). The input pass runs these on every
// value the client reads: plain loops over int8 / int16 / int32 that the compiler vectorizes on
// any target (no intrinsics, so arm64 and x86-64 run the same code).
#include <bit>
#include <cstring>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "verifier/input_binding.hpp"

namespace nnproof {
namespace {

constexpr bool kLittleEndian = std::endian::native == std::endian::little;

template <class T>
const T* values_as(const SmallInput& s) {
  return reinterpret_cast<const T*>(s.bytes.data());  // the allocation is aligned for T
}

// OR of each value's magnitude bits (v, or ~v = |v| - 1 for v < 0): v fits w bytes iff that OR
// is below 2^(8w - 1), as in compact_width.
template <class T>
std::uint32_t magnitude_bits(const T* v, std::size_t n) {
  using U = std::make_unsigned_t<T>;
  U bits = 0;
  for (std::size_t i = 0; i < n; ++i) bits |= static_cast<U>(v[i] ^ (v[i] >> (8 * sizeof(T) - 1)));
  return bits;
}

unsigned width_of_bits(std::uint64_t bits) {
  unsigned w = 1;
  while ((bits >> (8 * w - 1)) != 0) w *= 2;
  return w;
}

// v[0, n) as To, little-endian, at out (aligned for To where the machine is little-endian).
template <class To, class From>
void narrow(const From* v, std::size_t n, unsigned char* out) {
  if constexpr (kLittleEndian) {
    To* o = reinterpret_cast<To*>(out);
    for (std::size_t i = 0; i < n; ++i) o[i] = static_cast<To>(v[i]);
  } else {
    for (std::size_t i = 0; i < n; ++i) {
      const auto u = static_cast<std::make_unsigned_t<To>>(static_cast<To>(v[i]));
      for (std::size_t b = 0; b < sizeof(To); ++b) out[i * sizeof(To) + b] = static_cast<unsigned char>(u >> (8 * b));
    }
  }
}

template <class From>
void narrow_to(unsigned width, const From* v, std::size_t n, unsigned char* out) {
  if (width == 1) return narrow<std::int8_t>(v, n, out);
  if (width == 2) return narrow<std::int16_t>(v, n, out);
  narrow<std::int32_t>(v, n, out);
}

// A width other than 1, 2, 4 is a SmallInput not made by hold_input_small: refused, not read.
void check_width(const SmallInput& s) {
  if (s.width != 1 && s.width != 2 && s.width != 4)
    throw std::invalid_argument("statement: small_input's width " + std::to_string(s.width) +
                                " is not 1, 2 or 4; make it with hold_input_small");
}

}  // namespace

std::int64_t SmallInput::at(std::size_t i) const {
  check_width(*this);
  if (width == 1) return values_as<std::int8_t>(*this)[i];
  if (width == 2) return values_as<std::int16_t>(*this)[i];
  return values_as<std::int32_t>(*this)[i];
}

unsigned small_chunk_width(const SmallInput& s, std::size_t begin, std::size_t end) {
  check_width(s);
  if (s.width == 1) return 1;
  if (s.width == 2) return width_of_bits(magnitude_bits(values_as<std::int16_t>(s) + begin, end - begin));
  return width_of_bits(magnitude_bits(values_as<std::int32_t>(s) + begin, end - begin));
}

const unsigned char* small_chunk_encoding(const SmallInput& s, std::size_t begin, std::size_t end, unsigned width,
                                          std::vector<unsigned char>& buf) {
  const std::size_t n = end - begin;
  if (kLittleEndian && width == s.width) return s.bytes.data() + begin * width;  // already these bytes
  if (buf.size() < kCompactLead + 1 + n * width) buf.resize(kCompactLead + 1 + n * width);
  unsigned char* out = buf.data() + kCompactLead + 1;
  if (s.width == 1) narrow_to(width, values_as<std::int8_t>(s) + begin, n, out);
  if (s.width == 2) narrow_to(width, values_as<std::int16_t>(s) + begin, n, out);
  if (s.width == 4) narrow_to(width, values_as<std::int32_t>(s) + begin, n, out);
  return out;
}

namespace {

// The narrowest of int8, int16, int32 holding n values, each given by centered(i) (an integer in
// any width); std::nullopt when one does not fit 32 bits.
template <class Centered>
std::optional<SmallInput> narrowest(std::size_t n, Centered centered) {
  constexpr std::int64_t lo = std::numeric_limits<std::int32_t>::min(), hi = std::numeric_limits<std::int32_t>::max();
  std::uint64_t bits = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = centered(i);
    if (c < lo || c > hi) return std::nullopt;
    const auto v = static_cast<std::int64_t>(c);
    bits |= static_cast<std::uint64_t>(v ^ (v >> 63));
  }
  SmallInput s;
  s.width = width_of_bits(bits);
  s.bytes.resize(n * s.width);
  for (std::size_t i = 0; i < n; ++i) {  // native order: the bytes are the values' memory
    const auto v = static_cast<std::int64_t>(centered(i));
    if (s.width == 1) reinterpret_cast<std::int8_t*>(s.bytes.data())[i] = static_cast<std::int8_t>(v);
    if (s.width == 2) reinterpret_cast<std::int16_t*>(s.bytes.data())[i] = static_cast<std::int16_t>(v);
    if (s.width == 4) reinterpret_cast<std::int32_t*>(s.bytes.data())[i] = static_cast<std::int32_t>(v);
  }
  return s;
}

}  // namespace

std::optional<SmallInput> small_input_of(std::span<const std::int64_t> values) {
  return narrowest(values.size(), [&](std::size_t i) { return values[i]; });
}

template <class Cfg>
bool hold_input_small(Statement<Cfg>& st) {
  if (!st.small_input.empty() || st.input.empty()) return false;
  auto s = narrowest(st.input.size(), [&](std::size_t i) { return st.input[i].centered(); });
  if (!s) return false;
  st.small_input = std::move(*s);
  st.input = {};
  return true;
}

template <class Cfg>
Statement<Cfg> sample_statement(const QuantizedModel& model, const Digest& model_digest,
                                std::span<const std::int64_t> input, std::size_t first, std::size_t count,
                                InputForm form) {
  const std::size_t n0 = model.in_dim();
  if (first > input.size() / n0 || count > input.size() / n0 - first)
    throw std::invalid_argument("sample_statement: samples past the input's end");
  const auto values = input.subspan(first * n0, count * n0);
  Statement<Cfg> st;
  st.model = &model;
  st.model_digest = model_digest;
  st.batch = count;
  if (form == InputForm::small_if_fits)
    if (auto s = small_input_of(values)) {
      st.small_input = std::move(*s);
      return st;
    }
  st.input.resize(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) st.input[i] = Cfg::F::from_int(values[i]);
  return st;
}

template <class Cfg>
const std::vector<typename Cfg::F>& input_elements(const Statement<Cfg>& st, std::vector<typename Cfg::F>& storage) {
  if (st.small_input.empty()) return st.input;
  storage.resize(st.small_input.size());
  for (std::size_t i = 0; i < storage.size(); ++i) storage[i] = Cfg::F::from_int(st.small_input.at(i));
  return storage;
}

#define NNP_INSTANTIATE(Cfg)                                                                                    \
  template bool hold_input_small(Statement<Cfg>&);                                                              \
  template Statement<Cfg> sample_statement(const QuantizedModel&, const Digest&, std::span<const std::int64_t>, \
                                           std::size_t, std::size_t, InputForm);                                \
  template const std::vector<Cfg::F>& input_elements(const Statement<Cfg>&, std::vector<Cfg::F>&);
NNP_FOR_EACH_CONFIG(NNP_INSTANTIATE)
#undef NNP_INSTANTIATE

}  // namespace nnproof
