// SPDX-License-Identifier: Apache-2.0
#pragma once
// The Thrust engine's device code (kernels/thrust/thrust_engine.inl): every functor its Thrust
// algorithms run, a thread per index. They sit apart from the host code that launches them
// (sumchecks.inl, gemm.inl, engine.inl) because they are the engine's only code that runs on the
// device, and the only code written for a GPU thread and an OpenMP thread alike (NNP_HD, plain
// pointers, no allocation, no exceptions); each one's comment says how its threads map onto the
// table, which decides its memory access.
//
// Include with NNP_THRUST_NS defined, as thrust_engine.inl: the cuda and thrust-omp builds link into
// one binary and each has its own copy.
#include <thrust/iterator/counting_iterator.h>

#include <cstddef>
#include <cstdint>

#include "core/fiat_shamir.hpp"
#include "core/fields.hpp"
#include "core/hostdevice.hpp"

namespace nnproof::NNP_THRUST_NS {

using Index = std::size_t;
inline thrust::counting_iterator<Index> count(Index i) { return thrust::counting_iterator<Index>(i); }

// Up to three round values, summed by Thrust's reductions.
template <class K>
struct RoundSums {
  K h[3];
};
template <class K>
struct AddSums {
  NNP_HD RoundSums<K> operator()(const RoundSums<K>& x, const RoundSums<K>& y) const {
    return {{x.h[0] + y.h[0], x.h[1] + y.h[1], x.h[2] + y.h[2]}};
  }
};
template <class K>
NNP_HD RoundSums<K> zero_sums() {
  return {{K::zero(), K::zero(), K::zero()}};
}

// ---- the sum-check of sum_j A[j] V[j] (degree 2; ProductSumcheck, sumchecks.inl) ----

// Round terms of one pair (i, i + half): h(0) = a0 v0, h(2) = (2 a1 - a0)(2 v1 - v0).
template <class K>
NNP_HD RoundSums<K> product_terms(K a0, K a1, K v0, K v1) {
  return {{a0 * v0, (a1 + a1 - a0) * (v1 + v1 - v0), K::zero()}};
}

template <class K>
struct ProductRound {
  const K* a;
  const K* v;
  Index half;
  NNP_HD RoundSums<K> operator()(Index i) const { return product_terms(a[i], a[i + half], v[i], v[i + half]); }
};

// Binds the top variable of tables of size 4 q to *r (writing the halves of size 2 q) and returns
// the next round's terms for pair i of the folded tables: one pass, each entry read once. The
// challenge is read from device memory: where the rounds run on the device, the transcript step
// of the round before wrote it there (TranscriptStep), and no host saw it first.
template <class K>
struct ProductFoldRound {
  const K* a;
  const K* v;
  K* na;
  K* nv;
  Index q;  // a quarter of the old size: the folded tables have 2 q entries
  const K* rp;
  NNP_HD RoundSums<K> operator()(Index i) const {
    const Index h = 2 * q;
    const K r = *rp;
    const K a0 = a[i] + r * (a[i + h] - a[i]), a1 = a[i + q] + r * (a[i + q + h] - a[i + q]);
    const K v0 = v[i] + r * (v[i + h] - v[i]), v1 = v[i + q] + r * (v[i + q + h] - v[i + q]);
    na[i] = a0, na[i + q] = a1, nv[i] = v0, nv[i + q] = v1;
    return product_terms(a0, a1, v0, v1);
  }
};

template <class K>
struct FoldTop {
  const K* t;
  K* out;
  Index half;
  const K* r;  // in device memory, as ProductFoldRound's
  NNP_HD void operator()(Index i) const { out[i] = t[i] + *r * (t[i + half] - t[i]); }
};

// ---- the sum-check of sum_{j,k} eq(s, j) eq(r, k) Z[j][k]^2 (degree 3; SquareSumcheck) ----

template <class K>
NNP_HD RoundSums<K> square_terms(K e0, K e1, K z0, K z1) {
  const K de = e1 - e0, dz = z1 - z0;
  const K e2 = e1 + de, z2 = z1 + dz, e3 = e2 + de, z3 = z2 + dz;
  return {{e0 * z0 * z0, e2 * z2 * z2, e3 * z3 * z3}};
}

// The eq weights of pair i: (e0, e1) for the entries i and i + half of the current table.
template <class K>
struct SquareShape {
  const K* es;  // rows entries (one after the row phase)
  const K* er;  // cols entries
  Index rows, cols;
  NNP_HD void weights(Index i, K& e0, K& e1) const {
    if (rows > 1) {
      const Index j = i / cols, k = i % cols;
      e0 = es[j] * er[k];
      e1 = es[j + rows / 2] * er[k];
    } else {
      e0 = es[0] * er[i];
      e1 = es[0] * er[i + cols / 2];
    }
  }
};

template <class K>
struct SquareRound {
  SquareShape<K> shape;
  const K* z;
  Index half;
  NNP_HD RoundSums<K> operator()(Index i) const {
    K e0, e1;
    shape.weights(i, e0, e1);
    return square_terms(e0, e1, z[i], z[i + half]);
  }
};

// Folds Z (size 4 q) with r into nz (size 2 q) and returns the next round's terms for pair i,
// whose weights `shape` already describes (the small eq table is folded before this pass).
template <class K>
struct SquareFoldRound {
  SquareShape<K> shape;
  const K* z;
  K* nz;
  Index q;
  const K* rp;  // in device memory, as ProductFoldRound's
  NNP_HD RoundSums<K> operator()(Index i) const {
    const Index h = 2 * q;
    const K r = *rp;
    const K z0 = z[i] + r * (z[i + h] - z[i]), z1 = z[i + q] + r * (z[i + q + h] - z[i + q]);
    nz[i] = z0, nz[i + q] = z1;
    K e0, e1;
    shape.weights(i, e0, e1);
    return square_terms(e0, e1, z0, z1);
  }
};

// ---- a sum-check's rounds on the device, with its Fiat-Shamir transcript (DeviceRounds, sumchecks.inl) ----
//
// A round's terms are summed into device memory, not returned to the host: `lanes` partial sums
// (lane p takes terms p, p + lanes, ...: adjacent threads read adjacent pairs), then `groups` sums of
// the lanes the same way, then one thread adds the groups and runs the transcript step. Field sums
// are exact, so the order changes nothing: the values equal a host reduction's bit for bit.
// 2^17 lanes: 512 blocks of Thrust's 256 threads, a few per SM of an H100 (8192 lanes were 16
// blocks, an eighth of its SMs); 6 MB of partial sums at most.
constexpr Index kRoundLanes = Index{1} << 17, kRoundGroups = 256;

template <class K, class Terms>
struct StridedSums {  // thread per lane p: the sum of terms(i) for i = p, p + lanes, ... < n
  Terms terms;
  Index n, lanes;
  RoundSums<K>* out;
  NNP_HD void operator()(Index p) const {
    RoundSums<K> acc = zero_sums<K>();
    for (Index i = p; i < n; i += lanes) acc = AddSums<K>{}(acc, terms(i));
    out[p] = acc;
  }
};

template <class K>
struct ReadSums {  // the terms of an array of partial sums
  const RoundSums<K>* sums;
  NNP_HD RoundSums<K> operator()(Index i) const { return sums[i]; }
};

// One thread: round t's values from the groups' sums; the message absorbed into the transcript
// (core/fiat_shamir.hpp, the verifier's transcript byte for byte) and the next challenge squeezed
// into challenges[t] and *current, which the next round's fold reads.
template <class K>
struct TranscriptStep {
  const RoundSums<K>* groups;
  Index count;
  unsigned degree, t;
  K* messages;  // n x degree
  K* challenges;
  K* current;
  TranscriptState* state;
  NNP_HD void operator()(Index) const {
    RoundSums<K> h = zero_sums<K>();
    for (Index g = 0; g < count; ++g) h = AddSums<K>{}(h, groups[g]);
    for (unsigned d = 0; d < degree; ++d) messages[t * degree + d] = h.h[d];
    absorb_message(*state, messages + t * degree, degree);
    const K c = squeeze_challenge<K>(*state);
    challenges[t] = c;
    *current = c;
  }
};

template <class K>
struct CopyEntry {  // one thread: *to = *from, on the device
  const K* from;
  K* to;
  NNP_HD void operator()(Index) const { *to = *from; }
};

template <class F, class K>
struct LiftToK {
  NNP_HD K operator()(F x) const { return K::from_base(x); }
};

// ---- forward: the exact int8 limb GEMM's split and recombination, and the direct kernel (gemm.inl) ----
//
// Y's entries (< 2^61 or < 2^127) are cut into 7-bit limbs, each a nonnegative int8; int8
// weights times a limb are below 2^14 in magnitude, so an int32 sum of `inner` of them is exact
// while inner * 127 * 128 < 2^31. One GEMM multiplies W by all limbs side by side (columns
// l * batch + k); the result is recombined as sum_l 2^(7 l) G_l mod p, plus the bias.

constexpr unsigned kLimbBits = 7;

template <class F>
constexpr unsigned limb_count() {
  return (F::kBits + kLimbBits - 1) / kLimbBits;
}

template <class F>
struct SplitLimbs {  // thread per (k, j), j fastest: Y[j][k]'s limb l into row l * batch + k of T, column j
  const F* y;
  std::int8_t* limbs_t;
  Index y_cols, cols, batch, inner_pad;
  // Adjacent threads write adjacent bytes of a row of T (coalesced); their reads of Y, a column
  // apart, share cache sectors with the next columns' threads. With k fastest each byte written
  // was a sector of its own, inner_pad bytes from its neighbours'.
  NNP_HD void operator()(Index t) const {
    const Index k = t / cols, j = t % cols;
    u128 v = static_cast<u128>(y[j * y_cols + k].v);
    for (unsigned l = 0; l < limb_count<F>(); ++l, v >>= kLimbBits)
      limbs_t[(l * batch + k) * inner_pad + j] = static_cast<std::int8_t>(static_cast<unsigned>(v) & 0x7F);
  }
};

struct WidenWeights {  // thread per (a, j): the int8 weights into rows of inner_pad entries
  const std::int8_t* w;
  std::int8_t* out;
  Index cols, inner_pad;
  NNP_HD void operator()(Index t) const { out[t / cols * inner_pad + t % cols] = w[t]; }
};

template <class F>
struct Recombine {  // thread per (a, k): Z[a][k] = bias[a] + sum_l 2^(7 l) G[a][l batch + k]
  const std::int32_t* g;
  const F* bias;
  F* z;
  Index z_cols, batch, n;
  NNP_HD void operator()(Index t) const {
    const Index a = t / batch, k = t % batch;
    F acc = F::zero(), shift = F::one();
    const F step = F::from_int(std::int64_t{1} << kLimbBits);
    for (unsigned l = 0; l < limb_count<F>(); ++l, shift = shift * step)
      acc += F::from_int(g[a * n + l * batch + k]) * shift;
    z[a * z_cols + k] = acc + bias[a];
  }
};

template <class F>
struct DirectRow {  // thread per (a, k), int64 weights: a field product per weight
  const std::int64_t* w;
  const F* y;
  const F* bias;
  F* z;
  Index cols, y_cols, batch;
  NNP_HD void operator()(Index t) const {
    const Index a = t / batch, k = t % batch;
    F acc = bias[a];
    for (Index j = 0; j < cols; ++j) acc += F::from_int(w[a * cols + j]) * y[j * y_cols + k];
    z[a * y_cols + k] = acc;
  }
};

// ---- the other bulk operations (engine.inl) ----

// The protocol's padded n0 x b input table from the user's b rows of n0 values, on the device: a
// thread per entry (j, k) of the table, k fastest (coalesced writes), zero outside the real corner.
// The rows are field elements (In = F) or the values' centered forms as small integers, lifted here.
template <class F, class In = F>
struct TransposeInput {
  const In* input;  // b x n0, row per sample: field elements, or small integers (small_input.hpp)
  F* x;             // rows x cols, padded
  Index n0, batch, cols;
  const Index* feature_of_row;  // the feature row r holds (kNoFeature: none), or nullptr: feature r
  NNP_HD void operator()(Index t) const {
    const Index r = t / cols, k = t % cols, j = feature_of_row ? feature_of_row[r] : r;
    x[t] = j < n0 && k < batch ? lift(input[k * n0 + j]) : F::zero();
  }
  NNP_HD static F lift(const F& v) { return v; }
  template <class I>
  NNP_HD static F lift(I v) {
    return F::from_int(static_cast<std::int64_t>(v));
  }
};

template <class F>
struct SquareEntry {
  NNP_HD F operator()(F x) const { return x * x; }
};

// col_combine in two passes, both stream-ordered (no wait and no temporary storage, unlike the
// reduce_by_key it replaces, which copied its segment count back): a thread per (row j, lane l)
// sums the columns k = l mod lanes, adjacent threads reading adjacent entries (coalesced; a thread
// per row alone left a GPU a few thousand threads striding rows); then a thread per row sums its
// lanes. Field sums are exact, so any order gives the reference's bits.
constexpr Index kColLanes = 64;

template <class K, class F>
struct ColLaneCombine {  // thread per (row j, lane l), l fastest
  const F* y;
  const K* eq_r;
  K* partial;  // rows x lanes
  Index cols, lanes;
  NNP_HD void operator()(Index t) const {
    const Index j = t / lanes, l = t % lanes;
    K acc = K::zero();
    for (Index k = l; k < cols; k += lanes) acc += mul_base(eq_r[k], y[j * cols + k]);
    partial[t] = acc;
  }
};

// out[j] = the sum of row j of a row-major table with `cols` columns, a thread per row: row_combine's
// lanes' partial sums, and the batch sums of the backward pass (g = D 1).
template <class T>
struct RowSums {
  const T* in;
  T* out;
  Index cols;
  NNP_HD void operator()(Index j) const {
    T acc = T::zero();
    for (Index l = 0; l < cols; ++l) acc += in[j * cols + l];
    out[j] = acc;
  }
};

// row_combine in two passes, so that a GPU has rows / kRowBlock times more threads than columns
// (a thread per column, with a serial loop over 2000 rows, was 63 warps for 132 SMs): partial sums
// over blocks of kRowBlock rows, then the blocks' sums per column.
constexpr Index kRowBlock = 64;

template <class K, class F, class W>
struct RowBlockCombine {  // thread per (block b, column j), j fastest: adjacent threads read adjacent weights
  const W* w;
  const K* eq_q;
  K* partial;  // blocks x cols
  Index rows, cols, stride;
  NNP_HD void operator()(Index t) const {
    const Index b = t / cols, j = t % cols, a1 = (b + 1) * kRowBlock < rows ? (b + 1) * kRowBlock : rows;
    K acc = K::zero();
    for (Index a = b * kRowBlock; a < a1; ++a)
      acc += mul_base(eq_q[a], F::from_int(static_cast<std::int64_t>(w[a * stride + j])));
    partial[t] = acc;
  }
};

template <class K>
struct SumRowBlocks {  // thread per column j: A[j] = the sum of its blocks' partial sums
  const K* partial;
  K* out;
  Index blocks, cols;
  NNP_HD void operator()(Index j) const {
    K acc = K::zero();
    for (Index b = 0; b < blocks; ++b) acc += partial[b * cols + j];
    out[j] = acc;
  }
};

}  // namespace nnproof::NNP_THRUST_NS
