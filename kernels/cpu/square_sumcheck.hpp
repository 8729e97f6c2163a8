// SPDX-License-Identifier: Apache-2.0
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
//
// With a carry (square_group_sums, run as the next layer's col_combine: same table, same r) the
// first two rounds come from per-group sums in O(rows) (carried_rounds.hpp), and the third reads Z once, folding both
// bound variables at once: Z is read once for V and rounds 1-2 instead of three times, and the
// half-size table of round 2 is never written.
//
// The passes over a table (the group sums, a pair's q(0) and q(2), the folds) are portable loops
// (sumcheck_kernels.hpp), and for m61 with K = F_{p^2} and m127 AVX-512 kernels with the same
// results (SimdKernels).
#include <algorithm>
#include <array>
#include <cassert>
#include <cstdint>
#include <optional>
#include <span>
#include <type_traits>
#include <vector>

#include "core/lazy.hpp"
#include "core/polynomial.hpp"
#include "kernels/cpu/carried_rounds.hpp"
#include "kernels/cpu/eq_parallel.hpp"
#include "kernels/cpu/m127_kernels.hpp"
#include "kernels/cpu/m61_kernels.hpp"
#include "kernels/cpu/narrow_table.hpp"
#include "kernels/cpu/square_group_sums.hpp"
#include "kernels/cpu/sumcheck_kernels.hpp"
#include "kernels/engine/engine.hpp"
#include "kernels/engine/uninitialized.hpp"
#include "verifier/parallel.hpp"

namespace nnproof {

template <class Cfg>
class CpuSquareSumcheck final : public SumcheckProver<typename Cfg::K> {
  using F = typename Cfg::F;
  using K = typename Cfg::K;
  using Simd = SimdKernels<F, K>;

 public:
  // group_sums: square_group_sums(Z, eq(r, .)), or empty.
  CpuSquareSumcheck(const Table2D<F>& Z, std::span<const K> s, std::span<const K> r, K claim,
                    const std::vector<K>& group_sums)
      : base_(&Z), rows_(Z.rows), cols_(Z.cols), s_(s.begin(), s.end()), ec_(eq_table<K>(r)), claim_(claim) {
    if (rows_ >= 4 && group_sums.size() == kGroupSums * (rows_ / 4)) {
      carried_.emplace(group_sums, std::span<const K>(s_.data(), ceil_log2(rows_) - 2));
      stage_ = Stage::carried_round1;
    }
    // A narrow Z (narrow_table.hpp) is read in place by the carried rounds' one pass over it
    // (fold_two_from_base); without a carry, the rounds read a widened copy.
    narrow_ = narrow_table(Z);
    if (narrow_ && stage_ != Stage::carried_round1) {
      widened_ = Z;
      widen_narrow_table(widened_);
      base_ = &widened_, narrow_ = nullptr;
    }
    if constexpr (Simd::kHave) simd_weights_.emplace(std::span<const K>(ec_.data(), cols_));  // ec_ never reallocates
  }

  std::array<K, 3> round() override {
    switch (stage_) {
      case Stage::carried_round1:
        return remember(carried_round(carried_->round1(s_[ceil_log2(rows_) - 2])));
      case Stage::carried_round2:
        return remember(carried_round(carried_->round2(rho1_)));
      case Stage::base:
        return remember(table_round(base_->data.data()));
      case Stage::folded:
        write_zero_rows();
        return remember(table_round(z_.data()));
    }
    return {};
  }

  void fold(K r) override {
    advance_claim(r);
    switch (stage_) {
      case Stage::carried_round1:  // b1 is bound, but folded with b2 later (fold_two_from_base)
        bind(r);
        rho1_ = r;
        stage_ = Stage::carried_round2;
        return;
      case Stage::carried_round2:
        fold_two_from_base(r);
        break;
      case Stage::base:
        fold_from_base(r);
        break;
      case Stage::folded:
        write_zero_rows();
        fold_in_place(r);
        break;
    }
    bind(r);
  }

  // fold(r) then round(), fused into one pass where the folded table has two or more rows.
  std::array<K, 3> fold_and_round(K r) override {
    const bool fused = stage_ == Stage::carried_round2 ? rows_ >= 4 : stage_ != Stage::carried_round1 && rows_ >= 4;
    if (!fused) {  // round 2 of a carry reads the group sums; a table of one row reads columns next
      fold(r);
      return round();
    }
    advance_claim(r);
    std::array<K, 2> q;
    if (stage_ == Stage::carried_round2) {
      q = fold_two_from_base(r, true);
    } else {
      q = stage_ == Stage::base ? fused_rows(base_->data.data(), r) : fused_rows(z_.data(), r);
      stage_ = Stage::folded;
    }
    bind(r);
    // (the lower rows' eq table only where q(1) must be summed directly: rarely)
    return remember(row_round_values(q, [&] { return q1_sum(z_.data(), rows_ / 2, lower_row_eq()); }));
  }

