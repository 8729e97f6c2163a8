// SPDX-License-Identifier: Apache-2.0
#pragma once
// The cpu engine's structured forward (convolutions, pools, chains of them): per op, oneDNN's int8
// convolution where it fits (conv_int8.hpp), else the 31-bit limb route (structured_limbs.hpp),
// else the exact 128-bit loops (structured_forward.hpp). The same Z, bit for bit, as the reference
// engine's structured_forward; what differs is where the ops write. The chain's last op writes
// Z's rows itself, bias added, and the ops before it write vectors nobody zero-fills first: each was
// a pass over the layer's largest table (the first CIFAR layer's Z is 134 MB at batch 256, m127).
// (Transparent huge pages for all of these tables, asked by madvise, cost more system time in
// compaction than they saved in faults in session 16: 1.0-1.3 -> 2.0-2.6 s of sys for two proofs.
// Since session 24 only a narrow Z asks for them, against TLB misses, not faults: NarrowTable.)
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <vector>

#include "kernels/cpu/conv_int8.hpp"
#include "kernels/cpu/narrow_forward.hpp"
#include "kernels/cpu/narrow_table.hpp"
#include "kernels/cpu/op_output.hpp"
#include "kernels/cpu/square_entries.hpp"
#include "kernels/cpu/structured_limbs.hpp"
#include "kernels/engine/engine.hpp"  // InputIs
#include "kernels/engine/structured_forward.hpp"
#include "kernels/engine/uninitialized.hpp"

