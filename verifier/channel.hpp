// SPDX-License-Identifier: Apache-2.0
#pragma once
// The verifier's side of the conversation with a prover. Implementations: a Fiat-Shamir channel
// reading a proof file (here), and interactive channels over a pipe or in process (host/).
#include <span>
#include <stdexcept>
#include <vector>

#include "verifier/transcript.hpp"

namespace nnproof {

template <class K>
class VerifierChannel {
 public:
  virtual ~VerifierChannel() = default;
  // The prover's next message (a round's values, y* or z*), exactly out.size() elements.
  virtual void receive(std::span<K> out) = 0;
  // A fresh challenge from the full field K, drawn after the previous message.
  virtual K challenge() = 0;
};

// Non-interactive: messages come from the proof, challenges from the transcript, which absorbs
// every message before the challenge that follows it.
template <class K>
class FiatShamirVerifierChannel final : public VerifierChannel<K> {
 public:
  FiatShamirVerifierChannel(Transcript& transcript, std::span<const K> messages)
      : transcript_(transcript), messages_(messages) {}

  void receive(std::span<K> out) override {
    if (next_ + out.size() > messages_.size())
      throw std::runtime_error("proof has fewer messages than the protocol needs");
    std::span<const K> msg = messages_.subspan(next_, out.size());
    std::copy(msg.begin(), msg.end(), out.begin());
    next_ += out.size();
    transcript_.absorb_elements<K>("message", msg);
  }
  K challenge() override { return transcript_.challenge<K>(); }
  std::size_t consumed() const { return next_; }

 private:
  Transcript& transcript_;
  std::span<const K> messages_;
  std::size_t next_ = 0;
};

}  // namespace nnproof

namespace nnproof {

// The prover's side: send a message, then receive the challenge that follows it.
template <class K>
class ProverChannel {
 public:
  virtual ~ProverChannel() = default;
  virtual void send(std::span<const K> message) = 0;
  virtual K challenge() = 0;
  // The Fiat-Shamir transcript the challenges come from, for an engine that draws them itself on
  // its device (SumcheckProver::run_fiat_shamir); null where a verifier draws them (interactive).
  virtual const Transcript* fiat_shamir_transcript() const { return nullptr; }
};

// Non-interactive prover: records the messages for the proof file and derives each challenge from
// the transcript after absorbing them, exactly as FiatShamirVerifierChannel does.
template <class K>
class FiatShamirProverChannel final : public ProverChannel<K> {
 public:
  explicit FiatShamirProverChannel(Transcript& transcript) : transcript_(transcript) {}
  void send(std::span<const K> message) override {
    messages_.insert(messages_.end(), message.begin(), message.end());
    transcript_.absorb_elements<K>("message", message);
  }
  K challenge() override { return transcript_.challenge<K>(); }
  const Transcript* fiat_shamir_transcript() const override { return &transcript_; }
  std::vector<K>& messages() { return messages_; }

 private:
  Transcript& transcript_;
  std::vector<K> messages_;
};

}  // namespace nnproof

namespace nnproof {

// n fresh challenges from either side's channel, in order.
template <class Channel>
auto draw_challenges(Channel& channel, unsigned n) {
  std::vector<decltype(channel.challenge())> v(n);
  for (auto& x : v) x = channel.challenge();
  return v;
}

}  // namespace nnproof
