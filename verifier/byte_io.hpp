// SPDX-License-Identifier: Apache-2.0
#pragma once
// The bounds-checked little-endian reader and writer that every proof file (.nnp, .nnpt) shares,
// and the widths of their field elements. Internal to verifier/: the file formats' parsers only.
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "verifier/proof.hpp"

namespace nnproof::byte_io {

// Bytes of one base-field element F and one challenge-field element K in a file (docs/FORMAT.md).
inline std::size_t field_base_bytes(FieldId f) { return f == FieldId::m127 ? Fp127::kBytes : Fp61::kBytes; }
inline std::size_t field_challenge_bytes(FieldId f) {
  switch (f) {
    case FieldId::m61:
      return Fp61x2::kBytes;
    case FieldId::m127:
      return Fp127::kBytes;
    case FieldId::m61_interactive:
      return Fp61::kBytes;
  }
  return 0;
}

// Reads forward through a byte span; running past its end is a ProofFormatError naming `what`.
class Reader {
 public:
  explicit Reader(std::span<const unsigned char> b) : b_(b) {}
  const unsigned char* take(std::size_t n, const char* what) {
    if (b_.size() - pos_ < n) throw ProofFormatError(std::string("truncated proof: file ends inside ") + what);
    const unsigned char* p = b_.data() + pos_;
    pos_ += n;
    return p;
  }
  std::uint64_t uint(std::size_t n, const char* what) {
    const unsigned char* p = take(n, what);
    std::uint64_t x = 0;
    for (std::size_t i = 0; i < n; ++i) x |= static_cast<std::uint64_t>(p[i]) << (8 * i);
    return x;
  }
  std::size_t pos() const { return pos_; }

 private:
  std::span<const unsigned char> b_;
  std::size_t pos_ = 0;
};

class Writer {
 public:
  void bytes(const void* p, std::size_t n) {
    auto c = static_cast<const unsigned char*>(p);
    out.insert(out.end(), c, c + n);
  }
  void uint(std::uint64_t x, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) out.push_back(static_cast<unsigned char>(x >> (8 * i)));
  }
  template <class T>
  void elements(const std::vector<T>& v) {
    std::size_t at = out.size();
    out.resize(at + v.size() * T::kBytes);
    for (std::size_t i = 0; i < v.size(); ++i) v[i].to_bytes(out.data() + at + i * T::kBytes);
  }
  std::vector<unsigned char> out;
};

// Reads `count` canonical elements (count from a trusted shape, the file's length already checked);
// an element >= p is a ProofFormatError naming `what` and its index.
template <class T>
void read_elements(Reader& r, std::vector<T>& v, std::size_t count, const char* what) {
  const unsigned char* p = r.take(count * T::kBytes, what);
  v.resize(count);
  for (std::size_t i = 0; i < count; ++i)
    if (!T::from_bytes(p + i * T::kBytes, v[i]))
      throw ProofFormatError(std::string("non-canonical field element (>= p) in ") + what + " at element " +
                             std::to_string(i));
}

// The field id, mode and reserved bytes every proof file has after its magic and version: a file
// field (m61 or m127), the non-interactive mode, zero reserved bytes.
inline std::pair<FieldId, std::uint8_t> read_field_and_mode(Reader& r) {
  const std::uint64_t field = r.uint(1, "the field id");
  if (field != static_cast<std::uint8_t>(FieldId::m61) && field != static_cast<std::uint8_t>(FieldId::m127))
    throw ProofFormatError("unknown or non-file field id " + std::to_string(field) + " (files hold m61 or m127)");
  const auto mode = static_cast<std::uint8_t>(r.uint(1, "the mode"));
  if (mode != kModeNonInteractive) throw ProofFormatError("unknown proof mode " + std::to_string(mode));
  if (r.uint(2, "the reserved bytes") != 0) throw ProofFormatError("reserved header bytes are not zero");
  return {static_cast<FieldId>(field), mode};
}

}  // namespace nnproof::byte_io
