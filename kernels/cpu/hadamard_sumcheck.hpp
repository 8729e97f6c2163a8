// SPDX-License-Identifier: Apache-2.0
#pragma once
// The cpu engine's sum-check for the training proof's Hadamard reduction (TRAINING.md section 5,
// docs/TRAINING_PROTOCOL.md): for claims c = 0 .. m-1 on D = 2 Z o E,
//   sum_{j,k} sum_c w_c eq(s_c, j) eq(r_c, k) Z[j][k] E[j][k],   rows (the high variables) first.
//
// The model is the inference square sum-check (square_sumcheck.hpp): no eq table at Z's size.
// Each claim keeps its column table eq(r_c, .) and, for the row variables, its round polynomial is
// factored as h_c(X) = b_c eq(s_c,v, X) q_c(X) (Gruen), b_c the eq factor of the rows bound so
// far, q_c of degree 2 in the tables' values. The prover computes q_c(0) and q_c(2) from the
// tables (two products Z E per pair of entries, shared by all claims, and one weight per claim),
// q_c(1) from claim c's running sum (h_c(0) + h_c(1) = sum_c), q_c(3) by extrapolation. The
// message is sum_c w_c h_c: the same polynomial as the host's sum-check over the combined eq
// table (HostTableSumcheck), so the same bytes. The first round reads Z and E in the base field;
// each later row round is fused with the fold before it. Column rounds, on one row, are small.
#include <algorithm>
#include <array>
#include <cassert>
#include <span>
#include <type_traits>
#include <vector>

#include "core/lazy.hpp"
#include "core/polynomial.hpp"
#include "kernels/cpu/square_sumcheck.hpp"
#include "kernels/cpu/sumcheck_kernels.hpp"
#include "kernels/engine/engine.hpp"
#include "kernels/engine/uninitialized.hpp"
#include "verifier/parallel.hpp"

namespace nnproof {

template <class Cfg>
class CpuHadamardSumcheck final : public HadamardSumcheckProver<typename Cfg::K> {
  using F = typename Cfg::F;
  using K = typename Cfg::K;
  using Simd = SimdKernels<F, K>;

 public:
  // The most claims one instance takes (the round sums are fixed-size arrays); the engine hands
  // more to the host sum-check. A training tensor has at most three.
  static constexpr std::size_t kMaxClaims = 4;

  // Z and E: rows x cols tables, both powers of two; each claim's point and running sum.
  CpuHadamardSumcheck(const Table2D<F>& Z, const Table2D<F>& E, const std::vector<EqClaim<K>>& claims)
      : z_base_(&Z), e_base_(&E), rows_(Z.rows), cols_(Z.cols) {
    assert(claims.size() <= kMaxClaims && Z.rows == E.rows && Z.cols == E.cols);
    for (const EqClaim<K>& c : claims) parts_.push_back({c.s, eq_table<K>(c.r), c.weight, c.sum});
  }

  std::array<K, 3> round() override {
    if (rows_ == 1) return folded_ ? column_round(z_.data(), e_.data()) : column_round(base(z_base_), base(e_base_));
    const std::size_t half = rows_ / 2;
    const auto lows = lower_row_eqs(1);
    const Sums q =
        folded_ ? row_sums(z_.data(), e_.data(), half, lows) : row_sums(base(z_base_), base(e_base_), half, lows);
    return row_round(q, lows);
  }

  void fold(K r) override {
    advance(r);
    const std::size_t half = rows_ > 1 ? (rows_ / 2) * cols_ : cols_ / 2;
    if (folded_) {
      fold_rows(z_.data(), z_.data(), z_.data() + half, half, r);
      fold_rows(e_.data(), e_.data(), e_.data() + half, half, r);
      z_.resize(half);
      e_.resize(half);
    } else {
      UninitializedVector<K> z(half), e(half);
      fold_rows(z.data(), base(z_base_), base(z_base_) + half, half, r);
      fold_rows(e.data(), base(e_base_), base(e_base_) + half, half, r);
      z_ = std::move(z);
      e_ = std::move(e);
      folded_ = true;
    }
    bind(r);
  }

