// SPDX-License-Identifier: Apache-2.0
#pragma once
// A streaming SHA-256 over OpenSSL's EVP interface, with helpers for little-endian integers.
#include <array>
#include <cstdint>
#include <span>
#include <string_view>

namespace nnproof {

using Digest = std::array<unsigned char, 32>;

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  Sha256& update(const void* data, std::size_t len);
  Sha256& update(std::span<const unsigned char> bytes) { return update(bytes.data(), bytes.size()); }
  Sha256& update(std::string_view s) { return update(s.data(), s.size()); }
  Sha256& update_u8(std::uint8_t x) { return update(&x, 1); }
  Sha256& update_u32(std::uint32_t x);
  Sha256& update_u64(std::uint64_t x);
  // A length-prefixed string, so that concatenations are unambiguous.
  Sha256& update_str(std::string_view s) { return update_u64(s.size()).update(s); }
  Digest finish();  // the object is spent afterwards

 private:
  void* ctx_;  // EVP_MD_CTX, kept opaque so OpenSSL headers stay out of the interface
};

Digest sha256(std::span<const unsigned char> bytes);
std::string to_hex(std::span<const unsigned char> bytes);

}  // namespace nnproof
