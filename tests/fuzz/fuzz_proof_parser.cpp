// SPDX-License-Identifier: Apache-2.0
// libFuzzer: the proof-bundle parser, with no model at hand (as `nnproof inspect` reads files):
// refuse with ProofFormatError or parse, and a parsed bundle re-serializes to the same bytes.
#include "tests/fuzz/fuzz_common.hpp"
#include "verifier/proof.hpp"

namespace {

template <class Cfg>
void parse_and_roundtrip(std::span<const unsigned char> bytes, const nnproof::ProofShape& shape) {
  auto bundle = nnproof::parse_bundle<Cfg>(bytes, shape);
  auto again = nnproof::serialize_bundle(bundle);
  if (again.size() != bytes.size() || !std::equal(again.begin(), again.end(), bytes.begin()))
    __builtin_trap();  // canonical
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace nnproof;
  std::span<const unsigned char> bytes(data, size);
  try {
    BundleHeader h = parse_header(bytes, kAnyDepth);
    const ProofShape shape{h.dims, h.batch};
    if (bundle_size(h.field, shape) != size) return 0;  // the CLI refuses this before reading
    if (h.field == FieldId::m127)
      parse_and_roundtrip<M127>(bytes, shape);
    else
      parse_and_roundtrip<M61>(bytes, shape);
  } catch (const ProofFormatError&) {
  }
  return 0;
}
