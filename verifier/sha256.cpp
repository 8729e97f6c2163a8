// SPDX-License-Identifier: Apache-2.0
#include "verifier/sha256.hpp"

#include <openssl/evp.h>

#include <stdexcept>
#include <string>

namespace nnproof {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("OpenSSL: cannot initialize SHA-256");
}

Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

Sha256& Sha256::update(const void* data, std::size_t len) {
  if (len && EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, len) != 1)
    throw std::runtime_error("OpenSSL: SHA-256 update failed");
  return *this;
}

Sha256& Sha256::update_u32(std::uint32_t x) {
  unsigned char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<unsigned char>(x >> (8 * i));
  return update(b, 4);
}

Sha256& Sha256::update_u64(std::uint64_t x) {
  unsigned char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(x >> (8 * i));
  return update(b, 8);
}

Digest Sha256::finish() {
  Digest d{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), d.data(), &len) != 1 || len != d.size())
    throw std::runtime_error("OpenSSL: SHA-256 finish failed");
  return d;
}

Digest sha256(std::span<const unsigned char> bytes) { return Sha256().update(bytes).finish(); }

std::string to_hex(std::span<const unsigned char> bytes) {
  static const char* kHex = "0123456789abcdef";
  std::string s;
  for (unsigned char c : bytes) {
    s += kHex[c >> 4];
    s += kHex[c & 15];
  }
  return s;
}

}  // namespace nnproof
