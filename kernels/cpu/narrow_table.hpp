// SPDX-License-Identifier: Apache-2.0
#pragma once
// A hidden layer's Z kept by the cpu engine as int32 or int64 entries (issue 23: narrow tables). A
// CNN's first Z is small integers (CIFAR-size: below 2^25) but was written as field elements, 16
// bytes each in m127: 134 MB at batch 256, written once and read three times (the next layer's pool
// of squares, the group sums of col_combine_of_squares, the square sum-check's first fold), ~35 ms
// of memory traffic in a 0.16 s proof. As int32 it is a quarter of that. Its second Z (below 2^47
// there) is half of that as int64, and the int8 convolution that writes it joins its bytes in
// 64-bit integers instead of 128.
//
// The table is the engine's own copy (Table2D::device, as the cuda engine keeps device memory):
// `data` stays empty, and Engine::to_host / on_host widen it into field elements for any reader
// that has no narrow path. Only the engine's forward_hidden makes one, for a proof's hidden Z,
// which its own forward_of_square or forward_hidden (the next layer's), col_combine_of_squares
// and square_sumcheck read.
#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <vector>

#include "core/fields.hpp"
#include "kernels/cpu/op_output.hpp"
#include "kernels/engine/table.hpp"
#include "kernels/engine/uninitialized.hpp"
#include "verifier/parallel.hpp"

