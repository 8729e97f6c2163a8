// SPDX-License-Identifier: Apache-2.0
#pragma once
// The cpu engine's forward pass of structured layers (convolutions) whose weights are narrow
// (|w| < 2^15, int8 or int16 storage): each input value is cut once into 31-bit limbs (two for m61,
// five for m127) held as int32 planes, and each kernel tap becomes one int64 multiply-add per limb
// over a block of samples, which vectorizes (vpmuldq). Products stay below 2^46, so fewer than 2^17
// taps per output sum exactly in int64. The reference engine keeps structured_forward.hpp's two
// 128-bit products per tap (m127), which took ~0.9 s of the 1.7 s demo (CNN-2-Quad, 1000 images).
// Ops with few taps per output (sum pooling) or wider weights take that route here too.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <vector>

#include "kernels/cpu/op_output.hpp"
#include "kernels/cpu/prefetch_rows.hpp"
#include "kernels/engine/structured_forward.hpp"
#include "kernels/engine/uninitialized.hpp"
#include "verifier/centered_words.hpp"
#include "verifier/parallel.hpp"

namespace nnproof {

// Samples per block: the planes are stored block by block, so that one block's limbs of every
// input feature are contiguous (1.5 MB for CNN-2-Quad's second convolution in m127: in L2).
inline constexpr std::size_t kLimbBlock = 32;

// sums[l 32 + k] = sum_t w[t] block[(l cols + in[t]) 32 + k] for l < limbs, k < 32, in int64 (the
// caller keeps them in range): AVX-512 along with the engine's other kernels
// (avx512_ifma_kernels_allowed), else plain loops, which the second function always runs.
void sum_taps_limbs(const std::int32_t* block, std::size_t cols, const std::uint32_t* in, const std::int32_t* w,
                    std::size_t taps, unsigned limbs, std::int64_t* sums);
void sum_taps_limbs_portable(const std::int32_t* block, std::size_t cols, const std::uint32_t* in,
                             const std::int32_t* w, std::size_t taps, unsigned limbs, std::int64_t* sums);

// The same for one limb held as int16 (|x| < 2^15, weights int16) where every sum of |w x| over a
// row's taps is below 2^31 (a narrow Z's bound, narrow_forward.hpp): AVX-512 VNNI's vpdpwssd, 32
// int16 products an instruction summed in pairs into int32, four times vpmuldq's 8 products. Exact:
// every pair and partial sum is bounded by the row's sum of |w x|, below 2^31 by that bound (with
// |x| <= 32767, two products of -32768 stay below it too), and vpdpwssd wraps mod 2^32 besides.
// sums[k] for k < 32. Only where int16_taps_available().
bool int16_taps_available();
void sum_taps_int16(const std::int16_t* block, const std::uint32_t* in, const std::int32_t* w, std::size_t taps,
                    std::int64_t* sums);

template <class F>
constexpr std::size_t kLimbs31 = (F::kBits + 30) / 31;  // m61: 2, m127: 5

// The largest number of taps of any output feature of op.
std::size_t max_taps_per_row(const LinearOp& op);

// The largest sum of |weights| of any output of op (a convolution: any output channel's whole
// kernel, which padding only cuts), for weights of at most 2 bytes (the limb route's and the int8
// route's, int16 -32768 included).
std::uint64_t max_abs_row_sum(const LinearOp& op);

// Whether the limb route is exact for op (weights below 2^15, fewer than 2^17 taps per output) and
// pays for its split (at least 8 taps per output on average).
bool limb_route_fits(const LinearOp& op);

// sum_l acc[l] 2^(31 l) mod p, for |acc[l]| < 2^63.
template <class F>
F join_limbs31(const std::int64_t* acc, std::size_t stride) {
  if constexpr (kLimbs31<F> == 2) {
    return F::from_i128(static_cast<i128>(acc[0]) + (static_cast<i128>(acc[stride]) << 31));
  } else {
    static_assert(kLimbs31<F> == 5 && F::kBits == 127);
    // lo = acc0 + acc1 2^31 + acc2 2^62 (|lo| < 2^126); hi = acc3 + acc4 2^31 (|hi| < 2^95) weighs
    // 2^93: with hi = h1 2^34 + h0 (0 <= h0 < 2^34), hi 2^93 = h0 2^93 + h1 2^127 = h0 2^93 + h1 mod p.
    const i128 lo =
        static_cast<i128>(acc[0]) + (static_cast<i128>(acc[stride]) << 31) + (static_cast<i128>(acc[2 * stride]) << 62);
    const i128 hi = static_cast<i128>(acc[3 * stride]) + (static_cast<i128>(acc[4 * stride]) << 31);
    const i128 h1 = hi >> 34;
    const u128 h0 = static_cast<u128>(hi - (h1 << 34));
    return F::from_i128(lo + h1) + F::from_u128(h0 << 93);
  }
}

// The taps (input feature, weight) of output features [first, end): the walk over a kernel's
// geometry done once per row, not once per block of samples, rows in parallel. Row first + r has
// taps [offset(r), offset(r) + taps(r)) of `in` and `w`, rows `stride` entries apart
// (max_taps_per_row(op), at least 1: padding and zero weights leave some unused). A slab takes as many rows as max_taps
// entries hold (always at least one row), so that a large convolution is processed in slabs of bounded memory. (Filled
// row after row on one thread, CIFAR's first convolution's table took 1.5 ms of a 0.085 s proof.)
struct TapTable {
  std::size_t first, end, stride;
  std::vector<std::uint32_t> count;
  UninitializedVector<std::uint32_t> in;
  UninitializedVector<std::int32_t> w;
  TapTable(const LinearOp& op, std::size_t first_row, std::size_t max_taps)
      : first(first_row), stride(std::max<std::size_t>(1, max_taps_per_row(op))) {
    const std::size_t rows = std::min(op.rows - first, std::max<std::size_t>(1, max_taps / stride));
    end = first + rows;
    count.resize(rows), in.resize(rows * stride), w.resize(rows * stride);
    parallel_for(rows, [&](std::size_t r) {
      std::size_t t = offset(r);
      for_each_entry(op, first + r, [&](std::size_t j, std::int64_t wt) {
        in[t] = static_cast<std::uint32_t>(j);
        w[t++] = static_cast<std::int32_t>(wt);
      });
      count[r] = static_cast<std::uint32_t>(t - offset(r));
    });
  }
  std::size_t offset(std::size_t r) const { return r * stride; }
  std::size_t taps(std::size_t r) const { return count[r]; }
  // The most taps of rows first + [r0, r1).
  std::size_t most_taps(std::size_t r0, std::size_t r1) const {
    std::size_t most = 0;
    for (std::size_t r = r0; r < r1; ++r) most = std::max(most, taps(r));
    return most;
  }
};

// TapTable(op, first_row, max_taps), built once and kept: a model's ops are applied on every
// proof, and a table depends only on the op's shape and weights, so later proofs of the same model
// skip the walk (CIFAR-size's first convolution: 0.9M taps, ~1.2 ms a proof). A few tables are
// kept, the least recently used dropped first (structured_limbs.cpp); safe to call from several
// threads (a table in use stays alive).
std::shared_ptr<const TapTable> cached_tap_table(const LinearOp& op, std::size_t first_row, std::size_t max_taps);

// Taps a row sums at a time where rows have more (apply_op_limbs_into), and the most rows a task
// of apply_op_limbs_into takes.
inline constexpr std::size_t kTapTile = 512;
inline constexpr std::size_t kLimbRowsPerTask = 64;

// Entries of a TapTable slab: 2^21 (16 MiB). CNN-2-Quad's second convolution is one slab of 0.8M.
inline constexpr std::size_t kMaxSlabTaps = std::size_t{1} << 21;

// How many 31-bit limbs a table of these widths needs: at least kLimbs31<F> (the raw
// representatives, unsigned limbs) or fewer, of the centered values (x in (-p/2, p/2)), the top
// limb signed: |x| < 2^(31 n - 1) for n limbs.
template <class F>
unsigned limbs31_needed(const ValueWidth& w) {
  const unsigned n = std::max(1u, (w.centered + 1 + 30) / 31);
  return n >= kLimbs31<F> ? static_cast<unsigned>(kLimbs31<F>) : n;
}

// The low n 31-bit limbs of v, limb_stride apart.
inline void cut_unsigned_limbs31(u128 v, unsigned n, std::int32_t* limb, std::size_t limb_stride) {
  for (unsigned l = 0; l < n; ++l) limb[l * limb_stride] = static_cast<std::int32_t>((v >> (31 * l)) & 0x7FFFFFFF);
}

// The limbs of x: n = kLimbs31<F> unsigned 31-bit limbs of its representative, or fewer, of its
// centered value, the top one signed.
template <class F>
void cut_limbs31(F x, unsigned n, std::int32_t* limb, std::size_t limb_stride) {
  const u128 v = static_cast<u128>(x.v);
  if (n == kLimbs31<F>) return cut_unsigned_limbs31(v, n, limb, limb_stride);
  const i128 c =
      v > (static_cast<u128>(F::P) >> 1) ? -static_cast<i128>(static_cast<u128>(F::P) - v) : static_cast<i128>(v);
  for (unsigned l = 0; l + 1 < n; ++l) limb[l * limb_stride] = static_cast<std::int32_t>((c >> (31 * l)) & 0x7FFFFFFF);
  limb[(n - 1) * limb_stride] = static_cast<std::int32_t>(c >> (31 * (n - 1)));  // |.| < 2^30
}

// sum_l acc[l] 2^(31 l) mod p for n limbs (the rest zero), |acc[l]| < 2^63.
template <class F>
F join_limbs31_n(const std::int64_t* acc, std::size_t stride, unsigned n) {
  if (n == 1) return F::from_int(acc[0]);
  if constexpr (kLimbs31<F> == 5) {
    if (n == 2) return F::from_i128(static_cast<i128>(acc[0]) + (static_cast<i128>(acc[stride]) << 31));
    if (n == 3)  // |sum| < 2^63 (1 + 2^31 + 2^62) < 2^126
      return F::from_i128(static_cast<i128>(acc[0]) + (static_cast<i128>(acc[stride]) << 31) +
                          (static_cast<i128>(acc[2 * stride]) << 62));
  }
  return join_limbs31<F>(acc, stride);
}

// Rows [r0, r1) of a slab against one block of planes, for rows with many taps (a dense op after a
// pool: 4096): a tile of every row's taps, then the next tile, so that one tile of the block's
// planes stays in L2 for all the rows, where a whole row's (5 limbs x 4096 x 32 x 4 bytes in m127)
// were read from memory again for each row (CIFAR's last layer: 9 ms). Each row's int64 sums
// (exact: the tiles' partial sums are bounded as the whole is) go to write_row(r, sums).
template <std::size_t L, class WriteRow>
void sum_rows_by_tap_tiles(const std::int32_t* block, std::size_t cols, const TapTable& taps, std::size_t r0,
                           std::size_t r1, unsigned n, const WriteRow& write_row) {
  constexpr std::size_t B = kLimbBlock;
  std::array<std::array<std::int64_t, L * B>, kLimbRowsPerTask> acc{};  // 80 KiB in m127; limbs past n stay zero
  std::array<std::int64_t, L * B> part;
  const std::size_t most = taps.most_taps(r0, r1);
  for (std::size_t tile = 0; tile < most; tile += kTapTile)
    for (std::size_t r = r0; r < r1; ++r) {
      const std::size_t row_end = taps.offset(r) + taps.taps(r);
      const std::size_t begin = std::min(taps.offset(r) + tile, row_end);
      const std::size_t end = std::min(begin + kTapTile, row_end);
      if (begin == end) continue;
      sum_taps_limbs(block, cols, taps.in.data() + begin, taps.w.data() + begin, end - begin, n, part.data());
      for (std::size_t i = 0; i < n * B; ++i) acc[r - r0][i] += part[i];
    }
  for (std::size_t r = r0; r < r1; ++r) write_row(r, acc[r - r0].data());
}

// Where apply_op_limbs_to writes row a's samples [k0, k0 + m) from their limb sums (L x B, limbs
// past n zero): field elements, the bias added (FieldRows), or integers (NarrowRows).
template <class F>
struct FieldRows {
  const OpOutput<F>& out;
  unsigned n;
  F* row(std::size_t a) const { return out.row(a); }
  void write(std::size_t a, std::size_t k0, std::size_t m, const std::int64_t* sums) const {
    F* r = out.row(a) + k0;
    const i128 bias = out.bias ? static_cast<i128>(out.bias[a].centered()) : 0;
    if (n == 1 && bias < (i128{1} << 124) && bias > -(i128{1} << 124))  // one limb: the sum is acc[0] + bias
      for (std::size_t i = 0; i < m; ++i) r[i] = from_small_i128<F>(sums[i] + bias);
    else
      for (std::size_t i = 0; i < m; ++i) r[i] = out.add_bias(a, join_limbs31_n<F>(sums + i, kLimbBlock, n));
  }
};

// One limb (n = 1), every output below 2^31 (int32) or 2^kNarrowWideBits (int64) in magnitude with its bias
// (narrow_limb_output_bits): the sums are the entries.
template <class T>
struct NarrowRows {
  T* data;
  std::size_t stride;
  const std::int64_t* bias;  // per row, or nullptr
  T* row(std::size_t a) const { return data + a * stride; }
  void write(std::size_t a, std::size_t k0, std::size_t m, const std::int64_t* sums) const {
    T* r = row(a) + k0;
    const std::int64_t b = bias ? bias[a] : 0;
    for (std::size_t i = 0; i < m; ++i) r[i] = static_cast<T>(sums[i] + b);
  }
};

// The 31-bit limbs the limb route cuts `in`'s values into (rows [0, cols) of stride in_stride).
template <class F>
unsigned limbs_of_input(const F* in, std::size_t cols, std::size_t in_stride, std::size_t batch) {
  return limbs31_needed<F>(value_width(in, cols, in_stride, batch));
}

// An op's input cut into n limbs, block-major (apply_op_limbs_to's first half): v[b block_size +
// (l cols + j) B + i] is limb l of input j, sample b B + i (zero past the batch). Plane int16: one
// limb held as int16 (sum_taps_int16's inputs).
template <class Plane>
struct LimbPlanes {
  std::size_t blocks, block_size;
  unsigned n;
  UninitializedVector<Plane> v;
  LimbPlanes(std::size_t cols, std::size_t batch, unsigned limbs)
      : blocks((batch + kLimbBlock - 1) / kLimbBlock),
        block_size(limbs * cols * kLimbBlock),
        n(limbs),
        v(blocks * block_size) {}
  // Limb 0 of input j, sample k; limb l is l cols kLimbBlock entries on.
  Plane* at(std::size_t j, std::size_t k) {
    return v.data() + k / kLimbBlock * block_size + j * kLimbBlock + k % kLimbBlock;
  }
};

template <class F, class Plane = std::int32_t>
LimbPlanes<Plane> cut_planes(const LinearOp& op, const F* in, std::size_t in_stride, std::size_t batch, unsigned n) {
  constexpr std::size_t B = kLimbBlock;
  LimbPlanes<Plane> planes(op.cols, batch, n);
  parallel_for(op.cols, [&](std::size_t j) {
    if constexpr (std::is_same_v<Plane, std::int16_t> && kCenteredWordsOf<F>) {
      // The row's samples as one run of centered words (exact for |x| < 2^15, the int16 route's
      // precondition; one call a row, not one a block), zero past the batch, then block by block.
      thread_local std::vector<std::int16_t> row;
      row.assign(planes.blocks * B, 0);
      std::uint64_t wide;
      encode_centered(in + j * in_stride, batch, row.data(), &wide);
      for (std::size_t b = 0; b < planes.blocks; ++b) std::copy_n(row.data() + b * B, B, planes.at(j, b * B));
    } else {
      for (std::size_t k = 0; k < planes.blocks * B; ++k) {
        const F x = k < batch ? in[j * in_stride + k] : F::zero();
        if constexpr (std::is_same_v<Plane, std::int16_t>)
          *planes.at(j, k) = static_cast<std::int16_t>(x.centered());
        else
          cut_limbs31(x, n, planes.at(j, k), op.cols * B);
      }
    }
  });
  return planes;
}

// op applied to its input's limb planes (cut_planes, or a writer of its own: narrow_forward.hpp's
// pool of squares), rows [0, op.rows) x samples [0, batch) written by `out` (FieldRows or
// NarrowRows): limb_route_fits(op) must hold. (max_slab_taps: smaller in tests, to run many slabs.)
template <class F, class Rows, class Plane>
void apply_planes_to(const LinearOp& op, const LimbPlanes<Plane>& planes, std::size_t batch, const Rows& out,
                     std::size_t max_slab_taps = kMaxSlabTaps) {
  constexpr std::size_t L = kLimbs31<F>, B = kLimbBlock, kRowsPerTask = kLimbRowsPerTask;
  constexpr bool int16 = std::is_same_v<Plane, std::int16_t>;
  static_assert(int16 || std::is_same_v<Plane, std::int32_t>);
  using Sums = std::array<std::int64_t, L * B>;
  const unsigned n = planes.n;
  for (std::size_t first = 0; first < op.rows;) {
    const std::shared_ptr<const TapTable> table = cached_tap_table(op, first, max_slab_taps);
    const TapTable& taps = *table;
    // Tasks block-major (a block's planes stay in cache for the rows of consecutive tasks), each a
    // block of samples against up to 64 rows of the slab.
    const std::size_t rows = taps.end - first, row_tasks = (rows + kRowsPerTask - 1) / kRowsPerTask;
    parallel_for(planes.blocks * row_tasks, [&](std::size_t task) {
      const std::size_t b = task / row_tasks, r0 = task % row_tasks * kRowsPerTask;
      const std::size_t m = std::min(batch, b * B + B) - b * B, r_end = std::min(rows, r0 + kRowsPerTask);
      const Plane* block = planes.v.data() + b * planes.block_size;
      const auto write_row = [&](std::size_t r, const std::int64_t* sums) { out.write(first + r, b * B, m, sums); };
      if constexpr (!int16)  // the int16 route's sums cannot leave int32: no tiles
        if (r_end - r0 > 1 && taps.most_taps(r0, r_end) > kTapTile)
          return sum_rows_by_tap_tiles<L>(block, op.cols, taps, r0, r_end, n, write_row);
      Sums sums;
      sums.fill(0);  // limbs past n stay zero for the join
      for (std::size_t r = r0; r < r_end; ++r) {
        const std::size_t t0 = taps.offset(r), count = taps.taps(r);
        // The rows written are 4 KiB apart (m127, batch 256): ask for the one a few rows ahead.
        if (r + kPrefetchRowsAhead < r_end) prefetch_entries(out.row(first + r + kPrefetchRowsAhead) + b * B, m, true);
        if constexpr (int16)
          sum_taps_int16(block, taps.in.data() + t0, taps.w.data() + t0, count, sums.data());
        else
          sum_taps_limbs(block, op.cols, taps.in.data() + t0, taps.w.data() + t0, count, n, sums.data());
        write_row(r, sums.data());
      }
    });
    first = taps.end;
  }
}

// op applied to `in` (op.cols rows of stride in_stride, cut into n limbs: limbs_of_input): its
// limb planes, then apply_planes_to. With Plane int16, one limb held as int16 into a narrow Z of
// int32 (sum_taps_int16's preconditions).
template <class F, class Rows, class Plane = std::int32_t>
void apply_op_limbs_to(const LinearOp& op, const F* in, std::size_t in_stride, std::size_t batch, unsigned n,
                       const Rows& out, std::size_t max_slab_taps = kMaxSlabTaps) {
  apply_planes_to<F>(op, cut_planes<F, Plane>(op, in, in_stride, batch, n), batch, out, max_slab_taps);
}

// max_a |v[a].centered()| over n values, in chunks split between threads: a layer's biases, one
// per row of its pow2 layout (CIFAR-size's first Z: 2^15), scanned in each forward pass.
template <class F>
u128 max_abs_centered(const F* v, std::size_t n) {
  constexpr std::size_t kChunk = 4096;
  std::vector<u128> most((n + kChunk - 1) / kChunk, 0);
  parallel_for(most.size(), [&](std::size_t c) {
    for (std::size_t a = c * kChunk; a < std::min(n, c * kChunk + kChunk); ++a) {
      const i128 b = v[a].centered();
      most[c] = std::max(most[c], static_cast<u128>(b < 0 ? -b : b));
    }
  });
  return most.empty() ? 0 : *std::max_element(most.begin(), most.end());
}

// The bit length of a bound on op's outputs plus the rows' biases (or none) from inputs |x| <
// 2^in_bits: max_abs_row_sum x (2^in_bits - 1) + the largest |bias| (128 where in_bits > 62).
template <class F>
unsigned output_bound_bits(const LinearOp& op, unsigned in_bits, const F* bias) {
  if (in_bits > 62) return 128;
  const u128 most_bias = bias ? max_abs_centered(bias, op.rows) : 0;
  const u128 most = static_cast<u128>(max_abs_row_sum(op)) * ((u128{1} << in_bits) - 1);  // < 2^126
  return most_bias >= (u128{1} << 126) ? 128 : bit_length(most + most_bias);
}

// The bits b of a narrow table (every |entry| < 2^b <= 2^max_bits, max_bits <= 62) that op writes
// with the limb route from an input of centered width in_bits and the rows' biases (or none): 0
// where an output could reach 2^max_bits, or the input needs more than one limb.
template <class F>
unsigned narrow_limb_output_bits(const LinearOp& op, unsigned in_bits, const F* bias, unsigned max_bits) {
  if (limbs31_needed<F>(ValueWidth{0, in_bits}) != 1) return 0;
  const unsigned bits = output_bound_bits(op, in_bits, bias);
  return bits <= max_bits ? std::max(bits, 1u) : 0;
}

// apply_op_limbs_to in field elements, into `out` (the bias added where it has one).
template <class F>
void apply_op_limbs_into(const LinearOp& op, const F* in, std::size_t in_stride, std::size_t batch,
                         const OpOutput<F>& out, std::size_t max_slab_taps = kMaxSlabTaps) {
  const unsigned n = limbs_of_input(in, op.cols, in_stride, batch);
  apply_op_limbs_to(op, in, in_stride, batch, n, FieldRows<F>{out, n}, max_slab_taps);
}

// out (op.rows x batch, row-major) = op applied to `in`: apply_op_limbs_into a vector.
template <class F>
std::vector<F> apply_op_limbs(const LinearOp& op, const F* in, std::size_t in_stride, std::size_t batch,
                              std::size_t max_slab_taps = kMaxSlabTaps) {
  std::vector<F> out(op.rows * batch);
  apply_op_limbs_into(op, in, in_stride, batch, OpOutput<F>{out.data(), batch}, max_slab_taps);
  return out;
}

// structured_forward (same result, bit for bit) with the limb route for the ops it fits. The cpu
// engine's own choice (structured_forward_cpu, conv_int8.hpp) puts oneDNN's int8 convolution first.
template <class F>
Table2D<F> structured_forward_limbs(const FieldLayer<F>& layer, const Table2D<F>& Y, std::size_t batch) {
  return structured_forward_by(layer, Y, batch, [batch](const LinearOp& op, const F* in, std::size_t stride) {
    return limb_route_fits(op) ? apply_op_limbs(op, in, stride, batch) : apply_op(op, in, stride, batch);
  });
}

}  // namespace nnproof
