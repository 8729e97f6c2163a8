#include "host/engines/cpu_engine.hpp"

#include <omp.h>

#include <cblas.h>
#include <algorithm>
#include <type_traits>

#include "core/lazy.hpp"
#include "host/engines/limb_gemm.hpp"
#include "verifier/parallel.hpp"

namespace nnproof {

void set_cpu_threads(int threads) {
  if (threads <= 0) return;
  omp_set_num_threads(threads);
  openblas_set_num_threads(threads);
}

namespace {

template <class F>
u128 raw_value(F x) { return static_cast<u128>(x.v); }

// The sum-check of sum_j A[j] V[j].
template <class K>
class CpuProductSumcheck final : public SumcheckProver<K> {
 public:
  CpuProductSumcheck(std::vector<K> A, std::vector<K> V) : a_(std::move(A)), v_(std::move(V)) {}
  std::array<K, 3> round() override {
    const std::size_t half = a_.size() / 2;
    auto h = parallel_sum<K, 2>(half, [&](std::size_t i) {
      K a2 = a_[i + half] + a_[i + half] - a_[i], v2 = v_[i + half] + v_[i + half] - v_[i];
      return std::array<K, 2>{a_[i] * v_[i], a2 * v2};
    });
    return {h[0], h[1], K::zero()};
  }
  void fold(K r) override {
    fold_top(a_, r);
    fold_top(v_, r);
  }
  K final_value() const override { return v_[0]; }

 private:
  std::vector<K> a_, v_;
};

// The sum-check of sum_{j,k} eq(s, j) eq(r, k) Z[j][k]^2. The eq factor is kept split as a row
// table (for s) and a column table (for r) instead of one table of Z's size: rows are bound first,
// so only the row table folds until one row is left, then only the column table. The first round
// reads Z in the base field; later rounds read the folded table in K.
template <class Cfg>
class CpuSquareSumcheck final : public SumcheckProver<typename Cfg::K> {
  using F = typename Cfg::F;
  using K = typename Cfg::K;

 public:
  CpuSquareSumcheck(const Table2D<F>& Z, std::span<const K> s, std::span<const K> r)
      : base_(&Z), rows_(Z.rows), cols_(Z.cols), er_(eq_table<K>(s)), ec_(eq_table<K>(r)) {}

  std::array<K, 3> round() override { return base_ ? round_on(base_->data.data()) : round_on(z_.data()); }

  void fold(K r) override {
    if (base_) {
      fold_from_base(r);
    } else if (rows_ > 1) {
      const std::size_t half = (rows_ / 2) * cols_;
      parallel_for(half, [&](std::size_t i) { z_[i] = z_[i] + r * (z_[i + half] - z_[i]); });
      z_.resize(half);
    } else {
      fold_top(z_, r);
    }
    if (rows_ > 1) {
      fold_top(er_, r);
      rows_ /= 2;
    } else {
      fold_top(ec_, r);
      cols_ /= 2;
    }
  }

  // Row phase with at least two rows left after the fold: one pass reads four rows of the table,
  // writes the two folded rows and accumulates the next round's sums from them.
  std::array<K, 3> fold_and_round(K r) override {
    if (rows_ < 4) {
      fold(r);
      return round();
    }
    return base_ ? fused_rows(base_->data.data(), r) : fused_rows(z_.data(), r);
  }

  K final_value() const override { return base_ ? K::from_base(base_->data[0]) : z_[0]; }

