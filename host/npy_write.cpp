// SPDX-License-Identifier: Apache-2.0
// Writing .npy files (host/npy.hpp): version 1.0, the header padded as numpy pads it, the data in
// chunks, and no half-written file left behind when a write fails.
#include <algorithm>
#include <bit>
#include <cstdio>
#include <limits>
#include <string>

#include "host/npy.hpp"
#include "host/npy_format.hpp"

namespace nnproof {
namespace {

using namespace npy_detail;

constexpr std::size_t kAlign = 64;  // numpy aligns the data start to 64 bytes

void store_le(unsigned char* p, std::uint64_t v) {
  for (std::size_t i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}

// The version 1.0 header (magic through the padded dict) of count items of `descr`.
std::string npy_header(const std::string& path, const std::vector<std::size_t>& shape, const char* descr,
                       std::size_t count) {
  std::size_t n = 1;
  for (std::size_t d : shape) {
    if (d != 0 && n > std::numeric_limits<std::size_t>::max() / d)
      fail(path, "cannot write: shape " + shape_repr(shape) + " overflows");
    n *= d;
  }
  if (n != count)
    fail(path, "cannot write: shape " + shape_repr(shape) + " holds " + std::to_string(n) + " elements but " +
                   std::to_string(count) + " values were given");

  // Same dict text as numpy, then spaces and '\n' so that the data starts at a multiple of 64.
  std::string header =
      std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + shape_repr(shape) + ", }";
  const std::size_t unpadded = kMagic.size() + 4 + header.size() + 1;
  header.append((kAlign - unpadded % kAlign) % kAlign, ' ');
  header += '\n';
  if (header.size() > 0xffff) fail(path, "cannot write: shape " + shape_repr(shape) + " has too many dimensions");

  std::string pre(kMagic);
  pre += '\x01';
  pre += '\x00';
  pre += static_cast<char>(header.size() & 0xff);
  pre += static_cast<char>(header.size() >> 8);
  pre += header;
  return pre;
}

// Writes a version 1.0 file of count 8-byte items; item_bits(i) is item i as a 64-bit pattern.
template <class ItemBits>
void write_npy(const std::string& path, const std::vector<std::size_t>& shape, const char* descr, std::size_t count,
               ItemBits item_bits) {
  const std::string pre = npy_header(path, shape, descr, count);
  FilePtr f(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!f) fail(path, "cannot write: " + errno_text());
  bool ok = std::fwrite(pre.data(), 1, pre.size(), f.get()) == pre.size();
  std::vector<unsigned char> buf(std::min(count, kChunkElems) * 8);
  for (std::size_t done = 0; ok && done < count;) {
    const std::size_t m = std::min(count - done, kChunkElems);
    for (std::size_t i = 0; i < m; ++i) store_le(buf.data() + 8 * i, item_bits(done + i));
    ok = std::fwrite(buf.data(), 8, m, f.get()) == m;
    done += m;
  }
  if (ok) ok = std::fflush(f.get()) == 0;  // a full disk often shows up only here
  std::string err = ok ? "" : errno_text();
  if (std::fclose(f.release()) != 0 && ok) {
    ok = false;
    err = errno_text();
  }
  if (!ok) {
    std::remove(path.c_str());  // leave no half-written array behind
    fail(path, "cannot write: " + err);
  }
}

}  // namespace

void write_npy_f64(const std::string& path, const std::vector<std::size_t>& shape, std::span<const double> data) {
  write_npy(path, shape, "<f8", data.size(), [&](std::size_t i) { return std::bit_cast<std::uint64_t>(data[i]); });
}

std::vector<unsigned char> npy_bytes_f64(const std::vector<std::size_t>& shape, std::span<const double> data) {
  const std::string pre = npy_header("(in memory)", shape, "<f8", data.size());
  std::vector<unsigned char> out(pre.begin(), pre.end());
  out.resize(pre.size() + 8 * data.size());
  for (std::size_t i = 0; i < data.size(); ++i)
    store_le(out.data() + pre.size() + 8 * i, std::bit_cast<std::uint64_t>(data[i]));
  return out;
}

void write_npy_i64(const std::string& path, const std::vector<std::size_t>& shape, std::span<const std::int64_t> data) {
  write_npy(path, shape, "<i8", data.size(), [&](std::size_t i) { return static_cast<std::uint64_t>(data[i]); });
}

}  // namespace nnproof