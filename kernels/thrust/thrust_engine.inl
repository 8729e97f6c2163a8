// The Thrust engine: the Engine operations as functors plus Thrust algorithms, written once and
// compiled twice (DESIGN.md, "One protocol, several engines"): by nvcc for CUDA (cuda_engine.cu,
// the `cuda` engine) and by the host compiler with THRUST_DEVICE_SYSTEM_OMP (thrust_omp_engine.cpp,
// the `thrust-omp` engine), so every algorithm the GPU runs also runs, and is tested, in CI.
//
// Before including this file a backend defines:
//   NNP_THRUST_NS                 the namespace for this build (the two builds link into one binary)
//   gemm_s8(W, T, C, rows, inner, n)  C (rows x n, int32) = W (rows x inner, int8) * T^T, where T
//                                 (n x inner, int8) holds the limbs one column of the product per
//                                 row: the "TN" layout cuBLAS's int8 tensor-core GEMMs want; inner
//                                 and n are multiples of kGemmAlign; row-major device pointers
//   kEngineName                   "cuda" or "thrust-omp"
//   exec()                        the execution policy of every Thrust call (cuda: with cached
//                                 temporary storage)
//   device_allocate(bytes), device_free(p)  the memory of every device table (cuda: CUB's caching
//                                 allocator; a plain cudaMalloc / cudaFree synchronizes the device)
//
// Tables live in DeviceVectors for the life of a sum-check: a round sends back only its
// two or three values, and each fold is fused with the next round (one pass). The forward pass is
// the exact int8 limb GEMM of DESIGN.md ("Exact modular GEMM"), with a direct modular kernel when
// the weights are wider than int8 or the int32 accumulation could overflow.
#include <thrust/copy.h>
#include <thrust/device_vector.h>
#include <thrust/fill.h>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/discard_iterator.h>
#include <thrust/iterator/transform_iterator.h>
#include <thrust/reduce.h>
#include <thrust/transform.h>
#include <thrust/transform_reduce.h>

#include <array>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/engine/engine.hpp"
#include "kernels/cpu/structured_limbs.hpp"
#include "kernels/engine/weights_cache.hpp"
#include "kernels/thrust/device_vector.hpp"
#include "kernels/thrust/thrust_errors.hpp"
#include "verifier/parallel.hpp"

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
RoundSums<K> zero_sums() {
  return {{K::zero(), K::zero(), K::zero()}};
}

// ---- the sum-check of sum_j A[j] V[j] (degree 2) ----

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

// Binds the top variable of tables of size 4 q to r (writing the halves of size 2 q) and returns
// the next round's terms for pair i of the folded tables: one pass, each entry read once.
template <class K>
struct ProductFoldRound {
  const K* a;
  const K* v;
  K* na;
  K* nv;
  Index q;  // a quarter of the old size: the folded tables have 2 q entries
  K r;
  NNP_HD RoundSums<K> operator()(Index i) const {
    const Index h = 2 * q;
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
  K r;
  NNP_HD void operator()(Index i) const { out[i] = t[i] + r * (t[i + half] - t[i]); }
};

// Sizes `spare` to n entries for a pass to overwrite. Tables shrink by half each round, so from the
// second round on the spare is the table of the round before and shrinking it allocates nothing:
// a sum-check allocates its tables' memory once, not once per round.
template <class K>
void prepare_spare(DeviceVector<K>& spare, Index n) {
  NNP_THRUST(spare.resize(n));
}

// Binds the top variable of t to r, through `spare` (the two then swap).
template <class K>
void fold_table(DeviceVector<K>& t, DeviceVector<K>& spare, K r) {
  const Index half = t.size() / 2;
  prepare_spare(spare, half);
  NNP_THRUST(thrust::for_each(exec(), count(0), count(half), FoldTop<K>{raw(t), raw(spare), half, r}));
  t.swap(spare);
}

template <class K>
std::array<K, 3> to_array(const RoundSums<K>& s) {
  return {s.h[0], s.h[1], s.h[2]};
}

template <class K>
class ProductSumcheck final : public SumcheckProver<K> {
 public:
  ProductSumcheck(const std::vector<K>& A, const std::vector<K>& V)
      : a_(NNP_THRUST(DeviceVector<K>(A.begin(), A.end()))), v_(NNP_THRUST(DeviceVector<K>(V.begin(), V.end()))) {}

