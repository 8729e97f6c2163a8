// SPDX-License-Identifier: Apache-2.0
#include "kernels/cpu/cpu_engine.hpp"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <optional>

#include "core/lazy.hpp"
#include "kernels/cpu/conv_int8.hpp"
#include "kernels/cpu/conv_transpose.hpp"
#include "kernels/cpu/cpu_backward.hpp"
#include "kernels/cpu/dense_forward.hpp"
#include "kernels/cpu/hadamard_sumcheck.hpp"
#include "kernels/cpu/int8_column_byte_sums.hpp"
#include "kernels/cpu/int8_column_sums.hpp"
#include "kernels/cpu/isa.hpp"
#include "kernels/cpu/m61_kernels.hpp"
#include "kernels/cpu/outer_product.hpp"
#include "kernels/cpu/product_sumcheck.hpp"
#include "kernels/cpu/square_entries.hpp"
#include "kernels/cpu/square_sumcheck.hpp"
#include "kernels/cpu/structured_cpu.hpp"
#include "kernels/cpu/structured_limbs.hpp"
#include "kernels/engine/uninitialized.hpp"
#include "verifier/int8_chunk_dot.hpp"
#include "verifier/parallel.hpp"
#include "verifier/weight_routes.hpp"

namespace nnproof {

void set_cpu_threads(int threads) {
  if (threads <= 0) return;
  omp_set_num_threads(threads);
  openblas_set_num_threads(threads);
}

namespace {

template <class Cfg>
class CpuEngine final : public Engine<Cfg> {
  using F = typename Cfg::F;
  using K = typename Cfg::K;

 public:
  std::string name() const override { return "cpu"; }

  using Engine<Cfg>::input_table;

  Table2D<F> input_table(const std::vector<F>& input, std::size_t n0, std::size_t batch,
                         std::span<const std::size_t> rows, std::size_t rows_n0) override {
    // Bands handed out as threads free up: the padding rows' bands (past n_0) only write zeros, and
    // a static halving gave one thread all of CIFAR-size's real rows (3072 of 4096).
    return input_table_by_bands(input, n0, batch, rows, rows_n0,
                                [](std::size_t bands, const auto& body) { parallel_for_dynamic(bands, body); });
  }

  Table2D<F> forward(const FieldLayer<F>& layer, const Table2D<F>& Y, std::size_t batch) override {
    if (layer.q->structured()) return structured_forward_cpu(layer, Y, batch);
    return dense_.forward(layer, Y, batch);  // kernels/cpu/dense_forward.hpp
  }

  // A structured layer's hidden Z as int32 or int64 where every entry fits and the next layer pools
  // its squares as it reads them (kernels/cpu/narrow_table.hpp): a CNN's first Z, a quarter of the
  // field's bytes for the four passes over it, and its second, half of them. Any other next layer
  // would read a widened copy (the fallbacks of forward_of_square and square, which the prover never
  // takes): a field table then.
  Table2D<F> forward_hidden(const FieldLayer<F>& layer, const FieldLayer<F>& next, const Table2D<F>& Y,
                            std::size_t batch, InputIs input) override {
    const unsigned bits = narrow_bits_read_by(next);
    if (bits == 0 || !reads_in_place(layer, Y, input)) return Engine<Cfg>::forward_hidden(layer, next, Y, batch, input);
    return structured_forward_cpu(layer, Y, batch, input, bits);
  }
  void to_host(Table2D<F>& t) override { widen_narrow_table(t); }

  Table2D<F> square(const Table2D<F>& Zin) override {
    const Table2D<F>& Z = this->on_host(Zin);
    auto Y = Table2D<F>::unwritten(Z.rows, Z.cols);
    square_table(Z.data.data(), Y.data.data(), Z.data.size());  // kernels/cpu/square_entries.hpp
    return Y;
  }

