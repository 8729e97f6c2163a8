// SPDX-License-Identifier: Apache-2.0
// The magnitude bound (PROTOCOL.md section 7) on the verifier's side: a prover that proves a
// wrapped computation in a field too small for it gets a valid field proof, which the verifier's
// magnitude check (and the CLI) must refuse.
#include <gtest/gtest.h>

#include "tests/support/problems.hpp"
#include "verifier/magnitude.hpp"

namespace nnproof {
namespace {

QuantizedModel one_by_one() {
  QuantizedModel m;
  m.layers.push_back({1, 1, {1}, {0}, {}, {}});
  m.layers.push_back({1, 1, {1}, {0}, {}, {}});
  return m;
}

TEST(Magnitude, BoundIsExactAtTheLimit) {
  QuantizedModel m = one_by_one();
  const auto profile = magnitude_profile(m);
  // Y_1 = x^2 must stay <= (p - 1) / 2 = 2^60 - 1 in m61.
  EXPECT_FALSE(magnitude_violation(profile, (u128{1} << 30) - 1, FieldId::m61));
  auto v = magnitude_violation(profile, u128{1} << 30, FieldId::m61);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->layer, 1u);
  EXPECT_EQ(v->where, "activation (x*x)");
  EXPECT_FALSE(magnitude_violation(profile, u128{1} << 30, FieldId::m127));
  EXPECT_TRUE(magnitude_violation(profile, u128{1} << 61, FieldId::m61));  // the input itself
}

TEST(Magnitude, RowSumsAndBiasesCount) {
  QuantizedModel m;
  m.layers.push_back({2, 3, {1, -2, 3, -4, 5, -6}, {7, -8}, {}, {}});
  const auto profile = magnitude_profile(m);
  EXPECT_EQ(profile.row_abs_sums[0][0], 6u);
  EXPECT_EQ(profile.row_abs_sums[0][1], 15u);
  EXPECT_EQ(profile.bias_abs[0][1], 8u);
}

TEST(Magnitude, WrappedFieldProofVerifiesInTheFieldButIsCaught) {
  QuantizedModel m = one_by_one();
  auto st = testing::make_statement<M61>(m, 1, {Fp61::from_int(std::int64_t{1} << 31)});  // x^2 = 2^62 wraps in m61
  auto bundle = prove_bundle(*make_reference_engine<M61>(), st);
  EXPECT_TRUE(verify_bundle(st, bundle).accepted);             // a true statement about the field...
  EXPECT_NE(st.outputs[0].centered(), std::int64_t{1} << 62);  // ...that is not the network's output
  EXPECT_TRUE(magnitude_violation(magnitude_profile(m), u128{1} << 31, FieldId::m61));
}

TEST(Soundness, NanFloorRejects) {
  const testing::HonestProof<M61> h({3, 2}, 2, 90);
  EXPECT_TRUE(verify_bundle(h.st, h.bundle).accepted);
  EXPECT_FALSE(verify_bundle(h.st, h.bundle, std::nan("")).accepted);
}

}  // namespace
}  // namespace nnproof

namespace nnproof {
namespace {

// A bound just above the limit never reads as equal to it ("could reach 2^60 > 2^60").
TEST(Magnitude, DescribeRoundsTheBoundUp) {
  const MagnitudeViolation v{2, "pre-activation", 60.00001, 60.0};
  EXPECT_EQ(v.describe(FieldId::m61), "layer 2 pre-activation could reach 2^60.01 > 2^60 in m61");
  const MagnitudeViolation w{1, "activation (x*x)", 72.8, 126.0};
  EXPECT_EQ(w.describe(FieldId::m127), "layer 1 activation (x*x) could reach 2^72.80 > 2^126 in m127");
}

}  // namespace
}  // namespace nnproof