  std::array<K, 3> round() override {
    const Index half = a_.size() / 2;
    return to_array(NNP_THRUST(thrust::transform_reduce(
        exec(), count(0), count(half), ProductRound<K>{raw(a_), raw(v_), half}, zero_sums<K>(), AddSums<K>{})));
  }
  void fold(K r) override {
    fold_table(a_, spare_a_, r);
    fold_table(v_, spare_v_, r);
  }
  std::array<K, 3> fold_and_round(K r) override {
    const Index q = a_.size() / 4;
    prepare_spare(spare_a_, 2 * q);
    prepare_spare(spare_v_, 2 * q);
    auto h = NNP_THRUST(thrust::transform_reduce(
        exec(), count(0), count(q), ProductFoldRound<K>{raw(a_), raw(v_), raw(spare_a_), raw(spare_v_), q, r},
        zero_sums<K>(), AddSums<K>{}));
    a_.swap(spare_a_);
    v_.swap(spare_v_);
    return to_array(h);
  }
  K final_value() const override { return NNP_THRUST(K(v_[0])); }

 private:
  DeviceVector<K> a_, v_, spare_a_, spare_v_;
};

// ---- the sum-check of sum_{j,k} eq(s, j) eq(r, k) Z[j][k]^2 (degree 3), rows bound first ----
//
// The eq factor is kept split, a row table es (eq(s, .), folded with the rows) and a column table
// er (eq(r, .)), so no table of Z's size but Z itself is ever built. While rows remain, pair
// (i, i + half) of Z is rows j and j + rows/2 of column k; after the last row is bound, es is one
// value and the pairs run along the columns.

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
  K r;
  NNP_HD RoundSums<K> operator()(Index i) const {
    const Index h = 2 * q;
    const K z0 = z[i] + r * (z[i + h] - z[i]), z1 = z[i + q] + r * (z[i + q + h] - z[i + q]);
    nz[i] = z0, nz[i + q] = z1;
    K e0, e1;
    shape.weights(i, e0, e1);
    return square_terms(e0, e1, z0, z1);
  }
};

template <class F, class K>
struct LiftToK {
  NNP_HD K operator()(F x) const { return K::from_base(x); }
};

template <class Cfg>
class SquareSumcheck final : public SumcheckProver<typename Cfg::K> {
  using F = typename Cfg::F;
  using K = typename Cfg::K;

 public:
  // z: the rows x cols table Z in the base field, already on the device.
  SquareSumcheck(const DeviceVector<F>& z, Index rows, Index cols, std::span<const K> s, std::span<const K> r)
      : rows_(rows),
        cols_(cols),
        es_(NNP_THRUST(DeviceVector<K>(eq_table<K>(s)))),
        er_(NNP_THRUST(DeviceVector<K>(eq_table<K>(r)))),
        z_(NNP_THRUST(DeviceVector<K>(z.size()))) {
    NNP_THRUST(thrust::transform(exec(), z.begin(), z.end(), z_.begin(), LiftToK<F, K>{}));
  }

  std::array<K, 3> round() override {
    const Index half = z_.size() / 2;
    return to_array(NNP_THRUST(thrust::transform_reduce(
        exec(), count(0), count(half), SquareRound<K>{shape(), raw(z_), half}, zero_sums<K>(), AddSums<K>{})));
  }
  void fold(K r) override {
    fold_eq(r);
    fold_table(z_, spare_z_, r);
  }
  std::array<K, 3> fold_and_round(K r) override {
    fold_eq(r);
    const Index q = z_.size() / 4;
    prepare_spare(spare_z_, 2 * q);
    auto h = NNP_THRUST(thrust::transform_reduce(exec(), count(0), count(q),
                                                 SquareFoldRound<K>{shape(), raw(z_), raw(spare_z_), q, r},
                                                 zero_sums<K>(), AddSums<K>{}));
    z_.swap(spare_z_);
    return to_array(h);
  }
  K final_value() const override { return NNP_THRUST(K(z_[0])); }