 private:
  template <class T>
  std::array<K, 3> fused_rows(const T* z, K r) {
    const std::size_t quarter = rows_ / 4, half = rows_ / 2, C = cols_;
    std::vector<K> out(half * C);  // the folded table: rows_ / 2 rows
    fold_top(er_, r);
    auto h = parallel_sum<K, 3>(quarter, [&](std::size_t j) {
      K* lo = out.data() + j * C;               // folded row j
      K* hi = out.data() + (j + quarter) * C;   // folded row j + quarter
      const T* a = z + j * C;
      const T* b = z + (j + half) * C;
      const T* c = z + (j + quarter) * C;
      const T* d = z + (j + quarter + half) * C;
      for (std::size_t k = 0; k < C; ++k) {
        lo[k] = embed<K>(a[k]) + mul_base(r, b[k] - a[k]);
        hi[k] = embed<K>(c[k]) + mul_base(r, d[k] - c[k]);
      }
      return row_pair_sums<K>(lo, hi, j, quarter);  // the rows just written are still in cache
    });
    z_ = std::move(out);
    base_ = nullptr;
    rows_ /= 2;
    return h;
  }

  // Row pair (j, j + offset)'s share of h(t), t = 0, 2, 3: eq(s, .) extended to t times
  // sum_k eq(r, k) z_t[k]^2, with z_t = lo + t (hi - lo).
  template <class T>
  std::array<K, 3> row_pair_sums(const T* lo, const T* hi, std::size_t j, std::size_t offset) const {
    LazyDot<K, T> inner0, inner2, inner3;
    for (std::size_t k = 0; k < cols_; ++k) {
      T d = hi[k] - lo[k], z2 = hi[k] + d, z3 = z2 + d;
      inner0.add(ec_[k], lo[k].square());
      inner2.add(ec_[k], z2.square());
      inner3.add(ec_[k], z3.square());
    }
    K e0 = er_[j], de = er_[j + offset] - er_[j], e2 = er_[j + offset] + de, e3 = e2 + de;
    return {e0 * inner0.result(), e2 * inner2.result(), e3 * inner3.result()};
  }

  // h(t) for t = 0, 2, 3 with z_t = z0 + t (z1 - z0) on the pairs of the current top variable.
  template <class T>
  std::array<K, 3> round_on(const T* z) const {
    if (rows_ > 1) {
      const std::size_t half = rows_ / 2;
      return parallel_sum<K, 3>(half, [&](std::size_t j) { return row_pair_sums<T>(z + j * cols_, z + (j + half) * cols_, j, half); });
    }
    const std::size_t half = cols_ / 2;
    auto h = parallel_sum<K, 3>(half, [&](std::size_t k) {
      T d = z[k + half] - z[k], z2 = z[k + half] + d, z3 = z2 + d;
      K e0 = ec_[k], de = ec_[k + half] - ec_[k], e2 = ec_[k + half] + de, e3 = e2 + de;
      return std::array<K, 3>{mul_base(e0, z[k].square()), mul_base(e2, z2.square()), mul_base(e3, z3.square())};
    });
    return {er_[0] * h[0], er_[0] * h[1], er_[0] * h[2]};
  }

  void fold_from_base(K r) {
    const F* z = base_->data.data();
    const std::size_t half = rows_ > 1 ? (rows_ / 2) * cols_ : cols_ / 2;
    z_.resize(half);
    parallel_for(half, [&](std::size_t i) { z_[i] = K::from_base(z[i]) + mul_base(r, z[i + half] - z[i]); });
    base_ = nullptr;
  }

