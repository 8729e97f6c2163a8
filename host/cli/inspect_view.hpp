// SPDX-License-Identifier: Apache-2.0
#pragma once
// What `nnproof inspect` and nnproof.inspect (Python) show of a bundle, with no model at hand: the
// header's shape is taken only once the length it implies is checked against the bundle's size, a
// chunked bundle's chunks are walked (one field, version and dims, covering its batch, ending at its
// end), and nothing is allocated beyond the bytes there are. The format is checked, not the proof:
// the outputs are as the bundle claims them.
#include <cstdint>
#include <functional>
#include <vector>

#include "host/cli/verify.hpp"
#include "verifier/proof.hpp"

namespace nnproof::cli {

struct BundleView {
  bool training = false;  // a training bundle (.nnpt), else an inference bundle (plain or chunked)
  FieldId field = FieldId::m61;
  std::uint32_t version = 0;               // the (first) proof's format version
  std::vector<std::size_t> dims;           // n_0 .. n_L as the proof's tables have them
  std::size_t batch = 0;                   // samples, all chunks together (training: N)
  std::vector<std::size_t> chunk_batches;  // one entry for a plain or training bundle
  double soundness_bits = 0;               // of the chunks together (union bound)
  std::size_t messages = 0, proof_bytes = 0, file_bytes = 0;
  std::vector<i128> outputs;  // exact, centered, batch x n_L: as the bundle claims them
  // Training bundles only.
  std::uint8_t mode = 0;
  std::uint32_t lr_exponent = 0;
  std::size_t claim_elements = 0, claim_bytes = 0;
  i128 loss = 0;
};

// Called with each inference proof's header (a chunked bundle's chunk by chunk, before the chunk
// is parsed; a plain bundle's once it parsed): inspect --model checks each is about its model.
using HeaderCheck = std::function<void(const BundleHeader&)>;

// The view of the `size` bytes `read` hands out (a file's, or a buffer's). Throws
// ProofFormatError naming what is wrong with the bundle.
BundleView inspect_bundle(const ProofReader& read, std::size_t size, const HeaderCheck& check = {});

}  // namespace nnproof::cli