  // fold(r) then round(), in one pass over the tables while two or more rows remain after the fold.
  std::array<K, 3> fold_and_round(K r) override {
    if (rows_ < 4) {
      fold(r);
      return round();
    }
    advance(r);
    const auto lows = lower_row_eqs(2);  // the next round's: one more row variable bound
    const Sums q =
        folded_ ? fused_rows(z_.data(), e_.data(), r, lows) : fused_rows(base(z_base_), base(e_base_), r, lows);
    bind(r);
    return row_round(q, lows);
  }

  K final_value() const override { return operand_values()[0] * operand_values()[1]; }
  std::array<K, 2> operand_values() const override {
    if (!folded_) return {K::from_base(z_base_->data[0]), K::from_base(e_base_->data[0])};
    return {z_[0], e_[0]};
  }

 private:
  using Sums = std::array<K, 2 * kMaxClaims>;  // q_c(0), q_c(2) of every claim c
  struct Part {
    std::vector<K> s;      // the row point
    std::vector<K> ec;     // eq(r, .) over the remaining columns
    K weight, sum;         // w_c, and the sum over the remaining variables
    K bound = K::one();    // eq(s, .) over the row variables bound so far
    std::array<K, 4> h{};  // the latest round's h_c(0), h_c(1), h_c(2), h_c(3)
  };

  static const F* base(const Table2D<F>* t) { return t->data.data(); }

  // For each claim, eq(s_0 .. s_{v-1-skip}, .): the lower row variables' weights of a round whose
  // top row variable is v - skip (v = log2(rows_)), as tables of rows_ >> skip entries.
  std::vector<std::vector<K>> lower_row_eqs(unsigned skip) const {
    std::vector<std::vector<K>> lows;
    for (const Part& p : parts_) lows.push_back(eq_table<K>(std::span<const K>(p.s.data(), ceil_log2(rows_) - skip)));
    return lows;
  }

  // The pair (lo, hi) of rows weighted by each claim's columns: sum_k eq(r_c, k) z_t[k] e_t[k] for
  // t = 0, 2, times the claim's row weight. The products are shared by all claims.
  template <class T>
  Sums pair_sums(const T* zl, const T* zh, const T* el, const T* eh, std::size_t j,
                 const std::vector<std::vector<K>>& lows) const {
    constexpr std::size_t kBlock = 64;
    std::array<T, kBlock> p0, p2;
    std::array<LazyDot<K, T>, 2 * kMaxClaims> acc{};
    for (std::size_t k0 = 0; k0 < cols_; k0 += kBlock) {
      const std::size_t n = std::min(kBlock, cols_ - k0);
      for (std::size_t i = 0; i < n; ++i) {
        const std::size_t k = k0 + i;
        p0[i] = zl[k] * el[k];
        p2[i] = (zh[k] + zh[k] - zl[k]) * (eh[k] + eh[k] - el[k]);
      }
      for (std::size_t c = 0; c < parts_.size(); ++c) {
        const K* ec = parts_[c].ec.data() + k0;
        for (std::size_t i = 0; i < n; ++i) {
          acc[2 * c].add(ec[i], p0[i]);
          acc[2 * c + 1].add(ec[i], p2[i]);
        }
      }
    }
    Sums out{};
    for (std::size_t c = 0; c < parts_.size(); ++c) {
      out[2 * c] = lows[c][j] * acc[2 * c].result();
      out[2 * c + 1] = lows[c][j] * acc[2 * c + 1].result();
    }
    return out;
  }

  template <class T>
  Sums row_sums(const T* z, const T* e, std::size_t half, const std::vector<std::vector<K>>& lows) const {
    const std::size_t C = cols_;
    return parallel_sum<K, 2 * kMaxClaims>(half, [&](std::size_t j) {
      return pair_sums(z + j * C, z + (j + half) * C, e + j * C, e + (j + half) * C, j, lows);
    });
  }

