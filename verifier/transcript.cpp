// SPDX-License-Identifier: Apache-2.0
#include "verifier/transcript.hpp"

namespace nnproof {

Transcript::Transcript(FieldId field, std::uint8_t mode) {
  state_ = Sha256().update_str("nnproof/v1").update_str(field_name(field)).update_u8(mode).finish();
}

void Transcript::absorb(std::string_view label, std::span<const unsigned char> data) {
  state_ = Sha256().update(state_).update_u8(0x01).update_str(label).update_u64(data.size()).update(data).finish();
}

std::array<unsigned char, kUniformBytes> Transcript::squeeze() {
  Digest out = Sha256().update(state_).update_u8(0x02).finish();
  state_ = Sha256().update(state_).update_u8(0x03).finish();
  return out;
}

}  // namespace nnproof
