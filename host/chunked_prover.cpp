// SPDX-License-Identifier: Apache-2.0
#include "host/chunked_prover.hpp"

#include <stdexcept>
#include <string>

#include "verifier/chunked.hpp"

namespace nnproof {

template <class Cfg>
ChunkedProof<Cfg> prove_in_chunks(Engine<Cfg>& engine, const QuantizedModel& model, const Digest& model_digest,
                                  std::span<const std::int64_t> input, const ChunkPlan& plan,
                                  const ProgressFn& progress, std::uint32_t version) {
  const std::size_t n0 = model.in_dim();
  if (input.size() != plan.batch * n0) throw std::invalid_argument("prove_in_chunks: the input is not batch x n_0");
  if (plan.chunks > 1 && version != 3)
    throw std::invalid_argument("a chunked bundle holds version 3 proofs; drop --proof-version " +
                                std::to_string(version) + " or raise --max-memory so that the batch fits one proof");
  ChunkedProof<Cfg> out;
  if (plan.chunks > 1) out.bytes = serialize_chunked_prefix({version, Cfg::kId, plan.chunks, plan.batch});
  out.outputs.reserve(plan.batch * model.out_dim());
  std::size_t at = 0, index = 0;
  for (std::size_t n : plan.sizes()) {
    ++index;
    ProgressFn stage = progress;
    if (progress && plan.chunks > 1)
      stage = [&](const std::string& s) {
        progress("chunk " + std::to_string(index) + "/" + std::to_string(plan.chunks) + ": " + s);
      };
    Statement<Cfg> st = sample_statement<Cfg>(model, model_digest, input, at, n);
    const std::vector<unsigned char> chunk = serialize_bundle(prove_bundle(engine, st, stage, version));
    out.bytes.insert(out.bytes.end(), chunk.begin(), chunk.end());
    out.outputs.insert(out.outputs.end(), st.outputs.begin(), st.outputs.end());
    at += n;
  }
  return out;
}

#define NNP_INSTANTIATE(Cfg)                                                                                     \
  template ChunkedProof<Cfg> prove_in_chunks(Engine<Cfg>&, const QuantizedModel&, const Digest&,                 \
                                             std::span<const std::int64_t>, const ChunkPlan&, const ProgressFn&, \
                                             std::uint32_t);
NNP_FOR_EACH_FILE_CONFIG(NNP_INSTANTIATE)
#undef NNP_INSTANTIATE

}  // namespace nnproof
