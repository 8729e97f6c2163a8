// SPDX-License-Identifier: Apache-2.0
// The training bundle of a model with structured layers (docs/FORMAT.md, "The training bundle",
// structure section): flag bit 0 in the header, the section between the header and the claims,
// G_i sized by the trained ops' weights. Round trip and exact length, the documented offsets, every
// truncation and any extension refused, every single-byte change of the section refused, and a
// file for a dense model and one for a structured model each refused against the other's shape.
#include <gtest/gtest.h>

#include <string>

#include "tests/support/random.hpp"
#include "tests/support/training_bundle.hpp"

namespace nnproof {
namespace {

template <class Cfg>
class StructuredBundleTest : public ::testing::Test {};
using FileConfigs = ::testing::Types<M61, M127>;
using testing::parse_error;
TYPED_TEST_SUITE(StructuredBundleTest, FileConfigs);

std::uint64_t le(const std::vector<unsigned char>& b, std::size_t at, std::size_t n) {
  std::uint64_t x = 0;
  for (std::size_t i = 0; i < n; ++i) x |= static_cast<std::uint64_t>(b[at + i]) << (8 * i);
  return x;
}

// Layer 1: a chain whose ops 0 and 2 are trained (5 and 7 weights; op 1 a pool); layer 2 dense;
// layer 3: a chain of pools only.
const TrainingShape kShape{
    {8, 6, 3, 2}, 3, {std::vector<TrainedOp>{{0, 5}, {2, 7}}, std::nullopt, std::vector<TrainedOp>{}}};

template <class Cfg>
std::vector<unsigned char> sample_bytes(TrainingBundle<Cfg>& b, std::uint64_t salt) {
  auto rng = testing::make_rng(salt);
  b = testing::random_training_bundle<Cfg>(kShape.dims, kShape.samples, rng, kShape.structure);
  return serialize_training_bundle(b);
}

TYPED_TEST(StructuredBundleTest, RoundTripExactSizeAndLayout) {
  using F = typename TypeParam::F;
  TrainingBundle<TypeParam> b;
  const auto bytes = sample_bytes(b, 200);
  EXPECT_EQ(kShape.parameters(1), 12u);
  EXPECT_EQ(kShape.parameters(2), 18u);
  EXPECT_EQ(kShape.parameters(3), 0u);
  const std::size_t section = 4 * 3 + 12 * 2;
  EXPECT_EQ(bytes.size(), training_bundle_header_size(3) + section + kShape.claim_elements() * F::kBytes +
                              kShape.message_count() * TypeParam::K::kBytes);
  EXPECT_EQ(bytes.size(), training_bundle_size(TypeParam::kId, kShape));
  EXPECT_EQ(le(bytes, 14, 2), 1u);  // the flags
  const TrainingBundleHeader h = parse_training_header(bytes, kAnyDepth);
  EXPECT_TRUE(h.structured);
  // The section at 136 + 8 L = 160: the counts, then (op, weights) per trained op.
  const std::size_t at = training_bundle_header_size(3);
  EXPECT_EQ(at, 160u);
  EXPECT_EQ(le(bytes, at, 4), 2u);
  EXPECT_EQ(le(bytes, at + 4, 4), kDenseLayer);
  EXPECT_EQ(le(bytes, at + 8, 4), 0u);
  EXPECT_EQ(le(bytes, at + 12, 4), 0u);
  EXPECT_EQ(le(bytes, at + 16, 8), 5u);
  EXPECT_EQ(le(bytes, at + 24, 4), 2u);
  EXPECT_EQ(le(bytes, at + 28, 8), 7u);
  F loss;
  ASSERT_TRUE(F::from_bytes(bytes.data() + at + section, loss));
  EXPECT_EQ(loss, b.claims.loss);
  std::size_t used = 0;
  EXPECT_EQ(parse_training_structure(std::span(bytes).subspan(at), 3, used), kShape.structure);
  EXPECT_EQ(used, section);
  const auto parsed = parse_training_bundle<TypeParam>(bytes, kShape);
  EXPECT_EQ(parsed.header.structure, kShape.structure);
  EXPECT_EQ(parsed.claims.weight_gradients, b.claims.weight_gradients);
  EXPECT_EQ(parsed.messages, b.messages);
  EXPECT_EQ(serialize_training_bundle(parsed), bytes);
}

TYPED_TEST(StructuredBundleTest, TruncationsExtensionsAndSectionChangesAreRefused) {
  TrainingBundle<TypeParam> b;
  const auto bytes = sample_bytes(b, 201);
  for (std::size_t len = 0; len < bytes.size(); ++len)
    EXPECT_THROW(parse_training_bundle<TypeParam>(std::span(bytes.data(), len), kShape), ProofFormatError) << len;
  auto longer = bytes;
  longer.push_back(0);
  EXPECT_NE(parse_error<TypeParam>(longer, kShape).find("trailing bytes"), std::string::npos);
  // Every byte of the section, each to a few other values: the file no longer matches the model's
  // trained ops (or is out of range), and is refused.
  const std::size_t at = training_bundle_header_size(3), end = at + 4 * 3 + 12 * 2;
  for (std::size_t i = at; i < end; ++i)
    for (unsigned char delta : {1, 0x80}) {
      auto bad = bytes;
      bad[i] = static_cast<unsigned char>(bad[i] ^ delta);
      EXPECT_THROW(parse_training_bundle<TypeParam>(bad, kShape), ProofFormatError) << i;
    }
}

TYPED_TEST(StructuredBundleTest, DenseAndStructuredFilesAreRefusedAgainstTheOtherShape) {
  TrainingBundle<TypeParam> b;
  const auto bytes = sample_bytes(b, 202);
  const TrainingShape dense{kShape.dims, kShape.samples};
  EXPECT_NE(parse_error<TypeParam>(bytes, dense).find("with convolution or pooling layers but the model has none"),
            std::string::npos);
  auto rng = testing::make_rng(203);
  const auto dense_bytes =
      serialize_training_bundle(testing::random_training_bundle<TypeParam>(dense.dims, dense.samples, rng));
  EXPECT_EQ(le(dense_bytes, 14, 2), 0u);
  EXPECT_NE(parse_error<TypeParam>(dense_bytes, kShape).find("without convolution or pooling layers"),
            std::string::npos);
  // Another model's trained ops (op 2 with 6 weights): named by layer.
  TrainingShape other = kShape;
  (*other.structure[0])[1].params = 6;
  const auto other_bytes = serialize_training_bundle(
      testing::random_training_bundle<TypeParam>(other.dims, other.samples, rng, other.structure));
  EXPECT_NE(parse_error<TypeParam>(other_bytes, kShape).find("trained ops of layer 1 differ"), std::string::npos)
      << parse_error<TypeParam>(other_bytes, kShape);
}

// A structure of dense layers only is not written (the flag would announce nothing).
TEST(StructuredBundle, AnAllDenseStructureIsNotWritten) {
  auto rng = testing::make_rng(204);
  auto b = testing::random_training_bundle<M61>({4, 3, 2}, 2, rng);
  b.header.structure = {std::nullopt, std::nullopt};
  EXPECT_THROW(serialize_training_bundle(b), std::invalid_argument);
}

TEST(StructuredBundle, TheSectionReaderRefusesImplausibleValues) {
  auto section = [](std::vector<std::uint64_t> words) {  // (value, width) pairs flattened
    std::vector<unsigned char> out;
    for (std::size_t i = 0; i < words.size(); i += 2)
      for (std::size_t k = 0; k < words[i + 1]; ++k) out.push_back(static_cast<unsigned char>(words[i] >> (8 * k)));
    return out;
  };
  auto error = [](const std::vector<unsigned char>& bytes, std::size_t depth) -> std::string {
    std::size_t used = 0;
    try {
      parse_training_structure(bytes, depth, used);
    } catch (const ProofFormatError& e) {
      return e.what();
    }
    return "(accepted)";
  };
  EXPECT_NE(error(section({kDenseLayer, 4, kDenseLayer, 4}), 2).find("no structured layer"), std::string::npos);
  EXPECT_NE(error(section({kMaxTrainedOps + 1, 4}), 1).find("implausible trained-op count"), std::string::npos);
  EXPECT_NE(error(section({2, 4, 3, 4, 5, 8, 3, 4, 5, 8}), 1).find("out of order"), std::string::npos);
  EXPECT_NE(error(section({1, 4, 0, 4, 0, 8}), 1).find("implausible weight count"), std::string::npos);
  EXPECT_NE(error(section({1, 4, 0, 4, kMaxOpWeights + 1, 8}), 1).find("implausible weight count"), std::string::npos);
  EXPECT_NE(error(section({0xFFFF, 4}), 1).find("truncated"), std::string::npos);  // ends inside the ops
  EXPECT_EQ(error(section({0, 4}), 1), "(accepted)");                              // a layer of pools only
}

}  // namespace
}  // namespace nnproof
