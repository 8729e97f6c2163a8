// SPDX-License-Identifier: Apache-2.0
// The proof bundle parser: canonical, bounds-checked, exact length. A byte-by-byte sweep shows
// that every single-byte change of an honest bundle is refused by the parser or the verifier.
#include <gtest/gtest.h>

#include "tests/support/problems.hpp"

namespace nnproof {
namespace {

// An honest proof and its file bytes.
template <class Cfg>
struct Honest : testing::HonestProof<Cfg> {
  Honest(const std::vector<std::size_t>& dims, std::size_t batch, std::uint64_t salt)
      : testing::HonestProof<Cfg>(dims, batch, salt), bytes(serialize_bundle(this->bundle)) {}
  std::vector<unsigned char> bytes;
};

template <class Cfg>
Honest<Cfg> make_honest(const std::vector<std::size_t>& dims, std::size_t batch, std::uint64_t salt) {
  return Honest<Cfg>(dims, batch, salt);  // no copy: the statement points at the model
}

template <class Cfg>
class ProofFormatTest : public ::testing::Test {};
using FileConfigs = ::testing::Types<M61, M127>;
TYPED_TEST_SUITE(ProofFormatTest, FileConfigs);

TYPED_TEST(ProofFormatTest, RoundTripAndExactSize) {
  auto h = make_honest<TypeParam>({5, 3, 2}, 3, 30);
  EXPECT_EQ(h.bytes.size(), bundle_size(TypeParam::kId, h.shape()));
  auto parsed = parse_bundle<TypeParam>(h.bytes, h.shape());
  EXPECT_EQ(serialize_bundle(parsed), h.bytes);
  EXPECT_TRUE(verify_bundle(h.st, parsed).accepted);
}

TYPED_TEST(ProofFormatTest, RejectsEveryTruncationAndAnyExtension) {
  auto h = make_honest<TypeParam>({5, 3, 2}, 3, 31);
  for (std::size_t len = 0; len < h.bytes.size(); ++len)
    EXPECT_THROW(parse_bundle<TypeParam>(std::span(h.bytes.data(), len), h.shape()), ProofFormatError) << len;
  auto longer = h.bytes;
  longer.push_back(0);
  EXPECT_THROW(parse_bundle<TypeParam>(longer, h.shape()), ProofFormatError);
}

TYPED_TEST(ProofFormatTest, RejectsNonCanonicalElements) {
  auto h = make_honest<TypeParam>({5, 3, 2}, 3, 32);
  const std::size_t end = h.bytes.size();
  // The last element of the file, set to p (all-ones for a Mersenne prime's bit length).
  auto bad = h.bytes;
  const std::size_t width = TypeParam::F::kBytes;
  typename TypeParam::F p;
  p.v = TypeParam::F::P;
  p.to_bytes(bad.data() + end - width);
  EXPECT_THROW(parse_bundle<TypeParam>(bad, h.shape()), ProofFormatError);
  // The first output element set to p.
  bad = h.bytes;
  p.to_bytes(bad.data() + bundle_header_size(2));
  EXPECT_THROW(parse_bundle<TypeParam>(bad, h.shape()), ProofFormatError);
}

TYPED_TEST(ProofFormatTest, RejectsHeaderFieldsThatDisagree) {
  auto h = make_honest<TypeParam>({5, 3, 2}, 3, 33);
  auto expect_refused = [&](std::size_t offset, unsigned char value) {
    auto bad = h.bytes;
    bad[offset] = value;
    EXPECT_THROW(parse_bundle<TypeParam>(bad, h.shape()), ProofFormatError) << "offset " << offset;
  };
  expect_refused(0, 'X');                                      // magic
  expect_refused(8, 1);                                        // version 1, before the outputs binding
  expect_refused(8, kProofVersion + 1);                        // a later version
  expect_refused(12, 3);                                       // m61-interactive never in files
  expect_refused(12, TypeParam::kId == FieldId::m61 ? 2 : 1);  // the other file field
  expect_refused(13, 1);                                       // mode
  expect_refused(14, 1);                                       // reserved
  expect_refused(112, 3);                                      // depth
  expect_refused(116, 6);                                      // n_0
  expect_refused(bundle_header_size(2) - 8, 4);                // batch
  // A shape other than the model's is refused even with a consistent file.
  ProofShape other = h.shape();
  other.batch = 4;
  EXPECT_THROW(parse_bundle<TypeParam>(h.bytes, other), ProofFormatError);
}

TEST(ProofFormat, HeaderClaimingHugeDimensionsIsRefusedBeforeAllocation) {
  auto h = make_honest<M61>({5, 3, 2}, 3, 34);
  auto bad = h.bytes;
  for (int i = 0; i < 8; ++i) bad[116 + 8 + i] = 0xFF;  // n_1 = 2^64 - 1
  EXPECT_THROW(parse_header(bad, kAnyDepth), ProofFormatError);
  bad = h.bytes;
  bad[112] = 0xFF, bad[113] = 0xFF, bad[114] = 0xFF, bad[115] = 0x7F;  // depth 2^31 - 1
  EXPECT_THROW(parse_header(bad, kAnyDepth), ProofFormatError);
}

// Every position, every bit pattern change (xor 0x01 and xor 0x80): the parser or the verifier
// refuses each one, so no two different byte strings both verify for this statement.
TYPED_TEST(ProofFormatTest, EverySingleByteChangeIsRefused) {
  auto h = make_honest<TypeParam>({4, 3, 2}, 2, 35);
  for (std::size_t i = 0; i < h.bytes.size(); ++i)
    for (unsigned char flip : {0x01, 0x80}) {
      auto bad = h.bytes;
      bad[i] ^= flip;
      bool accepted = false;
      try {
        auto parsed = parse_bundle<TypeParam>(bad, h.shape());
        Statement<TypeParam> st = h.st;
        st.outputs = parsed.outputs;  // the verifier takes the outputs from the file
        accepted = verify_bundle(st, parsed).accepted;
      } catch (const ProofFormatError&) {
      }
      EXPECT_FALSE(accepted) << "byte " << i << " xor " << int(flip);
    }
}

}  // namespace
}  // namespace nnproof
