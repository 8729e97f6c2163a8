// SPDX-License-Identifier: Apache-2.0
#pragma once
// The verifier of PROTOCOL.md section 5.
#include <string>

#include "verifier/channel.hpp"
#include "verifier/proof.hpp"
#include "verifier/statement.hpp"

namespace nnproof {

struct Verdict {
  bool accepted = false;
  std::string failed_check;  // empty when accepted; names the check otherwise
  static Verdict accept() { return {true, {}}; }
  static Verdict reject(std::string why) { return {false, std::move(why)}; }
};

// What is verified is the network's arithmetic in the field. The outputs are the integer network's
// only when no value can wrap: callers that need that (the CLI does) also check
// magnitude_violation (verifier/magnitude.hpp) for the proof's field.

// Runs the layered protocol against any channel (Fiat-Shamir or interactive), on the tables of
// proof format `version` (verifier/image_layout.hpp: version 3 pads images to powers of two).
template <class Cfg>
Verdict verify_protocol(const Statement<Cfg>& st, VerifierChannel<typename Cfg::K>& channel,
                        std::uint32_t version = kProofVersion);

// Verifies a parsed proof file: the model binding, the statement digest, the soundness floor, then
// the protocol with challenges from the transcript, and the input read once for its binding (by
// the header's version) and X~(s, r). `min_bits` may be raised, never lowered below 100.
template <class Cfg>
Verdict verify_bundle(const Statement<Cfg>& st, const ProofBundle<Cfg>& bundle, double min_bits = kMinSoundnessBits);
// The same with the statement's bindings already computed by the caller: `bindings` must be
// statement_bindings(st, input_encoding(bundle.header.version)) for this st. It reads the input a
// second time for X~(s, r); verify_bundle above reads it once.
template <class Cfg>
Verdict verify_bundle(const Statement<Cfg>& st, const ProofBundle<Cfg>& bundle, const StatementBindings& bindings,
                      double min_bits = kMinSoundnessBits);

// Why verify_bundle rejects a proof made for another input (its header's input binding differs). A
// proof relabelled with another format version lands here too: each version hashes the input its own way.
inline constexpr const char* kInputBindingRejection =
    "input binding: the proof was made for another input, or its header names another format version";

// The transcript both parties start from for a statement (PROTOCOL.md section 6): from format
// version 3 it absorbs the version after the statement, so that a file's tables (its layout,
// docs/IMAGE_LAYOUT.md) are bound by its challenges and one proof has one encoding.
template <class Cfg>
Transcript statement_transcript(const Digest& statement_digest, std::uint32_t version = kProofVersion);

// The verifier's side of one sum-check of degree d <= 3 over n variables (PROTOCOL.md section 4):
// receives h(0), h(2), .., h(d) per round, sets h(1) = claim - h(0), draws r and moves the claim to
// h(r). Returns the final claim, to be checked against g(point); point[v] binds variable v.
template <class K>
K sumcheck_verifier(VerifierChannel<K>& ch, K claim, unsigned n, unsigned degree, std::vector<K>& point);

// W~(q, s) = sum_a eq_q[a] sum_j W[a][j] eq_s[j], in O(nnz(W)) (PROTOCOL.md 5, step 2.2).
template <class K>
K weight_mle(const QuantizedLayer& layer, std::span<const K> eq_q, std::span<const K> eq_s);

// W~(q, s) of a layer of the proof's tables, as the verifier computes it: by the separable route
// of verifier/separable_conv.hpp where it applies and costs less, by the pooled-dense route of
// verifier/separable_dense.hpp (window-constant ops, then one dense op), else weight_mle with
// eq(s, .) (built into eq_s, which is left empty otherwise). eq_q = eq(q, .) may be empty: it is
// then built here if the direct route needs it.
template <class K>
K layer_weight_mle(const QuantizedLayer& layer, std::span<const K> q, std::span<const K> eq_q, std::span<const K> s,
                   std::vector<K>& eq_s);

// B~(q) of a layer of the proof's tables: per channel (separable_dense.hpp) where a convolution
// gives the rows and the bias is one value per channel, else bias_mle over eq_q, which is built
// into eq_q (from q) when empty.
template <class K>
K layer_bias_mle(const QuantizedLayer& layer, std::span<const K> q, std::vector<K>& eq_q);

}  // namespace nnproof
