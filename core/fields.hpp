// SPDX-License-Identifier: Apache-2.0
#pragma once
// The three field configurations of PROTOCOL.md section 1: a base field F for the network's
// arithmetic and a challenge field K that every folded table lives in.
#include <cmath>
#include <string_view>
#include <type_traits>

#include "core/field_m127.hpp"
#include "core/field_m61.hpp"
#include "core/field_m61x2.hpp"

namespace nnproof {

enum class FieldId : std::uint8_t { m61 = 1, m127 = 2, m61_interactive = 3 };

template <class F_, class K_, FieldId kId_>
struct FieldConfig {
  using F = F_;
  using K = K_;
  static constexpr FieldId kId = kId_;
};

using M61 = FieldConfig<Fp61, Fp61x2, FieldId::m61>;
using M127 = FieldConfig<Fp127, Fp127, FieldId::m127>;
using M61Interactive = FieldConfig<Fp61, Fp61, FieldId::m61_interactive>;

// Applies X to every field configuration (explicit instantiations: one list, written here), and
// to those a proof file may hold (interactive mode's m61-interactive is never written to a file).
#define NNP_FOR_EACH_CONFIG(X) X(M61) X(M127) X(M61Interactive)
#define NNP_FOR_EACH_FILE_CONFIG(X) X(M61) X(M127)

constexpr std::string_view field_name(FieldId id) {
  switch (id) {
    case FieldId::m61:
      return "m61";
    case FieldId::m127:
      return "m127";
    case FieldId::m61_interactive:
      return "m61-interactive";
  }
  return "unknown";
}

// log2 |K|: the challenge field's size, for the soundness bound of PROTOCOL.md section 8.
inline double challenge_field_log2(FieldId id) {
  const double log2_p61 = std::log2(static_cast<double>(Fp61::P));
  switch (id) {
    case FieldId::m61:
      return 2 * log2_p61;
    case FieldId::m127:
      return 127.0;  // log2(2^127 - 1) rounds to 127 in a double
    case FieldId::m61_interactive:
      return log2_p61;
  }
  return 0;
}

// The base field under a challenge field K (K itself when K = F).
template <class K>
using base_field_t = std::conditional_t<std::is_same_v<K, Fp61x2>, Fp61, K>;

// K * F, written once for the extension (two base products) and for K = F.
NNP_HD Fp61x2 mul_base(Fp61x2 k, Fp61 f) { return k * f; }
template <class T>
NNP_HD T mul_base(T k, T f) {
  return k * f;
}

// A base-field or challenge-field value as an element of K.
template <class K, class T>
NNP_HD K embed(T x) {
  if constexpr (std::is_same_v<K, T>) {
    return x;
  } else {
    return K::from_base(x);
  }
}

// Uniform challenge from 32 bytes of hash or CSPRNG output. Every coordinate takes at least 64
// bits more than log2 p, so the bias from reducing mod p is below 2^-64 (PROTOCOL.md section 6).
NNP_HD void from_uniform_bytes(const unsigned char* b, Fp61& out) {
  u128 x = 0;
  for (int i = 15; i >= 0; --i) x = (x << 8) | b[i];
  out = Fp61::from_u128(x);  // 128 >= 61 + 64 bits
}
NNP_HD void from_uniform_bytes(const unsigned char* b, Fp61x2& out) {
  from_uniform_bytes(b, out.re);
  from_uniform_bytes(b + 16, out.im);
}
NNP_HD void from_uniform_bytes(const unsigned char* b, Fp127& out) {
  u128 lo = 0, hi = 0;
  for (int i = 15; i >= 0; --i) lo = (lo << 8) | b[i];
  for (int i = 31; i >= 16; --i) hi = (hi << 8) | b[i];
  // 256 >= 127 + 64 bits. hi * 2^128 + lo = 2 hi + lo (mod p), since 2^128 = 2.
  Fp127 h = Fp127::from_u128(hi);
  out = h + h + Fp127::from_u128(lo);
}
constexpr unsigned kUniformBytes = 32;

}  // namespace nnproof