namespace nnproof {

// The tag whose address marks a NarrowTable (DeviceCopy::kind); one object across the program.
inline constexpr char kNarrowTableTag = 0;

// The most bits of an int64 narrow table's entries: the sum-check's differences and extensions of
// them (z_1 - z_0, 2 d_1 - d_0, z_11 - z_01 - z_10 + z_00) stay below 2^63 (kWideEntryBits, the
// integer kernels' bound), and their squares, a pool of up to 256 of them, below 2^128 (a pool of
// more taps reads fewer bits: narrow_bits_pooled_by).
inline constexpr unsigned kNarrowWideBits = 60;

// Entries rows x cols, row-major as the table's, in `v` (int32, bits <= 31) or `v64` (int64, bits
// <= kNarrowWideBits): every |entry| < 2^bits.
struct NarrowTable final : DeviceCopy {
  HugePageVector<std::int32_t> v;
  HugePageVector<std::int64_t> v64;
  unsigned bits = 31;
  // Rows from real_rows on are zero (a layer's padding rows): the first passes of the activation
  // sum-check skip what they would read there (square_group_sums, the first fold).
  std::size_t real_rows = SIZE_MAX;
  // Per row, 1 where the row is zero whatever the input (a padding position of the layer's pow2
  // image layout, whose bias is zero: zero_rows_of, narrow_forward.hpp), or empty: the activation
  // sum-check skips groups of such rows (square_group_sums) and never writes their folds
  // (square_sumcheck.hpp). CNN-2-Quad's first Z: 44% of its rows (24 x 24 images in 32 x 32).
  std::vector<std::uint8_t> zero_rows;
  NarrowTable() : DeviceCopy(&kNarrowTableTag) {}
  // Whether row r is known to be zero (zero_rows, or past real_rows).
  bool zero_row(std::size_t r) const { return r >= real_rows || (r < zero_rows.size() && zero_rows[r]); }
  // Whether rows g, g + quarter, g + 2 quarter and g + 3 quarter are all known to be zero: a group
  // of the activation sum-check's first two rounds (square_group_sums, the first fold).
  bool zero_group(std::size_t g, std::size_t quarter) const {
    return zero_row(g) && zero_row(g + quarter) && zero_row(g + 2 * quarter) && zero_row(g + 3 * quarter);
  }
  bool wide() const { return !v64.empty(); }
  // The int32 entries, or nullptr where they are int64 (the int32 integer kernels read these; the
  // int64 ones read v64).
  const std::int32_t* entries32() const { return wide() ? nullptr : v.data(); }
  // fn(entries) with the entries' own type.
  template <class Fn>
  decltype(auto) visit(Fn&& fn) const {
    return wide() ? fn(v64.data()) : fn(v.data());
  }
};

// The table's integer entries, or nullptr when it holds its field elements (or another engine's copy).
template <class F>
const NarrowTable* narrow_table(const Table2D<F>& t) {
  if (t.on_host() || !t.device || t.device->kind != &kNarrowTableTag) return nullptr;
  return static_cast<const NarrowTable*>(t.device.get());
}

// A Table2D whose entries are `narrow`'s (rows x cols): data left empty.
template <class F>
Table2D<F> narrow_table2d(std::size_t rows, std::size_t cols, std::shared_ptr<const NarrowTable> narrow) {
  Table2D<F> t;
  t.rows = rows, t.cols = cols;
  t.device = std::move(narrow);
  return t;
}

// out[i] = in[i] as field elements, i < n, without branches: F::from_int's reduction made the two
// passes that widen a CIFAR-size Z at batch 256 (group sums, first fold) 34 ms slower. For m127 the two 64-bit
// halves of x + p [x < 0] (p = 2^127 - 1) are (x - 1, 2^63 - 1) where x < 0, else (x, 0), a loop
// the compiler vectorizes (|x| < 2^63: x - 1 does not overflow).
// (The halves are written through an aliasing type, as verifier/compact_encode.cpp reads them, so
// that no reader of the Fp127 entries may be reordered before these stores.)
using u64_alias = std::uint64_t __attribute__((__may_alias__));

template <class T, class F>
void widen_entries(const T* in, std::size_t n, F* out) {
  static_assert(std::is_same_v<T, std::int32_t> || std::is_same_v<T, std::int64_t>);
  if constexpr (std::is_same_v<F, Fp127>) {
    static_assert(sizeof(Fp127) == 16 && std::endian::native == std::endian::little);
    auto* halves = reinterpret_cast<u64_alias*>(out);
    for (std::size_t i = 0; i < n; ++i) {
      const std::int64_t x = in[i], sign = x >> 63;  // all ones where x < 0
      halves[2 * i] = static_cast<std::uint64_t>(x + sign);
      halves[2 * i + 1] = static_cast<std::uint64_t>(sign) >> 1;
    }
  } else {
    for (std::size_t i = 0; i < n; ++i) out[i] = from_small_i128<F>(in[i]);
  }
}

// Columns a pass widens at a time where it reads a narrow table with the field's kernels (four rows:
// 16 KiB of m127, in L1).
inline constexpr std::size_t kWidenColumns = 256;

// Room for four rows of kWidenColumns field elements, left unwritten: a std::array<F, ...> would be
// zero-filled at each use (F's members have initializers), 16 KiB a group even for field tables.
template <class F>
struct WidenBuffer {
  alignas(F) std::byte bytes[4 * kWidenColumns * sizeof(F)];
  F* data() { return reinterpret_cast<F*>(bytes); }  // F is an implicit-lifetime type
};

// Columns [c0, c0 + len) of rows `rows` of t as field elements: pointers into t.data where it holds
// them (narrow null), else the narrow entries widened into buf (rows.size() x kWidenColumns).
template <class F, std::size_t N>
std::array<const F*, N> rows_at(const Table2D<F>& t, const NarrowTable* narrow, const std::array<std::size_t, N>& rows,
                                std::size_t c0, std::size_t len, F* buf) {
  std::array<const F*, N> out;
  for (std::size_t i = 0; i < N; ++i) {
    if (narrow == nullptr) {
      out[i] = t.data.data() + rows[i] * t.cols + c0;
      continue;
    }
    narrow->visit([&](const auto* v) { widen_entries(v + rows[i] * t.cols + c0, len, buf + i * kWidenColumns); });
    out[i] = buf + i * kWidenColumns;
  }
  return out;
}

// The column chunks of such a pass: the whole row where the table holds field elements.
template <class F>
std::size_t widen_chunk(const Table2D<F>& t, const NarrowTable* narrow) {
  return narrow ? std::min(t.cols, kWidenColumns) : t.cols;
}

// Fills t.data from its integer entries (Engine::to_host), in parallel by rows.
template <class F>
void widen_narrow_table(Table2D<F>& t) {
  const NarrowTable* n = narrow_table(t);
  if (n == nullptr) return;
  t.data.resize(t.rows * t.cols);
  n->visit([&](const auto* v) {
    parallel_for(t.rows, [&](std::size_t r) { widen_entries(v + r * t.cols, t.cols, &t.at(r, 0)); });
  });
  t.device.reset();
}

}  // namespace nnproof
