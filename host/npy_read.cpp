// SPDX-License-Identifier: Apache-2.0
// Reading .npy files and request bodies (host/npy.hpp): the header dict parsed by hand, then the
// data, only once the header's byte count matches what the file really holds.
#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <string_view>
#include <system_error>

#include "host/npy.hpp"
#include "host/npy_format.hpp"

namespace nnproof {
namespace {

using namespace npy_detail;

namespace fs = std::filesystem;

constexpr std::size_t kMaxHeaderLen = 64 * 1024;  // numpy's own reader refuses more than 10000 by default
constexpr std::size_t kMaxDims = 64;              // numpy 2 allows 64, numpy 1 allows 32
constexpr const char* kDtypeFix = "save float16, float32, float64, int32, int64, uint8 or bool in little-endian order";

// Text from the file, made safe to quote in a one-line message: printable ASCII only, and short.
std::string excerpt(std::string_view s) {
  std::string out = "'";
  for (std::size_t i = 0; i < s.size() && i < 32; ++i) out += (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
  if (s.size() > 32) out += "...";
  return out + "'";
}

struct Header {
  std::string descr;
  bool fortran_order = false;
  std::vector<std::size_t> shape;
};

// The header is a Python dict literal. numpy writes exactly
//   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
// padded with spaces and a '\n'; this accepts that with any spacing, key order and optional trailing commas,
// and nothing richer (no escapes, no nested values beyond the shape tuple).
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& path) : s_(text), path_(path) {}

  Header parse() {
    Header h;
    bool seen_descr = false, seen_fortran = false, seen_shape = false;
    expect('{', "'{'");
    while (!eat('}')) {
      const std::string key = string_literal();
      expect(':', "':' after a key");
      if (key == "descr") {
        once(seen_descr, key);
        skip_ws();
        if (pos_ < s_.size() && s_[pos_] == '[')
          fail(path_, std::string("structured dtypes are not supported; ") + kDtypeFix);
        h.descr = string_literal();
      } else if (key == "fortran_order") {
        once(seen_fortran, key);
        h.fortran_order = boolean();
      } else if (key == "shape") {
        once(seen_shape, key);
        h.shape = shape_tuple();
      } else {
        malformed("unexpected key " + excerpt(key));
      }
      if (!eat(',')) {
        expect('}', "',' or '}'");
        break;
      }
    }
    skip_ws();
    if (pos_ != s_.size()) malformed("text after the closing '}'");
    if (!seen_descr) malformed("missing key 'descr'");
    if (!seen_fortran) malformed("missing key 'fortran_order'");
    if (!seen_shape) malformed("missing key 'shape'");
    return h;
  }

 private:
  [[noreturn]] void malformed(const std::string& what) { fail(path_, "malformed header: " + what + "; " + kResaveFix); }
  void once(bool& seen, const std::string& key) {
    if (seen) malformed("key " + excerpt(key) + " appears twice");
    seen = true;
  }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool eat(char c) {
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c, const char* what) {
    if (!eat(c)) malformed(std::string("expected ") + what + " at byte " + std::to_string(pos_));
  }
  std::string string_literal() {
    skip_ws();
    if (pos_ >= s_.size() || (s_[pos_] != '\'' && s_[pos_] != '"'))
      malformed("expected a quoted string at byte " + std::to_string(pos_));
    const char q = s_[pos_++];
    const std::size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] != q) {
      const char c = s_[pos_];
      if (c < 0x20 || c >= 0x7f || c == '\\')
        malformed("unexpected character in a string at byte " + std::to_string(pos_));
      ++pos_;
    }
    if (pos_ >= s_.size()) malformed("unterminated string");
    return std::string(s_.substr(start, pos_++ - start));
  }
  bool boolean() {
    skip_ws();
    for (std::string_view word : {std::string_view("True"), std::string_view("False")}) {
      if (s_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        return word == "True";
      }
    }
    malformed("expected True or False at byte " + std::to_string(pos_));
  }
  std::vector<std::size_t> shape_tuple() {
    std::vector<std::size_t> shape;
    expect('(', "'(' to open the shape");
    while (!eat(')')) {
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] < '0' || s_[pos_] > '9')
        malformed("expected a dimension at byte " + std::to_string(pos_));
      std::size_t v = 0;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
        const std::size_t d = static_cast<std::size_t>(s_[pos_++] - '0');
        if (v > (std::numeric_limits<std::size_t>::max() - d) / 10)
          fail(path_, "shape has a dimension too large to address");
        v = v * 10 + d;
      }
      if (pos_ < s_.size() && s_[pos_] == 'L') ++pos_;  // Python 2 numpy wrote longs as 3L
      if (shape.size() == kMaxDims) fail(path_, "shape has more than " + std::to_string(kMaxDims) + " dimensions");
      shape.push_back(v);
      if (!eat(',')) {
        expect(')', "',' or ')' in the shape");
        break;
      }
    }
    return shape;
  }

  std::string_view s_;
  const std::string& path_;
  std::size_t pos_ = 0;
};

struct DTypeInfo {
  NpyDType dtype;
  std::size_t itemsize;
};

