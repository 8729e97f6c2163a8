// SPDX-License-Identifier: Apache-2.0
// Known answers for the training statement's digests (docs/FORMAT.md, "The training bundle"): a
// change to what is hashed, or how, changes these values and every proof file with them.
#include <gtest/gtest.h>

#include "verifier/training/statement.hpp"

namespace nnproof {
namespace {

template <class Cfg>
TrainingStatement<Cfg> tiny_statement(const QuantizedModel& m) {
  using F = typename Cfg::F;
  TrainingStatement<Cfg> st;
  st.model = &m;
  st.model_digest = model_digest(m);
  st.samples = 3;
  st.input = {F::from_int(1), F::from_int(-2), F::from_int(3), F::from_int(0), F::from_int(5), F::from_int(-6)};
  st.labels = {1, 0, 1};
  st.lr_exponent = 6;
  st.claims.loss = F::from_int(1234);
  st.claims.weight_gradients = {{F::from_int(-1), F::from_int(2), F::from_int(3), F::from_int(4)}};
  st.claims.bias_gradients = {{F::from_int(7), F::from_int(-8)}};
  st.claims.outputs = {F::from_int(9),  F::from_int(10), F::from_int(11),
                       F::from_int(12), F::from_int(13), F::from_int(-14)};
  return st;
}

QuantizedModel tiny_model() {
  QuantizedModel m;
  QuantizedLayer l;
  l.rows = 2;
  l.cols = 2;
  l.weights = WeightMatrix({1, -1, 2, 0});
  l.bias = {3, -4};
  m.layers.push_back(l);
  m.alpha = 4;
  m.beta = 8;
  return m;
}

template <class Cfg>
std::string digest_hex() {
  const QuantizedModel m = tiny_model();
  const TrainingStatement<Cfg> st = tiny_statement<Cfg>(m);
  const TrainingBindings b = training_bindings(st);
  return to_hex(b.data) + " " + to_hex(b.claims) + " " + to_hex(training_statement_digest(st, b));
}

TEST(TrainingStatement, DigestsAreTheDocumentedBytes) {
  // The data binding and claims digest were recomputed from docs/FORMAT.md's bytes with Python's
  // hashlib, independently of this code.
  EXPECT_EQ(digest_hex<M61>(),
            "bf6e7a088f943fbc818097121d1a65b75cd957d11d655197db4c613e870feafe "
            "c670d287ec6650662103c94dc934f22f911f2f257426ea7746cd595b73a20d81 "
            "a69161ff90b062dc6437a0aef056cc6b6ba42be7d72023890db017cbaac71d2a");
  EXPECT_EQ(digest_hex<M127>(),
            "3b8c1e08867f47b924988088a521e8da1dfd31940391d56f1cff17de4f8be4e9 "
            "724a1ab7e1a872c78ca8083bcd96611f328d80c7829e49d65da4079b0b99dd6c "
            "9de8d881ea603b00aed96fd080953e5407f1f137a1a7d4689944f2c5edd0284a");
}

TEST(TrainingStatement, EveryPartOfTheStatementChangesTheDigest) {
  const QuantizedModel m = tiny_model();
  const TrainingStatement<M61> st = tiny_statement<M61>(m);
  const Digest base = training_statement_digest(st, training_bindings(st));
  auto differs = [&](const TrainingStatement<M61>& other) {
    return training_statement_digest(other, training_bindings(other)) != base;
  };
  auto s = st;
  s.labels[2] = 0;
  EXPECT_TRUE(differs(s));
  s = st;
  s.input[4] += Fp61::one();
  EXPECT_TRUE(differs(s));
  s = st;
  s.lr_exponent = 5;
  EXPECT_TRUE(differs(s));
  s = st;
  s.claims.loss += Fp61::one();
  EXPECT_TRUE(differs(s));
  s = st;
  s.claims.weight_gradients[0][3] += Fp61::one();
  EXPECT_TRUE(differs(s));
  s = st;
  s.claims.bias_gradients[0][0] += Fp61::one();
  EXPECT_TRUE(differs(s));
  s = st;
  s.claims.outputs[5] += Fp61::one();
  EXPECT_TRUE(differs(s));
  s = st;
  s.model_digest[0] ^= 1;
  EXPECT_TRUE(differs(s));
}

}  // namespace
}  // namespace nnproof
