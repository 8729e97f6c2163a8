// SPDX-License-Identifier: Apache-2.0
// Known-answer tests for the statement's digests (docs/FORMAT.md, "Digests"): expected values
// computed independently with Python's hashlib from the byte layout there:
//
//   u64 = lambda x: struct.pack('<Q', x); s = lambda b: u64(len(b)) + b; f64 = lambda x: struct.pack('<d', x)
//   F = lambda v: b''.join(struct.pack('<Q', x) for x in v)            # m61 elements
//   model   = sha256(s(b"nnproof/model-scales/v1") + model_digest + f64(alpha) + f64(beta))
//   chunk c = sha256(u64(len(c)) + F(c)), c = 65536 input elements at a time
//   input   = sha256(s(b"nnproof/input/v1") + s(b"m61") + u64(n0) + u64(b) + u64(n0 b) + u64(#chunks) + chunk digests)
//   outputs = sha256(s(b"nnproof/outputs/v1") + u64(len(out)) + F(out))
//   statement = sha256(s(b"nnproof/statement/v2") + s(b"m61") + model + input + u64(L + 1) + u64(n_0..n_L)
//                      + u64(b) + outputs)
#include <gtest/gtest.h>

#include "verifier/sha256.hpp"
#include "verifier/statement.hpp"

namespace nnproof {
namespace {

// A one-layer model n0 -> n1: only the dimensions and scales enter the bindings (the model digest
// is given).
QuantizedModel shape_only_model(std::size_t n0, std::size_t n1, double alpha, double beta) {
  QuantizedModel m;
  QuantizedLayer l;
  l.rows = n1;
  l.cols = n0;
  m.layers.push_back(l);
  m.alpha = alpha;
  m.beta = beta;
  return m;
}

Statement<M61> statement(const QuantizedModel& m, std::vector<Fp61> input, std::vector<Fp61> outputs) {
  Statement<M61> st;
  st.model = &m;
  for (unsigned i = 0; i < 32; ++i) st.model_digest[i] = static_cast<unsigned char>(i);
  st.batch = 1;
  st.input = std::move(input);
  st.outputs = std::move(outputs);
  return st;
}

TEST(Statement, BindingsKnownAnswer) {
  const QuantizedModel m = shape_only_model(3, 2, 2.0, 0.5);
  const auto st = statement(m, {Fp61{1}, Fp61{2}, Fp61{3}}, {Fp61{5}, Fp61{Fp61::P - 1}});
  const StatementBindings b = statement_bindings(st);
  EXPECT_EQ(to_hex(b.model), "4113de5ad0faf033b5f234b583d57da301aefe0eae491bbb9ac4fe7aaee14da9");
  EXPECT_EQ(to_hex(b.input), "9446cd9c27a1132666aeb70b942df7f2124f3d5c5f1e775922d2a8fd770bc56f");
  EXPECT_EQ(to_hex(b.outputs), "3057e72c14e09c8817476a4d90fc60e9fa770a7b1f957636006bfc8117154783");
  EXPECT_EQ(to_hex(statement_digest(st, b)), "88cc26be647db17028048904d6f735f6e88c83837b75694661265fabc0dbc454");
  EXPECT_EQ(statement_digest(st), statement_digest(st, b));
}

TEST(Statement, InputOfTwoChunksKnownAnswer) {
  constexpr std::size_t n0 = 65541;  // one full chunk of 65536 elements and five more
  const QuantizedModel m = shape_only_model(n0, 1, 1.0, 1.0);
  std::vector<Fp61> input(n0);
  for (std::size_t i = 0; i < n0; ++i) input[i] = Fp61{i % 7};
  const auto st = statement(m, std::move(input), {Fp61{3}});
  const StatementBindings b = statement_bindings(st);
  EXPECT_EQ(to_hex(b.input), "25075fe4d9a2311a14f5b0c007c681f4adb8a6eb9d7d990d835e9ba493fb4118");
  EXPECT_EQ(to_hex(statement_digest(st, b)), "cbbbaeece9479ab8e281e62bbb7b321dd8ed028462eafbd845a5901987c2e520");
}

TEST(Statement, EveryOutputEntryIsBound) {
  const QuantizedModel m = shape_only_model(3, 2, 1.0, 1.0);
  const auto st = statement(m, {Fp61{1}, Fp61{2}, Fp61{3}}, {Fp61{5}, Fp61{6}});
  const Digest d = statement_digest(st);
  for (std::size_t i = 0; i < st.outputs.size(); ++i) {
    auto other = st;
    other.outputs[i] += Fp61::one();
    EXPECT_NE(statement_digest(other), d) << "output " << i;
  }
}

}  // namespace
}  // namespace nnproof