DTypeInfo parse_descr(const std::string& descr, const std::string& path) {
  // '|' and '=' mean "not applicable" and "native"; numpy accepts them, and on the little-endian machines
  // that write these files they mean little-endian.
  if (descr.size() == 3 && (descr[0] == '<' || descr[0] == '|' || descr[0] == '=')) {
    const std::string_view t = std::string_view(descr).substr(1);
    if (t == "f2") return {NpyDType::f16, 2};
    if (t == "f4") return {NpyDType::f32, 4};
    if (t == "f8") return {NpyDType::f64, 8};
    if (t == "i4") return {NpyDType::i32, 4};
    if (t == "i8") return {NpyDType::i64, 8};
    if (t == "u1") return {NpyDType::u8, 1};
    if (t == "b1") return {NpyDType::b1, 1};
  }
  fail(path, "dtype " + excerpt(descr) + " is not supported; " + kDtypeFix);
}

std::uint64_t load_le(const unsigned char* p, std::size_t width) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < width; ++i) v |= std::uint64_t{p[i]} << (8 * i);
  return v;
}

// IEEE binary16 to double, exactly (every half is a double): subnormals, infinities and NaN included.
double half_to_double(std::uint64_t bits) {
  const bool negative = (bits >> 15) & 1;
  const int exponent = static_cast<int>((bits >> 10) & 0x1f);
  const auto mantissa = static_cast<double>(bits & 0x3ff);
  double v;
  if (exponent == 0)
    v = std::ldexp(mantissa, -24);
  else if (exponent == 31)
    v = mantissa == 0 ? std::numeric_limits<double>::infinity() : std::numeric_limits<double>::quiet_NaN();
  else
    v = std::ldexp(1024 + mantissa, exponent - 25);
  return negative ? -v : v;
}

// Reads count items of the given width from f, decoding each into out[i] in chunks.
template <class T, class Decode>
void read_items(std::FILE* f, const std::string& path, std::size_t count, std::size_t width, std::vector<T>& out,
                Decode decode) {
  out.resize(count);
  std::vector<unsigned char> buf(std::min(count, kChunkElems) * width);
  for (std::size_t done = 0; done < count;) {
    const std::size_t n = std::min(count - done, kChunkElems);
    if (std::fread(buf.data(), width, n, f) != n) fail(path, "truncated: the file got shorter while being read");
    for (std::size_t i = 0; i < n; ++i) out[done + i] = decode(load_le(buf.data() + i * width, width));
    done += n;
  }
}

}  // namespace

std::size_t NpyArray::size() const {
  std::size_t n = 1;
  for (std::size_t d : shape) n *= d;
  return n;
}

namespace {
NpyHeader read_header(std::FILE* f, std::uintmax_t file_size, const std::string& path);
NpyArray read_npy_stream(std::FILE* f, std::uintmax_t file_size, const std::string& path);
}  // namespace

namespace {
// Opens a regular file for reading, with its size. The type is checked before opening: opening a
// FIFO or a device for reading could block forever.
FilePtr open_regular(const std::string& path, std::uintmax_t& file_size) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec) fail(path, "cannot open: " + ec.message());
  if (!fs::is_regular_file(st)) fail(path, "cannot open: not a regular file");
  file_size = fs::file_size(path, ec);
  if (ec) fail(path, "cannot open: " + ec.message());
  FilePtr f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) fail(path, "cannot open: " + errno_text());
  return f;
}
}  // namespace

NpyArray read_npy(const std::string& path) {
  std::uintmax_t file_size = 0;
  FilePtr f = open_regular(path, file_size);
  return read_npy_stream(f.get(), file_size, path);
}

NpyHeader read_npy_header(const std::string& path) {
  std::uintmax_t file_size = 0;
  FilePtr f = open_regular(path, file_size);
  return read_header(f.get(), file_size, path);
}

NpyArray read_npy_bytes(std::span<const unsigned char> bytes, const std::string& name) {
  // fmemopen needs a non-empty buffer; an empty body is "not a .npy file" like an empty file.
  static const unsigned char none = 0;
  FilePtr f(::fmemopen(const_cast<unsigned char*>(bytes.empty() ? &none : bytes.data()),
                       bytes.empty() ? 1 : bytes.size(), "rb"),
            &std::fclose);
  if (!f) fail(name, "cannot read: " + errno_text());
  return read_npy_stream(f.get(), bytes.size(), name);
}

