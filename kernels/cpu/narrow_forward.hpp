// SPDX-License-Identifier: Apache-2.0
#pragma once
// The cpu engine's structured forward around a narrow hidden Z (narrow_table.hpp): the limb route
// writing a layer's Z as int32 (last_op_narrow), and the next layer's sum pool of its squares,
// into field elements or, where a convolution's int8 route reads them next, into 64-bit sums that
// it splits into bytes itself (pool_squares_into_int8_conv): for the CIFAR-size CNN's second layer
// 17 MB written and read instead of 34, and no scan of the pooled values for their width.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "kernels/cpu/conv_int8.hpp"
#include "kernels/cpu/narrow_table.hpp"
#include "kernels/cpu/op_output.hpp"
#include "kernels/cpu/structured_limbs.hpp"
#include "kernels/engine/structured_forward.hpp"
#include "kernels/engine/uninitialized.hpp"
#include "verifier/parallel.hpp"

namespace nnproof {

// Whether op's sums of squares of values below 2^bits stay below 2^64.
inline bool narrow_squares_pool_in_u64(const LinearOp& op, unsigned bits) {
  return 2 * bits + ceil_log2(std::max<std::size_t>(max_taps_per_row(op), 1)) <= 64;
}

// A sum pool of the squares of a narrow table's entries (rows of stride in_stride), row by row:
// write(a, k0, m, sums) with sums[k] = the sum of x^2 over row a's taps for samples k0 + k, k < m,
// in Sum (exact: 64 bits where narrow_squares_pool_in_u64, else 128).
template <class Sum, class Write>
void pool_narrow_squares(const LinearOp& op, const std::int32_t* in, std::size_t in_stride, std::size_t batch,
                         const Write& write) {
  parallel_for(op.rows, [&](std::size_t a) {
    constexpr std::size_t kChunk = 256;  // samples at a time: the sums stay in L1
    for (std::size_t k0 = 0; k0 < batch; k0 += kChunk) {
      const std::size_t m = std::min(batch, k0 + kChunk) - k0;
      std::array<Sum, kChunk> sums{};
      for_each_entry(op, a, [&](std::size_t j, std::int64_t) {
        const std::int32_t* x = in + j * in_stride + k0;
        for (std::size_t k = 0; k < m; ++k) {
          const std::int64_t v = x[k];
          sums[k] += static_cast<Sum>(static_cast<std::uint64_t>(v * v));
        }
      });
      write(a, k0, m, sums.data());
    }
  });
}

// The pool into `out` as field elements: sum_pool_of_squares_into's, the bias added.
template <class F>
void sum_pool_of_narrow_squares_into(const LinearOp& op, const std::int32_t* in, std::size_t in_stride,
                                     std::size_t batch, unsigned bits, const OpOutput<F>& out) {
  const auto write = [&](std::size_t a, std::size_t k0, std::size_t m, const auto* sums) {
    F* row = out.row(a) + k0;
    const F b = out.bias ? out.bias[a] : F::zero();
    for (std::size_t k = 0; k < m; ++k) row[k] = b + F::from_u128(static_cast<u128>(sums[k]));
  };
  if (narrow_squares_pool_in_u64(op, bits))
    pool_narrow_squares<std::uint64_t>(op, in, in_stride, batch, write);
  else
    pool_narrow_squares<u128>(op, in, in_stride, batch, write);
}

// Whether a chain is a sum pool then a convolution that takes the int8 route, whose pool of
// squares of values below 2^bits sums in 64 bits: pool_squares_into_int8_conv runs it.
inline bool pooled_squares_feed_int8_conv(std::span<const LinearOp> ops, unsigned bits) {
  return ops.size() == 2 && narrow_squares_pool_in_u64(ops[0], bits) && int8_conv_route_fits(ops[1]);
}

// ops[1] applied to the pool ops[0] of the squares of a narrow table into `out`: the pool's sums in
// 64-bit integers, their width kept as they are written, read by the int8 route as they are.
template <class F>
void pool_squares_into_int8_conv(std::span<const LinearOp> ops, const std::int32_t* in, std::size_t in_stride,
                                 std::size_t batch, const OpOutput<F>& out) {
  const LinearOp& pool = ops[0];
  UninitializedVector<std::uint64_t> pooled(pool.rows * batch);
  std::vector<std::uint64_t> row_or(pool.rows);  // the OR of each row's sums: their width
  pool_narrow_squares<std::uint64_t>(pool, in, in_stride, batch,
                                     [&](std::size_t a, std::size_t k0, std::size_t m, const std::uint64_t* sums) {
                                       std::uint64_t any = k0 == 0 ? 0 : row_or[a];
                                       for (std::size_t k = 0; k < m; ++k) any |= pooled[a * batch + k0 + k] = sums[k];
                                       row_or[a] = any;
                                     });
  std::uint64_t any = 0;
  for (const std::uint64_t r : row_or) any |= r;
  apply_conv_int8_into(ops[1], pooled.data(), batch, batch, bit_length(any), out);
}

// A layer's Z as a narrow table from the input `in` of its chain's last op (table_cols columns),
// or nothing where that op does not take the limb route or an output could reach 2^31.
template <class F>
std::optional<Table2D<F>> last_op_narrow(const FieldLayer<F>& layer, const F* in, std::size_t stride, std::size_t batch,
                                         std::size_t table_cols) {
  const LinearOp& op = layer.q->ops.back();
  if (int8_conv_route_fits(op) || !limb_route_fits(op)) return std::nullopt;
  const unsigned bits =
      narrow_limb_output_bits(op, value_width(in, op.cols, stride, batch).centered, layer.bias.data());
  if (bits == 0) return std::nullopt;
  std::vector<std::int64_t> bias(layer.rows());
  for (std::size_t a = 0; a < bias.size(); ++a) bias[a] = static_cast<std::int64_t>(layer.bias[a].centered());
  auto narrow = std::make_shared<NarrowTable>();
  const std::size_t table_rows = padded(layer.rows());
  narrow->bits = bits;
  narrow->v.resize(table_rows * table_cols);
  apply_op_limbs_to(op, in, stride, batch, 1, NarrowRows{narrow->v.data(), table_cols, bias.data()});
  zero_padding_parallel(narrow->v.data(), table_rows, table_cols, layer.rows(), batch);
  return narrow_table2d<F>(table_rows, table_cols, std::move(narrow));
}

}  // namespace nnproof
