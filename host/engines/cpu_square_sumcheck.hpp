#pragma once
// The cpu engine's sum-check for the quadratic activation:
//   sum_{j,k} eq(s, j) eq(r, k) Z[j][k]^2, rows (the high variables) bound first.
//
// The eq factor is never materialized at Z's size: eq(r, .) is a column table, and for the row
// variables the round polynomial is factored as h(X) = c eq(s_v, X) q(X) (Gruen), where c is the
// eq factor of the rows bound so far and q has degree 2. The prover computes q(0) and q(2) from
// the table, and q(1) from the running claim (h(0) + h(1) = claim), then q(3) by extrapolation:
// two passes' worth of squares and products instead of three. The first round reads Z in the base
// field; each later row round is fused with the fold before it (one pass reads four rows, writes
// two folded rows and accumulates the sums). The column rounds, on a table of one row, are small.
#include <array>
#include <span>
#include <vector>

#include "core/lazy.hpp"
#include "core/polynomial.hpp"
#include "host/engines/engine.hpp"
#include "verifier/parallel.hpp"

namespace nnproof {

template <class Cfg>
class CpuSquareSumcheck final : public SumcheckProver<typename Cfg::K> {
  using F = typename Cfg::F;
  using K = typename Cfg::K;

 public:
  CpuSquareSumcheck(const Table2D<F>& Z, std::span<const K> s, std::span<const K> r, K claim)
      : base_(&Z), rows_(Z.rows), cols_(Z.cols), s_(s.begin(), s.end()), ec_(eq_table<K>(r)), claim_(claim) {}

  std::array<K, 3> round() override {
    if (rows_ > 1) {
      const std::size_t half = rows_ / 2;
      const std::vector<K> E = lower_row_eq();
      auto q = base_ ? q_sums(base_->data.data(), half, E) : q_sums(z_.data(), half, E);
      return remember(row_round_values(q, [&] { return base_ ? q1_sum(base_->data.data(), half, E) : q1_sum(z_.data(), half, E); }));
    }
    return remember(base_ ? column_round(base_->data.data()) : column_round(z_.data()));
  }

  void fold(K r) override {
    advance_claim(r);
    if (base_) {
      fold_from_base(r);
    } else if (rows_ > 1) {
      const std::size_t half = (rows_ / 2) * cols_;
      parallel_for(half, [&](std::size_t i) { z_[i] = z_[i] + r * (z_[i + half] - z_[i]); });
      z_.resize(half);
    } else {
      fold_top(z_, r);
    }
    bind(r);
  }

  // Row phase with two or more rows left after the fold: fold and the next round in one pass.
  std::array<K, 3> fold_and_round(K r) override {
    if (rows_ < 4) {
      fold(r);
      return round();
    }
    advance_claim(r);
    auto q = base_ ? fused_rows(base_->data.data(), r) : fused_rows(z_.data(), r);
    base_ = nullptr;
    bind(r);
    const std::vector<K> E = lower_row_eq();
    return remember(row_round_values(q, [&] { return q1_sum(z_.data(), rows_ / 2, E); }));
  }

  K final_value() const override { return base_ ? K::from_base(base_->data[0]) : z_[0]; }

 private:
  // eq(s_0 .. s_{v-1}, j) for the rows j below the top remaining row variable v.
  std::vector<K> lower_row_eq() const { return eq_table<K>(std::span<const K>(s_.data(), ceil_log2(rows_) - 1)); }

  // sum_k eq(r, k) z[k]^2 for one row.
  template <class T>
  K column_weighted_squares(const T* z) const {
    LazyDot<K, T> acc;
    for (std::size_t k = 0; k < cols_; ++k) acc.add(ec_[k], z[k].square());
    return acc.result();
  }

  // q(0) and q(2): sum_j E[j] sum_k eq(r, k) z_t[j][k]^2 with z_t = lo + t (hi - lo), rows lo = j
  // and hi = j + half.
  template <class T>
  std::array<K, 2> q_sums(const T* z, std::size_t half, const std::vector<K>& E) const {
    return parallel_sum<K, 2>(half, [&](std::size_t j) { return pair_q(z + j * cols_, z + (j + half) * cols_, E[j]); });
  }

  template <class T>
  std::array<K, 2> pair_q(const T* lo, const T* hi, K e) const {
    LazyDot<K, T> q0, q2;
    for (std::size_t k = 0; k < cols_; ++k) {
      T z2 = hi[k] + hi[k] - lo[k];
      q0.add(ec_[k], lo[k].square());
      q2.add(ec_[k], z2.square());
    }
    return {e * q0.result(), e * q2.result()};
  }

  // q(1) directly: only needed when c eq(s_v, 1) = 0, with probability about rounds / |K|.
  template <class T>
  K q1_sum(const T* z, std::size_t half, const std::vector<K>& E) const {
    return parallel_sum<K, 1>(half, [&](std::size_t j) {
      return std::array<K, 1>{E[j] * column_weighted_squares(z + (j + half) * cols_)};
    })[0];
  }

