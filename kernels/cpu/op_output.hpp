// SPDX-License-Identifier: Apache-2.0
#pragma once
// Where a structured op's routes write, and how wide its input's values really are. The cpu
// engine's structured forward (structured_cpu.hpp) has the chain's last op write straight into the
// layer's Z table, bias added, instead of into a zero-filled vector that a second pass copied into
// Z (134 MB at CIFAR batch 256, m127: a serial memset, its page faults and a copy). And the routes
// cut each input value into as few limbs as its table needs: a CNN's quantized input and its pooled
// squares are small integers (the first layer's below 2^14, the second's below 2^61), so two to
// five times fewer products than the field's full width, with the same field element as the result.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "core/hostdevice.hpp"
#include "verifier/centered_words.hpp"
#include "verifier/parallel.hpp"

namespace nnproof {

// Row a, sample k of an op's output is data[a stride + k], plus bias[a] where bias is given.
template <class F>
struct OpOutput {
  using Value = F;
  F* data;
  std::size_t stride;
  const F* bias = nullptr;
  F* row(std::size_t a) const { return data + a * stride; }
  F add_bias(std::size_t a, F v) const { return bias ? v + bias[a] : v; }
};

// The same for a narrow table's int64 entries (kernels/cpu/narrow_table.hpp): values are worked
// mod 2^64 (unsigned, wrapping), which is exact where a bound keeps every output below 2^63. A
// writer that has `magnitudes` ORs into it |v| - [v < 0] for every value v it writes (the int8
// convolution, conv_int8.cpp: padding rows' biases included): |v| is below 2^(the OR's bit length
// + 1).
struct NarrowOutput {
  using Value = std::uint64_t;
  std::int64_t* data;
  std::size_t stride;
  const std::int64_t* bias = nullptr;
  std::uint64_t* magnitudes = nullptr;
  std::int64_t* row(std::size_t a) const { return data + a * stride; }
  Value add_bias(std::size_t a, Value v) const { return bias ? v + static_cast<Value>(bias[a]) : v; }
};

// Of a table of table_rows x cols entries at `data`, rows [0, rows) keep their first `batch`
// entries; the rest of each row, and every row after, become T{} (zero): in parallel. For field
// tables (structured_cpu.hpp) and int32 / int64 ones (narrow_table.hpp) alike.
template <class T>
void zero_padding_parallel(T* data, std::size_t table_rows, std::size_t cols, std::size_t rows, std::size_t batch) {
  parallel_for(table_rows, [&](std::size_t r) {
    T* row = data + r * cols;
    std::fill(row + (r < rows ? batch : 0), row + cols, T{});
  });
}

// x mod p for |x| < 2^126. For m127 without a branch (x's two's complement plus p where x < 0):
// the joins' signed sums are negative half the time, at random, and from_i128's branch missed.
template <class F>
F from_small_i128(i128 x) {
  if constexpr (F::kBits == 127) {
    const auto negative = static_cast<u128>(x >> 127);  // all ones where x < 0
    return F{static_cast<u128>(x) + (static_cast<u128>(F::P) & negative)};
  } else {
    return F::from_i128(x);
  }
}

// How wide the values of a table are: `raw` the bit length of the largest representative in
// [0, p), `centered` that of the largest |x| with x taken in (-p/2, p/2).
struct ValueWidth {
  unsigned raw = 0, centered = 0;
};

inline unsigned bit_length(u128 x) {
  const auto hi = static_cast<std::uint64_t>(x >> 64), lo = static_cast<std::uint64_t>(x);
  if (hi) return 128 - static_cast<unsigned>(__builtin_clzll(hi));
  return lo ? 64 - static_cast<unsigned>(__builtin_clzll(lo)) : 0;
}

// The widths of rows [0, rows) x samples [0, batch) of a table of stride `stride`: one read of it,
// ORs only (the bit length of an OR is that of the largest value).
template <class F>
ValueWidth value_width(const F* in, std::size_t rows, std::size_t stride, std::size_t batch) {
  std::vector<u128> raw(rows), centered(rows);
  parallel_for(rows, [&](std::size_t j) {
    const F* x = in + j * stride;
    if constexpr (kCenteredWordsOf<F>) {
      const ValueOrs ors = value_ors(x, batch);  // the loop below on the raw words, vectorized
      raw[j] = ors.raw, centered[j] = ors.magnitude;
    } else {
      constexpr u128 half = F::P >> 1;
      u128 r = 0, c = 0;
      for (std::size_t k = 0; k < batch; ++k) {
        const u128 v = static_cast<u128>(x[k].v);
        r |= v;
        c |= v > half ? static_cast<u128>(F::P) - v : v;
      }
      raw[j] = r, centered[j] = c;
    }
  });
  u128 r = 0, c = 0;
  for (std::size_t j = 0; j < rows; ++j) r |= raw[j], c |= centered[j];
  return {bit_length(r), bit_length(c)};
}

}  // namespace nnproof
