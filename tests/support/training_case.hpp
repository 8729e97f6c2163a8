// SPDX-License-Identifier: Apache-2.0
#pragma once
// A labelled training batch for a quantized model, its statement, and a transcript with challenges
// fixed in advance: what the dense and the convolutional training-proof tests share.
#include <cstdint>
#include <span>
#include <vector>

#include "verifier/model.hpp"
#include "verifier/training/statement.hpp"
#include "verifier/transcript.hpp"

namespace nnproof::testing {

struct TrainingCase {
  QuantizedModel model;
  std::vector<std::int64_t> input, labels;
  std::size_t samples = 0;
};

// The case's statement at lr 2^-3 (claims left for the prover to fill).
template <class Cfg>
TrainingStatement<Cfg> statement_of(const TrainingCase& c) {
  TrainingStatement<Cfg> st;
  st.model = &c.model;
  st.model_digest = model_digest(c.model);
  st.samples = c.samples;
  for (std::int64_t v : c.input) st.input.push_back(Cfg::F::from_int(v));
  st.labels = c.labels;
  st.lr_exponent = 3;
  return st;
}

// A transcript that ignores the statement: challenges fixed in advance, so a tampered statement
// meets the honest proof's challenges and only the protocol's checks can reject it.
template <class Cfg>
Transcript fixed_transcript() {
  Transcript t(Cfg::kId, kModeNonInteractive);
  t.absorb("fixed challenges for a test", std::span<const unsigned char>());
  return t;
}

}  // namespace nnproof::testing
