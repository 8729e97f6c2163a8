// SPDX-License-Identifier: Apache-2.0
#pragma once
// The checks of `nnproof verify-training` as a library call (as verify_proof is `nnproof verify`'s):
// the CLI prints its outcome, the Python module (nnproof.verify_training) returns it. One code path,
// the same checks and the same REJECTED reasons.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "host/cli/common.hpp"
#include "host/cli/training_common.hpp"
#include "host/cli/verify.hpp"

namespace nnproof::cli {

// VERIFIED but NOT CONVERGED: a further step at the client's rate would change more than
// max_changed weights.
constexpr int kExitNotConverged = 3;

// The client's side of the check: the field the proof must be over, the client's learning rate
// (--lr; the proof's must match it), the converged threshold and the gradients' file (empty: none).
struct VerifyTrainingTargets {
  std::optional<FieldId> field;
  std::optional<double> lr;
  std::size_t max_changed = 0;
  std::string gradient_out;
};

struct TrainingOutcome {
  int code = kExitRejected;  // kExitOk (converged), kExitNotConverged or kExitRejected
  std::string reason;        // why it was rejected (the text after "REJECTED: ")
  std::string lr_note;       // the learning rate's rounding, once the bundle parsed (else empty)
  // When verified (code != kExitRejected):
  FieldId field = FieldId::m61;
  bool converged = false;
  i128 loss = 0;          // the exact loss L (centered)
  double loss_float = 0;  // the mean squared error per sample, real units
  std::size_t correct = 0, samples = 0;
  double accuracy = 0;  // correct / samples: the proved outputs' argmax against the labels
  std::size_t weights_changed = 0, weights_total = 0;
  std::vector<double> gradient_norms;  // per layer, real units
  std::uint32_t lr_exponent = 0;       // the learning rate 2^-lr_exponent, the proof's and the client's
  double soundness_bits = 0;
  std::size_t proof_bytes = 0;
  std::vector<std::int64_t> predicted;  // the proved outputs' argmax class per sample (N)
  std::vector<i128> outputs;            // the proved outputs Z_L, exact (centered), N x n_L
  bool verified() const { return code != kExitRejected; }
};

// Parses and verifies the training proof against the client's model, data and labels; when
// verified, stages the gradients' file (if any) in `files` and commits. Prints nothing. Throws
// UsageError for a bad t.lr (the client's own mistake); sizes read come from the trusted problem.
TrainingOutcome verify_training_proof(const TrainingProblem& tp, const ProofReader& read,
                                      const VerifyTrainingTargets& t, OutputFiles& files);

}  // namespace nnproof::cli