  // out[i] = a[i] + r (b[i] - a[i]) for i < n, on every core; out may be a.
  template <class T>
  void fold_rows(K* out, const T* a, const T* b, std::size_t n, K r) const {
    constexpr std::size_t kChunk = 4096;
    parallel_for((n + kChunk - 1) / kChunk, [&](std::size_t c) {
      const std::size_t begin = c * kChunk, len = std::min(kChunk, n - begin);
      fold_span(a + begin, b + begin, r, out + begin, len);
    });
  }

  template <class T>
  static void fold_span(const T* a, const T* b, K r, K* out, std::size_t n) {
    if constexpr (Simd::kHave && std::is_same_v<T, K>) {
      Simd::get().fold_row(a, b, r, out, n);
    } else {
      fold_row_portable<K, T>(a, b, r, out, n);
    }
  }

  // Fold rows (j, j + rows/2) of both tables with r into tables of rows/2 rows, and return the next
  // round's sums from their pairs (j, j + rows/4) while those rows are in cache. From the base
  // tables the folded rows go to new K tables; K tables are folded in place (each task reads rows
  // j, j + rows/4, j + rows/2, j + 3 rows/4 before writing rows j, j + rows/4).
  template <class T>
  Sums fused_rows(const T* z, const T* e, K r, const std::vector<std::vector<K>>& lows) {
    const std::size_t quarter = rows_ / 4, half = rows_ / 2, C = cols_;
    UninitializedVector<K> fz(folded_ ? 0 : half * C), fe(folded_ ? 0 : half * C);
    K* oz = folded_ ? z_.data() : fz.data();
    K* oe = folded_ ? e_.data() : fe.data();
    const Sums q = parallel_sum<K, 2 * kMaxClaims>(quarter, [&](std::size_t j) {
      for (std::size_t row : {j, j + quarter}) {
        fold_span(z + row * C, z + (row + half) * C, r, oz + row * C, C);
        fold_span(e + row * C, e + (row + half) * C, r, oe + row * C, C);
      }
      return pair_sums<K>(oz + j * C, oz + (j + quarter) * C, oe + j * C, oe + (j + quarter) * C, j, lows);
    });
    if (folded_) {
      z_.resize(half * C);
      e_.resize(half * C);
    } else {
      z_ = std::move(fz);
      e_ = std::move(fe);
      folded_ = true;
    }
    return q;
  }

  // h_c = b_c eq(s_c,v, X) q_c(X) for each claim from q_c(0), q_c(2) and the claim's sum; the
  // message is sum_c w_c h_c at 0, 2, 3.
  std::array<K, 3> row_round(const Sums& q, const std::vector<std::vector<K>>& lows) {
    const unsigned v = ceil_log2(rows_) - 1;
    std::array<K, 3> msg{K::zero(), K::zero(), K::zero()};
    for (std::size_t c = 0; c < parts_.size(); ++c) {
      Part& p = parts_[c];
      const K sv = p.s[v], one = K::one();
      const K e0 = one - sv, e2 = sv + sv + sv - one, e3 = sv + sv + sv + sv + sv - one - one;
      const K q0 = q[2 * c], q2 = q[2 * c + 1];
      const K h0 = p.bound * e0 * q0, denom = p.bound * sv;
      const K q1 = denom != K::zero() ? (p.sum - h0) * denom.inverse() : direct_q1(c, lows[c]);
      const K q3 = q0 - q1 - q1 - q1 + q2 + q2 + q2;  // the quadratic through 0, 1, 2 at 3
      p.h = {h0, p.sum - h0, p.bound * e2 * q2, p.bound * e3 * q3};
      msg[0] += p.weight * p.h[0];
      msg[1] += p.weight * p.h[2];
      msg[2] += p.weight * p.h[3];
    }
    return msg;
  }

