// SPDX-License-Identifier: Apache-2.0
// libFuzzer: the training-bundle (.nnpt) parser. Each input is read twice: with no model at hand
// (as `nnproof inspect` reads files: the header's shape, taken only when the length it implies is
// the input's), and against the fixed shape of the seeds (as `verify` reads files). Either the
// parser refuses with ProofFormatError, or the bundle re-serializes to the same bytes (canonical)
// and the same bytes are refused for another shape or the other field.
// NNPROOF_FUZZ_WRITE_SEEDS=folder writes the seed corpus (tests/fuzz/corpus/fuzz_training_bundle/)
// and exits.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "tests/support/training_bundle.hpp"
#include "verifier/training/bundle.hpp"

namespace {

using nnproof::TrainingShape;

const TrainingShape kSeedShape{{5, 3, 2}, 3};
// A model with structured layers (a structure section after the header, docs/FORMAT.md).
const TrainingShape kStructuredShape{{6, 4, 2}, 2, {std::vector<nnproof::TrainedOp>{{0, 3}, {2, 5}}, std::nullopt}};

template <class Cfg, class Other>
void parse_and_roundtrip(std::span<const unsigned char> bytes, const TrainingShape& shape) {
  auto bundle = nnproof::parse_training_bundle<Cfg>(bytes, shape);
  auto again = nnproof::serialize_training_bundle(bundle);
  if (again.size() != bytes.size() || !std::equal(again.begin(), again.end(), bytes.begin()))
    __builtin_trap();  // canonical
  TrainingShape other = shape;
  other.samples += 1;
  bool refused = false;
  try {
    nnproof::parse_training_bundle<Cfg>(bytes, other);
  } catch (const nnproof::ProofFormatError&) {
    refused = true;
  }
  try {
    nnproof::parse_training_bundle<Other>(bytes, shape);
    refused = false;
  } catch (const nnproof::ProofFormatError&) {
  }
  if (!refused) __builtin_trap();  // a file for one shape and field only
}

void parse_either(std::span<const unsigned char> bytes, nnproof::FieldId field, const TrainingShape& shape) {
  if (field == nnproof::FieldId::m127)
    parse_and_roundtrip<nnproof::M127, nnproof::M61>(bytes, shape);
  else
    parse_and_roundtrip<nnproof::M61, nnproof::M127>(bytes, shape);
}

void write(const std::filesystem::path& path, std::span<const unsigned char> bytes) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// Two honest-shaped bundles per field (the seed shape and a 1-layer one), a header alone and a
// bundle cut inside its claims.
[[noreturn]] void write_seeds(const std::filesystem::path& dir) {
  std::mt19937_64 rng(18);
  std::filesystem::create_directories(dir);
  auto bytes = nnproof::serialize_training_bundle(
      nnproof::testing::random_training_bundle<nnproof::M61>(kSeedShape.dims, kSeedShape.samples, rng));
  write(dir / "small_m61.nnpt", bytes);
  write(dir / "header_only_m61.nnpt", std::span(bytes).first(nnproof::training_bundle_header_size(2)));
  write(dir / "cut_m61.nnpt", std::span(bytes).first(bytes.size() / 2));
  bytes = nnproof::serialize_training_bundle(
      nnproof::testing::random_training_bundle<nnproof::M127>(kSeedShape.dims, kSeedShape.samples, rng));
  write(dir / "small_m127.nnpt", bytes);
  write(dir / "one_layer_m61.nnpt",
        nnproof::serialize_training_bundle(nnproof::testing::random_training_bundle<nnproof::M61>({3, 5}, 2, rng)));
  write(dir / "one_layer_m127.nnpt",
        nnproof::serialize_training_bundle(nnproof::testing::random_training_bundle<nnproof::M127>({1, 1}, 1, rng)));
  write(dir / "structured_m61.nnpt",
        nnproof::serialize_training_bundle(nnproof::testing::random_training_bundle<nnproof::M61>(
            kStructuredShape.dims, kStructuredShape.samples, rng, kStructuredShape.structure)));
  std::_Exit(0);  // not exit(): libFuzzer reports a target that calls exit() as a crash
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace nnproof;
  static const bool seeds = [] {
    if (const char* dir = std::getenv("NNPROOF_FUZZ_WRITE_SEEDS")) write_seeds(dir);
    return false;
  }();
  (void)seeds;
  std::span<const unsigned char> bytes(data, size);
  // With no model: the header's shape, when it is small enough to fit the input at all.
  try {
    TrainingBundleHeader h = parse_training_header(bytes, kAnyDepth);
    bool fits = h.samples <= size;
    for (std::size_t d : h.dims) fits = fits && d <= size;  // every dimension sizes a claim of the file
    if (fits) {
      TrainingShape shape{h.dims, h.samples};
      if (h.structured) {  // the section, read as inspect reads it: bounded by the input
        const std::size_t at = std::min(training_bundle_header_size(h.dims.size() - 1), size);
        std::size_t used = 0;
        shape.structure = parse_training_structure(bytes.subspan(at), h.dims.size() - 1, used);
        for (const auto& l : shape.structure)
          if (l)
            for (const auto& t : *l) fits = fits && t.params <= size;  // each weight count sizes claims too
      }
      if (fits && training_bundle_size(h.field, shape) == size) parse_either(bytes, h.field, shape);
    }
  } catch (const ProofFormatError&) {
  }
  // Against a trusted shape, in both fields.
  for (FieldId field : {FieldId::m61, FieldId::m127})
    for (const TrainingShape* shape : {&kSeedShape, &kStructuredShape}) {
      try {
        parse_either(bytes, field, *shape);
      } catch (const ProofFormatError&) {
      }
    }
  return 0;
}
