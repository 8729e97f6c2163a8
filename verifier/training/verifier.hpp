// SPDX-License-Identifier: Apache-2.0
#pragma once
// The verifier of a training proof (docs/TRAINING_PROTOCOL.md): the walk of
// verifier/training/computation.hpp, checking every step against the public data, model and claims.
#include "verifier/channel.hpp"
#include "verifier/training/bundle.hpp"
#include "verifier/verifier.hpp"

namespace nnproof {

// Runs the training protocol against any channel. The claims are st.claims.
template <class Cfg>
Verdict verify_training_protocol(const TrainingStatement<Cfg>& st, VerifierChannel<typename Cfg::K>& channel);

// The transcript both parties start from: the field, the non-interactive mode, then the statement.
template <class Cfg>
Transcript training_transcript(const Digest& statement_digest);

// Verifies a parsed bundle whose claims the caller copied into st.claims: the bindings (which the
// caller computed, once, with training_bindings(st)), the learning rate, the magnitude bound for
// the proof's field (so that accepted claims are the integers', not only field elements), the
// statement digest, the soundness floor, then the protocol with challenges from the transcript.
template <class Cfg>
Verdict verify_training_bundle(const TrainingStatement<Cfg>& st, const TrainingBundle<Cfg>& bundle,
                               const TrainingBindings& bindings, double min_bits = kMinSoundnessBits);

}  // namespace nnproof
