// SPDX-License-Identifier: Apache-2.0
// The training bundle (.nnpt): byte layout, round trip, exact length, canonical elements, and the
// parser's refusals (truncation, extension, header fields, another shape or field). A byte-by-byte
// sweep shows that every single-byte change is refused by the parser or changes what the file says
// (a header field, a claim or a message), so the statement digest or the proof's checks see it.
#include <gtest/gtest.h>

#include <string>

#include "tests/support/random.hpp"
#include "tests/support/training_bundle.hpp"

namespace nnproof {
namespace {

template <class Cfg>
class TrainingBundleTest : public ::testing::Test {};
using FileConfigs = ::testing::Types<M61, M127>;
using testing::parse_error;
TYPED_TEST_SUITE(TrainingBundleTest, FileConfigs);

struct Case {
  std::vector<std::size_t> dims;
  std::size_t samples;
};
// 1 to 3 layers, odd and power-of-two sizes, widths of 1.
const std::vector<Case> kCases = {{{3, 5}, 3}, {{5, 3, 2}, 3}, {{7, 1, 4, 3}, 5}, {{1, 2, 1}, 1}, {{4, 8, 2}, 8}};

std::uint64_t le(const std::vector<unsigned char>& b, std::size_t at, std::size_t n) {
  std::uint64_t x = 0;
  for (std::size_t i = 0; i < n; ++i) x |= static_cast<std::uint64_t>(b[at + i]) << (8 * i);
  return x;
}

bool same_header(const TrainingBundleHeader& a, const TrainingBundleHeader& b) {
  return a.field == b.field && a.mode == b.mode && a.statement_digest == b.statement_digest &&
         a.model_binding == b.model_binding && a.data_binding == b.data_binding && a.lr_exponent == b.lr_exponent &&
         a.dims == b.dims && a.samples == b.samples && a.structured == b.structured;
}

template <class Cfg>
struct Sample {
  Sample(const std::vector<std::size_t>& dims, std::size_t samples, std::uint64_t salt) : shape{dims, samples} {
    auto rng = testing::make_rng(salt);
    bundle = testing::random_training_bundle<Cfg>(dims, samples, rng);
    bytes = serialize_training_bundle(bundle);
  }
  TrainingShape shape;
  TrainingBundle<Cfg> bundle;
  std::vector<unsigned char> bytes;
};

TYPED_TEST(TrainingBundleTest, RoundTripAndExactSize) {
  using F = typename TypeParam::F;
  using K = typename TypeParam::K;
  for (std::size_t c = 0; c < kCases.size(); ++c) {
    Sample<TypeParam> s(kCases[c].dims, kCases[c].samples, 100 + c);
    const std::size_t L = s.shape.depth();
    EXPECT_EQ(training_bundle_header_size(L), 136 + 8 * L);
    EXPECT_EQ(s.bytes.size(), training_bundle_header_size(L) + s.shape.claim_elements() * F::kBytes +
                                  s.shape.message_count() * K::kBytes);
    EXPECT_EQ(s.bytes.size(), training_bundle_size(TypeParam::kId, s.shape));
    EXPECT_TRUE(is_training_bundle(s.bytes));
    auto parsed = parse_training_bundle<TypeParam>(s.bytes, s.shape);
    EXPECT_TRUE(same_header(parsed.header, s.bundle.header));
    EXPECT_EQ(parsed.claims.loss, s.bundle.claims.loss);
    EXPECT_EQ(parsed.claims.weight_gradients, s.bundle.claims.weight_gradients);
    EXPECT_EQ(parsed.claims.bias_gradients, s.bundle.claims.bias_gradients);
    EXPECT_EQ(parsed.claims.outputs, s.bundle.claims.outputs);
    EXPECT_EQ(parsed.messages, s.bundle.messages);
    EXPECT_EQ(serialize_training_bundle(parsed), s.bytes);
    TrainingBundleHeader h = parse_training_header(s.bytes, kAnyDepth);
    EXPECT_TRUE(same_header(h, s.bundle.header));
  }
}

// The layout of docs/FORMAT.md, offset by offset.
TYPED_TEST(TrainingBundleTest, ByteLayoutIsTheDocumentedOne) {
  using F = typename TypeParam::F;
  Sample<TypeParam> s({5, 3, 2}, 3, 110);
  const auto& b = s.bytes;
  const auto& h = s.bundle.header;
  EXPECT_EQ(std::string(b.begin(), b.begin() + 8), "NNPTRAIN");
  EXPECT_EQ(le(b, 8, 4), kTrainingProofVersion);
  EXPECT_EQ(le(b, 12, 1), static_cast<std::uint64_t>(TypeParam::kId));
  EXPECT_EQ(le(b, 13, 1), 0u);
  EXPECT_EQ(le(b, 14, 2), 0u);
  EXPECT_TRUE(std::equal(h.statement_digest.begin(), h.statement_digest.end(), b.begin() + 16));
  EXPECT_TRUE(std::equal(h.model_binding.begin(), h.model_binding.end(), b.begin() + 48));
  EXPECT_TRUE(std::equal(h.data_binding.begin(), h.data_binding.end(), b.begin() + 80));
  EXPECT_EQ(le(b, 112, 4), h.lr_exponent);
  EXPECT_EQ(le(b, 116, 4), 2u);
  EXPECT_EQ(le(b, 120, 8), 5u);
  EXPECT_EQ(le(b, 128, 8), 3u);
  EXPECT_EQ(le(b, 136, 8), 2u);
  EXPECT_EQ(le(b, 144, 8), 3u);  // N
  // The claims from offset 152 = 136 + 8 L: the loss, G_1, g_1, G_2, g_2, the outputs.
  std::size_t at = 152;
  auto element_at = [&](std::size_t offset) {
    F x;
    EXPECT_TRUE(F::from_bytes(b.data() + offset, x));
    return x;
  };
  EXPECT_EQ(element_at(at), s.bundle.claims.loss);
  at += F::kBytes;
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(element_at(at), s.bundle.claims.weight_gradients[i][0]);
    at += s.bundle.claims.weight_gradients[i].size() * F::kBytes;
    EXPECT_EQ(element_at(at), s.bundle.claims.bias_gradients[i][0]);
    at += s.bundle.claims.bias_gradients[i].size() * F::kBytes;
  }
  EXPECT_EQ(element_at(at), s.bundle.claims.outputs[0]);
  at += s.bundle.claims.outputs.size() * F::kBytes;
  typename TypeParam::K m;
  EXPECT_TRUE(TypeParam::K::from_bytes(b.data() + at, m));
  EXPECT_EQ(m, s.bundle.messages[0]);
  EXPECT_EQ(at + s.bundle.messages.size() * 16, b.size());  // K is 16 bytes in both file fields
}

TYPED_TEST(TrainingBundleTest, RejectsEveryTruncationAndAnyExtension) {
  for (std::size_t c = 0; c < 3; ++c) {
    Sample<TypeParam> s(kCases[c].dims, kCases[c].samples, 120 + c);
    for (std::size_t len = 0; len < s.bytes.size(); ++len)
      EXPECT_THROW(parse_training_bundle<TypeParam>(std::span(s.bytes.data(), len), s.shape), ProofFormatError) << len;
    auto longer = s.bytes;
    longer.push_back(0);
    EXPECT_NE(parse_error<TypeParam>(longer, s.shape).find("trailing bytes"), std::string::npos);
    EXPECT_NE(parse_error<TypeParam>(std::span(s.bytes.data(), s.bytes.size() - 1), s.shape).find("truncated"),
              std::string::npos);
  }
}

// An element set to p, and to all-ones bytes (the largest value the width holds), in each section.
TYPED_TEST(TrainingBundleTest, RejectsNonCanonicalElementsInEverySection) {
  using F = typename TypeParam::F;
  Sample<TypeParam> s({7, 1, 4, 3}, 5, 130);
  const auto& c = s.bundle.claims;
  struct Spot {
    std::size_t offset;
    std::string section;
  };
  std::vector<Spot> spots;
  std::size_t at = training_bundle_header_size(3);
  spots.push_back({at, "the loss"});
  at += F::kBytes;
  for (std::size_t i = 1; i <= 3; ++i) {
    const std::size_t g = c.weight_gradients[i - 1].size() * F::kBytes;
    spots.push_back({at, "G_" + std::to_string(i)});
    spots.push_back({at + g - F::kBytes, "G_" + std::to_string(i)});
    at += g;
    const std::size_t bias = c.bias_gradients[i - 1].size() * F::kBytes;
    spots.push_back({at, "g_" + std::to_string(i)});
    spots.push_back({at + bias - F::kBytes, "g_" + std::to_string(i)});
    at += bias;
  }
  spots.push_back({at, "the outputs"});
  at += c.outputs.size() * F::kBytes;
  spots.push_back({at - F::kBytes, "the outputs"});
  spots.push_back({at, "the proof messages"});
  spots.push_back({s.bytes.size() - F::kBytes, "the proof messages"});  // m61: the last imaginary part
  ASSERT_EQ(at + s.bundle.messages.size() * TypeParam::K::kBytes, s.bytes.size());
  F p;
  p.v = F::P;
  for (const auto& spot : spots) {
    auto bad = s.bytes;
    p.to_bytes(bad.data() + spot.offset);
    std::string e = parse_error<TypeParam>(bad, s.shape);
    EXPECT_NE(e.find("non-canonical"), std::string::npos) << spot.offset << ": " << e;
    EXPECT_NE(e.find(spot.section), std::string::npos) << spot.offset << ": " << e;
    bad = s.bytes;
    std::fill_n(bad.begin() + static_cast<std::ptrdiff_t>(spot.offset), F::kBytes, 0xFF);
    EXPECT_NE(parse_error<TypeParam>(bad, s.shape).find("non-canonical"), std::string::npos) << spot.offset;
    // p - 1 is canonical: only the element changes.
    bad = s.bytes;
    F top;
    top.v = F::P - 1;
    top.to_bytes(bad.data() + spot.offset);
    EXPECT_NO_THROW(parse_training_bundle<TypeParam>(bad, s.shape)) << spot.offset;
  }
}

TYPED_TEST(TrainingBundleTest, RejectsHeaderFieldsThatDisagree) {
  Sample<TypeParam> s({5, 3, 2}, 3, 140);
  auto refused = [&](std::size_t offset, unsigned char value) {
    auto bad = s.bytes;
    bad[offset] = value;
    return parse_error<TypeParam>(bad, s.shape);
  };
  EXPECT_NE(refused(0, 'X').find("bad magic"), std::string::npos);
  EXPECT_NE(refused(8, 2).find("unsupported training proof version 2 (this nnproof reads training proof version 1"),
            std::string::npos);
  EXPECT_NE(refused(8, 0).find("version 0"), std::string::npos);
  EXPECT_NE(refused(12, 3).find("field id 3"), std::string::npos);  // m61-interactive never in files
  EXPECT_NE(refused(12, 0).find("field id 0"), std::string::npos);
  const bool m61 = TypeParam::kId == FieldId::m61;
  EXPECT_NE(refused(12, m61 ? 2 : 1).find(m61 ? "field is m127, expected m61" : "field is m61, expected m127"),
            std::string::npos);
  EXPECT_NE(refused(13, 1).find("mode"), std::string::npos);
  // The flags (bytes 14-15): bit 0 announces a structure section this dense model does not have.
  EXPECT_NE(refused(14, 1).find("with convolution or pooling layers but the model has none"), std::string::npos);
  EXPECT_NE(refused(14, 2).find("unknown header flags 2"), std::string::npos);
  EXPECT_NE(refused(15, 0x80).find("unknown header flags"), std::string::npos);
  EXPECT_NE(refused(112, 65).find("learning rate exponent 65"), std::string::npos);
  EXPECT_NE(refused(115, 1).find("learning rate exponent"), std::string::npos);
  EXPECT_NE(refused(116, 3).find("3-layer network but the model has 2 layers"), std::string::npos);
  EXPECT_NE(refused(116, 0).find("depth 0"), std::string::npos);
  EXPECT_NE(refused(120, 6).find("n_0 is 6 but the model's is 5"), std::string::npos);
  EXPECT_NE(refused(136, 1).find("n_2 is 1 but the model's is 2"), std::string::npos);
  EXPECT_NE(refused(136, 0).find("implausible dimension n_2 = 0"), std::string::npos);
  EXPECT_NE(refused(144, 4).find("4 samples but the data has 3"), std::string::npos);
  EXPECT_NE(refused(144, 0).find("implausible sample count 0"), std::string::npos);
  // lr exponents 0 and 64 are in range: the file parses with the new exponent.
  for (unsigned char e : {0, 64}) {
    auto other = s.bytes;
    other[112] = e;
    EXPECT_EQ(parse_training_bundle<TypeParam>(other, s.shape).header.lr_exponent, e);
  }
  // A consistent file for another shape is refused against this one, naming what differs.
  auto expect_other = [&](const TrainingShape& other, const std::string& needle) {
    std::string e = parse_error<TypeParam>(s.bytes, other);
    EXPECT_NE(e.find(needle), std::string::npos) << e;
  };
  expect_other({{5, 3, 2}, 4}, "3 samples but the data has 4");
  expect_other({{5, 3, 2, 2}, 3}, "2-layer network but the model has 3 layers");
  expect_other({{5, 2}, 3}, "2-layer network but the model has 1 layers");
  expect_other({{5, 4, 2}, 3}, "n_1 is 3 but the model's is 4");
  expect_other({{5, 3, 7}, 3}, "n_2 is 2 but the model's is 7");
  // The other file field, read by this field's parser.
  std::string e = m61 ? parse_error<M127>(s.bytes, s.shape) : parse_error<M61>(s.bytes, s.shape);
  EXPECT_NE(e.find(m61 ? "field is m61, expected m127" : "field is m127, expected m61"), std::string::npos) << e;
}

TEST(TrainingBundle, OtherFilesAndHugeHeadersAreRefusedBeforeAllocation) {
  Sample<M61> s({5, 3, 2}, 3, 150);
  // An inference bundle's magic is named.
  auto nnp = s.bytes;
  std::copy_n("NNPROOF", 8, nnp.begin());  // with its NUL
  EXPECT_FALSE(is_training_bundle(nnp));
  EXPECT_NE(parse_error<M61>(nnp, s.shape).find("an inference proof"), std::string::npos);
  EXPECT_THROW(parse_header(s.bytes, kAnyDepth), ProofFormatError);  // and the .nnp parser refuses .nnpt
  auto bad = s.bytes;
  for (int i = 0; i < 8; ++i) bad[128 + i] = 0xFF;  // n_1 = 2^64 - 1
  EXPECT_THROW(parse_training_header(bad, kAnyDepth), ProofFormatError);
  bad = s.bytes;
  bad[116] = 0xFF, bad[117] = 0xFF, bad[118] = 0xFF, bad[119] = 0x7F;  // depth 2^31 - 1
  EXPECT_THROW(parse_training_header(bad, kAnyDepth), ProofFormatError);
  bad = s.bytes;
  bad[117] = 0x10;  // depth 4098 > kMaxDepth
  EXPECT_NE(parse_error<M61>(bad, TrainingShape{std::vector<std::size_t>(4099, 1), 3}).find("truncated"),
            std::string::npos);  // the model's depth is trusted; the file ends inside the dims
  EXPECT_THROW(parse_training_header(bad, kAnyDepth), ProofFormatError);
  // The largest plausible shape's length does not overflow: it saturates or is exact, never wraps.
  TrainingShape huge{std::vector<std::size_t>(5, kMaxDimension), kMaxDimension};
  EXPECT_EQ(training_bundle_size(FieldId::m127, huge), SIZE_MAX);
  EXPECT_THROW(parse_training_bundle<M61>(s.bytes, TrainingShape{{5}, 3}), std::invalid_argument);
}

TEST(TrainingBundle, SerializerRefusesClaimsThatDisagreeWithTheHeader) {
  Sample<M61> s({5, 3, 2}, 3, 160);
  auto b = s.bundle;
  b.claims.bias_gradients[1].pop_back();
  EXPECT_THROW(serialize_training_bundle(b), std::invalid_argument);
  b = s.bundle;
  b.messages.push_back({});
  EXPECT_THROW(serialize_training_bundle(b), std::invalid_argument);
  b = s.bundle;
  b.header.lr_exponent = 65;
  EXPECT_THROW(serialize_training_bundle(b), std::invalid_argument);
}

// Every position, xor 0x01 and xor 0x80: the parser refuses the file, or it parses into a bundle
// that re-serializes to the changed bytes (canonical) and differs from the honest one: in the
// header (so the statement digest or the bindings the verifier recomputes differ), or in a claim
// or a message (the statement digest, which hashes the claims, or the proof's checks).
TYPED_TEST(TrainingBundleTest, EverySingleByteChangeIsRefusedOrChangesTheBundle) {
  Sample<TypeParam> s({4, 3, 2}, 3, 170);
  const std::size_t header = training_bundle_header_size(2);
  int refused = 0, changed_header = 0;
  for (std::size_t i = 0; i < s.bytes.size(); ++i)
    for (unsigned char flip : {0x01, 0x80}) {
      auto bad = s.bytes;
      bad[i] ^= flip;
      try {
        auto parsed = parse_training_bundle<TypeParam>(bad, s.shape);
        EXPECT_EQ(serialize_training_bundle(parsed), bad) << "byte " << i;
        if (i < header) {
          EXPECT_FALSE(same_header(parsed.header, s.bundle.header)) << "byte " << i << " xor " << int(flip);
          ++changed_header;
        } else {
          EXPECT_TRUE(same_header(parsed.header, s.bundle.header)) << "byte " << i;
          EXPECT_TRUE(parsed.claims.loss != s.bundle.claims.loss ||
                      parsed.claims.weight_gradients != s.bundle.claims.weight_gradients ||
                      parsed.claims.bias_gradients != s.bundle.claims.bias_gradients ||
                      parsed.claims.outputs != s.bundle.claims.outputs || parsed.messages != s.bundle.messages)
              << "byte " << i;
        }
      } catch (const ProofFormatError&) {
        ++refused;
      }
    }
  EXPECT_GT(refused, 0);         // magic, version, field, mode, reserved, lr, depth, dims, N
  EXPECT_GT(changed_header, 0);  // digests and the learning rate's exponent
}

}  // namespace
}  // namespace nnproof
