// SPDX-License-Identifier: Apache-2.0
#pragma once
// The exact loss and gradients of TRAINING.md section 2, on any engine: the forward pass, the
// one-hot target, then D_L = 2 (Z_L - T) and, layer by layer, G_i = D_i Y_{i-1}^T, g_i = D_i 1,
// E_{i-1} = W_i^T D_i, D_{i-1} = 2 Z_{i-1} o E_{i-1}. Everything is exact in the field; the
// magnitude bound (verifier/training/magnitude.hpp) says when that is the integers' result.
#include <cstdint>
#include <functional>
#include <vector>

#include "host/prover.hpp"
#include "verifier/training/statement.hpp"

namespace nnproof {

template <class Cfg>
struct BackwardTrace {
  using F = typename Cfg::F;
  ForwardTrace<Cfg> forward;  // Y_0 .. Y_{L-1}, Z_1 .. Z_L
  Table2D<F> target;          // T: padded(n_L) x padded(N), s_Z(L) at (y_k, k)
  std::vector<Table2D<F>> D;  // D_1 .. D_L at index i - 1
  std::vector<Table2D<F>> E;  // E_1 .. E_{L-1} at index i - 1
};

// T of TRAINING.md section 2 as a padded table: T[o][k] = scale if labels[k] == o, else 0.
// Labels must be in [0, classes) (checked by the caller's loader).
template <class F>
Table2D<F> target_table(const std::vector<std::int64_t>& labels, std::size_t classes, F scale);

// Called with the outputs Z_L (N x n_L, row per sample) between the forward and the backward pass:
// the backward's magnitude bound reads them, so a batch that could wrap is refused (by throwing)
// before the gradients' work.
template <class F>
using OutputsCheck = std::function<void(const std::vector<F>& outputs)>;

// Forward and backward over the whole batch. `input` is N x n_0, row per sample; labels N entries.
template <class Cfg>
BackwardTrace<Cfg> run_backward(Engine<Cfg>& engine, const std::vector<FieldLayer<typename Cfg::F>>& layers,
                                const std::vector<typename Cfg::F>& input, const std::vector<std::int64_t>& labels,
                                typename Cfg::F target_scale, const ProgressFn& progress = {},
                                const OutputsCheck<typename Cfg::F>& check_outputs = {});

// The loss, every G_i and g_i, and the outputs Z_L (N x n_L, row per sample) of a trace.
template <class Cfg>
TrainingClaims<typename Cfg::F> gradient_claims(Engine<Cfg>& engine,
                                                const std::vector<FieldLayer<typename Cfg::F>>& layers,
                                                BackwardTrace<Cfg>& trace);

}  // namespace nnproof
