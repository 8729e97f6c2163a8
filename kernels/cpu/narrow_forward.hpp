// SPDX-License-Identifier: Apache-2.0
#pragma once
// The cpu engine's structured forward around a narrow hidden Z (narrow_table.hpp): the limb route
// writing a layer's Z as int32 or int64 (last_op_narrow), and the next layer's sum pool of its
// squares, into field elements or, where a convolution's int8 route reads them next, into 64-bit
// sums that it splits into bytes itself (pool_squares_u64): for the CIFAR-size CNN's second layer
// 17 MB written and read instead of 34, and no scan of the pooled values for their width. That
// convolution may write its own Z as int64 in turn (int8_conv_narrow).
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "kernels/cpu/conv_int8.hpp"
#include "kernels/cpu/narrow_table.hpp"
#include "kernels/cpu/op_output.hpp"
#include "kernels/cpu/square_pool.hpp"
#include "kernels/cpu/structured_limbs.hpp"
#include "kernels/engine/structured_forward.hpp"
#include "kernels/engine/uninitialized.hpp"
#include "verifier/parallel.hpp"

namespace nnproof {

// The bits of op's sums of squares of values below 2^bits (a sum pool's): 2 bits + log2 taps.
inline unsigned pooled_square_bits(const LinearOp& op, unsigned bits) {
  return 2 * bits + ceil_log2(std::max<std::size_t>(max_taps_per_row(op), 1));
}

// Whether those sums stay below 2^64 (2^128).
inline bool narrow_squares_pool_in_u64(const LinearOp& op, unsigned bits) { return pooled_square_bits(op, bits) <= 64; }
inline bool narrow_squares_pool_in_u128(const LinearOp& op, unsigned bits) {
  return pooled_square_bits(op, bits) <= 128;
}

// The most bits of a narrow Z whose squares `pool` sums as it reads them: kNarrowWideBits, fewer
// where its sums of that many taps would pass 2^128.
inline unsigned narrow_bits_pooled_by(const LinearOp& pool) {
  return std::min(kNarrowWideBits, (128 - std::min(128u, pooled_square_bits(pool, 0))) / 2);
}

// A sum pool of the squares of a narrow table's entries (int32 or int64, rows of stride
// in_stride), row by row: write(a, k0, m, sums) with sums[k] = the sum of x^2 over row a's taps for
// samples k0 + k, k < m, in Sum (exact: 64 bits where narrow_squares_pool_in_u64, else 128).
// With `skip_padding`, the rows at the padding of a pow2 output layout (no taps: zero sums) are
// not written, for a reader that never reads them.
template <class Sum, class T, class Write>
void pool_narrow_squares(const LinearOp& op, const T* in, std::size_t in_stride, std::size_t batch, const Write& write,
                         bool skip_padding = false) {
  using Square = std::conditional_t<sizeof(T) == 4, std::int64_t, i128>;  // exact
  parallel_for(op.rows, [&](std::size_t a) {
    if (skip_padding && is_padding_output(op.conv, a)) return;
    constexpr std::size_t kChunk = 256;  // samples at a time: the sums stay in L1
    for (std::size_t k0 = 0; k0 < batch; k0 += kChunk) {
      const std::size_t m = std::min(batch, k0 + kChunk) - k0;
      std::array<Sum, kChunk> sums{};
      for_each_entry(op, a, [&](std::size_t j, std::int64_t) {
        const T* x = in + j * in_stride + k0;
        if constexpr (std::is_same_v<T, std::int32_t> && std::is_same_v<Sum, std::uint64_t>) {
          add_squares_u64(x, m, sums.data());  // square_pool.hpp's vector kernel
        } else {
          for (std::size_t k = 0; k < m; ++k) {
            const Square v = x[k];
            sums[k] += static_cast<Sum>(v * v);
          }
        }
      });
      write(a, k0, m, sums.data());
    }
  });
}

// The pool into `out` as field elements: sum_pool_of_squares_into's, the bias added.
// narrow_squares_pool_in_u128(op, narrow.bits) must hold (pools_narrow_squares, structured_cpu.hpp).
template <class F>
void sum_pool_of_narrow_squares_into(const LinearOp& op, const NarrowTable& narrow, std::size_t in_stride,
                                     std::size_t batch, const OpOutput<F>& out) {
  if (!narrow_squares_pool_in_u128(op, narrow.bits))
    throw std::logic_error("sum_pool_of_narrow_squares_into: the pool's sums could pass 2^128");
  const auto write = [&](std::size_t a, std::size_t k0, std::size_t m, const auto* sums) {
    F* row = out.row(a) + k0;
    const F b = out.bias ? out.bias[a] : F::zero();
    for (std::size_t k = 0; k < m; ++k) row[k] = b + F::from_u128(static_cast<u128>(sums[k]));
  };
  narrow.visit([&](const auto* in) {
    if (narrow_squares_pool_in_u64(op, narrow.bits))
      pool_narrow_squares<std::uint64_t>(op, in, in_stride, batch, write);
    else
      pool_narrow_squares<u128>(op, in, in_stride, batch, write);
  });
}

// Whether a chain is a sum pool then a convolution that takes the int8 route, whose pool of
// squares of a narrow table's entries sums in 64 bits: structured_forward_cpu runs it, the pool
// into 64-bit sums (pool_squares_u64) that the convolution splits itself.
inline bool pooled_squares_feed_int8_conv(std::span<const LinearOp> ops, const NarrowTable& narrow) {
  return ops.size() == 2 && narrow_squares_pool_in_u64(ops[0], narrow.bits) && int8_conv_route_fits(ops[1]);
}

// The limbs the limb route cuts the sums of a pool of a narrow table's squares into, from their
// bound (2 bits + log2 taps): 0 where that is the field's full width (the sums would be cut as
// their residues, not as themselves).
template <class F>
unsigned pooled_square_limbs(const LinearOp& pool, const NarrowTable& narrow) {
  const unsigned bits = pooled_square_bits(pool, narrow.bits);
  const unsigned n = limbs31_needed<F>(ValueWidth{0, bits});
  return n < kLimbs31<F> && bits < 128 ? n : 0;
}

// Whether a chain is a sum pool then an op of the limb route (a CNN's dense layer after its last
// pool), whose pool of a narrow table's squares sums in 128 bits below the field's full width:
// pool_squares_into_limb_op runs it.
template <class F>
bool pooled_squares_feed_limb_op(std::span<const LinearOp> ops, const NarrowTable& narrow) {
  return ops.size() == 2 && narrow_squares_pool_in_u128(ops[0], narrow.bits) && !int8_conv_route_fits(ops[1]) &&
         limb_route_fits(ops[1]) && pooled_square_limbs<F>(ops[0], narrow) > 0;
}

// Whether a pool of a narrow table's squares can sum them as square halves (square_pool.hpp):
// int64 entries below 2^kSquareHalvesBits, at most kSquareHalvesTaps a row (a CNN's 2 x 2 pool).
inline bool pools_square_halves(const LinearOp& pool, const NarrowTable& narrow) {
  return narrow.wide() && narrow.bits <= kSquareHalvesBits && max_taps_per_row(pool) <= kSquareHalvesTaps;
}

// The pool of an int64 table's squares (pools_square_halves) cut into `planes`' limbs as
// pool_narrow_squares<u128> and cut_unsigned_limbs31 would, in 64-bit lanes.
inline void pool_square_halves_into(const LinearOp& pool, const std::int64_t* in, std::size_t in_stride,
                                    std::size_t batch, LimbPlanes<std::int32_t>& planes) {
  const std::size_t stride = planes.block_size / planes.n;  // a limb's planes are `stride` apart
  parallel_for(pool.rows, [&](std::size_t a) {
    constexpr std::size_t kChunk = 256;  // samples at a time: the sums stay in L1
    std::array<std::uint64_t, 3 * kChunk> sums;
    const SquareHalvesSums s{sums.data(), sums.data() + kChunk, sums.data() + 2 * kChunk};
    for (std::size_t k0 = 0; k0 < batch; k0 += kChunk) {
      const std::size_t m = std::min(batch, k0 + kChunk) - k0;
      sums.fill(0);
      for_each_entry(pool, a, [&](std::size_t j, std::int64_t) { add_square_halves(in + j * in_stride + k0, m, s); });
      for (std::size_t b = 0; b < m; b += kLimbBlock)  // a block's samples are consecutive in each plane
        cut_square_halves({s.lo + b, s.mid + b, s.hi + b}, std::min(kLimbBlock, m - b), planes.n, planes.at(a, k0 + b),
                          stride);
    }
  });
}

// ops[1] applied to the pool ops[0] of a narrow table's squares into `out`: the pool's 128-bit sums
// cut straight into ops[1]'s limb planes (non-negative integers below 2^(31 n - 1): their limbs
// are their own 31-bit pieces), with no field table between them and no scan of it for its width
// (CIFAR-size's third layer at batch 256: 16 MB written, read back and scanned before).
template <class F>
void pool_squares_into_limb_op(std::span<const LinearOp> ops, const NarrowTable& narrow, std::size_t in_stride,
                               std::size_t batch, const OpOutput<F>& out) {
  const unsigned n = pooled_square_limbs<F>(ops[0], narrow);
  const std::size_t cols = ops[1].cols, stride = cols * kLimbBlock;  // a limb's planes are `stride` apart
  LimbPlanes<std::int32_t> planes(cols, batch, n);
  if (pools_square_halves(ops[0], narrow))
    pool_square_halves_into(ops[0], narrow.v64.data(), in_stride, batch, planes);
  else
    narrow.visit([&](const auto* in) {
      pool_narrow_squares<u128>(ops[0], in, in_stride, batch,
                                [&](std::size_t j, std::size_t k0, std::size_t m, const u128* sums) {
                                  for (std::size_t k = 0; k < m; ++k)
                                    cut_unsigned_limbs31(sums[k], n, planes.at(j, k0 + k), stride);
                                });
    });
  // The last block's samples past the batch: zero, as cut_planes writes them (their sums are
  // formed, never written; no uninitialized value is read).
  parallel_for(cols, [&](std::size_t j) {
    for (std::size_t k = batch; k < planes.blocks * kLimbBlock; ++k)
      for (unsigned l = 0; l < n; ++l) planes.at(j, k)[l * stride] = 0;
  });
  apply_planes_to<F>(ops[1], planes, batch, FieldRows<F>{out, n});
}

// A pool of squares' 64-bit sums, pool.rows x batch, each below 2^bits (pool_squares_u64: its rows
// at the padding of a pow2 layout unwritten).
struct PooledSquares {
  UninitializedVector<std::uint64_t> sums;
  unsigned bits = 0;
};

// The pool of a narrow table's squares in 64-bit sums, their width kept as they are written. The
// rows at the padding of the pool's pow2 output layout are left unwritten: the int8 convolution
// that reads the sums (split_bytes) reads the image's positions only (CNN-2-Quad's pool: 14 of its
// 32 MB were such zeros).
inline PooledSquares pool_squares_u64(const LinearOp& pool, const NarrowTable& narrow, std::size_t in_stride,
                                      std::size_t batch) {
  PooledSquares p;
  p.sums.resize(pool.rows * batch);
  std::vector<std::uint64_t> row_or(pool.rows);  // the OR of each row's sums: their width
  narrow.visit([&](const auto* in) {
    pool_narrow_squares<std::uint64_t>(
        pool, in, in_stride, batch,
        [&](std::size_t a, std::size_t k0, std::size_t m, const std::uint64_t* sums) {
          std::uint64_t any = k0 == 0 ? 0 : row_or[a];
          for (std::size_t k = 0; k < m; ++k) any |= p.sums[a * batch + k0 + k] = sums[k];
          row_or[a] = any;
        },
        true);
  });
#if !defined(NDEBUG) || defined(__SANITIZE_ADDRESS__)
  // Debug and sanitizer builds (CI's ASan run) fill them with a value no pool of these squares
  // writes, so that a reader that starts reading them fails the exactness tests at once.
  parallel_for(pool.rows, [&](std::size_t a) {
    if (is_padding_output(pool.conv, a)) std::fill_n(p.sums.data() + a * batch, batch, ~std::uint64_t{0});
  });
#endif
  std::uint64_t any = 0;
  for (const std::uint64_t r : row_or) any |= r;
  p.bits = bit_length(any);
  return p;
}

// The rows' biases as integers (a narrow table's writers add them exactly).
template <class F>
std::vector<std::int64_t> integer_bias(const FieldLayer<F>& layer) {
  std::vector<std::int64_t> bias(layer.rows());
  parallel_for(bias.size(), [&](std::size_t a) { bias[a] = static_cast<std::int64_t>(layer.bias[a].centered()); });
  return bias;
}

// The rows of a layer's Z that are zero whatever its input (NarrowTable::zero_rows): the padding
// positions of its last op's pow2 output layout (a convolution's: no taps) whose bias is zero, as
// ProofLayout makes it. Empty where there are none.
template <class F>
std::vector<std::uint8_t> zero_rows_of(const FieldLayer<F>& layer) {
  const LinearOp& op = layer.q->ops.back();
  const ConvShape& c = op.conv;
  if (op.kind != LinearOp::Kind::conv || (c.out_rows() == c.out_h() && c.out_cols() == c.out_w()))
    return {};  // no padding positions (CIFAR-size's images fill theirs: no pass over the rows)
  std::vector<std::uint8_t> zero(layer.rows());
  bool any = false;
  for (std::size_t a = 0; a < zero.size(); ++a) {
    zero[a] = is_padding_output(c, a) && layer.bias[a] == F::zero();
    any = any || zero[a];
  }
  if (!any) zero.clear();
  return zero;
}

// An unwritten narrow table for a layer's Z, table_cols columns of entries below 2^bits, int64
// where `wide`, whose rows from layer.rows() to padded(layer.rows()) its writer zeroes.
template <class F>
std::shared_ptr<NarrowTable> make_narrow_table(const FieldLayer<F>& layer, std::size_t table_cols, unsigned bits,
                                               bool wide) {
  const std::size_t table_rows = padded(layer.rows());
  auto narrow = std::make_shared<NarrowTable>();
  narrow->bits = bits;
  narrow->real_rows = layer.rows();
  narrow->zero_rows = zero_rows_of(layer);
  if (wide)
    narrow->v64.resize(table_rows * table_cols);
  else
    narrow->v.resize(table_rows * table_cols);
  return narrow;
}

// A layer's Z as a narrow table from a pool of the previous Z's squares (the chain's first op,
// `pooled`) through a convolution of the int8 route (the last), or nothing where an output could
// reach 2^max_bits. Its entries are int64: the join rebuilds each output's bytes in 64-bit
// integers, exact since the bound keeps it below 2^kNarrowWideBits. (Even below 2^31: a second
// join into int32 would buy the cheaper int32 kernels for such tables, none of which the CNNs
// measured have; their second Z is 40-50 bits.) The table's bits are its entries' measured
// width, at most the bound: the convolution ORs |v| - [v < 0] over the values v it writes (the
// biases of padding rows too), and |v| is below 2^(that OR's bit length + 1). CIFAR-size's second
// Z is bounded by 2^59 but measures below 2^47: the group sums' kernel of two-limb products takes
// it (kSmallWideEntryBits, m127_kernels.hpp).
template <class F>
std::optional<Table2D<F>> int8_conv_narrow(const FieldLayer<F>& layer, const PooledSquares& pooled, std::size_t batch,
                                           std::size_t table_cols, unsigned max_bits) {
  const LinearOp& op = layer.q->ops.back();
  const unsigned bits = output_bound_bits(op, pooled.bits, layer.bias.data());
  if (bits > std::min(max_bits, kNarrowWideBits)) return std::nullopt;
  const std::size_t table_rows = padded(layer.rows());
  auto narrow = make_narrow_table(layer, table_cols, std::max(bits, 1u), true);
  const std::vector<std::int64_t> bias = integer_bias(layer);
  std::uint64_t magnitudes = 0;  // |v| - [v < 0] OR'ed over every value written (NarrowOutput)
  apply_conv_int8_into(op, pooled.sums.data(), batch, batch, pooled.bits,
                       NarrowOutput{narrow->v64.data(), table_cols, bias.data(), &magnitudes});
  narrow->bits = std::min(narrow->bits, bit_length(magnitudes) + 1);
  zero_padding_parallel(narrow->v64.data(), table_rows, table_cols, layer.rows(), batch);
  return narrow_table2d<F>(table_rows, table_cols, std::move(narrow));
}

// A layer's Z as a narrow table from the input `in` of its chain's last op (table_cols columns),
// or nothing where that op does not take the limb route or an output could reach 2^max_bits.
template <class F>
std::optional<Table2D<F>> last_op_narrow(const FieldLayer<F>& layer, const F* in, std::size_t stride, std::size_t batch,
                                         std::size_t table_cols, unsigned max_bits) {
  const LinearOp& op = layer.q->ops.back();
  if (int8_conv_route_fits(op) || !limb_route_fits(op)) return std::nullopt;
  const unsigned in_bits = value_width(in, op.cols, stride, batch).centered;
  const unsigned bits = narrow_limb_output_bits(op, in_bits, layer.bias.data(), std::min(max_bits, kNarrowWideBits));
  if (bits == 0) return std::nullopt;
  const std::vector<std::int64_t> bias = integer_bias(layer);
  const std::size_t table_rows = padded(layer.rows());
  auto narrow = make_narrow_table(layer, table_cols, bits, bits > 31);
  const auto zero_padding = [&](auto* entries) {
    zero_padding_parallel(entries, table_rows, table_cols, layer.rows(), batch);
  };
  if (narrow->wide()) {
    apply_op_limbs_to(op, in, stride, batch, 1, NarrowRows<std::int64_t>{narrow->v64.data(), table_cols, bias.data()});
    zero_padding(narrow->v64.data());
    return narrow_table2d<F>(table_rows, table_cols, std::move(narrow));
  }
  const NarrowRows<std::int32_t> rows{narrow->v.data(), table_cols, bias.data()};
  // Inputs of 15 bits (a quantized image's; the CIFAR bench's: 13) as int16 by VNNI pairs: int32
  // sums are exact under the bound, four times the products an instruction (the first
  // convolution's forward at CIFAR 256: 18 -> 13-15 ms).
  if (in_bits <= 15 && int16_taps_available())
    apply_op_limbs_to<F, NarrowRows<std::int32_t>, std::int16_t>(op, in, stride, batch, 1, rows);
  else
    apply_op_limbs_to(op, in, stride, batch, 1, rows);
  zero_padding(narrow->v.data());
  return narrow_table2d<F>(table_rows, table_cols, std::move(narrow));
}

}  // namespace nnproof
