// SPDX-License-Identifier: Apache-2.0
#pragma once
// Proving a batch under a memory limit: the plan's chunks proved one after another, each a complete
// proof of its own samples, written as one bundle (a plain .nnp when the plan has one chunk, else
// the chunked bundle of docs/FORMAT.md). Only one chunk's tables and field-form input are alive at
// a time.
#include <cstdint>
#include <span>
#include <vector>

#include "host/memory.hpp"
#include "host/prover.hpp"

namespace nnproof {

template <class Cfg>
struct ChunkedProof {
  std::vector<unsigned char> bytes;      // the bundle as written
  std::vector<typename Cfg::F> outputs;  // b x n_L, row per sample, all chunks in order
};

// Proves `input` (batch x n_0, row per sample, as loaded) in the chunks of `plan`, in proof format
// `version` (a chunked plan needs version 3). With one chunk the bytes are exactly
// serialize_bundle(prove_bundle(...)) of the whole batch.
template <class Cfg>
ChunkedProof<Cfg> prove_in_chunks(Engine<Cfg>& engine, const QuantizedModel& model, const Digest& model_digest,
                                  std::span<const std::int64_t> input, const ChunkPlan& plan,
                                  const ProgressFn& progress = {}, std::uint32_t version = kProofVersion);

}  // namespace nnproof