namespace nnproof {

// Whether every weight of op is 1 (a sum pool's kernel of ones).
inline bool all_weights_one(const LinearOp& op) {
  for (std::size_t i = 0; i < op.weights.size(); ++i)
    if (op.weights[i] != 1) return false;
  return true;
}

// The 128-bit route into `out` (apply_op's rows, the bias added): for ops the other routes do not
// take (sum pools, wide weights). A sum pool is field additions (each entry's tap values added in
// the field: the same element), ~3x fewer instructions than two 128-bit products per tap.
template <class F>
void apply_op_exact_into(const LinearOp& op, const F* in, std::size_t in_stride, std::size_t batch,
                         const OpOutput<F>& out) {
  if (op.weights.width() > 4 || op.cols >= (std::size_t{1} << 31)) {  // apply_op's field products
    const std::vector<F> v = apply_op(op, in, in_stride, batch);
    parallel_for(op.rows, [&](std::size_t a) {
      for (std::size_t k = 0; k < batch; ++k) out.row(a)[k] = out.add_bias(a, v[a * batch + k]);
    });
    return;
  }
  if (all_weights_one(op)) {  // a sum pool: field additions, no products
    parallel_for(op.rows, [&](std::size_t a) {
      F* row = out.row(a);
      const F b = out.bias ? out.bias[a] : F::zero();
      for (std::size_t k = 0; k < batch; ++k) row[k] = b;
      for_each_entry(op, a, [&](std::size_t j, std::int64_t) {
        const F* x = in + j * in_stride;
        for (std::size_t k = 0; k < batch; ++k) row[k] += x[k];
      });
    });
    return;
  }
#pragma omp parallel
  {
    std::vector<i128> acc;  // per thread
#pragma omp for schedule(static)
    for (std::int64_t s = 0; s < static_cast<std::int64_t>(op.rows); ++s) {
      const auto a = static_cast<std::size_t>(s);
      F* row = out.row(a);
      accumulate_row_exact(op, a, in, in_stride, batch, acc, row);
      if (out.bias)
        for (std::size_t k = 0; k < batch; ++k) row[k] += out.bias[a];
    }
  }
}

// One op of a chain by the cpu engine's route for it, into `out`.
template <class F>
void apply_op_cpu_into(const LinearOp& op, const F* in, std::size_t in_stride, std::size_t batch,
                       const OpOutput<F>& out) {
  if (int8_conv_route_fits(op)) return apply_conv_int8_into(op, in, in_stride, batch, out);
  if (limb_route_fits(op)) return apply_op_limbs_into(op, in, in_stride, batch, out);
  apply_op_exact_into(op, in, in_stride, batch, out);
}

// Row a of a sum pool of squares where every tap value is below 2^bits, summed in Sum (uint64_t
// or u128) with taps 2^(2 bits) <= 2^(bits of Sum), so the squares and their sum are exact (a CNN's
// first Z is below 2^26: 64 bits; its second, past 2^31, in 128). False, with `sums` meaningless,
// at the first tap with a wider value.
template <class F, class Sum>
bool pool_row_of_squares_below(const LinearOp& op, std::size_t a, const F* in, std::size_t in_stride, std::size_t batch,
                               unsigned bits, std::vector<Sum>& sums) {
  sums.assign(batch, 0);
  bool below = true;
  for_each_entry(op, a, [&](std::size_t j, std::int64_t) {
    if (below) below = add_squares_below(in + j * in_stride, batch, bits, sums.data()) == 0;
  });
  return below;
}

// A sum pool of the squares of `in`'s entries into `out` (apply_op_exact_into's sum pool with each
// tap value squared as it is read): the same elements as squaring into a table and pooling it.
// Rows of narrow values in 64-bit integers (vectorized), of values below 2^((128 - ceil_log2 taps)
// / 2) (2^63 for four taps) in 128-bit ones, the rest by field squares and additions.
template <class F>
void sum_pool_of_squares_into(const LinearOp& op, const F* in, std::size_t in_stride, std::size_t batch,
                              const OpOutput<F>& out) {
  const unsigned log_taps = ceil_log2(std::max<std::size_t>(max_taps_per_row(op), 1));
  const unsigned narrow_bits = (64 - log_taps) / 2, wide_bits = std::min(63u, (128 - log_taps) / 2);
#pragma omp parallel
  {
    std::vector<std::uint64_t> narrow;  // per thread
    std::vector<u128> wide;
    bool try_narrow = true;  // until a row is not: a table's values are mostly alike
#pragma omp for schedule(static)
    for (std::int64_t s = 0; s < static_cast<std::int64_t>(op.rows); ++s) {
      const auto a = static_cast<std::size_t>(s);
      F* row = out.row(a);
      const F b = out.bias ? out.bias[a] : F::zero();
      if (try_narrow && pool_row_of_squares_below(op, a, in, in_stride, batch, narrow_bits, narrow)) {
        for (std::size_t k = 0; k < batch; ++k) row[k] = b + F::from_u128(narrow[k]);
        continue;
      }
      try_narrow = false;
      if (pool_row_of_squares_below(op, a, in, in_stride, batch, wide_bits, wide)) {
        for (std::size_t k = 0; k < batch; ++k) row[k] = b + F::from_u128(wide[k]);
        continue;
      }
      for (std::size_t k = 0; k < batch; ++k) row[k] = b;
      for_each_entry(op, a, [&](std::size_t j, std::int64_t) {
        const F* x = in + j * in_stride;
        for (std::size_t k = 0; k < batch; ++k) row[k] += square_entry(x[k]);
      });
    }
  }
}

// Whether a structured layer's chain starts with a sum pool, which pools the squares of the
// previous Z as it reads them (structured_forward_cpu with InputIs::squared).
template <class F>
bool pools_squares_first(const FieldLayer<F>& layer) {
  return layer.q->structured() && all_weights_one(layer.q->ops.front());
}

// Whether a structured layer pools a narrow table's squares as it reads them: its chain starts
// with a sum pool whose sums of those squares stay below 2^128 (sum_pool_of_narrow_squares_into).
template <class F>
bool pools_narrow_squares(const FieldLayer<F>& layer, const NarrowTable& narrow) {
  return pools_squares_first(layer) && narrow_squares_pool_in_u128(layer.q->ops.front(), narrow.bits);
}

// The most bits of the entries of a narrow Z that `next` reads (narrow_table.hpp): 0 (a field
// table) unless next pools its squares first, and no more than that pool sums below 2^128.
template <class F>
unsigned narrow_bits_read_by(const FieldLayer<F>& next) {
  return pools_squares_first(next) ? narrow_bits_pooled_by(next.q->ops.front()) : 0;
}

// Where a structured forward's chain reads its input: Y itself; Y squared into `scratch` (InputIs::
// squared, a chain that does not start with a sum pool); or, where it does, Y's squares pooled by
// the first op as it reads them (pool_squares), from a narrow Y's integer entries where `narrow`.
template <class F>
struct ChainInput {
  const F* in;
  bool pool_squares;
  const NarrowTable* narrow;
};

template <class F>
ChainInput<F> chain_input(const LinearOp& first, const Table2D<F>& Y, InputIs input, UninitializedVector<F>& scratch) {
  const bool pool_squares = input == InputIs::squared && all_weights_one(first);  // apply_op_exact_into's test
  const NarrowTable* narrow = narrow_table(Y);
  if (narrow && !pool_squares)
    throw std::logic_error("structured_forward_cpu: a narrow input table is read only by a pool of its squares");
  if (input == InputIs::squared && !pool_squares) {
    scratch.resize(first.cols * Y.cols);
    square_table(Y.data.data(), scratch.data(), scratch.size());
    return {scratch.data(), false, nullptr};
  }
  return {Y.data.data(), pool_squares, narrow};
}

// A layer's Z as a field table: its rows written by write(out) (the bias added), the padding zeroed.
template <class F, class Write>
Table2D<F> field_z(const FieldLayer<F>& layer, std::size_t table_cols, std::size_t batch, const Write& write) {
  auto Z = Table2D<F>::unwritten(padded(layer.rows()), table_cols);
  write(OpOutput<F>{Z.data.data(), table_cols, layer.bias.data()});
  zero_padding_parallel(Z.data.data(), Z.rows, Z.cols, layer.rows(), batch);
  return Z;
}

// A chain of a sum pool then a convolution of the int8 route (pooled_squares_feed_int8_conv) on a
// narrow Y: the pool of Y's squares into 64-bit sums, which the convolution splits into bytes
// itself; its Z narrow (int8_conv_narrow) where narrow_bits allows. (Y's rows and Z's have
// table_cols entries alike.)
template <class F>
Table2D<F> pooled_squares_conv_forward(const FieldLayer<F>& layer, const NarrowTable& narrow, std::size_t table_cols,
                                       std::size_t batch, unsigned narrow_bits) {
  const auto& ops = layer.q->ops;
  const PooledSquares pooled = pool_squares_u64(ops[0], narrow, table_cols, batch);
  if (narrow_bits > 0)
    if (auto Z = int8_conv_narrow(layer, pooled, batch, table_cols, narrow_bits)) return std::move(*Z);
  return field_z(layer, table_cols, batch, [&](const OpOutput<F>& out) {
    apply_conv_int8_into(ops[1], pooled.sums.data(), batch, batch, pooled.bits, out);
  });
}

// Any other chain, op by op from `chain` (chain_input; `scratch` holds its squared Y, if any): each
// op but the last into a scratch vector of `batch` columns, the first pooling squares where asked,
// the last into Z, narrow
// (last_op_narrow) where narrow_bits allows and the last op reads a table, not Y's squares.
template <class F>
Table2D<F> op_by_op_forward(const FieldLayer<F>& layer, const Table2D<F>& Y, const ChainInput<F>& chain,
                            UninitializedVector<F>& scratch, std::size_t batch, unsigned narrow_bits) {
  const auto& ops = layer.q->ops;
  const F* in = chain.in;
  std::size_t stride = Y.cols;
  const auto apply = [&](std::size_t i, const OpOutput<F>& out) {
    if (i == 0 && chain.pool_squares && chain.narrow)
      return sum_pool_of_narrow_squares_into(ops[i], *chain.narrow, stride, batch, out);
    if (i == 0 && chain.pool_squares) return sum_pool_of_squares_into(ops[i], in, stride, batch, out);
    apply_op_cpu_into(ops[i], in, stride, batch, out);
  };
  UninitializedVector<F> next;
  for (std::size_t i = 0; i + 1 < ops.size(); ++i) {
    next.resize(ops[i].rows * batch);
    apply(i, OpOutput<F>{next.data(), batch});
    scratch.swap(next);
    in = scratch.data(), stride = batch;
  }
  const bool last_op_reads_squares = ops.size() == 1 && chain.pool_squares;
  if (narrow_bits > 0 && !last_op_reads_squares)
    if (auto Z = last_op_narrow(layer, in, stride, batch, Y.cols, narrow_bits)) return std::move(*Z);
  return field_z(layer, Y.cols, batch, [&](const OpOutput<F>& out) { apply(ops.size() - 1, out); });
}

// Z = W Y + B m^T for a structured layer (structured_forward_by's table, bit for bit). With
// InputIs::squared, `Y` is the previous layer's Z and the input is its square: a chain that starts
// with a sum pool (a CNN's square-then-pool) squares as it pools, so the layer's largest table is
// read once and no Y is written; other chains square Y's real rows into a scratch vector first.
// (host/memory.cpp's estimate for an engine that keeps no Y counts these vectors: keep it in step.)
// With narrow_bits > 0, Z may be a narrow table of entries below 2^narrow_bits (narrow_bits_read_by
// the next layer). Y may be one (narrow_table.hpp) only where its squares are pooled first
// (pools_narrow_squares): a pool into a convolution's int8 route, or into the limb planes of an op
// of the limb route (of more than one limb where Z may be narrow: one limb is last_op_narrow's,
// from the pool's field elements), reads it as it is; any other chain by op_by_op_forward.
template <class F>
Table2D<F> structured_forward_cpu(const FieldLayer<F>& layer, const Table2D<F>& Y, std::size_t batch,
                                  InputIs input = InputIs::values, unsigned narrow_bits = 0) {
  const auto& ops = layer.q->ops;
  if (ops.back().rows != layer.rows()) throw std::logic_error("structured_forward_cpu: the chain's rows differ");
  UninitializedVector<F> scratch;
  const ChainInput<F> chain = chain_input(ops.front(), Y, input, scratch);
  const NarrowTable* narrow = chain.narrow;  // (only ever a pool of squares' input: chain_input)
  if (narrow && pooled_squares_feed_int8_conv(ops, *narrow))
    return pooled_squares_conv_forward(layer, *narrow, Y.cols, batch, narrow_bits);
  if (narrow && pooled_squares_feed_limb_op<F>(ops, *narrow) &&
      (narrow_bits == 0 || pooled_square_limbs<F>(ops[0], *narrow) > 1))
    return field_z(layer, Y.cols, batch,
                   [&](const OpOutput<F>& out) { pool_squares_into_limb_op(ops, *narrow, Y.cols, batch, out); });
  return op_by_op_forward(layer, Y, chain, scratch, batch, narrow_bits);
}

}  // namespace nnproof
