// SPDX-License-Identifier: Apache-2.0
#include "verifier/proof.hpp"

#include <cstring>
#include <string>
#include <tuple>

#include "verifier/byte_io.hpp"

namespace nnproof {
namespace {

using byte_io::field_base_bytes;
using byte_io::field_challenge_bytes;
using byte_io::read_elements;
using byte_io::read_field_and_mode;
using byte_io::Reader;
using byte_io::Writer;

constexpr unsigned char kMagic[8] = {'N', 'N', 'P', 'R', 'O', 'O', 'F', 0};

std::size_t header_size(std::size_t depth) { return kFixedHeaderBytes + (depth + 1) * 8 + 8; }

}  // namespace

BundleHeader parse_header(std::span<const unsigned char> bytes, std::size_t expected_depth) {
  Reader r(bytes);
  if (std::memcmp(r.take(8, "the magic"), kMagic, 8) != 0)
    throw ProofFormatError("not an nnproof proof file (bad magic)");
  std::uint64_t version = r.uint(4, "the version");
  if (version < kOldestProofVersion || version > kProofVersion)
    throw ProofFormatError("unsupported proof version " + std::to_string(version) + " (this nnproof reads versions " +
                           std::to_string(kOldestProofVersion) + " to " + std::to_string(kProofVersion) +
                           "; prove again with it)");
  BundleHeader h;
  h.version = static_cast<std::uint32_t>(version);
  std::tie(h.field, h.mode) = read_field_and_mode(r);
  std::memcpy(h.statement_digest.data(), r.take(32, "the statement digest"), 32);
  std::memcpy(h.model_binding.data(), r.take(32, "the model digest"), 32);
  std::memcpy(h.input_binding.data(), r.take(32, "the input digest"), 32);
  std::uint64_t depth = r.uint(4, "the depth");
  if (expected_depth == kAnyDepth && (depth == 0 || depth > kMaxDepth))
    throw ProofFormatError("implausible depth " + std::to_string(depth) + " in the header");
  if (expected_depth != kAnyDepth && depth != expected_depth)
    throw ProofFormatError("proof is for a " + std::to_string(depth) + "-layer network but the model has " +
                           std::to_string(expected_depth) + " layers");
  for (std::size_t i = 0; i <= depth; ++i) h.dims.push_back(r.uint(8, "the dimensions"));
  h.batch = r.uint(8, "the batch size");
  for (std::size_t d : h.dims)
    if (d == 0 || d > kMaxDimension)
      throw ProofFormatError("implausible dimension " + std::to_string(d) + " in the header");
  if (h.batch == 0 || h.batch > kMaxDimension)
    throw ProofFormatError("implausible batch size " + std::to_string(h.batch) + " in the header");
  return h;
}

std::size_t bundle_size(FieldId field, const ProofShape& shape) {
  // In 128 bits: with dims and batch below 2^32 nothing here can overflow.
  u128 total = header_size(shape.depth()) +
               static_cast<u128>(shape.batch) * shape.dims.back() * field_base_bytes(field) +
               static_cast<u128>(shape.message_count()) * field_challenge_bytes(field);
  return total > static_cast<u128>(SIZE_MAX) ? SIZE_MAX : static_cast<std::size_t>(total);
}

std::size_t bundle_header_size(std::size_t depth) { return header_size(depth); }

template <class Cfg>
std::vector<unsigned char> serialize_bundle(const ProofBundle<Cfg>& bundle) {
  const BundleHeader& h = bundle.header;
  Writer w;
  w.bytes(kMagic, 8);
  w.uint(h.version, 4);
  w.uint(static_cast<std::uint8_t>(Cfg::kId), 1);
  w.uint(h.mode, 1);
  w.uint(0, 2);
  w.bytes(h.statement_digest.data(), 32);
  w.bytes(h.model_binding.data(), 32);
  w.bytes(h.input_binding.data(), 32);
  w.uint(h.dims.size() - 1, 4);
  for (auto d : h.dims) w.uint(d, 8);
  w.uint(h.batch, 8);
  w.elements(bundle.outputs);
  w.elements(bundle.messages);
  return std::move(w.out);
}

template <class Cfg>
ProofBundle<Cfg> parse_bundle(std::span<const unsigned char> bytes, const ProofShape& expected) {
  ProofBundle<Cfg> b;
  b.header = parse_header(bytes, expected.depth());
  if (b.header.field != Cfg::kId)
    throw ProofFormatError(std::string("proof field is ") + std::string(field_name(b.header.field)) + ", expected " +
                           std::string(field_name(Cfg::kId)));
  if (b.header.dims != expected.dims) throw ProofFormatError("proof dimensions differ from the model's");
  if (b.header.batch != expected.batch)
    throw ProofFormatError("proof is for a batch of " + std::to_string(b.header.batch) + " but the input has " +
                           std::to_string(expected.batch) + " samples");
  // Sizes are now those of the trusted model and input: safe to check the length and allocate.
  std::size_t want = bundle_size(Cfg::kId, expected);
  if (bytes.size() < want)
    throw ProofFormatError("truncated proof: " + std::to_string(bytes.size()) + " bytes, expected " +
                           std::to_string(want));
  if (bytes.size() > want)
    throw ProofFormatError("trailing bytes after the proof: " + std::to_string(bytes.size()) + " bytes, expected " +
                           std::to_string(want));
  Reader r(bytes.subspan(header_size(expected.depth())));
  read_elements(r, b.outputs, expected.batch * expected.dims.back(), "the outputs");
  read_elements(r, b.messages, expected.message_count(), "the proof messages");
  return b;
}

#define NNP_INSTANTIATE(Cfg)                                                     \
  template std::vector<unsigned char> serialize_bundle(const ProofBundle<Cfg>&); \
  template ProofBundle<Cfg> parse_bundle(std::span<const unsigned char>, const ProofShape&);
NNP_FOR_EACH_FILE_CONFIG(NNP_INSTANTIATE)
#undef NNP_INSTANTIATE

}  // namespace nnproof
