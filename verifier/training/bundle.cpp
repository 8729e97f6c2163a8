// SPDX-License-Identifier: Apache-2.0
#include "verifier/training/bundle.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "verifier/byte_io.hpp"

namespace nnproof {
namespace {

using byte_io::field_base_bytes;
using byte_io::field_challenge_bytes;
using byte_io::read_elements;
using byte_io::Reader;
using byte_io::Writer;

constexpr unsigned char kMagic[8] = {'N', 'N', 'P', 'T', 'R', 'A', 'I', 'N'};
constexpr unsigned char kInferenceMagic[8] = {'N', 'N', 'P', 'R', 'O', 'O', 'F', 0};

std::size_t header_size(std::size_t depth) { return kTrainingFixedHeaderBytes + (depth + 1) * 8 + 8; }

// The claims' element count (the loss, every G_i and g_i, the outputs) in 128 bits: a header's
// dims (each at most 2^32) may make it exceed 2^64 before the file's length has been checked.
u128 claim_count(const TrainingShape& shape) {
  u128 n = 1;
  for (std::size_t i = 1; i < shape.dims.size(); ++i)
    n += (shape.structured() && shape.structure[i - 1] ? static_cast<u128>(shape.parameters(i))
                                                       : static_cast<u128>(shape.dims[i]) * shape.dims[i - 1]) +
         shape.dims[i];
  return n + static_cast<u128>(shape.samples) * shape.dims.back();
}

// The structure section's length: none for a dense model.
u128 structure_bytes(const TrainingShape& shape) {
  if (!shape.structured()) return 0;
  u128 n = 4 * static_cast<u128>(shape.depth());
  for (const LayerStructure& l : shape.structure)
    if (l) n += 12 * static_cast<u128>(l->size());
  return n;
}

void write_structure(Writer& w, const std::vector<LayerStructure>& structure) {
  for (const LayerStructure& l : structure) w.uint(l ? l->size() : kDenseLayer, 4);
  for (const LayerStructure& l : structure)
    if (l)
      for (const TrainedOp& t : *l) {
        w.uint(t.op, 4);
        w.uint(t.params, 8);
      }
}

std::string dims_text(const std::vector<std::size_t>& dims) {
  std::string s;
  for (auto d : dims) s += (s.empty() ? "" : "-") + std::to_string(d);
  return s;
}

void check_shape(const TrainingShape& shape) {
  if (shape.dims.size() < 2) throw std::invalid_argument("training shape: dims must hold n_0 .. n_L with L >= 1");
}

}  // namespace

bool is_training_bundle(std::span<const unsigned char> bytes) {
  return bytes.size() >= sizeof kMagic && std::memcmp(bytes.data(), kMagic, sizeof kMagic) == 0;
}

std::size_t training_bundle_header_size(std::size_t depth) { return header_size(depth); }

TrainingBundleHeader parse_training_header(std::span<const unsigned char> bytes, std::size_t expected_depth) {
  Reader r(bytes);
  const unsigned char* magic = r.take(8, "the magic");
  if (std::memcmp(magic, kMagic, 8) != 0) {
    if (std::memcmp(magic, kInferenceMagic, 8) == 0)
      throw ProofFormatError("an inference proof (.nnp), not a training proof (.nnpt)");
    throw ProofFormatError("not an nnproof training proof file (bad magic)");
  }
  std::uint64_t version = r.uint(4, "the version");
  if (version != kTrainingProofVersion)
    throw ProofFormatError("unsupported training proof version " + std::to_string(version) +
                           " (this nnproof reads training proof version " + std::to_string(kTrainingProofVersion) +
                           "; prove again with it)");
  TrainingBundleHeader h;
  // The field, the mode and the flags (the inference header's reserved bytes): bit 0 says a
  // structure section follows; every other bit is zero.
  const std::uint64_t field = r.uint(1, "the field id");
  if (field != static_cast<std::uint8_t>(FieldId::m61) && field != static_cast<std::uint8_t>(FieldId::m127))
    throw ProofFormatError("unknown or non-file field id " + std::to_string(field) + " (files hold m61 or m127)");
  h.field = static_cast<FieldId>(field);
  h.mode = static_cast<std::uint8_t>(r.uint(1, "the mode"));
  if (h.mode != kModeNonInteractive) throw ProofFormatError("unknown proof mode " + std::to_string(h.mode));
  const std::uint64_t flags = r.uint(2, "the flags");
  if (flags > 1) throw ProofFormatError("unknown header flags " + std::to_string(flags) + " (only bit 0 is defined)");
  h.structured = flags == 1;
  std::memcpy(h.statement_digest.data(), r.take(32, "the statement digest"), 32);
  std::memcpy(h.model_binding.data(), r.take(32, "the model binding"), 32);
  std::memcpy(h.data_binding.data(), r.take(32, "the data binding"), 32);
  std::uint64_t lr = r.uint(4, "the learning rate's exponent");
  if (lr > kMaxLrExponent)
    throw ProofFormatError("learning rate exponent " + std::to_string(lr) + " out of range (at most " +
                           std::to_string(kMaxLrExponent) + ")");
  h.lr_exponent = static_cast<std::uint32_t>(lr);
  std::uint64_t depth = r.uint(4, "the depth");
  if (depth == 0 || (expected_depth == kAnyDepth && depth > kMaxDepth))
    throw ProofFormatError("implausible depth " + std::to_string(depth) + " in the header");
  if (expected_depth != kAnyDepth && depth != expected_depth)
    throw ProofFormatError("training proof is for a " + std::to_string(depth) + "-layer network but the model has " +
                           std::to_string(expected_depth) + " layers");
  // depth is now at most kMaxDepth or the caller's trusted depth: safe to size the dims by it.
  h.dims.reserve(depth + 1);
  for (std::size_t i = 0; i <= depth; ++i) h.dims.push_back(r.uint(8, "the dimensions"));
  h.samples = r.uint(8, "the sample count");
  for (std::size_t i = 0; i < h.dims.size(); ++i)
    if (h.dims[i] == 0 || h.dims[i] > kMaxDimension)
      throw ProofFormatError("implausible dimension n_" + std::to_string(i) + " = " + std::to_string(h.dims[i]) +
                             " in the header");
  if (h.samples == 0 || h.samples > kMaxDimension)
    throw ProofFormatError("implausible sample count " + std::to_string(h.samples) + " in the header");
  return h;
}

std::vector<LayerStructure> parse_training_structure(std::span<const unsigned char> bytes, std::size_t depth,
                                                     std::size_t& used) {
  Reader r(bytes);
  std::vector<std::uint64_t> counts;
  bool any = false;
  for (std::size_t i = 0; i < depth; ++i) {
    counts.push_back(r.uint(4, "the structure section's op counts"));
    if (counts.back() == kDenseLayer) continue;
    any = true;
    if (counts.back() > kMaxTrainedOps)
      throw ProofFormatError("implausible trained-op count " + std::to_string(counts.back()) + " for layer " +
                             std::to_string(i + 1) + " in the structure section");
  }
  if (!any) throw ProofFormatError("the structure section has no structured layer (the flag must then be 0)");
  std::vector<LayerStructure> out;
  for (std::size_t i = 0; i < depth; ++i) {
    if (counts[i] == kDenseLayer) {
      out.emplace_back(std::nullopt);
      continue;
    }
    std::vector<TrainedOp> ops;
    for (std::uint64_t k = 0; k < counts[i]; ++k) {
      const std::uint64_t op = r.uint(4, "a trained op's index"), params = r.uint(8, "a trained op's weight count");
      if ((!ops.empty() && op <= ops.back().op) || params == 0 || params > kMaxOpWeights)
        throw ProofFormatError("layer " + std::to_string(i + 1) + "'s trained op " + std::to_string(k + 1) +
                               " in the structure section is out of order or has an implausible weight count");
      ops.push_back({static_cast<std::size_t>(op), static_cast<std::size_t>(params)});
    }
    out.emplace_back(std::move(ops));
  }
  used = r.pos();
  return out;
}

std::size_t training_bundle_size_before_messages(FieldId field, const TrainingShape& shape) {
  check_shape(shape);
  const u128 total = header_size(shape.depth()) + structure_bytes(shape) + claim_count(shape) * field_base_bytes(field);
  return total > static_cast<u128>(SIZE_MAX) ? SIZE_MAX : static_cast<std::size_t>(total);
}

std::size_t training_bundle_size(FieldId field, const TrainingShape& shape) {
  check_shape(shape);
  // In 128 bits: with dims and N below 2^32 and depth below 2^32 nothing here can overflow.
  u128 total = header_size(shape.depth()) + structure_bytes(shape) + claim_count(shape) * field_base_bytes(field) +
               static_cast<u128>(shape.message_count()) * field_challenge_bytes(field);
  return total > static_cast<u128>(SIZE_MAX) ? SIZE_MAX : static_cast<std::size_t>(total);
}

template <class Cfg>
std::vector<unsigned char> serialize_training_bundle(const TrainingBundle<Cfg>& bundle) {
  const TrainingBundleHeader& h = bundle.header;
  const TrainingClaims<typename Cfg::F>& c = bundle.claims;
  const TrainingShape shape{h.dims, h.samples, h.structure};
  check_shape(shape);
  // A bundle that disagrees with its own header would write a file no parser accepts.
  const std::size_t depth = shape.depth();
  bool consistent = c.weight_gradients.size() == depth && c.bias_gradients.size() == depth &&
                    c.outputs.size() == h.samples * h.dims.back() && h.lr_exponent <= kMaxLrExponent &&
                    bundle.messages.size() == shape.message_count();
  for (std::size_t i = 1; consistent && i <= depth; ++i)
    consistent = c.weight_gradients[i - 1].size() == shape.parameters(i) && c.bias_gradients[i - 1].size() == h.dims[i];
  // A structure section holds at least one structured layer (the parser refuses one that does not).
  consistent = consistent &&
               (h.structure.empty() ||
                (h.structure.size() == depth && std::any_of(h.structure.begin(), h.structure.end(),
                                                            [](const LayerStructure& l) { return l.has_value(); })));
  if (!consistent)
    throw std::invalid_argument("training bundle: claims, messages or learning rate disagree with the header's " +
                                dims_text(h.dims) + " network and " + std::to_string(h.samples) + " samples");
  Writer w;
  w.bytes(kMagic, 8);
  w.uint(kTrainingProofVersion, 4);
  w.uint(static_cast<std::uint8_t>(Cfg::kId), 1);
  w.uint(h.mode, 1);
  w.uint(shape.structured() ? 1 : 0, 2);  // the flags
  w.bytes(h.statement_digest.data(), 32);
  w.bytes(h.model_binding.data(), 32);
  w.bytes(h.data_binding.data(), 32);
  w.uint(h.lr_exponent, 4);
  w.uint(depth, 4);
  for (auto d : h.dims) w.uint(d, 8);
  w.uint(h.samples, 8);
  if (shape.structured()) write_structure(w, h.structure);
  w.elements(std::vector<typename Cfg::F>{c.loss});
  for (std::size_t i = 0; i < depth; ++i) {
    w.elements(c.weight_gradients[i]);
    w.elements(c.bias_gradients[i]);
  }
  w.elements(c.outputs);
  w.elements(bundle.messages);
  return std::move(w.out);
}

template <class Cfg>
TrainingBundle<Cfg> parse_training_bundle(std::span<const unsigned char> bytes, const TrainingShape& expected) {
  check_shape(expected);
  TrainingBundle<Cfg> b;
  b.header = parse_training_header(bytes, expected.depth());
  const TrainingBundleHeader& h = b.header;
  if (h.field != Cfg::kId)
    throw ProofFormatError(std::string("training proof field is ") + std::string(field_name(h.field)) + ", expected " +
                           std::string(field_name(Cfg::kId)));
  for (std::size_t i = 0; i < h.dims.size(); ++i)
    if (h.dims[i] != expected.dims[i])
      throw ProofFormatError("training proof dimension n_" + std::to_string(i) + " is " + std::to_string(h.dims[i]) +
                             " but the model's is " + std::to_string(expected.dims[i]) + " (proof " +
                             dims_text(h.dims) + ", model " + dims_text(expected.dims) + ")");
  if (h.samples != expected.samples)
    throw ProofFormatError("training proof is for " + std::to_string(h.samples) + " samples but the data has " +
                           std::to_string(expected.samples));
  if (h.structured != expected.structured())
    throw ProofFormatError(std::string("training proof is for a model ") + (h.structured ? "with" : "without") +
                           " convolution or pooling layers but the model has " +
                           (expected.structured() ? "some" : "none"));
  // The structure section before the length: a file for another model's trained ops is named as
  // such (the section's reader is bounded by the trusted depth and by the bytes there are).
  std::size_t offset = header_size(expected.depth());
  if (expected.structured()) {
    std::size_t used = 0;
    b.header.structure =
        parse_training_structure(bytes.subspan(std::min(offset, bytes.size())), expected.depth(), used);
    for (std::size_t i = 0; i < expected.depth(); ++i)
      if (b.header.structure[i] != expected.structure[i])
        throw ProofFormatError("training proof's trained ops of layer " + std::to_string(i + 1) +
                               " differ from the model's (another model, or ops read as pools differently)");
    offset += used;
  }
  // Sizes are now those of the trusted model and data: safe to check the length and allocate.
  const std::size_t want = training_bundle_size(Cfg::kId, expected);
  if (bytes.size() < want)
    throw ProofFormatError("truncated training proof: " + std::to_string(bytes.size()) + " bytes, expected " +
                           std::to_string(want));
  if (bytes.size() > want)
    throw ProofFormatError("trailing bytes after the training proof: " + std::to_string(bytes.size()) +
                           " bytes, expected " + std::to_string(want));
  Reader r(bytes.subspan(offset));
  std::vector<typename Cfg::F> loss;
  read_elements(r, loss, 1, "the loss");
  b.claims.loss = loss[0];
  const std::size_t depth = expected.depth();
  b.claims.weight_gradients.resize(depth);
  b.claims.bias_gradients.resize(depth);
  for (std::size_t i = 1; i <= depth; ++i) {
    const std::string g = "the weight gradient G_" + std::to_string(i);
    read_elements(r, b.claims.weight_gradients[i - 1], expected.parameters(i), g.c_str());
    const std::string bias = "the bias gradient g_" + std::to_string(i);
    read_elements(r, b.claims.bias_gradients[i - 1], expected.dims[i], bias.c_str());
  }
  read_elements(r, b.claims.outputs, expected.samples * expected.dims.back(), "the outputs");
  read_elements(r, b.messages, expected.message_count(), "the proof messages");
  return b;
}

#define NNP_INSTANTIATE(Cfg)                                                                 \
  template std::vector<unsigned char> serialize_training_bundle(const TrainingBundle<Cfg>&); \
  template TrainingBundle<Cfg> parse_training_bundle(std::span<const unsigned char>, const TrainingShape&);
NNP_FOR_EACH_FILE_CONFIG(NNP_INSTANTIATE)
#undef NNP_INSTANTIATE

}  // namespace nnproof