namespace {
// The preamble and header of `f` (file_size bytes, named `path`), checked against the file's size,
// with f left at the data's first byte: what read_npy_stream and read_npy_header share.
NpyHeader read_header(std::FILE* fp, std::uintmax_t file_size, const std::string& path) {
  struct Borrowed {
    std::FILE* p;
    std::FILE* get() const { return p; }
  } f{fp};

  // Preamble: magic, major, minor, then a little-endian header length (2 bytes in 1.0, 4 in 2.0 and 3.0).
  std::array<unsigned char, 12> pre{};
  if (file_size < kMagic.size() || std::fread(pre.data(), 1, kMagic.size(), f.get()) != kMagic.size() ||
      std::string_view(reinterpret_cast<const char*>(pre.data()), kMagic.size()) != kMagic)
    fail(path, "not a .npy file (bad magic)");
  if (std::fread(pre.data() + 6, 1, 2, f.get()) != 2) fail(path, "truncated header: the file ends inside the preamble");
  const unsigned major = pre[6], minor = pre[7];
  if ((major < 1 || major > 3) || minor != 0)
    fail(path,
         "unsupported .npy format version " + std::to_string(major) + "." + std::to_string(minor) + "; " + kResaveFix);
  const std::size_t len_width = major == 1 ? 2 : 4;
  if (std::fread(pre.data() + 8, 1, len_width, f.get()) != len_width)
    fail(path, "truncated header: the file ends inside the preamble");
  const std::size_t header_len = load_le(pre.data() + 8, len_width);
  const std::size_t data_start = 8 + len_width + header_len;
  if (header_len > kMaxHeaderLen)
    fail(path, "header length " + std::to_string(header_len) + " is over the " + std::to_string(kMaxHeaderLen) +
                   "-byte limit; " + kResaveFix);
  if (file_size < data_start)
    fail(path, "truncated header: header length says " + std::to_string(header_len) + " bytes but " +
                   std::to_string(file_size - (8 + len_width)) + " follow");

  std::string text(header_len, '\0');
  if (std::fread(text.data(), 1, header_len, f.get()) != header_len)
    fail(path, "truncated header: the file got shorter while being read");
  const Header h = HeaderParser(text, path).parse();
  const DTypeInfo dt = parse_descr(h.descr, path);
  if (h.fortran_order) fail(path, "fortran_order arrays are not supported; save with np.ascontiguousarray");

  // Byte count with overflow checks. Zero dimensions are skipped in the product so that (2**63, 0) is
  // refused too: no dimension may exceed what a non-empty array could address.
  bool empty = false;
  std::size_t nonzero_bytes = dt.itemsize;
  for (std::size_t d : h.shape) {
    if (d == 0) {
      empty = true;
    } else if (nonzero_bytes > std::numeric_limits<std::size_t>::max() / d) {
      fail(path, "shape " + shape_repr(h.shape) + " is too large: its byte count overflows");
    } else {
      nonzero_bytes *= d;
    }
  }
  const std::size_t bytes = empty ? 0 : nonzero_bytes;
  const std::size_t count = bytes / dt.itemsize;
  const std::uintmax_t left = file_size - data_start;
  if (left != bytes)
    fail(path, std::string(left < bytes ? "truncated" : "trailing bytes") + ": header says " + std::to_string(count) +
                   " elements (" + std::to_string(bytes) + " bytes) but " + std::to_string(left) + " bytes follow");
  return NpyHeader{h.shape, dt.dtype, dt.itemsize, count};
}

// The parser behind read_npy and read_npy_bytes: `f` holds file_size bytes, `path` names them.
NpyArray read_npy_stream(std::FILE* fp, std::uintmax_t file_size, const std::string& path) {
  struct Borrowed {
    std::FILE* p;
    std::FILE* get() const { return p; }
  } f{fp};
  const NpyHeader h = read_header(fp, file_size, path);
  const std::size_t count = h.count;

  // Only now, with the data's length the real remaining file size, is it safe to allocate.
  NpyArray a;
  a.shape = h.shape;
  a.dtype = h.dtype;
  switch (h.dtype) {
    case NpyDType::f16:
      read_items(f.get(), path, count, 2, a.reals, half_to_double);
      break;
    case NpyDType::f32:
      read_items(f.get(), path, count, 4, a.reals, [](std::uint64_t v) {
        return static_cast<double>(std::bit_cast<float>(static_cast<std::uint32_t>(v)));
      });
      break;
    case NpyDType::f64:
      read_items(f.get(), path, count, 8, a.reals, [](std::uint64_t v) { return std::bit_cast<double>(v); });
      break;
    case NpyDType::i32:  // unsigned -> signed conversion is modular (two's complement) since C++20
      read_items(f.get(), path, count, 4, a.integers, [](std::uint64_t v) {
        return std::int64_t{static_cast<std::int32_t>(static_cast<std::uint32_t>(v))};
      });
      break;
    case NpyDType::i64:
      read_items(f.get(), path, count, 8, a.integers, [](std::uint64_t v) { return static_cast<std::int64_t>(v); });
      break;
    case NpyDType::u8:
      read_items(f.get(), path, count, 1, a.integers, [](std::uint64_t v) { return static_cast<std::int64_t>(v); });
      break;
    case NpyDType::b1:  // numpy writes True as 1; any other byte is not a bool numpy wrote
      read_items(f.get(), path, count, 1, a.integers, [&](std::uint64_t v) {
        if (v > 1) fail(path, "bool array holds the byte " + std::to_string(v) + ", not 0 or 1; " + kResaveFix);
        return static_cast<std::int64_t>(v);
      });
      break;
  }
  return a;
}
}  // namespace

}  // namespace nnproof