  // Fold rows (j, j + rows/2) with r into a table of rows/2 rows, and return q(0), q(2) of the next
  // round from its pairs (j, j + rows/4).
  // From the base table the folded rows go to a new K table; a K table is folded in place (each
  // task reads rows j, j + rows/4, j + rows/2, j + 3 rows/4 before writing rows j, j + rows/4).
  template <class T>
  std::array<K, 2> fused_rows(const T* z, K r) {
    const std::size_t quarter = rows_ / 4, half = rows_ / 2, C = cols_;
    const bool in_place = base_ == nullptr;  // (with F = K the types alone cannot tell)
    std::vector<K> fresh(in_place ? 0 : half * C);
    K* out = in_place ? z_.data() : fresh.data();
    // The next round's lower-row eq: s_0 .. s_{v-2}, v the variable bound now.
    const std::vector<K> E = eq_table<K>(std::span<const K>(s_.data(), ceil_log2(rows_) - 2));
    auto q = parallel_sum<K, 2>(quarter, [&](std::size_t j) {
      K* lo = out + j * C;
      K* hi = out + (j + quarter) * C;
      const T* a = z + j * C;
      const T* b = z + (j + half) * C;
      const T* c = z + (j + quarter) * C;
      const T* d = z + (j + quarter + half) * C;
      for (std::size_t k = 0; k < C; ++k) {
        lo[k] = embed<K>(a[k]) + mul_base(r, b[k] - a[k]);
        hi[k] = embed<K>(c[k]) + mul_base(r, d[k] - c[k]);
      }
      return pair_q<K>(lo, hi, E[j]);  // the rows just written are still in cache
    });
    if (in_place) {
      z_.resize(half * C);
    } else {
      z_ = std::move(fresh);
    }
    return q;
  }

  // h(0), h(2), h(3) of a row round from q(0), q(2): h(X) = c eq(s_v, X) q(X).
  template <class DirectQ1>
  std::array<K, 3> row_round_values(std::array<K, 2> q, DirectQ1 direct_q1) const {
    const K sv = s_[ceil_log2(rows_) - 1], one = K::one();
    const K e0 = one - sv, e2 = sv + sv + sv - one, e3 = sv + sv + sv + sv + sv - one - one;
    const K h0 = bound_ * e0 * q[0];
    const K denom = bound_ * sv;
    const K q1 = denom != K::zero() ? (claim_ - h0) * denom.inverse() : direct_q1();
    const K q3 = q[0] - q1 - q1 - q1 + q[1] + q[1] + q[1];  // the quadratic through 0, 1, 2 at 3
    return {h0, bound_ * e2 * q[1], bound_ * e3 * q3};
  }

  // A column round on a single row: h(t) = c sum_k eq_t(r, k) z_t[k]^2, eq_t extended linearly.
  template <class T>
  std::array<K, 3> column_round(const T* z) const {
    const std::size_t half = cols_ / 2;
    auto h = parallel_sum<K, 3>(half, [&](std::size_t k) {
      T d = z[k + half] - z[k], z2 = z[k + half] + d, z3 = z2 + d;
      K e0 = ec_[k], de = ec_[k + half] - ec_[k], e2 = ec_[k + half] + de, e3 = e2 + de;
      return std::array<K, 3>{mul_base(e0, z[k].square()), mul_base(e2, z2.square()), mul_base(e3, z3.square())};
    });
    return {bound_ * h[0], bound_ * h[1], bound_ * h[2]};
  }

  void fold_from_base(K r) {
    const F* z = base_->data.data();
    const std::size_t half = rows_ > 1 ? (rows_ / 2) * cols_ : cols_ / 2;
    z_.resize(half);
    parallel_for(half, [&](std::size_t i) { z_[i] = K::from_base(z[i]) + mul_base(r, z[i + half] - z[i]); });
    base_ = nullptr;
  }

  std::array<K, 3> remember(std::array<K, 3> h) {
    last_ = h;
    return h;
  }

  // The claim moves to h(r) (h(1) = claim - h(0)).
  void advance_claim(K r) {
    const std::array<K, 4> values{last_[0], claim_ - last_[0], last_[1], last_[2]};
    claim_ = interpolate<K>(values, r);
  }

  // The top remaining variable is now bound to r.
  void bind(K r) {
    if (rows_ > 1) {
      const K sv = s_[ceil_log2(rows_) - 1];
      bound_ *= sv * r + (K::one() - sv) * (K::one() - r);  // eq(s_v, r)
      rows_ /= 2;
    } else {
      fold_top(ec_, r);
      cols_ /= 2;
    }
  }

  const Table2D<F>* base_;  // the unfolded table, until the first fold
  std::vector<K> z_;        // the folded table, rows_ x cols_
  std::size_t rows_, cols_;
  std::vector<K> s_;        // the row point
  std::vector<K> ec_;       // eq(r, .) over the remaining columns
  K claim_;                 // the sum over the remaining variables
  K bound_ = K::one();      // eq(s, .) over the row variables bound so far
  std::array<K, 3> last_{}; // the latest round's h(0), h(2), h(3)
};

}  // namespace nnproof
