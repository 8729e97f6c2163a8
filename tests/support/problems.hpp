// SPDX-License-Identifier: Apache-2.0
#pragma once
// Honest proofs over random networks (tests/support/models.hpp) for tests, plus channels with
// fixed challenges.
#include <random>

#include "host/prover.hpp"
#include "kernels/reference/reference_engine.hpp"
#include "tests/support/models.hpp"
#include "tests/support/random.hpp"
#include "verifier/image_layout.hpp"
#include "verifier/verifier.hpp"

namespace nnproof::testing {

// A random network (weights and biases in [-3, 3]), a statement over it (inputs in [-3, 3]) and
// the reference engine's proof, drawn in that order from make_rng(salt). Neither copied nor moved,
// because the statement points at the model.
template <class Cfg>
struct HonestProof {
  HonestProof(const std::vector<std::size_t>& dims, std::size_t batch, std::uint64_t salt) {
    auto rng = make_rng(salt);
    model = random_model(dims, rng);
    st = random_statement<Cfg>(model, batch, rng);
    bundle = prove_bundle(*make_reference_engine<Cfg>(), st);
  }
  HonestProof(const HonestProof&) = delete;
  HonestProof& operator=(const HonestProof&) = delete;
  ProofShape shape() const { return {model.dims(), st.batch}; }

  QuantizedModel model;
  Statement<Cfg> st;
  ProofBundle<Cfg> bundle;
};

// Challenges from a seeded generator, ignoring the messages: lets a test change the statement the
// verifier sees while keeping the prover's challenges, so that the protocol's own checks (not the
// transcript) must catch the change.
template <class K>
class FixedChallengeProverChannel final : public ProverChannel<K> {
 public:
  explicit FixedChallengeProverChannel(std::uint64_t seed) : rng_(seed) {}
  void send(std::span<const K> m) override { messages.insert(messages.end(), m.begin(), m.end()); }
  K challenge() override { return random_element<K>(rng_); }
  std::vector<K> messages;

 private:
  std::mt19937_64 rng_;
};

template <class K>
class FixedChallengeVerifierChannel final : public VerifierChannel<K> {
 public:
  FixedChallengeVerifierChannel(std::vector<K> messages, std::uint64_t seed)
      : messages_(std::move(messages)), rng_(seed) {}
  void receive(std::span<K> out) override {
    for (auto& x : out) x = next_ < messages_.size() ? messages_[next_++] : K::zero();
  }
  K challenge() override { return random_element<K>(rng_); }

 private:
  std::vector<K> messages_;
  std::size_t next_ = 0;
  std::mt19937_64 rng_;
};

// Honest messages for a statement (whose outputs are filled in) under fixed challenges, on the
// tables of proof format `version` (verifier/image_layout.hpp).
template <class Cfg>
std::vector<typename Cfg::K> fixed_challenge_proof(Engine<Cfg>& engine, Statement<Cfg>& st, std::uint64_t seed,
                                                   std::uint32_t version = kProofVersion) {
  const ProofLayout layout(*st.model, version);
  const auto layers = field_layers<typename Cfg::F>(layout.model());
  auto trace = run_forward(engine, layers, to_proof_input(layout, st.input, st.batch), st.batch);
  st.outputs = trace_outputs(trace, st.model->out_dim());
  FixedChallengeProverChannel<typename Cfg::K> ch(seed);
  prove_layers(engine, layers, trace, ch);
  return ch.messages;
}

template <class Cfg>
Verdict verify_fixed(const Statement<Cfg>& st, const std::vector<typename Cfg::K>& messages, std::uint64_t seed,
                     std::uint32_t version = kProofVersion) {
  FixedChallengeVerifierChannel<typename Cfg::K> ch(messages, seed);
  return verify_protocol(st, ch, version);
}

// Every single input entry changed by one: the verifier must reject the fixed-challenge proof.
template <class Cfg>
void expect_each_input_change_rejected(const Statement<Cfg>& st, const std::vector<typename Cfg::K>& messages,
                                       std::uint64_t seed, std::uint32_t version = kProofVersion) {
  for (std::size_t i = 0; i < st.input.size(); ++i) {
    auto bad = st;
    bad.input[i] += Cfg::F::one();
    EXPECT_FALSE(verify_fixed(bad, messages, seed, version).accepted) << "input " << i;
  }
}

// A cheating prover that changed the bundle's outputs recomputes the header's digests, so the
// protocol's checks, not the digest comparison, are what must reject.
template <class Cfg>
void rebind_header(ProofBundle<Cfg>& bundle, Statement<Cfg>& st) {
  st.outputs = bundle.outputs;
  const StatementBindings b = statement_bindings(st);
  bundle.header.statement_digest = statement_digest(st, b);
  bundle.header.model_binding = b.model;
  bundle.header.input_binding = b.input;
}

}  // namespace nnproof::testing
