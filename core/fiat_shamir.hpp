// SPDX-License-Identifier: Apache-2.0
#pragma once
// The two transcript steps a sum-check round takes, as host/device code: absorb the prover's
// message, squeeze the next challenge. Byte for byte verifier/transcript.hpp (docs/FORMAT.md,
// "Transcript"); an engine that runs every round of a sum-check on its device (no round trip to the
// host per round) keeps the transcript's 32-byte state there and steps it with these.
#include "core/fields.hpp"
#include "core/sha256_hd.hpp"

namespace nnproof {

struct TranscriptState {
  unsigned char bytes[32];
};

// state = SHA256(state || 0x01 || str("message") || u64 len || the elements' bytes)
template <class K>
NNP_HD void absorb_message(TranscriptState& state, const K* message, unsigned count) {
  const char label[] = "message";
  Sha256Hd h;
  h.update(state.bytes, 32).update_u8(0x01).update_u64(sizeof(label) - 1);
  h.update(reinterpret_cast<const unsigned char*>(label), sizeof(label) - 1);
  h.update_u64(std::uint64_t{count} * K::kBytes);
  for (unsigned i = 0; i < count; ++i) {
    unsigned char b[K::kBytes];
    message[i].to_bytes(b);
    h.update(b, K::kBytes);
  }
  h.finish(state.bytes);
}

// out = SHA256(state || 0x02) as a challenge from the full field K, then state = SHA256(state || 0x03).
template <class K>
NNP_HD K squeeze_challenge(TranscriptState& state) {
  unsigned char out[32];
  Sha256Hd().update(state.bytes, 32).update_u8(0x02).finish(out);
  Sha256Hd().update(state.bytes, 32).update_u8(0x03).finish(state.bytes);
  K k;
  from_uniform_bytes(out, k);
  return k;
}

}  // namespace nnproof
