// SPDX-License-Identifier: Apache-2.0
#pragma once
// The cpu engine's sum-check for the training proof's Hadamard reduction (TRAINING.md section 5,
// docs/TRAINING_PROTOCOL.md): for claims c = 0 .. m-1 on D = 2 Z o E,
//   sum_{j,k} sum_c w_c eq(s_c, j) eq(r_c, k) Z[j][k] E[j][k],   rows (the high variables) first.
//
// The model is the inference square sum-check (square_sumcheck.hpp): no eq table at Z's size, and
// its AVX-512 kernels. Z E = ((Z + E)^2 - (Z - E)^2) / 4 (polarization), and folds are linear, so
// the sum-check keeps S = Z + E and T = Z - E, folded once for all claims, and each claim's pair
// sums are two of the square sum-check's pair_q passes (sum_k eq(r_c, k) x_t[k]^2, t = 0, 2) over
// S and T with its own column weights. For the row variables each claim's round polynomial is
// factored as h_c(X) = b_c eq(s_c,v, X) q_c(X) (Gruen), b_c the eq factor of the rows bound so
// far, q_c of degree 2: q_c(0) and q_c(2) come from the tables, q_c(1) from claim c's running sum
// (h_c(0) + h_c(1) = sum_c), q_c(3) by extrapolation. The message is sum_c w_c h_c: the same
// polynomial as the host's sum-check over the combined eq table (HostTableSumcheck), so the same
// bytes. Each row round after the first is fused with the fold before it; the column rounds, on
// one row, are small. At the end Z~(x) = (S~(x) + T~(x)) / 2 and E~(x) = (S~(x) - T~(x)) / 2.
#include <algorithm>
#include <array>
#include <cassert>
#include <optional>
#include <span>
#include <vector>

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

  // Z and E: rows x cols tables, both powers of two; each claim's point, weight and running sum.
  CpuHadamardSumcheck(const Table2D<F>& Z, const Table2D<F>& E, const std::vector<EqClaim<K>>& claims)
      : rows_(Z.rows), cols_(Z.cols), s_(Z.data.size()), t_(Z.data.size()) {
    assert(claims.size() <= kMaxClaims && Z.rows == E.rows && Z.cols == E.cols);
    parallel_for(s_.size(), [&](std::size_t i) {
      const K z = K::from_base(Z.data[i]), e = K::from_base(E.data[i]);
      s_[i] = z + e;
      t_[i] = z - e;
    });
    parts_.reserve(claims.size());
    for (const EqClaim<K>& c : claims)
      parts_.push_back({c.s, eq_table<K>(c.r), c.weight, c.sum, K::one(), {}, std::nullopt});
    if constexpr (Simd::kHave)  // after parts_ is complete: the weights keep a view of each ec
      for (Part& p : parts_) p.simd.emplace(std::span<const K>(p.ec.data(), cols_));
  }

  std::array<K, 3> round() override {
    if (rows_ == 1) return column_round();
    const auto lows = lower_row_eqs(1);
    return row_round(row_sums(rows_ / 2, lows), lows);
  }

  void fold(K r) override {
    advance(r);
    const std::size_t half = rows_ > 1 ? (rows_ / 2) * cols_ : cols_ / 2;
    for (auto* t : {&s_, &t_}) {
      fold_rows(t->data(), t->data() + half, half, r);
      t->resize(half);
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
    const Sums q = fused_rows(r, lows);
    bind(r);
    return row_round(q, lows);
  }

  K final_value() const override { return operand_values()[0] * operand_values()[1]; }
  std::array<K, 2> operand_values() const override {
    const K half = K::from_int(2).inverse();
    return {half * (s_[0] + t_[0]), half * (s_[0] - t_[0])};
  }

 private:
  using Sums = std::array<K, 2 * kMaxClaims>;  // 4 q_c(0), 4 q_c(2) of every claim c
  struct Part {
    std::vector<K> s;                            // the row point
    std::vector<K> ec;                           // eq(r, .) over the remaining columns
    K weight, sum;                               // w_c, and the sum over the remaining variables
    K bound = K::one();                          // eq(s, .) over the row variables bound so far
    std::array<K, 4> h{};                        // the latest round's h_c(0), h_c(1), h_c(2), h_c(3)
    std::optional<typename Simd::Weights> simd;  // ec for the kernels, during the row rounds
  };

  // For each claim, eq(s_0 .. s_{v-1-skip}, .): the lower row variables' weights of a round whose
  // top row variable is v - skip (v = log2(rows_)), as tables of rows_ >> skip entries.
  std::vector<std::vector<K>> lower_row_eqs(unsigned skip) const {
    std::vector<std::vector<K>> lows;
    for (const Part& p : parts_) lows.push_back(eq_table<K>(std::span<const K>(p.s.data(), ceil_log2(rows_) - skip)));
    return lows;
  }

  // sum_k eq(r_c, k) x_t[k]^2 at t = 0, 2 for the rows (lo, hi) of one table.
  std::array<K, 2> pair_q(const K* lo, const K* hi, const Part& p) const {
    if constexpr (Simd::kHave) {
      return Simd::get().pair_q(lo, hi, *p.simd);
    } else {
      return pair_q_portable<K, K>(lo, hi, std::span<const K>(p.ec.data(), cols_));
    }
  }

  // Row j's pair (j, j + offset) in S and T: for each claim, 4 q_c(0) and 4 q_c(2) times the claim's
  // row weight (the 1/4 of the polarization is applied once per round).
  Sums pair_sums(std::size_t j, std::size_t offset, const std::vector<std::vector<K>>& lows) const {
    const K *slo = s_.data() + j * cols_, *shi = slo + offset * cols_;
    const K *tlo = t_.data() + j * cols_, *thi = tlo + offset * cols_;
    Sums out{};
    for (std::size_t c = 0; c < parts_.size(); ++c) {
      const std::array<K, 2> qs = pair_q(slo, shi, parts_[c]), qt = pair_q(tlo, thi, parts_[c]);
      out[2 * c] = lows[c][j] * (qs[0] - qt[0]);
      out[2 * c + 1] = lows[c][j] * (qs[1] - qt[1]);
    }
    return out;
  }

  Sums row_sums(std::size_t half, const std::vector<std::vector<K>>& lows) const {
    return parallel_sum<K, 2 * kMaxClaims>(half, [&](std::size_t j) { return pair_sums(j, half, lows); });
  }

  static void fold_span(const K* a, const K* b, K r, K* out, std::size_t n) {
    if constexpr (Simd::kHave) {
      Simd::get().fold_row(a, b, r, out, n);
    } else {
      fold_row_portable<K, K>(a, b, r, out, n);
    }
  }

  // a[i] += r (b[i] - a[i]) for i < n, on every core.
  static void fold_rows(K* a, const K* b, std::size_t n, K r) {
    constexpr std::size_t kChunk = 4096;
    parallel_for((n + kChunk - 1) / kChunk, [&](std::size_t c) {
      const std::size_t begin = c * kChunk, len = std::min(kChunk, n - begin);
      fold_span(a + begin, b + begin, r, a + begin, len);
    });
  }

  // Fold rows (j, j + rows/2) of both tables with r, in place, and return the next round's sums
  // from the folded pairs (j, j + rows/4) while those rows are in cache (each task reads rows j,
  // j + rows/4, j + rows/2, j + 3 rows/4 before writing rows j, j + rows/4).
  Sums fused_rows(K r, const std::vector<std::vector<K>>& lows) {
    const std::size_t quarter = rows_ / 4, half = rows_ / 2, C = cols_;
    const Sums q = parallel_sum<K, 2 * kMaxClaims>(quarter, [&](std::size_t j) {
      for (std::size_t row : {j, j + quarter})
        for (K* t : {s_.data(), t_.data()}) fold_span(t + row * C, t + (row + half) * C, r, t + row * C, C);
      return pair_sums(j, quarter, lows);
    });
    s_.resize(half * C);
    t_.resize(half * C);
    return q;
  }

  // h_c = b_c eq(s_c,v, X) q_c(X) for each claim from q_c(0), q_c(2) and the claim's sum; the
  // message is sum_c w_c h_c at 0, 2, 3.
  std::array<K, 3> row_round(const Sums& q4, const std::vector<std::vector<K>>& lows) {
    const unsigned v = ceil_log2(rows_) - 1;
    const K quarter = K::from_int(4).inverse();
    std::array<K, 3> msg{K::zero(), K::zero(), K::zero()};
    for (std::size_t c = 0; c < parts_.size(); ++c) {
      Part& p = parts_[c];
      const K sv = p.s[v], one = K::one();
      const K e0 = one - sv, e2 = sv + sv + sv - one, e3 = sv + sv + sv + sv + sv - one - one;
      const K q0 = quarter * q4[2 * c], q2 = quarter * q4[2 * c + 1];
      const K h0 = p.bound * e0 * q0, denom = p.bound * sv;
      const K q1 = denom != K::zero() ? (p.sum - h0) * denom.inverse() : direct_q1(p, lows[c]);
      const K q3 = q0 - q1 - q1 - q1 + q2 + q2 + q2;  // the quadratic through 0, 1, 2 at 3
      p.h = {h0, p.sum - h0, p.bound * e2 * q2, p.bound * e3 * q3};
      msg[0] += p.weight * p.h[0];
      msg[1] += p.weight * p.h[2];
      msg[2] += p.weight * p.h[3];
    }
    return msg;
  }

  // q_c(1) from the tables: only needed when b_c eq(s_c,v, 1) = 0, with probability ~ rounds / |K|.
  K direct_q1(const Part& p, const std::vector<K>& low) const {
    const std::size_t half = rows_ / 2, C = cols_;
    const K sum = parallel_sum<K, 1>(half, [&](std::size_t j) {
      const K *s = s_.data() + (j + half) * C, *t = t_.data() + (j + half) * C;
      K acc = K::zero();
      for (std::size_t k = 0; k < C; ++k) acc += p.ec[k] * (s[k] * s[k] - t[k] * t[k]);
      return std::array<K, 1>{low[j] * acc};
    })[0];
    return K::from_int(4).inverse() * sum;
  }

  // A column round on one row: h_c(t) = b_c sum_k eq_t(r_c, k) (S_t[k]^2 - T_t[k]^2) / 4, all
  // extended linearly in the top column variable; all four values directly (a row is small).
  std::array<K, 3> column_round() {
    const std::size_t half = cols_ / 2;
    const K quarter = K::from_int(4).inverse();
    std::array<K, 3> msg{K::zero(), K::zero(), K::zero()};
    for (Part& p : parts_) {
      std::array<K, 4> h{K::zero(), K::zero(), K::zero(), K::zero()};
      for (std::size_t k = 0; k < half; ++k) {
        const K ds = s_[k + half] - s_[k], dt = t_[k + half] - t_[k], dw = p.ec[k + half] - p.ec[k];
        K st = s_[k], tt = t_[k], wt = p.ec[k];
        for (unsigned i = 0; i < 4; ++i, st += ds, tt += dt, wt += dw) h[i] += wt * (st * st - tt * tt);
      }
      for (K& x : h) x *= quarter * p.bound;
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
      for (Part& p : parts_) {
        p.simd.reset();  // the column rounds fold ec
        fold_top(p.ec, r);
      }
      cols_ /= 2;
    }
  }

  std::size_t rows_, cols_;
  UninitializedVector<K> s_, t_;  // S = Z + E and T = Z - E, folded: rows_ x cols_
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
