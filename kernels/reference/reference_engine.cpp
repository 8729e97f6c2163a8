// SPDX-License-Identifier: Apache-2.0
#include "kernels/reference/reference_engine.hpp"

#include "core/polynomial.hpp"
#include "kernels/engine/structured_forward.hpp"

namespace nnproof {
namespace {

// Generic sum-check of sum_x prod_m T_m(x) over tables of K, degree = number of tables; the
// round polynomial is evaluated at X = 0, 2, 3 by extending each table's pair linearly.
template <class K>
class TableProductSumcheck final : public SumcheckProver<K> {
 public:
  explicit TableProductSumcheck(std::vector<std::vector<K>> tables) : t_(std::move(tables)) {}

  std::array<K, 3> round() override {
    std::array<K, 3> h{K::zero(), K::zero(), K::zero()};
    const std::size_t half = t_[0].size() / 2;
    const std::int64_t nodes[3] = {0, 2, 3};
    for (std::size_t i = 0; i < half; ++i)
      for (int n = 0; n < 3; ++n) {
        K x = K::from_int(nodes[n]), prod = K::one();
        for (const auto& t : t_) prod *= t[i] + x * (t[i + half] - t[i]);
        h[n] += prod;
      }
    return h;
  }
  void fold(K r) override {
    for (auto& t : t_) fold_top(t, r);
  }
  K final_value() const override { return t_.back()[0]; }

 private:
  std::vector<std::vector<K>> t_;
};

template <class Cfg>
class ReferenceEngine final : public Engine<Cfg> {
  using F = typename Cfg::F;
  using K = typename Cfg::K;

 public:
  std::string name() const override { return "reference"; }

  // Keeps every Y (square); a chain's forward writes each op's output to a vector, the last too
  // (structured_forward, apply_op), and reads Y itself; the activation sum-check holds three tables of
  // Z's size in K (square_sumcheck: E and Z in K twice); no GEMM, no lanes.
  ProofMemory proof_memory() const override {
    ProofMemory m;
    m.keeps_activations = true;
    m.activation_k_halves = 2 * 3, m.activation_f_tables = 0;
    m.chain_writes_last_op = true, m.chain_input_bytes = 0;
    return m;
  }

  Table2D<F> forward(const FieldLayer<F>& layer, const Table2D<F>& Y, std::size_t batch) override {
    if (layer.q->structured()) return structured_forward(layer, Y, batch);
    Table2D<F> Z(padded(layer.rows()), Y.cols);
    for (std::size_t a = 0; a < layer.rows(); ++a)
      for (std::size_t k = 0; k < batch; ++k) {
        F acc = layer.bias[a];
        for (std::size_t j = 0; j < layer.cols(); ++j)
          acc += F::from_int(layer.q->weights[a * layer.cols() + j]) * Y.at(j, k);
        Z.at(a, k) = acc;
      }
    return Z;
  }

  Table2D<F> square(const Table2D<F>& Z) override {
    Table2D<F> Y = Z;
    for (auto& y : Y.data) y = y * y;
    return Y;
  }

  std::vector<K> row_combine(const FieldLayer<F>& layer, std::span<const K> eq_q) override {
    if (layer.q->structured()) return structured_row_combine<K>(layer, eq_q);
    std::vector<K> A(padded(layer.cols()), K::zero());
    for (std::size_t a = 0; a < layer.rows(); ++a)
      for (std::size_t j = 0; j < layer.cols(); ++j)
        A[j] += mul_base(eq_q[a], F::from_int(layer.q->weights[a * layer.cols() + j]));
    return A;
  }

  std::vector<K> col_combine(const Table2D<F>& Y, std::span<const K> eq_r) override {
    std::vector<K> V(Y.rows, K::zero());
    for (std::size_t j = 0; j < Y.rows; ++j)
      for (std::size_t k = 0; k < Y.cols; ++k) V[j] += mul_base(eq_r[k], Y.at(j, k));
    return V;
  }

  std::unique_ptr<SumcheckProver<K>> product_sumcheck(std::vector<K> A, std::vector<K> V) override {
    return std::make_unique<TableProductSumcheck<K>>(std::vector<std::vector<K>>{std::move(A), std::move(V)});
  }

  // g(x) = E(x) Z(x) Z(x) with E the full eq table of the point (r low bits, s high bits). Three
  // tables of Z's size in K (proof_memory), moved in: a braced list would copy each, seven tables at
  // once (256 CIFAR-size images: 1.35 GiB RSS, 0.85 GiB with three).
  std::unique_ptr<SumcheckProver<K>> square_sumcheck(const Table2D<F>& Z, std::span<const K> s, std::span<const K> r,
                                                     K /*claim*/, SquareCarry<K> /*carry*/) override {
    std::vector<K> point(r.begin(), r.end());
    point.insert(point.end(), s.begin(), s.end());
    std::vector<K> Zk(Z.data.size());
    for (std::size_t i = 0; i < Zk.size(); ++i) Zk[i] = K::from_base(Z.data[i]);
    std::vector<std::vector<K>> tables(3);
    tables[0] = eq_table<K>(point);
    tables[1] = Zk;
    tables[2] = std::move(Zk);
    return std::make_unique<TableProductSumcheck<K>>(std::move(tables));
  }
};

}  // namespace

template <class Cfg>
std::unique_ptr<Engine<Cfg>> make_reference_engine() {
  return std::make_unique<ReferenceEngine<Cfg>>();
}

#define NNP_INSTANTIATE_MAKE_REFERENCE_ENGINE(Cfg) template std::unique_ptr<Engine<Cfg>> make_reference_engine<Cfg>();
NNP_FOR_EACH_CONFIG(NNP_INSTANTIATE_MAKE_REFERENCE_ENGINE)
#undef NNP_INSTANTIATE_MAKE_REFERENCE_ENGINE

}  // namespace nnproof