  const Table2D<F>* base_;  // the unfolded table, until the first fold
  std::vector<K> z_;        // the folded table, rows_ x cols_
  std::size_t rows_, cols_;
  std::vector<K> er_, ec_;  // eq(s, .) over the remaining rows, eq(r, .) over the remaining columns
};

// The weights as doubles and the widest exact limbs for them. Rebuilt per call (O(rows x cols),
// small next to the GEMM's O(rows x cols x batch)): nothing outlives the layer it was made from.
struct LayerGemmPlan {
  std::vector<double> weights;
  LimbPlan plan;
};

LayerGemmPlan plan_layer(const QuantizedLayer& q, unsigned field_bits) {
  LayerGemmPlan c;
  std::vector<u128> row_abs(q.rows);
  q.weights.visit([&](const auto* w) {
    parallel_for(q.rows, [&](std::size_t a) {
      u128 row = 0;
      for (std::size_t j = 0; j < q.cols; ++j) {
        const std::int64_t x = w[a * q.cols + j];
        row += x < 0 ? static_cast<u128>(-(x + 1)) + 1 : static_cast<u128>(x);
      }
      row_abs[a] = row;
    });
  });
  const u128 max_row = *std::max_element(row_abs.begin(), row_abs.end());
  if (max_row >> 53) return c;  // no limb width makes DGEMM exact: the direct kernel
  c.plan = plan_limbs(static_cast<std::uint64_t>(max_row), field_bits);
  if (c.plan.limb_bits) {  // exact in doubles: |w| <= max_row < 2^53
    c.weights.resize(q.weights.size());
    q.weights.visit([&](const auto* w) {
      parallel_for(q.rows, [&](std::size_t a) {
        for (std::size_t j = 0; j < q.cols; ++j) c.weights[a * q.cols + j] = static_cast<double>(w[a * q.cols + j]);
      });
    });
  }
  return c;
}

template <class Cfg>
class CpuEngine final : public Engine<Cfg> {
  using F = typename Cfg::F;
  using K = typename Cfg::K;

 public:
  std::string name() const override { return "cpu"; }

  Table2D<F> forward(const FieldLayer<F>& layer, const Table2D<F>& Y, std::size_t batch) override {
    const LayerGemmPlan gemm = plan_layer(*layer.q, F::kBits);
    Table2D<F> Z(padded(layer.rows()), Y.cols);
    if (gemm.plan.limb_bits == 0)
      forward_direct(layer, Y, batch, Z);
    else
      forward_limbs(layer, gemm, Y, batch, Z);
    return Z;
  }

  Table2D<F> square(const Table2D<F>& Z) override {
    Table2D<F> Y(Z.rows, Z.cols);
    parallel_for(Z.data.size(), [&](std::size_t i) { Y.data[i] = Z.data[i] * Z.data[i]; });
    return Y;
  }

  std::vector<K> row_combine(const FieldLayer<F>& layer, std::span<const K> eq_q) override {
    const std::size_t rows = layer.rows(), cols = layer.cols();
    std::vector<K> A(padded(cols), K::zero());
    // Exact int64 limb sums need sum_a |W[a][j]| < 2^32; the storage width bounds |W| a priori.
    const bool limbs_exact = limb_sums_exact(layer.q->weights.width(), rows);
    if (!limbs_exact) {
      parallel_for(cols, [&](std::size_t j) {
        for (std::size_t a = 0; a < rows; ++a) A[j] += mul_base(eq_q[a], F::from_int(layer.q->weights[a * cols + j]));
      });
      return A;
    }
    constexpr unsigned C = KLimbs<K>::kCount;
    std::vector<std::int64_t> el(rows * C);
    for (std::size_t a = 0; a < rows; ++a) KLimbs<K>::split(eq_q[a], el.data() + a * C);
    constexpr std::size_t kBlock = 256;  // columns per task: the block's accumulators stay in L1
    layer.q->weights.visit([&](const auto* w) {
      parallel_for((cols + kBlock - 1) / kBlock, [&](std::size_t blk) {
        const std::size_t j0 = blk * kBlock, n = std::min(cols, j0 + kBlock) - j0;
        std::array<std::int64_t, kBlock * C> acc{};
        for (std::size_t a = 0; a < rows; ++a) {
          const auto* row = w + a * cols + j0;
          const std::int64_t* e = el.data() + a * C;
          for (std::size_t j = 0; j < n; ++j)
            for (unsigned c = 0; c < C; ++c) acc[j * C + c] += static_cast<std::int64_t>(row[j]) * e[c];
        }
        for (std::size_t j = 0; j < n; ++j) A[j0 + j] = KLimbs<K>::join(acc.data() + j * C);
      });
    });
    return A;
  }

