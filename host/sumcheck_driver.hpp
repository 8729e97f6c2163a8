// SPDX-License-Identifier: Apache-2.0
#pragma once
// Running one sum-check through a prover channel, for every prover driver (inference, training):
// the engine's device rounds where it runs them itself (replayed through the channel), else one
// round at a time.
#include <algorithm>
#include <array>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/engine/engine.hpp"
#include "verifier/channel.hpp"

namespace nnproof {

// The rounds an engine ran on its device (SumcheckProver::run_fiat_shamir), through the channel:
// its transcript absorbs each message and draws the challenge that follows, which must be the one
// the engine drew. Returns false where the engine runs no rounds itself.
template <class K>
bool replay_device_rounds(SumcheckProver<K>& sc, unsigned n, unsigned degree, ProverChannel<K>& ch,
                          std::vector<K>& point) {
  const Transcript* transcript = ch.fiat_shamir_transcript();
  if (transcript == nullptr || n == 0) return false;
  TranscriptState state;
  std::copy(transcript->state().begin(), transcript->state().end(), state.bytes);
  const auto rounds = sc.run_fiat_shamir(state, n, degree);
  if (!rounds) return false;
  if (rounds->messages.size() != std::size_t{n} * degree || rounds->challenges.size() != n)
    throw std::logic_error("the engine's device rounds returned " + std::to_string(rounds->messages.size()) +
                           " message values and " + std::to_string(rounds->challenges.size()) + " challenges for " +
                           std::to_string(n) + " rounds of degree " + std::to_string(degree));
  for (unsigned t = 1; t <= n; ++t) {
    ch.send(std::span<const K>(rounds->messages.data() + (t - 1) * degree, degree));
    point[n - t] = ch.challenge();
    if (point[n - t] != rounds->challenges[t - 1])
      throw std::logic_error("the engine's device transcript drew another challenge than the prover's");
  }
  return true;
}

// Runs n rounds of a sum-check of degree d; point[v] receives the challenge binding variable v.
template <class K>
std::vector<K> run_sumcheck(SumcheckProver<K>& sc, unsigned n, unsigned degree, ProverChannel<K>& ch) {
  std::vector<K> point(n);
  if (replay_device_rounds(sc, n, degree, ch, point)) return point;
  for (unsigned t = 1; t <= n; ++t) {
    std::array<K, 3> h = t == 1 ? sc.round() : sc.fold_and_round(point[n - t + 1]);
    ch.send(std::span<const K>(h.data(), degree));
    point[n - t] = ch.challenge();
  }
  if (n > 0) sc.fold(point[0]);
  return point;
}

// Several sum-checks over the same variables run as one: round values sum_c rho_c h_c, every
// instance folded with the same challenge (the training walk's combined claims, TRAINING.md
// section 5). Each instance keeps its own claim, so an engine may still derive h(1) from it.
template <class K>
class CombinedSumcheck final : public SumcheckProver<K> {
 public:
  CombinedSumcheck(std::vector<K> rho, std::vector<std::unique_ptr<SumcheckProver<K>>> parts)
      : rho_(std::move(rho)), parts_(std::move(parts)) {}
  std::array<K, 3> round() override {
    return combine([](SumcheckProver<K>& p) { return p.round(); });
  }
  void fold(K r) override {
    for (auto& p : parts_) p->fold(r);
  }
  std::array<K, 3> fold_and_round(K r) override {
    return combine([r](SumcheckProver<K>& p) { return p.fold_and_round(r); });
  }
  K final_value() const override { return parts_.front()->final_value(); }
  K final_value(std::size_t c) const { return parts_[c]->final_value(); }

 private:
  template <class Fn>
  std::array<K, 3> combine(Fn&& fn) {
    std::array<K, 3> h{K::zero(), K::zero(), K::zero()};
    for (std::size_t c = 0; c < parts_.size(); ++c) {
      const std::array<K, 3> part = fn(*parts_[c]);
      for (std::size_t d = 0; d < 3; ++d) h[d] += rho_[c] * part[d];
    }
    return h;
  }
  std::vector<K> rho_;
  std::vector<std::unique_ptr<SumcheckProver<K>>> parts_;
};

template <class K>
void send_one(ProverChannel<K>& ch, K x) {
  ch.send(std::span<const K>(&x, 1));
}

}  // namespace nnproof