  K final_value() const override {
    assert(stage_ == Stage::base || stage_ == Stage::folded);
    if (stage_ == Stage::base) return K::from_base(base_->data[0]);
    return row_of(z_.data(), 0)[0];  // zero where the last fold left its one row unwritten
  }

 private:
  // Where the sum-check stands: which table the next round reads. Row rounds run while rows_ > 1,
  // then column rounds on the single row left.
  enum class Stage {
    base,            // nothing folded yet: rounds read Z (base_) in the base field
    carried_round1,  // with a carry, nothing folded: round 1 from the weighted group sums
    carried_round2,  // b1 bound to rho1_ but not folded: round 2 from the group sums; the next fold
                     // binds b1 and b2 at once (fold_two_from_base)
    folded,          // rounds read z_, the folded table in K
  };

  // A row or column round on the table z (Z's base values, or the folded table).
  template <class T>
  std::array<K, 3> table_round(const T* z) const {
    if (rows_ == 1) return column_round(z);
    const std::size_t half = rows_ / 2;
    const std::vector<K> E = lower_row_eq();
    return row_round_values(q_sums(z, half, E), [&] { return q1_sum(z, half, E); });
  }

  // The folded table's top variable bound to r, in place.
  void fold_in_place(K r) {
    if (rows_ == 1) return fold_top(z_, r);
    const std::size_t half = (rows_ / 2) * cols_;
    parallel_for(half, [&](std::size_t i) { z_[i] = z_[i] + r * (z_[i + half] - z_[i]); });
    z_.resize(half);
  }

  // eq(s_0 .. s_{v-1}, j) for the rows j below the top remaining row variable v.
  std::vector<K> lower_row_eq() const {
    return eq_table_parallel<K>(std::span<const K>(s_.data(), ceil_log2(rows_) - 1));
  }

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
    std::array<K, 2> q;
    if constexpr (Simd::kHave && std::is_same_v<T, K>) {
      q = Simd::get().pair_q(lo, hi, row_phase_weights());
    } else {
      q = pair_q_portable<K, T>(lo, hi, std::span<const K>(ec_.data(), cols_));
    }
    return {e * q[0], e * q[1]};
  }

  // The row rounds' column weights for the SIMD kernels: built with the sum-check (the kernels run
  // on many threads at once), dropped when the column rounds start folding eq(r, .).
  const typename Simd::Weights& row_phase_weights() const {
    assert(simd_weights_);
    return *simd_weights_;
  }

  template <class T>
  void fold_row(const T* a, const T* b, K r, K* out) const {
    if constexpr (Simd::kHave && std::is_same_v<T, K>) {
      Simd::get().fold_row(a, b, r, out, cols_);
    } else {
      fold_row_portable<K, T>(a, b, r, out, cols_);
    }
  }

  // q(1) directly: only needed when c eq(s_v, 1) = 0, with probability about rounds / |K|. (After
  // a fused fold the table may have unwritten zero rows: row_of reads zeros for them.)
  template <class T>
  K q1_sum(const T* z, std::size_t half, const std::vector<K>& E) const {
    return parallel_sum<K, 1>(
        half, [&](std::size_t j) { return std::array<K, 1>{E[j] * column_weighted_squares(row_of(z, j + half))}; })[0];
  }

