// SPDX-License-Identifier: Apache-2.0
#include "verifier/sha256.hpp"

#include <openssl/evp.h>

#include <algorithm>
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

// SHA-256 reads its input as one dependent chain of blocks, so the hardware prefetcher alone leaves
// it waiting on memory: hashing a table from DRAM ran at 1.23 GB/s here against 1.98 GB/s from
// cache (SHA-NI, one core). Feeding OpenSSL kStep bytes at a time while the next kStep are
// prefetched recovers the cache speed (1.93 GB/s); the claimed gradients of a training proof
// (~200 MB) are most of verify_training's time. Short inputs (transcript messages) go straight in.
constexpr std::size_t kStep = 1024;
constexpr std::size_t kPrefetchFrom = 8 * kStep;

void digest_update(void* ctx, const unsigned char* data, std::size_t len) {
  if (len != 0 && EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx), data, len) != 1)
    throw std::runtime_error("OpenSSL: SHA-256 update failed");
}

}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), sha256_md(), nullptr) != 1)
    throw std::runtime_error("OpenSSL: cannot initialize SHA-256");
}

Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

Sha256& Sha256::update(const void* data, std::size_t len) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  if (len < kPrefetchFrom) {
    digest_update(ctx_, bytes, len);
    return *this;
  }
  for (std::size_t at = 0; at < len; at += kStep) {
    const std::size_t next = at + kStep;
    for (std::size_t line = next; line < std::min(len, next + kStep); line += 64) __builtin_prefetch(bytes + line);
    digest_update(ctx_, bytes + at, std::min(kStep, len - at));
  }
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