  // A structured layer whose chain starts with a sum pool pools the squares of Z as it reads them
  // (structured_cpu.hpp), a narrow Z in place: no Y table is written, faulted in or read back. A
  // dense layer squares S into scratch first (the base's forward of square), which host/memory.cpp's
  // estimate counts.
  Table2D<F> forward_of_square(const FieldLayer<F>& layer, const Table2D<F>& S, std::size_t batch) override {
    if (reads_in_place(layer, S, InputIs::squared)) return structured_forward_cpu(layer, S, batch, InputIs::squared);
    return Engine<Cfg>::forward_of_square(layer, this->on_host(S), batch);
  }

  // Whether structured_forward_cpu reads a structured layer's input table as it is: field elements,
  // or a narrow Z whose squares its chain pools first.
  static bool reads_in_place(const FieldLayer<F>& layer, const Table2D<F>& Y, InputIs input) {
    if (!layer.q->structured()) return false;
    const NarrowTable* narrow = narrow_table(Y);
    return !narrow || (input == InputIs::squared && pools_narrow_squares(layer, *narrow));
  }

  // The sum-checks read Z where the protocol names Y = Z o Z (col_combine_of_squares, the square
  // sum-check): an inference proof keeps no Y table.
  bool proof_reads_activations() const override { return false; }
  // No Y (above); the activation sum-check holds its folded table, half of Z in K (square_sumcheck.hpp:
  // z_); a chain writes its last op into Z and reads Y, or S squared as it pools, itself
  // (structured_cpu.hpp). A dense layer's forward holds its route's scratch (dense_forward_bytes);
  // the int8 convolution's, a few blocks of samples (conv_int8.cpp), is left to the allowance.
  ProofMemory proof_memory() const override {
    ProofMemory m;
    m.keeps_activations = false;
    m.activation_k_halves = 1, m.activation_f_tables = 0;
    m.chain_writes_last_op = false, m.chain_input_bytes = 0;
    m.dense_forward_bytes = CpuDenseForward<F>::scratch_bytes_planned();
    return m;
  }

  std::vector<K> row_combine_at(const FieldLayer<F>& layer, std::span<const K> q) override {
    if (layer.q->structured()) return structured_row_combine_at_cpu<K>(layer, q);
    return Engine<Cfg>::row_combine_at(layer, q);
  }
  std::vector<K> row_combine(const FieldLayer<F>& layer, std::span<const K> eq_q) override {
    if (layer.q->structured()) return structured_row_combine_cpu<K>(layer, eq_q);
    const std::size_t rows = layer.rows(), cols = layer.cols();
    std::vector<K> A(padded(cols), K::zero());
    // The verifier's routes (verifier/weight_routes.hpp); the byte route where an exact int8 kernel
    // runs here and the column sums fit its int32 accumulators.
    const bool int8_here = int8_byte_sums_exact(rows) && (column_sums_route() || int8_limb_gemm_available());
    switch (weight_route<K>(layer.q->weights, rows, int8_here)) {
      case WeightRoute::int8_bytes:
        return row_combine_int8(layer, eq_q, std::move(A));
      case WeightRoute::exact_ints:
        return row_combine_exact_ints(layer, eq_q, std::move(A));
      case WeightRoute::field_products:
        break;
    }
    parallel_for(cols, [&](std::size_t j) {
      for (std::size_t a = 0; a < rows; ++a) A[j] += mul_base(eq_q[a], F::from_int(layer.q->weights[a * cols + j]));
    });
    return A;
  }

