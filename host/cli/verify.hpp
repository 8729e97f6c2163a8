// SPDX-License-Identifier: Apache-2.0
#pragma once
// The checks of `nnproof verify`, shared by `nnproof query` (a bundle a server sent): one code
// path, the same checks and the same REJECTED reasons whichever way the bundle arrived.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "host/cli/common.hpp"

namespace nnproof::cli {

// Where the verified outputs go (each empty: not written) and the field the proof must be over.
struct VerifyTargets {
  std::optional<FieldId> field;
  std::string output, labels_out;
};

struct VerifyOutcome {
  int code = kExitRejected;  // kExitOk or kExitRejected
  std::string reason;        // why it was rejected (the text after "REJECTED: ")
  FieldId field = FieldId::m61;
  double soundness_bits = 0;
  std::vector<std::int64_t> labels;  // the verified argmax classes, when accepted
  // When accepted: the verified outputs (b x n_L, row per sample), exact (centered) and dequantized
  // as --output writes them (the Python module returns both).
  std::vector<i128> exact;
  std::vector<double> outputs;
};

// Up to max_bytes of the proof from its start (fewer when it is shorter). Sizes asked for come from
// the client's trusted model and input, never from the proof.
using ProofReader = std::function<std::vector<unsigned char>(std::size_t max_bytes)>;

// Parses and verifies the proof against the client's problem; on acceptance stages the targets'
// files in `files` and commits them. Prints nothing: the caller reports the outcome.
VerifyOutcome verify_proof(const Problem& p, const ProofReader& read, const VerifyTargets& t, OutputFiles& files);

}  // namespace nnproof::cli
