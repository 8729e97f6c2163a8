// SPDX-License-Identifier: Apache-2.0
#pragma once
// The cpu engine's backward-pass operations (TRAINING.md section 2; Engine's training operations):
// multi-threaded, exact, bit-identical to kernels/engine/backward_ops.hpp. The transposed product
// W^T D runs as the engine's own forward GEMM over W^T (cpu_engine.cpp), with the help below;
// batch_outer_product, the largest, has its own file (outer_product.hpp).
#include <cstddef>
#include <span>
#include <vector>

#include "core/fields.hpp"
#include "kernels/engine/table.hpp"

namespace nnproof {

// W^T as a dense layer (cols x rows) with zero bias, its weights in the narrowest storage.
QuantizedLayer transposed_layer(const QuantizedLayer& layer);

// One past the last column of t that holds a nonzero entry (0 for an all-zero table): columns
// beyond it contribute nothing to a product over the batch, whatever the real batch was.
template <class F>
std::size_t used_columns(const Table2D<F>& t);

template <class F>
Table2D<F> cpu_double_hadamard(const Table2D<F>& Z, const Table2D<F>& E);

template <class F>
std::vector<F> cpu_batch_row_sums(const Table2D<F>& D, std::size_t rows);

template <class K, class F>
std::vector<K> cpu_row_weighted_sum(const Table2D<F>& T, std::span<const K> eq);

}  // namespace nnproof