  std::vector<K> col_combine(const Table2D<F>& Y, std::span<const K> eq_r) override {
    std::vector<K> V(Y.rows, K::zero());
    parallel_for(Y.rows, [&](std::size_t j) {
      const F* y = Y.data.data() + j * Y.cols;
      LazyDot<K, F> acc;
      for (std::size_t k = 0; k < Y.cols; ++k) acc.add(eq_r[k], y[k]);
      V[j] = acc.result();
    });
    return V;
  }

  std::unique_ptr<SumcheckProver<K>> product_sumcheck(std::vector<K> A, std::vector<K> V) override {
    return std::make_unique<CpuProductSumcheck<K>>(std::move(A), std::move(V));
  }

  std::unique_ptr<SumcheckProver<K>> square_sumcheck(const Table2D<F>& Z, std::span<const K> s,
                                                     std::span<const K> r) override {
    return std::make_unique<CpuSquareSumcheck<Cfg>>(Z, s, r);
  }

 private:
  void forward_limbs(const FieldLayer<F>& layer, const LayerGemmPlan& gemm, const Table2D<F>& Y,
                     std::size_t batch, Table2D<F>& Z) {
    const std::size_t rows = layer.rows(), inner = layer.cols(), L = gemm.plan.limbs, c = gemm.plan.limb_bits;
    const std::size_t ncols = L * batch;
    // Limb matrix: inner x (L * batch), block l holds bits [c l, c (l + 1)) of Y's real columns.
    std::vector<double> limbs(inner * ncols);
    const u128 mask = (u128{1} << c) - 1;
    parallel_for(inner, [&](std::size_t j) {
      for (std::size_t k = 0; k < batch; ++k) {
        u128 y = raw_value(Y.at(j, k));
        for (std::size_t l = 0; l < L; ++l) limbs[j * ncols + l * batch + k] = static_cast<double>(static_cast<std::uint64_t>((y >> (c * l)) & mask));
      }
    });
    std::vector<double> G(rows * ncols);
    dgemm_rowmajor(rows, inner, ncols, gemm.weights.data(), limbs.data(), G.data());
    // Z = sum_l 2^(c l) G_l + bias, each G_l an exact integer below 2^53 in magnitude.
    std::vector<F> shift(L);
    for (std::size_t l = 0; l < L; ++l) shift[l] = pow2(c * l);
    parallel_for(rows, [&](std::size_t a) {
      const double* g = G.data() + a * ncols;
      for (std::size_t k = 0; k < batch; ++k) {
        F acc = layer.bias[a] + F::from_int(static_cast<std::int64_t>(g[k]));
        for (std::size_t l = 1; l < L; ++l) acc += F::from_int(static_cast<std::int64_t>(g[l * batch + k])) * shift[l];
        Z.at(a, k) = acc;
      }
    });
  }

  static F pow2(std::size_t e) {
    F two = F::one() + F::one();
    return two.pow(e);
  }

  void forward_direct(const FieldLayer<F>& layer, const Table2D<F>& Y, std::size_t batch, Table2D<F>& Z) {
    const std::size_t cols = layer.cols();
    parallel_for(layer.rows(), [&](std::size_t a) {
      for (std::size_t k = 0; k < batch; ++k) Z.at(a, k) = layer.bias[a];
      for (std::size_t j = 0; j < cols; ++j) {
        const std::int64_t w = layer.q->weights[a * cols + j];
        if (w == 0) continue;
        const F wf = F::from_int(w);
        for (std::size_t k = 0; k < batch; ++k) Z.at(a, k) += wf * Y.at(j, k);
      }
    });
  }
};

}  // namespace

template <class Cfg>
std::unique_ptr<Engine<Cfg>> make_cpu_engine() {
  return std::make_unique<CpuEngine<Cfg>>();
}

template std::unique_ptr<Engine<M61>> make_cpu_engine<M61>();
template std::unique_ptr<Engine<M127>> make_cpu_engine<M127>();
template std::unique_ptr<Engine<M61Interactive>> make_cpu_engine<M61Interactive>();

}  // namespace nnproof
