// SPDX-License-Identifier: Apache-2.0
#pragma once
// The prover driver: PROTOCOL.md section 5 written once, against any Engine and any channel.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "kernels/engine/engine.hpp"
#include "verifier/channel.hpp"
#include "verifier/proof.hpp"

namespace nnproof {

// Called at each stage of long work ("forward layer 2/4", "proving layer 3/4") for progress displays.
using ProgressFn = std::function<void(const std::string& stage)>;

template <class Cfg>
struct ForwardTrace {
  using F = typename Cfg::F;
  std::size_t batch = 0;
  std::vector<Table2D<F>> Y;  // Y_0 (the input, n_0 x b padded) .. Y_{L-1}
  std::vector<Table2D<F>> Z;  // Z_1 .. Z_L, at index i - 1
};

// Exact mod-p inference: the forward pass alone.
template <class Cfg>
ForwardTrace<Cfg> run_forward(Engine<Cfg>& engine, const std::vector<FieldLayer<typename Cfg::F>>& layers,
                              const std::vector<typename Cfg::F>& input, std::size_t batch,
                              const ProgressFn& progress = {});

// Z_L as b x n_L, row per sample.
template <class Cfg>
std::vector<typename Cfg::F> trace_outputs(const ForwardTrace<Cfg>& trace, std::size_t out_dim);

// Per sample, the index of the largest exact output (the first on ties): the predicted class. The
// dequantization and a final softmax are monotone, so this is the argmax of the logits too.
template <class F>
std::vector<std::int64_t> argmax_labels(const std::vector<F>& outputs, std::size_t batch, std::size_t classes) {
  std::vector<std::int64_t> labels(batch, 0);
  for (std::size_t k = 0; k < batch; ++k)
    for (std::size_t o = 1; o < classes; ++o)
      if (outputs[k * classes + o].centered() > outputs[k * classes + static_cast<std::size_t>(labels[k])].centered())
        labels[k] = static_cast<std::int64_t>(o);
  return labels;
}

// The layered protocol, prover side, after the outputs are public.
template <class Cfg>
void prove_layers(Engine<Cfg>& engine, const std::vector<FieldLayer<typename Cfg::F>>& layers,
                  const ForwardTrace<Cfg>& trace, ProverChannel<typename Cfg::K>& channel,
                  const ProgressFn& progress = {});

// Forward pass + non-interactive proof of a statement whose outputs are filled in here, in proof
// format `version` (kOldestProofVersion .. kProofVersion: the layout of its tables, image_layout.hpp).
template <class Cfg>
ProofBundle<Cfg> prove_bundle(Engine<Cfg>& engine, Statement<Cfg>& statement, const ProgressFn& progress = {},
                              std::uint32_t version = kProofVersion);

}  // namespace nnproof
