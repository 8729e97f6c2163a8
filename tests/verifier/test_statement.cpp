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
//
// That input binding is format version 2's (InputEncoding::field_elements). Version 3's
// (InputEncoding::compact) hashes each chunk of whole samples in its compact encoding:
//
//   width(c) = min(w in 1, 2, 4, 8, 16 with -2^(8w-1) <= x < 2^(8w-1) for every x in c)
//   compact(c) = bytes([width(c)]) + b''.join((x % 2**(8*width(c))).to_bytes(width(c), 'little') for x in c)
//   chunk c = sha256(u64(len(c)) + compact(c)), c = (65536 // n0 or 1 if n0 >= 65536) samples at a time,
//             x the centered values (x, or x - p above p/2)
//   input   = sha256(s(b"nnproof/input/v3") + s(field) + u64(n0) + u64(b) + u64(n0 b) + u64(#chunks) + chunk digests)
#include <gtest/gtest.h>

#include "verifier/input_binding.hpp"
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

template <class Cfg = M61>
Statement<Cfg> statement(const QuantizedModel& m, std::vector<typename Cfg::F> input,
                         std::vector<typename Cfg::F> outputs, std::size_t batch = 1) {
  Statement<Cfg> st;
  st.model = &m;
  for (unsigned i = 0; i < 32; ++i) st.model_digest[i] = static_cast<unsigned char>(i);
  st.batch = batch;
  st.input = std::move(input);
  st.outputs = std::move(outputs);
  return st;
}

TEST(Statement, BindingsKnownAnswer) {
  const QuantizedModel m = shape_only_model(3, 2, 2.0, 0.5);
  const auto st = statement(m, {Fp61{1}, Fp61{2}, Fp61{3}}, {Fp61{5}, Fp61{Fp61::P - 1}});
  const StatementBindings b = statement_bindings(st, InputEncoding::field_elements);  // version 2
  EXPECT_EQ(to_hex(b.model), "4113de5ad0faf033b5f234b583d57da301aefe0eae491bbb9ac4fe7aaee14da9");
  EXPECT_EQ(to_hex(b.input), "9446cd9c27a1132666aeb70b942df7f2124f3d5c5f1e775922d2a8fd770bc56f");
  EXPECT_EQ(to_hex(b.outputs), "3057e72c14e09c8817476a4d90fc60e9fa770a7b1f957636006bfc8117154783");
  EXPECT_EQ(to_hex(statement_digest(st, b)), "88cc26be647db17028048904d6f735f6e88c83837b75694661265fabc0dbc454");
  EXPECT_NE(statement_digest(st), statement_digest(st, b));  // the default is version 3's
}

TEST(Statement, CompactBindingsKnownAnswer) {
  const QuantizedModel m = shape_only_model(3, 2, 2.0, 0.5);
  const auto st = statement(m, {Fp61{1}, Fp61{2}, Fp61{3}}, {Fp61{5}, Fp61{Fp61::P - 1}});
  const StatementBindings b = statement_bindings(st);  // version 3
  EXPECT_EQ(to_hex(b.model), "4113de5ad0faf033b5f234b583d57da301aefe0eae491bbb9ac4fe7aaee14da9");
  EXPECT_EQ(to_hex(b.input), "b5be6060ad4c7f0c9849cfe289d3c942ca1c844973561f9b2e554b5d824f816e");
  EXPECT_EQ(to_hex(b.outputs), "3057e72c14e09c8817476a4d90fc60e9fa770a7b1f957636006bfc8117154783");
  EXPECT_EQ(to_hex(statement_digest(st, b)), "f48e12f02a8044987ce67dae1241a4622662ceb22823fcb36cb229715fec50d7");
  EXPECT_EQ(statement_digest(st), statement_digest(st, b));
  EXPECT_EQ(input_binding(st, InputEncoding::compact), b.input);
  EXPECT_EQ(b.outputs, output_binding(st));
}

// Three chunks of one sample each (n0 >= 65536 / 2), of widths 1, 2 and 8.
TEST(Statement, CompactChunksOfEachWidthKnownAnswer) {
  constexpr std::size_t n0 = 40000;
  const QuantizedModel m = shape_only_model(n0, 1, 1.0, 1.0);
  std::vector<Fp61> input;
  for (std::size_t k = 0; k < 3; ++k)
    for (std::size_t i = 0; i < n0; ++i) input.push_back(Fp61::from_int(static_cast<std::int64_t>(i % 7) - 3));
  input[n0 + 5] = Fp61::from_int(200);
  input[2 * n0 + 7] = Fp61::from_int(-(std::int64_t{1} << 40));
  const auto st = statement(m, std::move(input), {Fp61{3}, Fp61{4}, Fp61{5}}, 3);
  ASSERT_EQ(input_chunks(st, InputEncoding::compact), 3u);
  const StatementBindings b = statement_bindings(st);
  EXPECT_EQ(to_hex(b.input), "63bffb9e5ac3550260cc05007bd66d47830d04232a28457ab852449fe8be5e34");
  EXPECT_EQ(to_hex(statement_digest(st, b)), "e40deaf35457cf0488090ded902d52f8c6393079ca4a24c48ea46d799463d0a2");
}

TEST(Statement, CompactM127KnownAnswer) {
  const QuantizedModel m = shape_only_model(3, 1, 1.0, 1.0);
  const auto st = statement<M127>(m, {Fp127::from_int(1), Fp127::from_int(-2), Fp127{u128{1} << 70}}, {Fp127{1}});
  EXPECT_EQ(to_hex(statement_bindings(st).input), "873235b196c36a83d1ab1c575fefa16226dbad88c0f1ac9637316021d5ad8620");
}

TEST(Statement, InputOfTwoChunksKnownAnswer) {
  constexpr std::size_t n0 = 65541;  // one full chunk of 65536 elements and five more
  const QuantizedModel m = shape_only_model(n0, 1, 1.0, 1.0);
  std::vector<Fp61> input(n0);
  for (std::size_t i = 0; i < n0; ++i) input[i] = Fp61{i % 7};
  const auto st = statement(m, std::move(input), {Fp61{3}});
  const StatementBindings b = statement_bindings(st, InputEncoding::field_elements);
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
