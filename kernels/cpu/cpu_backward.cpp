// SPDX-License-Identifier: Apache-2.0
#include "kernels/cpu/cpu_backward.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>
#include <type_traits>

#include "core/lazy.hpp"
#include "kernels/engine/backward_ops.hpp"
#include "verifier/parallel.hpp"

namespace nnproof {

QuantizedLayer transposed_layer(const QuantizedLayer& layer) {
  if (layer.structured()) throw std::invalid_argument("training supports dense layers only for now");
  QuantizedLayer t;
  t.rows = layer.cols;
  t.cols = layer.rows;
  t.bias.assign(t.rows, 0);
  const std::size_t rows = layer.rows, cols = layer.cols;
  layer.weights.visit([&](const auto* w) {
    std::int64_t lo = 0, hi = 0;
    for (std::size_t i = 0; i < rows * cols; ++i) {
      lo = std::min<std::int64_t>(lo, w[i]);
      hi = std::max<std::int64_t>(hi, w[i]);
    }
    // In blocks of 64 x 64, so that both the rows read and the rows written stay in cache.
    constexpr std::size_t kBlock = 64;
    t.weights = WeightMatrix::with_range(lo, hi, rows * cols, [&](auto* out) {
      using Out = std::remove_pointer_t<decltype(out)>;
      parallel_for((cols + kBlock - 1) / kBlock, [&](std::size_t jb) {
        const std::size_t j0 = jb * kBlock, j1 = std::min(cols, j0 + kBlock);
        for (std::size_t a0 = 0; a0 < rows; a0 += kBlock)
          for (std::size_t j = j0; j < j1; ++j)
            for (std::size_t a = a0; a < std::min(rows, a0 + kBlock); ++a)
              out[j * rows + a] = static_cast<Out>(w[a * cols + j]);
      });
    });
  });
  return t;
}

template <class F>
std::size_t used_columns(const Table2D<F>& t) {
  backward_ops::require_host(t, "used_columns");
  std::vector<std::size_t> last(t.rows, 0);
  parallel_for(t.rows, [&](std::size_t r) {
    for (std::size_t k = t.cols; k > 0; --k)
      if (t.at(r, k - 1) != F::zero()) {
        last[r] = k;
        return;
      }
  });
  return last.empty() ? 0 : *std::max_element(last.begin(), last.end());
}

template <class F>
Table2D<F> cpu_double_hadamard(const Table2D<F>& Z, const Table2D<F>& E) {
  backward_ops::require_host(Z, "double_hadamard");
  backward_ops::require_host(E, "double_hadamard");
  if (Z.rows != E.rows || Z.cols != E.cols) throw std::logic_error("double_hadamard: shapes differ");
  auto D = Table2D<F>::unwritten(Z.rows, Z.cols);
  constexpr std::size_t kChunk = 4096;
  const std::size_t n = Z.data.size();
  parallel_for((n + kChunk - 1) / kChunk, [&](std::size_t c) {
    for (std::size_t i = c * kChunk; i < std::min(n, (c + 1) * kChunk); ++i) {
      const F p = Z.data[i] * E.data[i];
      D.data[i] = p + p;
    }
  });
  return D;
}

template <class F>
std::vector<F> cpu_batch_row_sums(const Table2D<F>& D, std::size_t rows) {
  backward_ops::require_host(D, "batch_row_sums");
  if (rows > D.rows) throw std::logic_error("batch_row_sums: more rows than the table holds");
  std::vector<F> g(rows, F::zero());
  parallel_for(rows, [&](std::size_t a) {
    F acc = F::zero();
    for (std::size_t k = 0; k < D.cols; ++k) acc += D.at(a, k);
    g[a] = acc;
  });
  return g;
}

template <class K, class F>
std::vector<K> cpu_row_weighted_sum(const Table2D<F>& T, std::span<const K> eq) {
  backward_ops::require_host(T, "row_weighted_sum");
  if (eq.size() < T.rows) throw std::logic_error("row_weighted_sum: eq is shorter than the table");
  std::vector<K> P(T.cols, K::zero());
  // Blocks of columns, each task its own: the block's lazy sums stay in L1 while every row passes.
  constexpr std::size_t kBlock = 128;
  parallel_for((T.cols + kBlock - 1) / kBlock, [&](std::size_t b) {
    const std::size_t k0 = b * kBlock, n = std::min(T.cols, k0 + kBlock) - k0;
    std::array<LazyDot<K, F>, kBlock> sums{};
    for (std::size_t a = 0; a < T.rows; ++a) {
      if (eq[a] == K::zero()) continue;
      const F* row = &T.at(a, k0);
      for (std::size_t k = 0; k < n; ++k) sums[k].add(eq[a], row[k]);
    }
    for (std::size_t k = 0; k < n; ++k) P[k0 + k] = sums[k].result();
  });
  return P;
}

#define NNP_INSTANTIATE(F)                                                       \
  template std::size_t used_columns(const Table2D<F>&);                          \
  template Table2D<F> cpu_double_hadamard(const Table2D<F>&, const Table2D<F>&); \
  template std::vector<F> cpu_batch_row_sums(const Table2D<F>&, std::size_t);
NNP_INSTANTIATE(Fp61)
NNP_INSTANTIATE(Fp127)
#undef NNP_INSTANTIATE
template std::vector<Fp61x2> cpu_row_weighted_sum(const Table2D<Fp61>&, std::span<const Fp61x2>);
template std::vector<Fp61> cpu_row_weighted_sum(const Table2D<Fp61>&, std::span<const Fp61>);
template std::vector<Fp127> cpu_row_weighted_sum(const Table2D<Fp127>&, std::span<const Fp127>);

}  // namespace nnproof
