// SPDX-License-Identifier: Apache-2.0
#pragma once
// The training prover (docs/TRAINING_PROTOCOL.md): the exact loss and gradients on an engine, then
// the walk of verifier/training/computation.hpp over the forward and backward tensors.
#include "host/training/backward.hpp"
#include "verifier/channel.hpp"
#include "verifier/training/bundle.hpp"

namespace nnproof {

// The protocol's prover side for a computed trace whose claims are st.claims.
template <class Cfg>
void prove_training(Engine<Cfg>& engine, const std::vector<FieldLayer<typename Cfg::F>>& layers,
                    BackwardTrace<Cfg>& trace, const TrainingStatement<Cfg>& st,
                    ProverChannel<typename Cfg::K>& channel, const ProgressFn& progress = {});

// Computes the claims (filled into st.claims) and a non-interactive proof of them. check_outputs
// runs between the forward and the backward pass (run_backward).
template <class Cfg>
TrainingBundle<Cfg> prove_training_bundle(Engine<Cfg>& engine, TrainingStatement<Cfg>& st,
                                          const ProgressFn& progress = {},
                                          const OutputsCheck<typename Cfg::F>& check_outputs = {});

}  // namespace nnproof