  // int8 weights: eq(q, .) cut into its kBytes little-endian bytes, G[j][c] = sum_a W[a][j] byte_c(a)
  // (one VNNI pass over W, or oneDNN's int8 GEMM of W^T), then A[j] = sum_c 2^(8 c) G[j][c], rebuilt
  // as the verifier's byte-chunk dots are (ByteChunks::combine). Either is several times faster than
  // two 128-bit products per weight at TIMIT size (docs/PERFORMANCE.md).
  std::vector<K> row_combine_int8(const FieldLayer<F>& layer, std::span<const K> eq_q, std::vector<K> A) {
    constexpr unsigned kBytes = K::kBytes;
    static_assert(ByteChunks<K>::kArrays == kBytes);  // byte c of K's encoding is ByteChunks' array c
    const std::size_t cols = layer.cols();
    const std::vector<std::int32_t> G = column_sums_route() ? column_byte_sums(layer, eq_q) : byte_gemm(layer, eq_q);
    parallel_for(cols, [&](std::size_t j) {
      std::array<std::int64_t, kBytes> totals;
      std::copy_n(G.data() + j * kBytes, kBytes, totals.data());
      A[j] = ByteChunks<K>::combine(totals.data());
    });
    return A;
  }

  // Sums of weight x piece products down each column (core/lazy.hpp, ExactIntSums: m61 coordinates
  // in 128 bits, m127 31-bit limbs in int64).
  std::vector<K> row_combine_exact_ints(const FieldLayer<F>& layer, std::span<const K> eq_q, std::vector<K> A) {
    using Sums = ExactIntSums<K>;
    constexpr unsigned C = Sums::kCount;
    const std::size_t rows = layer.rows(), cols = layer.cols();
    const std::vector<std::int64_t> e = exact_int_pieces<K>(eq_q.first(rows));
    constexpr std::size_t kBlock = 256;  // columns per task: the block's accumulators stay in L1
    layer.q->weights.visit([&](const auto* w) {
      parallel_for((cols + kBlock - 1) / kBlock, [&](std::size_t blk) {
        const std::size_t j0 = blk * kBlock, n = std::min(cols, j0 + kBlock) - j0;
        std::array<typename Sums::Acc, kBlock * C> acc{};
        for (std::size_t a = 0; a < rows; ++a) {
          const auto* row = w + a * cols + j0;
          const std::int64_t* ea = e.data() + a * C;
          for (std::size_t j = 0; j < n; ++j)
            for (unsigned c = 0; c < C; ++c)
              acc[j * C + c] += static_cast<typename Sums::Acc>(static_cast<std::int64_t>(row[j])) * ea[c];
        }
        for (std::size_t j = 0; j < n; ++j) A[j0 + j] = Sums::join(acc.data() + j * C);
      });
    });
    return A;
  }

  // Blocks of four rows: the portable row dots share each eq_r[k] among them; m61 with K = F_{p^2}
  // and m127 run their kernel sets' (SimdKernels, square_sumcheck.hpp).
  std::vector<K> col_combine(const Table2D<F>& Y, std::span<const K> eq_r) override {
    using Simd = SimdKernels<F, K>;
    constexpr std::size_t kRows = 4;
    const std::span<const K> ec = eq_r.first(Y.cols);
    std::optional<typename Simd::Weights> weights;
    if constexpr (Simd::kHave) weights.emplace(ec);
    std::vector<K> V(Y.rows, K::zero());
    parallel_for((Y.rows + kRows - 1) / kRows, [&](std::size_t b) {
      const std::size_t j0 = b * kRows, n = std::min(kRows, Y.rows - j0);
      const F* y = Y.data.data() + j0 * Y.cols;
      if constexpr (Simd::kHave) {
        Simd::get().row_dots(y, n, *weights, V.data() + j0);
      } else {
        row_dots_portable<F, K>(y, n, ec, V.data() + j0);
      }
    });
    return V;
  }

  std::unique_ptr<SumcheckProver<K>> product_sumcheck(std::vector<K> A, std::vector<K> V) override {
    return std::make_unique<CpuProductSumcheck<K>>(std::move(A), std::move(V));
  }

  std::vector<K> col_combine_of_squares(const Table2D<F>& Z, const Table2D<F>& Y, std::span<const K> eq_r,
                                        SquareCarry<K>& carry) override {
    if (Z.rows < 4) return Y.data.empty() ? col_combine(square(Z), eq_r) : col_combine(Y, eq_r);  // Y not kept
    return square_group_sums<F, K>(Z, eq_r, carry.sums);                                          // a narrow Z too
  }

