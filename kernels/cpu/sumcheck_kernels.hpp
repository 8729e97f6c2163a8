#pragma once
// One implementation of the cpu engine's passes over a table for a field configuration: the
// activation sum-check's group sums, pair sums and folds, and col_combine's row dots (the passes
// are described in m61_kernels.hpp). F is the tables' base field, K the challenge field, Weights
// eq(r, .) in the form the implementation reads (it has the elements as `eq`). Rows are
// w.eq.size() (or `cols`) columns long.
//
// Prefetch. The passes that read the base table (group sums, fold two, row dots) find it in
// memory, not in cache: it was written during the forward pass. At TIMIT width a row is 4 KiB, one
// page, and the hardware prefetcher starts over at every page, so the AVX-512 kernels ask for the
// lines of the rows they read next themselves (the next group's or the next row's, and in the
// first group-sums pass the group's other two rows). On the TIMIT shape, two threads, m61 group
// sums went from 1.2-1.8 ms to 1.0 ms a layer, the input layer's V from 0.7 to 0.4 ms.
#include <array>
#include <cstddef>

namespace nnproof {

template <class F, class K, class Weights>
struct SumcheckKernels {
  const char* name;
  std::array<K, 9> (*group_sums)(const F* z00, const F* z01, const F* z10, const F* z11, const Weights& w);
  std::array<K, 2> (*pair_q)(const K* lo, const K* hi, const Weights& w);
  void (*fold_row)(const K* a, const K* b, K r, K* out, std::size_t cols);
  void (*fold_two)(const F* z00, const F* z01, const F* z10, const F* z11, K rho1, K rho2, K* out, std::size_t cols);
  // out[j] = sum_k eq(r, k) y[j][k] for `rows` consecutive rows.
  void (*row_dots)(const F* y, std::size_t rows, const Weights& w, K* out);
};

}  // namespace nnproof