 private:
  SquareShape<K> shape() const { return {raw(es_), raw(er_), rows_, cols_}; }
  // Binds the top variable of the eq factor: a row while rows remain, then a column.
  void fold_eq(K r) {
    if (rows_ > 1) {
      fold_table(es_, spare_e_, r);
      rows_ /= 2;
    } else {
      fold_table(er_, spare_e_, r);
      cols_ /= 2;
    }
  }

  Index rows_, cols_;
  DeviceVector<K> es_, er_, z_, spare_z_, spare_e_;
};

// ---- forward: exact int8 limb GEMM ----
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

inline bool int8_gemm_exact(std::size_t inner) { return inner * 127 * 128 < (std::size_t{1} << 31); }

// Dimensions handed to the int8 GEMM are padded with zeros to multiples of this: cuBLAS's int8
// kernels need leading dimensions that are multiples of 4 (16 keeps rows aligned for IMMA).
constexpr Index kGemmAlign = 16;
inline Index align_up(Index x) { return (x + kGemmAlign - 1) / kGemmAlign * kGemmAlign; }

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

// A layer's int8 weights on the device, in rows of align_up(cols) entries (zero padded) as the
// limb GEMM reads them; row_combine reads them too. The engine keeps them across calls in a
// WeightsCache, so a proof uploads each layer's weights once instead of in every forward and
// row_combine; the host copy is what holds() compares a call's weights with, byte for byte.
class DeviceInt8Weights {
 public:
  DeviceInt8Weights(const std::int8_t* w, Index rows, Index cols)
      : host_(w, w + rows * cols),
        rows_(rows),
        cols_(cols),
        padded_(NNP_THRUST(DeviceVector<std::int8_t>(rows * align_up(cols), 0))) {
    const auto dense = NNP_THRUST(DeviceVector<std::int8_t>(host_.begin(), host_.end()));
    NNP_THRUST(
        thrust::for_each(exec(), count(0), count(rows * cols), WidenWeights{raw(dense), raw(padded_), cols, stride()}));
  }
  bool holds(const std::int8_t* w, Index rows, Index cols) const {
    return rows == rows_ && cols == cols_ && equal_in_parallel(host_.data(), w, host_.size());
  }
  Index stride() const { return align_up(cols_); }  // entries per row on the device
  const std::int8_t* data() const { return raw(padded_); }

 private:
  std::vector<std::int8_t> host_;
  Index rows_, cols_;
  DeviceVector<std::int8_t> padded_;
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

// ---- the other bulk operations ----

template <class F>
struct SquareEntry {
  NNP_HD F operator()(F x) const { return x * x; }
};

// col_combine as one keyed reduction over the flat table: entry i = (j, k) of Y, weighted by
// eq_r[k], summed per row j. Consecutive threads read consecutive entries (coalesced), and every
// entry has a thread: a thread per row left a GPU with a few thousand threads striding rows.
struct RowOfEntry {
  Index cols;
  NNP_HD Index operator()(Index i) const { return i / cols; }
};
template <class K, class F>
struct WeightedEntry {
  const F* y;
  const K* eq_r;
  Index cols;
  NNP_HD K operator()(Index i) const { return mul_base(eq_r[i % cols], y[i]); }
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

// A table this engine produced: it stays on the device for the whole proof (Table2D::device).
template <class F>
struct DeviceTable final : DeviceCopy {
  explicit DeviceTable(DeviceVector<F> values) : v(std::move(values)) {}
  DeviceVector<F> v;
};

template <class Cfg>
class ThrustEngine final : public Engine<Cfg> {
  using F = typename Cfg::F;
  using K = typename Cfg::K;

 public:
  std::string name() const override { return kEngineName; }

  void to_host(Table2D<F>& t) override {
    if (t.on_host()) return;
    const auto& v = on_device(t);
    t.data.resize(v.size());
    NNP_THRUST(thrust::copy(v.begin(), v.end(), t.data.begin()));
  }