  // Fold rows (j, j + rows/2) with r into a table of rows/2 rows, and return q(0), q(2) of the next
  // round from its pairs (j, j + rows/4).
  // From the base table the folded rows go to a new K table; a K table is folded in place (each
  // task reads rows j, j + rows/4, j + rows/2, j + 3 rows/4 before writing rows j, j + rows/4).
  template <class T>
  std::array<K, 2> fused_rows(const T* z, K r) {
    const std::size_t quarter = rows_ / 4, half = rows_ / 2, C = cols_;
    const bool in_place = stage_ == Stage::folded;  // (with F = K the types alone cannot tell)
    UninitializedVector<K> fresh(in_place ? 0 : half * C);
    K* out = in_place ? z_.data() : fresh.data();
    // The next round's lower-row eq: s_0 .. s_{v-2}, v the variable bound now.
    const std::vector<K> E = eq_table_parallel<K>(std::span<const K>(s_.data(), ceil_log2(rows_) - 2));
    std::vector<std::uint8_t> zero = folded_zero_rows(half);  // of the folded rows: none written
    const auto is_zero = [&](std::size_t j) { return !zero.empty() && zero[j]; };
    auto q = parallel_sum_by<K, 2>(quarter, uneven_grain(zero), [&](std::size_t j) {
      K* lo = out + j * C;
      K* hi = out + (j + quarter) * C;
      const bool lo_zero = is_zero(j), hi_zero = is_zero(j + quarter);
      if (lo_zero && hi_zero) return std::array<K, 2>{K::zero(), K::zero()};
      if (!lo_zero) fold_row<T>(row_of(z, j), row_of(z, j + half), r, lo);
      if (!hi_zero) fold_row<T>(row_of(z, j + quarter), row_of(z, j + quarter + half), r, hi);
      // the rows just written are still in cache
      return pair_q<K>(lo_zero ? zeros_.data() : lo, hi_zero ? zeros_.data() : hi, E[j]);
    });
    zero_ = std::move(zero);
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

  // h(0), h(2), h(3) of a carried round from its q(0), q(1), q(2) (CarriedRounds).
  std::array<K, 3> carried_round(const std::array<K, 3>& q) const {
    return row_round_values({q[0], q[2]}, [&] { return q[1]; });
  }

  // Binds b1 = rho1 and b2 = rho2 at once: z = a_0 + rho1 d_0 + rho2 (a_1 - a_0) + rho1 rho2 (d_1 - d_0).
  // bind(rho2) has not run yet: rows_ is still rows / 2. With `and_round`, also returns q(0), q(2)
  // of the next round from the folded rows' pairs (g, g + rows / 8) while they are in cache.
  std::array<K, 2> fold_two_from_base(K rho2, bool and_round = false) {
    const std::size_t C = cols_, quarter = rows_ / 2, half = rows_, eighth = quarter / 2;
    const std::size_t chunk = widen_chunk(*base_, narrow_);
    const NarrowFoldTwo<F, K, std::int32_t> kernel32 = narrow_fold_two_kernel<F, K>(narrow_);
    const NarrowFoldTwo<F, K, std::int64_t> kernel64 = wide_fold_two_kernel<F, K>(narrow_);
    // The folded rows that are zero (every row of their group is): never written (zero_).
    std::vector<std::uint8_t> zero;
    if (narrow_ && (!narrow_->zero_rows.empty() || narrow_->real_rows < 2 * half)) {
      zero.resize(quarter);
      for (std::size_t g = 0; g < quarter; ++g) zero[g] = narrow_->zero_group(g, quarter);
      if (std::find(zero.begin(), zero.end(), 1) == zero.end()) zero.clear();
    }
    const auto is_zero = [&](std::size_t g) { return !zero.empty() && zero[g]; };
    if (!zero.empty()) zeros_.assign(C, K::zero());
    auto fold_group = [&](std::size_t g) {
      if (is_zero(g)) return;
      const auto fold_in_place = [&](auto kernel, const auto* entries) {  // the rows read as they are
        const auto* z = entries + g * C;
        if (g + half >= narrow_->real_rows)  // rows g + half on: padding, zero
          return kernel(z, z + quarter * C, nullptr, nullptr, rho1_, rho2, z_.data() + g * C, C);
        kernel(z, z + quarter * C, z + half * C, z + (quarter + half) * C, rho1_, rho2, z_.data() + g * C, C);
      };
      if (kernel32) return fold_in_place(kernel32, narrow_->entries32());
      if (kernel64) return fold_in_place(kernel64, narrow_->v64.data());
      WidenBuffer<F> buf;  // a narrow Z's rows, widened (square_group_sums' chunks)
      for (std::size_t c0 = 0; c0 < C; c0 += chunk) {
        const auto z =
            rows_at<F, 4>(*base_, narrow_, {g, g + quarter, g + half, g + quarter + half}, c0, chunk, buf.data());
        K* out = z_.data() + g * C + c0;
        if constexpr (Simd::kHave) {
          Simd::get().fold_two(z[0], z[1], z[2], z[3], rho1_, rho2, out, chunk);
        } else {
          fold_two_portable<F, K>(z[0], z[1], z[2], z[3], rho1_, rho2, out, chunk);
        }
      }
    };
    z_.resize(quarter * C);
    std::array<K, 2> q{};
    if (and_round) {
      // The round after binds the top variable of the folded table: s_v with v = log2(rows) - 3.
      const std::vector<K> E = eq_table_parallel<K>(std::span<const K>(s_.data(), ceil_log2(rows_) - 2));
      q = parallel_sum_by<K, 2>(eighth, uneven_grain(zero), [&](std::size_t g) {
        if (is_zero(g) && is_zero(g + eighth)) return std::array<K, 2>{K::zero(), K::zero()};
        fold_group(g);
        fold_group(g + eighth);
        const K* lo = is_zero(g) ? zeros_.data() : z_.data() + g * C;
        const K* hi = is_zero(g + eighth) ? zeros_.data() : z_.data() + (g + eighth) * C;
        return pair_q<K>(lo, hi, E[g]);
      });
    } else {
      parallel_for(quarter, fold_group);
    }
    zero_ = std::move(zero);
    stage_ = Stage::folded;
    return q;
  }

  void fold_from_base(K r) {
    const F* z = base_->data.data();
    const std::size_t half = rows_ > 1 ? (rows_ / 2) * cols_ : cols_ / 2;
    z_.resize(half);
    parallel_for(half, [&](std::size_t i) { z_[i] = K::from_base(z[i]) + mul_base(r, z[i + half] - z[i]); });
    stage_ = Stage::folded;
  }

  // Row j of the table z that the next pass reads (z_, or the base table where nothing is folded
  // yet): the row of zeros where z_'s row j is zero and unwritten.
  template <class T>
  const T* row_of(const T* z, std::size_t j) const {
    if constexpr (std::is_same_v<T, K>)
      if (!zero_.empty() && zero_[j]) return zeros_.data();
    return z + j * cols_;
  }

  // How parallel_sum_by hands out a pass's rows: where some are zero and skipped (zero, non-empty)
  // they come in runs (an image's padding rows and columns), and a static split gave one thread up
  // to twice the other's rows (CNN-2-Quad's first Z); then chunks of about kUnevenChunk entries as
  // threads free up. Else one contiguous range a thread (0).
  std::size_t uneven_grain(const std::vector<std::uint8_t>& zero) const {
    constexpr std::size_t kUnevenChunk = std::size_t{1} << 14;
    return zero.empty() ? 0 : std::max<std::size_t>(1, kUnevenChunk / cols_);
  }

  // The zero rows of the table that folding rows (j, j + half) makes: zero where both are.
  std::vector<std::uint8_t> folded_zero_rows(std::size_t half) const {
    if (zero_.empty()) return {};
    std::vector<std::uint8_t> zero(half);
    for (std::size_t j = 0; j < half; ++j) zero[j] = zero_[j] && zero_[j + half];
    if (std::find(zero.begin(), zero.end(), 1) == zero.end()) zero.clear();
    return zero;
  }

  // Writes z_'s zero rows, for the passes that read the table whole (the last row rounds, the
  // column rounds).
  void write_zero_rows() {
    for (std::size_t j = 0; j < zero_.size(); ++j)
      if (zero_[j]) std::fill_n(z_.data() + j * cols_, cols_, K::zero());
    zero_.clear();
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
      simd_weights_.reset();
    }
  }