  // q_c(1) from the tables: only needed when b_c eq(s_c,v, 1) = 0, with probability ~ rounds / |K|.
  K direct_q1(std::size_t c, const std::vector<K>& low) const {
    const std::size_t half = rows_ / 2, C = cols_;
    const std::vector<K>& ec = parts_[c].ec;
    auto row = [&](const auto* z, const auto* e, std::size_t j) {
      K acc = K::zero();
      for (std::size_t k = 0; k < C; ++k) acc += mul_base(ec[k], z[(j + half) * C + k] * e[(j + half) * C + k]);
      return std::array<K, 1>{low[j] * acc};
    };
    return parallel_sum<K, 1>(half, [&](std::size_t j) {
      return folded_ ? row(z_.data(), e_.data(), j) : row(base(z_base_), base(e_base_), j);
    })[0];
  }

  // A column round on one row: h_c(t) = b_c sum_k eq_t(r_c, k) z_t[k] e_t[k], everything extended
  // linearly in the top column variable; all four values directly (a row is small).
  template <class T>
  std::array<K, 3> column_round(const T* z, const T* e) {
    const std::size_t half = cols_ / 2;
    std::array<K, 3> msg{K::zero(), K::zero(), K::zero()};
    for (Part& p : parts_) {
      std::array<K, 4> h{K::zero(), K::zero(), K::zero(), K::zero()};
      for (std::size_t k = 0; k < half; ++k) {
        const K z0 = embed<K>(z[k]), dz = embed<K>(z[k + half]) - z0, e0 = embed<K>(e[k]),
                de = embed<K>(e[k + half]) - e0, w0 = p.ec[k], dw = p.ec[k + half] - w0;
        K zt = z0, et = e0, wt = w0;
        for (unsigned t = 0; t < 4; ++t, zt += dz, et += de, wt += dw) h[t] += wt * zt * et;
      }
      for (K& x : h) x *= p.bound;
      p.h = h;
      msg[0] += p.weight * h[0];
      msg[1] += p.weight * h[2];
      msg[2] += p.weight * h[3];
    }
    return msg;
  }

  // Each claim's sum moves to h_c(r).
  void advance(K r) {
    for (Part& p : parts_) p.sum = interpolate<K>(std::span<const K>(p.h), r);
  }

  // The top remaining variable is now bound to r.
  void bind(K r) {
    if (rows_ > 1) {
      const unsigned v = ceil_log2(rows_) - 1;
      for (Part& p : parts_) p.bound *= p.s[v] * r + (K::one() - p.s[v]) * (K::one() - r);  // eq(s_v, r)
      rows_ /= 2;
    } else {
      for (Part& p : parts_) fold_top(p.ec, r);
      cols_ /= 2;
    }
  }

  const Table2D<F>* z_base_;  // the unfolded tables, read until the first fold
  const Table2D<F>* e_base_;
  bool folded_ = false;
  UninitializedVector<K> z_, e_;  // the folded tables, rows_ x cols_
  std::size_t rows_, cols_;
  std::vector<Part> parts_;
};

// The engine's entry: nullptr where the tables or claims are outside what the kernel takes (not on
// the host, not powers of two, more than kMaxClaims claims).
template <class Cfg>
std::unique_ptr<HadamardSumcheckProver<typename Cfg::K>> make_cpu_hadamard_sumcheck(
    const Table2D<typename Cfg::F>& Z, const Table2D<typename Cfg::F>& E,
    const std::vector<EqClaim<typename Cfg::K>>& claims) {
  const auto pow2 = [](std::size_t n) { return n != 0 && (n & (n - 1)) == 0; };
  if (claims.empty() || claims.size() > CpuHadamardSumcheck<Cfg>::kMaxClaims || !Z.on_host() || !E.on_host() ||
      Z.rows != E.rows || Z.cols != E.cols || !pow2(Z.rows) || !pow2(Z.cols) || Z.data.size() != Z.rows * Z.cols ||
      E.data.size() != E.rows * E.cols)
    return nullptr;
  for (const EqClaim<typename Cfg::K>& c : claims)
    if (c.s.size() != ceil_log2(Z.rows) || c.r.size() != ceil_log2(Z.cols)) return nullptr;
  return std::make_unique<CpuHadamardSumcheck<Cfg>>(Z, E, claims);
}

}  // namespace nnproof
