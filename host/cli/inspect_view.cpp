// SPDX-License-Identifier: Apache-2.0
// inspect_bundle: the header parse, length checks and chunk walk of `nnproof inspect`, shared with
// the Python module's inspect.
#include "host/cli/inspect_view.hpp"

#include <algorithm>
#include <span>
#include <string>

#include "verifier/chunked.hpp"
#include "verifier/training/bundle.hpp"

namespace nnproof::cli {
namespace {

std::size_t le32(const std::vector<unsigned char>& b, std::size_t at) {
  return b[at] | b[at + 1] << 8 | b[at + 2] << 16 | static_cast<std::size_t>(b[at + 3]) << 24;
}

template <class F>
void append_centered(std::vector<i128>& out, const std::vector<F>& v) {
  for (const auto& y : v) out.push_back(y.centered());
}

// One complete proof (a plain bundle, or a chunk) added to the view.
template <class Cfg>
void add_proof(BundleView& v, std::span<const unsigned char> bytes, const ProofShape& shape) {
  ProofBundle<Cfg> b = parse_bundle<Cfg>(bytes, shape);
  if (v.chunk_batches.empty()) v.version = b.header.version;
  append_centered(v.outputs, b.outputs);
  v.chunk_batches.push_back(shape.batch);
  v.messages += b.messages.size();
  v.proof_bytes += b.messages.size() * Cfg::K::kBytes;
}

template <class Cfg>
BundleView training_view(const std::vector<unsigned char>& bytes, const TrainingShape& shape) {
  TrainingBundle<Cfg> b = parse_training_bundle<Cfg>(bytes, shape);
  BundleView v;
  v.training = true;
  v.field = Cfg::kId;
  v.version = kTrainingProofVersion;
  v.dims = shape.dims;
  v.batch = shape.samples;
  v.chunk_batches = {shape.samples};
  v.soundness_bits = shape.soundness_bits(Cfg::kId);
  v.messages = b.messages.size();
  v.proof_bytes = b.messages.size() * Cfg::K::kBytes;
  v.file_bytes = bytes.size();
  append_centered(v.outputs, b.claims.outputs);
  v.mode = b.header.mode;
  v.lr_exponent = b.header.lr_exponent;
  v.claim_elements = shape.claim_elements();
  v.claim_bytes = shape.claim_elements() * Cfg::F::kBytes;
  v.loss = b.claims.loss.centered();
  return v;
}

// A structured model's section after the header (docs/FORMAT.md): its counts first, then as many
// (op, weights) entries as they say; each read is bounded by the bundle (read returns at most size).
std::vector<LayerStructure> training_structure_of(const ProofReader& read, std::size_t depth) {
  const std::size_t at = training_bundle_header_size(depth);
  const auto counts = read(at + 4 * depth);
  std::size_t ops = 0;
  for (std::size_t i = 0; i < depth && at + 4 * (i + 1) <= counts.size(); ++i)
    if (const std::size_t c = le32(counts, at + 4 * i); c != kDenseLayer) ops += std::min(c, kMaxTrainedOps + 1);
  const auto section = read(at + 4 * depth + 12 * ops);
  std::size_t used = 0;
  return parse_training_structure(std::span(section).subspan(std::min(at, section.size())), depth, used);
}

BundleView inspect_training(const ProofReader& read, std::size_t size) {
  auto fixed = read(kTrainingFixedHeaderBytes);
  std::size_t depth = fixed.size() == kTrainingFixedHeaderBytes ? le32(fixed, kTrainingFixedHeaderBytes - 4) : 0;
  auto head = read(training_bundle_header_size(std::min(depth, kMaxDepth)));
  TrainingBundleHeader h = parse_training_header(head, kAnyDepth);
  TrainingShape shape{h.dims, h.samples};
  if (h.structured) shape.structure = training_structure_of(read, h.dims.size() - 1);
  // The structure is the file's: its claims must be in the file before its description is walked
  // (a few bytes of section could otherwise declare millions of ops for the walk to allocate).
  if (const std::size_t least = training_bundle_size_before_messages(h.field, shape); size < least)
    throw ProofFormatError("truncated training proof: " + std::to_string(size) +
                           " bytes, the header implies at least " + std::to_string(least));
  const std::size_t want = training_bundle_size(h.field, shape);
  if (size != want)
    throw ProofFormatError((size < want ? "truncated training proof: " : "trailing bytes after the training proof: ") +
                           std::to_string(size) + " bytes, the header implies " + std::to_string(want));
  auto bytes = read(want);
  if (h.field == FieldId::m127) return training_view<M127>(bytes, shape);
  return training_view<M61>(bytes, shape);
}

// A chunked bundle: every chunk's header is read where the previous chunk ends, its shape taken
// only when the length it implies fits in the bundle, and the chunks must have one field, version
// and dims, cover the prefix's batch and end exactly at the bundle's end.
BundleView inspect_chunked(const ProofReader& read, std::size_t size, const HeaderCheck& check) {
  const std::vector<unsigned char> bytes = read(size);
  const ChunkedPrefix prefix = parse_chunked_prefix(bytes);
  return with_file_field(prefix.field, [&]<class Cfg>() {
    BundleView v;
    v.field = prefix.field;
    v.file_bytes = bytes.size();
    std::vector<double> bits;
    std::size_t at = kChunkedPrefixBytes, covered = 0;
    for (std::size_t j = 0; j < prefix.chunks; ++j) {
      const std::string where = "chunk " + std::to_string(j + 1) + "/" + std::to_string(prefix.chunks) + ": ";
      const auto rest = std::span<const unsigned char>(bytes).subspan(at);
      const BundleHeader h = parse_header(rest, kAnyDepth);
      if (h.field != prefix.field || h.version != prefix.version || (j > 0 && h.dims != v.dims))
        throw ProofFormatError(where + "its field, version or dims differ from the bundle's");
      if (h.batch > prefix.batch - covered)
        throw ProofFormatError(where + "its samples run past the bundle's batch of " + std::to_string(prefix.batch));
      // Every chunk, not only the first, must be about the model given: --float scales all outputs by it.
      if (check) check(h);
      const ProofShape shape{h.dims, h.batch};
      const std::size_t chunk_size = bundle_size(h.field, shape);
      if (chunk_size > rest.size()) throw ProofFormatError(where + "truncated");
      add_proof<Cfg>(v, j + 1 == prefix.chunks ? rest : rest.first(chunk_size), shape);
      bits.push_back(shape.soundness_bits(h.field));
      v.dims = h.dims;
      at += chunk_size;
      covered += h.batch;
    }
    if (covered != prefix.batch)
      throw ProofFormatError("the chunks cover " + std::to_string(covered) + " of the bundle's " +
                             std::to_string(prefix.batch) + " samples");
    v.batch = covered;
    v.soundness_bits = combined_soundness_bits(bits);
    return v;
  });
}

// A plain bundle: the header's shape is taken only after the size it implies is checked against
// the bundle's real length, so nothing is allocated beyond what it holds.
BundleView inspect_plain(const ProofReader& read, std::size_t size, const HeaderCheck& check) {
  auto fixed = read(kFixedHeaderBytes);
  std::size_t depth = fixed.size() == kFixedHeaderBytes ? le32(fixed, kFixedHeaderBytes - 4) : 0;
  auto head = read(bundle_header_size(std::min(depth, kMaxDepth)));
  BundleHeader h = parse_header(head, kAnyDepth);
  const ProofShape shape{h.dims, h.batch};
  const std::size_t want = bundle_size(h.field, shape);
  if (size != want)
    throw ProofFormatError((size < want ? "truncated proof: " : "trailing bytes after the proof: ") +
                           std::to_string(size) + " bytes, the header implies " + std::to_string(want));
  auto bytes = read(want);
  return with_file_field(h.field, [&]<class Cfg>() {
    BundleView v;
    v.field = h.field;
    v.file_bytes = bytes.size();
    v.dims = shape.dims;
    v.batch = shape.batch;
    // As for a chunked bundle (the union bound over one proof), so the two views agree to the bit.
    const double bits = shape.soundness_bits(Cfg::kId);
    v.soundness_bits = combined_soundness_bits(std::span(&bits, 1));
    add_proof<Cfg>(v, bytes, shape);
    if (check) check(h);
    return v;
  });
}

}  // namespace

BundleView inspect_bundle(const ProofReader& read, std::size_t size, const HeaderCheck& check) {
  const auto magic = read(8);
  if (is_training_bundle(magic)) return inspect_training(read, size);
  if (is_chunked_bundle(magic)) return inspect_chunked(read, size, check);
  return inspect_plain(read, size, check);
}

}  // namespace nnproof::cli