  const Table2D<F>* base_;               // the unfolded table Z, read until the first fold
  const NarrowTable* narrow_ = nullptr;  // base_'s integer entries where it is narrow
  Table2D<F> widened_;                   // a narrow Z widened, where no carry reads it in place
  Stage stage_ = Stage::base;
  // The folded table, rows_ x cols_: each resize that grows it is written in full but for its zero
  // rows (zero_).
  UninitializedVector<K> z_;
  // Per row of z_, 1 where the row is zero and left unwritten (NarrowTable::zero_rows, folded), or
  // empty (every row written); the passes read zeros_ (cols_ zeros) in its place.
  std::vector<std::uint8_t> zero_;
  std::vector<K> zeros_;
  std::size_t rows_, cols_;
  std::vector<K> s_;                                    // the row point
  std::vector<K> ec_;                                   // eq(r, .) over the remaining columns
  K claim_;                                             // the sum over the remaining variables
  K bound_ = K::one();                                  // eq(s, .) over the row variables bound so far
  std::array<K, 3> last_{};                             // the latest round's h(0), h(2), h(3)
  std::optional<CarriedRounds<K>> carried_;             // rounds 1 and 2 where a carry gave the group sums
  K rho1_ = K::zero();                                  // b1's challenge, not yet folded into a table
  std::optional<typename Simd::Weights> simd_weights_;  // see row_phase_weights
};

}  // namespace nnproof
