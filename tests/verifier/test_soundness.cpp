// SPDX-License-Identifier: Apache-2.0
// The soundness bound of PROTOCOL.md section 8 and the 100-bit floor for proof files.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/support/problems.hpp"

namespace nnproof {
namespace {

TEST(Soundness, TimitShapeMatchesTheFormula) {
  ProofShape s{{1845, 2000, 2000, 2000, 183}, 2048};
  // nu = 11, 11, 11, 11, 8; beta = 11.
  const double rounds = (8 + 11) + 2.0 * (11 * 4) + 3.0 * ((11 + 11) * 3);
  const double log2_k = 2 * std::log2(static_cast<double>(Fp61::P));
  EXPECT_DOUBLE_EQ(s.soundness_bits(FieldId::m61), log2_k - std::log2(rounds));
  EXPECT_GT(s.soundness_bits(FieldId::m61), 100);
  EXPECT_GT(s.soundness_bits(FieldId::m127), 110);
  EXPECT_LT(s.soundness_bits(FieldId::m61_interactive), 60);
  // PROTOCOL.md section 5: 293 elements for this shape.
  EXPECT_EQ(s.message_count(), 293u);
}

TEST(Soundness, VerifierRefusesProofsBelowTheRequestedFloor) {
  const testing::HonestProof<M61> h({4, 3, 2}, 3, 40);
  EXPECT_TRUE(verify_bundle(h.st, h.bundle).accepted);
  Verdict v = verify_bundle(h.st, h.bundle, 200.0);
  EXPECT_FALSE(v.accepted);
  EXPECT_NE(v.failed_check.find("soundness"), std::string::npos);
  // The floor is never lowered below 100 bits.
  EXPECT_TRUE(verify_bundle(h.st, h.bundle, 10.0).accepted);
}

}  // namespace
}  // namespace nnproof