  // The input table goes to the device once: the first layer's forward and its col_combine read it.
  Table2D<F> input_table(const std::vector<F>& input, std::size_t n0, std::size_t batch) override {
    const Table2D<F> X = Engine<Cfg>::input_table(input, n0, batch);
    return device_table(X.rows, X.cols, NNP_THRUST(DeviceVector<F>(X.data.begin(), X.data.end())));
  }

  Table2D<F> forward(const FieldLayer<F>& layer, const Table2D<F>& Y, std::size_t batch) override {
    if (layer.q->structured()) return structured_forward_limbs(layer, host_copy(Y), batch);  // host: ARCHITECTURE.md
    const Index rows = layer.rows(), cols = layer.cols();
    DeviceVector<F> upload;
    const DeviceVector<F>& y = device_view(Y, upload);
    const auto bias = NNP_THRUST(DeviceVector<F>(layer.bias.begin(), layer.bias.end()));
    auto z = NNP_THRUST(DeviceVector<F>(padded(rows) * Y.cols, F::zero()));
    if (const std::int8_t* w8 = layer.q->weights.int8_data(); w8 && int8_gemm_exact(cols)) {
      const DeviceInt8Weights& w = int8_weights(w8, rows, cols);
      const Index kp = w.stride(), n = align_up(limb_count<F>() * batch);
      auto limbs_t = NNP_THRUST(DeviceVector<std::int8_t>(n * kp, 0));  // zero in the padding the split leaves
      auto g = NNP_THRUST(DeviceVector<std::int32_t>(rows * n));
      NNP_THRUST(thrust::for_each(exec(), count(0), count(batch * cols),
                                  SplitLimbs<F>{raw(y), raw(limbs_t), Y.cols, cols, batch, kp}));
      gemm_s8(w.data(), raw(limbs_t), raw(g), rows, kp, n);
      NNP_THRUST(thrust::for_each(exec(), count(0), count(rows * batch),
                                  Recombine<F>{raw(g), raw(bias), raw(z), Y.cols, batch, n}));
    } else {
      const std::vector<std::int64_t> w64 = layer.q->weights.to_vector();
      const auto w = NNP_THRUST(DeviceVector<std::int64_t>(w64.begin(), w64.end()));
      NNP_THRUST(thrust::for_each(exec(), count(0), count(rows * batch),
                                  DirectRow<F>{raw(w), raw(y), raw(bias), raw(z), cols, Y.cols, batch}));
    }
    return device_table(padded(rows), Y.cols, std::move(z));
  }

  Table2D<F> square(const Table2D<F>& Z) override {
    DeviceVector<F> upload;
    const DeviceVector<F>& z = device_view(Z, upload);
    auto y = NNP_THRUST(DeviceVector<F>(z.size()));
    NNP_THRUST(thrust::transform(exec(), z.begin(), z.end(), y.begin(), SquareEntry<F>{}));
    return device_table(Z.rows, Z.cols, std::move(y));
  }

  std::vector<K> row_combine(const FieldLayer<F>& layer, std::span<const K> eq_q) override {
    if (layer.q->structured()) return structured_row_combine<K>(layer, eq_q);
    const Index rows = layer.rows(), cols = layer.cols();
    const auto e = NNP_THRUST(DeviceVector<K>(eq_q.begin(), eq_q.begin() + static_cast<std::ptrdiff_t>(rows)));
    auto a = NNP_THRUST(DeviceVector<K>(padded(cols), K::zero()));
    const auto combine = [&](const auto* w, Index stride) {
      using W = std::remove_cv_t<std::remove_pointer_t<decltype(w)>>;
      const Index blocks = (rows + kRowBlock - 1) / kRowBlock;
      auto partial = NNP_THRUST(DeviceVector<K>(blocks * cols));
      NNP_THRUST(thrust::for_each(exec(), count(0), count(blocks * cols),
                                  RowBlockCombine<K, F, W>{w, raw(e), raw(partial), rows, cols, stride}));
      NNP_THRUST(thrust::for_each(exec(), count(0), count(cols), SumRowBlocks<K>{raw(partial), raw(a), blocks, cols}));
    };
    if (const std::int8_t* w8 = layer.q->weights.int8_data()) {
      const DeviceInt8Weights& w = int8_weights(w8, rows, cols);  // the forward pass's copy
      combine(w.data(), w.stride());
    } else {
      layer.q->weights.visit([&](const auto* host_w) {  // uploaded at their storage width
        using W = std::remove_cv_t<std::remove_pointer_t<decltype(host_w)>>;
        const auto w = NNP_THRUST(DeviceVector<W>(host_w, host_w + rows * cols));
        combine(raw(w), cols);
      });
    }
    std::vector<K> out(a.size());
    NNP_THRUST(thrust::copy(a.begin(), a.end(), out.begin()));
    return out;
  }

