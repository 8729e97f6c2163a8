// SPDX-License-Identifier: Apache-2.0
#pragma once
// The prover driver: PROTOCOL.md section 5 written once, against any Engine and any channel.
#include <cstdint>
#include <functional>
#include <span>
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
  // Y_0 (the input, n_0 x b padded) .. Y_{L-1}. With Activations::for_proof on an engine whose
  // proof reads only Z (Engine::proof_reads_activations), Y_1 .. Y_{L-1} hold their shape and no data.
  std::vector<Table2D<F>> Y;
  std::vector<Table2D<F>> Z;  // Z_1 .. Z_L, at index i - 1
};

// Which activation tables Y_i = Z_i o Z_i (i >= 1) a forward pass keeps: all (training's backward
// pass, calibration, tests read them), or those the engine's inference proof reads (prove_bundle:
// none on the cpu engine, whose forward then squares each Z where the next layer reads it).
enum class Activations { all, for_proof };

// Exact mod-p inference: the forward pass alone. `input` is batch x n samples, its features in
// the layers' order, or, where `input_rows` is given (ProofLayout::input_map: a padded image
// layout), in the model's order, feature j going to row input_rows[j] of the layers' input.
template <class Cfg>
ForwardTrace<Cfg> run_forward(Engine<Cfg>& engine, const std::vector<FieldLayer<typename Cfg::F>>& layers,
                              const std::vector<typename Cfg::F>& input, std::size_t batch,
                              const ProgressFn& progress = {}, Activations keep = Activations::all,
                              std::span<const std::size_t> input_rows = {});

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
// format `version` (kOldestProofVersion .. kProofVersion: its input binding and the layout of its
// tables, verifier/input_binding.hpp and image_layout.hpp; older ones for compatibility).
template <class Cfg>
ProofBundle<Cfg> prove_bundle(Engine<Cfg>& engine, Statement<Cfg>& statement, const ProgressFn& progress = {},
                              std::uint32_t version = kProofVersion);

}  // namespace nnproof
