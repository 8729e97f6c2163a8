// SPDX-License-Identifier: Apache-2.0
// Calls the installed verifier library: a SHA-256 known answer, a proof shape's soundness, and a
// malformed proof header refused. Prints the version it was built against; exits 0 if all hold.
#include <cstdio>
#include <nnproof/verifier/verifier.hpp>
#include <nnproof/version.hpp>
#include <string>
#include <vector>

int main() {
  const std::string abc = "abc";
  const std::string hex = nnproof::to_hex(nnproof::sha256({reinterpret_cast<const unsigned char*>(abc.data()), 3}));
  const double bits = nnproof::ProofShape{{4, 3, 2}, 3}.soundness_bits(nnproof::FieldId::m61);
  bool refused = false;
  try {
    nnproof::parse_header(std::vector<unsigned char>(200, 0), nnproof::kAnyDepth);
  } catch (const nnproof::ProofFormatError&) {
    refused = true;
  }
  std::printf("nnproof %s, proof format v%u: sha256(abc) %s, %.1f bits, bad header refused: %d\n", NNPROOF_VERSION,
              static_cast<unsigned>(nnproof::kProofVersion), hex.c_str(), bits, refused);
  return hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" && bits > 100 && refused ? 0 : 1;
}