  std::vector<K> col_combine(const Table2D<F>& Y, std::span<const K> eq_r) override {
    DeviceVector<F> upload;
    const DeviceVector<F>& y = device_view(Y, upload);
    const auto e = NNP_THRUST(DeviceVector<K>(eq_r.begin(), eq_r.end()));
    auto v = NNP_THRUST(DeviceVector<K>(Y.rows));
    const auto row = thrust::make_transform_iterator(count(0), RowOfEntry{Y.cols});
    NNP_THRUST(
        thrust::reduce_by_key(exec(), row, row + static_cast<std::ptrdiff_t>(Y.rows * Y.cols),
                              thrust::make_transform_iterator(count(0), WeightedEntry<K, F>{raw(y), raw(e), Y.cols}),
                              thrust::make_discard_iterator(), v.begin()));
    std::vector<K> out(Y.rows);
    NNP_THRUST(thrust::copy(v.begin(), v.end(), out.begin()));
    return out;
  }

  std::unique_ptr<SumcheckProver<K>> product_sumcheck(std::vector<K> A, std::vector<K> V) override {
    return std::make_unique<ProductSumcheck<K>>(A, V);
  }

  std::unique_ptr<SumcheckProver<K>> square_sumcheck(const Table2D<F>& Z, std::span<const K> s, std::span<const K> r,
                                                     K /*claim*/, SquareCarry<K> /*carry*/) override {
    DeviceVector<F> upload;
    return std::make_unique<SquareSumcheck<Cfg>>(device_view(Z, upload), Z.rows, Z.cols, s, r);
  }

 private:
  static const DeviceVector<F>* ours(const Table2D<F>& t) {
    const auto* d = dynamic_cast<const DeviceTable<F>*>(t.device.get());
    return d ? &d->v : nullptr;
  }
  static const DeviceVector<F>& on_device(const Table2D<F>& t) {
    const auto* v = ours(t);
    if (!v) throw std::logic_error("a table with neither host data nor a device copy of this engine");
    return *v;
  }
  // The table's device copy when this engine made it, else its host data uploaded into `upload`.
  static const DeviceVector<F>& device_view(const Table2D<F>& t, DeviceVector<F>& upload) {
    if (const auto* v = ours(t)) return *v;
    if (!t.on_host()) throw std::logic_error("a table that lives on another engine's device");
    NNP_THRUST(upload.assign(t.data.begin(), t.data.end()));
    return upload;
  }
  static Table2D<F> host_copy(const Table2D<F>& t) {
    if (t.on_host()) return t;
    Table2D<F> out(t.rows, t.cols);
    const auto& v = on_device(t);
    NNP_THRUST(thrust::copy(v.begin(), v.end(), out.data.begin()));
    return out;
  }
  static Table2D<F> device_table(Index rows, Index cols, DeviceVector<F> values) {
    Table2D<F> t;
    t.rows = rows;
    t.cols = cols;
    t.device = std::make_shared<DeviceTable<F>>(std::move(values));
    return t;
  }

  // The device copy of these int8 weights, from the cache or uploaded and cached.
  const DeviceInt8Weights& int8_weights(const std::int8_t* w, Index rows, Index cols) {
    return weights_.get(w, rows, cols);
  }

  WeightsCache<DeviceInt8Weights> weights_;
};

}  // namespace nnproof::NNP_THRUST_NS