  std::unique_ptr<SumcheckProver<K>> square_sumcheck(const Table2D<F>& Z, std::span<const K> s, std::span<const K> r,
                                                     K claim, SquareCarry<K> carry) override {
    return std::make_unique<CpuSquareSumcheck<Cfg>>(Z, s, r, claim, carry.sums);  // a narrow Z too
  }

  std::unique_ptr<HadamardSumcheckProver<K>> hadamard_sumcheck(const Table2D<F>& Z, const Table2D<F>& E,
                                                               const std::vector<EqClaim<K>>& claims) override {
    return make_cpu_hadamard_sumcheck<Cfg>(Z, E, claims);  // kernels/cpu/hadamard_sumcheck.hpp
  }

  // Training's backward pass (kernels/cpu/cpu_backward.hpp). E = W^T D is the forward GEMM of W^T
  // (zero bias) over D: the same exact routes (int8 limbs through oneDNN, DGEMM limbs, the direct
  // kernel) as the forward pass, for the cost of transposing W once per call (O(nnz), small next
  // to the product's O(nnz N)). Columns of D past its last nonzero one are left out: at N = 300 the
  // padding is 212 of 512 columns.
  struct Parallel {
    template <class Fn>
    void operator()(std::size_t n, Fn&& fn) const {
      parallel_for(n, fn);
    }
  };
  Table2D<F> transpose_product(const FieldLayer<F>& layer, const Table2D<F>& D) override {
    backward_ops::require_host(D, "transpose_product");
    if (layer.q->structured()) return structured_backward::transpose_product(*layer.q, D, Parallel{});
    const QuantizedLayer t = transposed_layer(*layer.q);
    const FieldLayer<F> tl{&t, std::vector<F>(t.rows, F::zero())};
    const std::size_t used = used_columns(D);
    if (used == 0) return Table2D<F>(padded(layer.cols()), D.cols);
    return forward(tl, D, used);
  }
  Table2D<F> double_hadamard(const Table2D<F>& Z, const Table2D<F>& E) override { return cpu_double_hadamard(Z, E); }
  std::vector<F> batch_outer_product(const Table2D<F>& D, const Table2D<F>& Y, std::size_t rows,
                                     std::size_t cols) override {
    return cpu_batch_outer_product(D, Y, rows, cols);
  }
  std::vector<F> batch_row_sums(const Table2D<F>& D, std::size_t rows) override { return cpu_batch_row_sums(D, rows); }
  // Structured layers: the shared exact loops (structured_backward.hpp), samples across threads.
  std::vector<F> structured_gradients(const FieldLayer<F>& layer, const Table2D<F>& D, const Table2D<F>& Y) override {
    backward_ops::require_host(D, "structured_gradients");
    backward_ops::require_host(Y, "structured_gradients");
    if (D.cols != Y.cols) throw std::logic_error("structured_gradients: batch sizes differ");
    return structured_backward::parameter_gradients(*layer.q, D, Y, Parallel{});
  }
  std::vector<K> row_weighted_sum(const Table2D<F>& T, std::span<const K> eq) override {
    return cpu_row_weighted_sum<K>(T, eq);
  }

 private:
  CpuDenseForward<F> dense_;  // keeps its int8 route's scratch and repacked weights across layers
};

}  // namespace

template <class Cfg>
std::unique_ptr<Engine<Cfg>> make_cpu_engine() {
  return std::make_unique<CpuEngine<Cfg>>();
}

#define NNP_INSTANTIATE_MAKE_CPU_ENGINE(Cfg) template std::unique_ptr<Engine<Cfg>> make_cpu_engine<Cfg>();
NNP_FOR_EACH_CONFIG(NNP_INSTANTIATE_MAKE_CPU_ENGINE)
#undef NNP_INSTANTIATE_MAKE_CPU_ENGINE

}  // namespace nnproof
