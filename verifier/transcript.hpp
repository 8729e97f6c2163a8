// SPDX-License-Identifier: Apache-2.0
#pragma once
// The Fiat-Shamir transcript of PROTOCOL.md section 6: a SHA-256 hash chain with domain
// separation. Byte layout: docs/FORMAT.md, "Transcript".
#include <span>
#include <string_view>
#include <vector>

#include "core/fields.hpp"
#include "verifier/sha256.hpp"

namespace nnproof {

class Transcript {
 public:
  // state_0 = SHA256(str("nnproof/v1") || str(field name) || u8 mode)
  Transcript(FieldId field, std::uint8_t mode);

  // state = SHA256(state || 0x01 || str(label) || u64 len || data)
  void absorb(std::string_view label, std::span<const unsigned char> data);

  template <class T>
  void absorb_elements(std::string_view label, std::span<const T> elements) {
    std::vector<unsigned char> bytes(elements.size() * T::kBytes);
    for (std::size_t i = 0; i < elements.size(); ++i) elements[i].to_bytes(bytes.data() + i * T::kBytes);
    absorb(label, bytes);
  }

  // out = SHA256(state || 0x02), then state = SHA256(state || 0x03): 32 fresh bytes per call.
  std::array<unsigned char, kUniformBytes> squeeze();

  // A challenge from the full field K, never a truncated range (see from_uniform_bytes).
  template <class K>
  K challenge() {
    auto bytes = squeeze();
    K k;
    from_uniform_bytes(bytes.data(), k);
    return k;
  }

  const Digest& state() const { return state_; }

 private:
  Digest state_;
};

}  // namespace nnproof
