// SPDX-License-Identifier: Apache-2.0
#include "verifier/sha256.hpp"

#include <openssl/evp.h>

#include <stdexcept>
#include <string>

namespace nnproof {

namespace {

// SHA-256's implementation, fetched from OpenSSL's providers once per process. EVP_sha256() names
// it without fetching it: OpenSSL 3 then looks it up in the provider store on every
// EVP_DigestInit_ex, a few microseconds per digest. The Fiat-Shamir transcript makes three small
// digests per sum-check round (~80 rounds a CNN proof), so that lookup was most of a round's cost.
const EVP_MD* sha256_md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);  // never freed: lives with the process
  return md != nullptr ? md : EVP_sha256();
}

}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), sha256_md(), nullptr) != 1)
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
