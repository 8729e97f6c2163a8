// SPDX-License-Identifier: Apache-2.0
// The input binding's compact encoding (format version 3) and the verifier's one pass over the
// input (verifier/input_binding.hpp): widths at their boundaries, an independent decoder that gets
// every input back (so the encoding is injective), the fused pass equal to the hash and the MLE
// computed apart, and whole proofs of versions 2 and 3 that verify and reject a changed input.
#include <gtest/gtest.h>

#include <set>

#include "tests/support/problems.hpp"
#include "verifier/input_binding.hpp"
#include "verifier/public_mle.hpp"

namespace nnproof {
namespace {

template <class F>
unsigned width_of(std::initializer_list<i128> values) {
  std::vector<F> v;
  for (i128 x : values) v.push_back(F::from_i128(x));
  return compact_width<F>(v);
}

TEST(CompactEncoding, WidthIsTheNarrowestHoldingEveryValue) {
  EXPECT_EQ(width_of<Fp61>({0}), 1u);
  EXPECT_EQ(width_of<Fp61>({127, -128}), 1u);
  EXPECT_EQ(width_of<Fp61>({128}), 2u);
  EXPECT_EQ(width_of<Fp61>({-129}), 2u);
  EXPECT_EQ(width_of<Fp61>({32767, -32768}), 2u);
  EXPECT_EQ(width_of<Fp61>({1, 32768}), 4u);
  EXPECT_EQ(width_of<Fp61>({-2147483648LL}), 4u);
  EXPECT_EQ(width_of<Fp61>({2147483648LL}), 8u);
  EXPECT_EQ(width_of<Fp61>({static_cast<i128>(Fp61::P / 2)}), 8u);  // the largest centered value
  EXPECT_EQ(width_of<Fp61>({-static_cast<i128>(Fp61::P / 2)}), 8u);
  EXPECT_EQ(width_of<Fp127>({-128, 127}), 1u);
  EXPECT_EQ(width_of<Fp127>({static_cast<i128>(std::numeric_limits<std::int64_t>::min())}), 8u);
  EXPECT_EQ(width_of<Fp127>({static_cast<i128>(std::numeric_limits<std::int64_t>::max()) + 1}), 16u);
  EXPECT_EQ(width_of<Fp127>({static_cast<i128>(Fp127::P / 2)}), 16u);
  EXPECT_EQ(width_of<Fp127>({-static_cast<i128>(Fp127::P / 2)}), 16u);
}

// The encoding by the vectorized loops, checked against the portable reference on every call.
template <class F>
std::vector<unsigned char> encode(const std::vector<F>& v) {
  std::vector<unsigned char> fast = compact_encoding<F>(v);
  EXPECT_EQ(fast, compact_encoding_portable<F>(v));
  return fast;
}

TEST(CompactEncoding, BytesAreTheWidthThenLittleEndianTwosComplement) {
  EXPECT_EQ(encode<Fp61>({Fp61{1}, Fp61::from_int(-1), Fp61{2}}), (std::vector<unsigned char>{1, 0x01, 0xff, 0x02}));
  EXPECT_EQ(encode<Fp61>({Fp61{300}, Fp61::from_int(-2)}), (std::vector<unsigned char>{2, 0x2c, 0x01, 0xfe, 0xff}));
  EXPECT_EQ(encode<Fp127>({Fp127::from_int(-1), Fp127{1}}), (std::vector<unsigned char>{1, 0xff, 0x01}));
  std::vector<unsigned char> want(17, 0);
  want[0] = 16, want[1 + 8] = 1;
  EXPECT_EQ(encode<Fp127>({Fp127{u128{1} << 64}}), want);
}

// The test's own reading of the encoding: the count (known from the shape), the width byte, then
// each value sign-extended from `width` little-endian bytes.
template <class F>
std::vector<F> decode(const std::vector<unsigned char>& bytes, std::size_t count) {
  const unsigned w = bytes.at(0);
  EXPECT_EQ(bytes.size(), 1 + count * w);
  std::vector<F> out;
  for (std::size_t i = 0; i < count; ++i) {
    u128 u = 0;
    for (unsigned b = 0; b < w; ++b) u |= static_cast<u128>(bytes[1 + i * w + b]) << (8 * b);
    if (w < 16 && (u >> (8 * w - 1)) != 0) u |= ~u128{0} << (8 * w);  // sign extension
    out.push_back(F::from_i128(static_cast<i128>(u)));
  }
  return out;
}

// Every pair of values from a set around each width's boundaries: the decoder gets each pair back,
// so no two inputs (of one shape) share an encoding, and the width byte is part of it.
template <class F>
void expect_injective(const std::vector<i128>& values) {
  std::set<std::vector<unsigned char>> seen;
  for (i128 a : values)
    for (i128 b : values) {
      const std::vector<F> v{F::from_i128(a), F::from_i128(b)};
      const std::vector<unsigned char> bytes = encode<F>(v);
      EXPECT_EQ(decode<F>(bytes, 2), v);
      EXPECT_TRUE(seen.insert(bytes).second);
    }
}

TEST(CompactEncoding, DecodesBackSoDistinctInputsNeverShareBytes) {
  std::vector<i128> values{0,     1,      -1,    127,    -128,         128,           -129,
                           32767, -32768, 32768, -32769, 2147483647LL, -2147483648LL, 2147483648LL};
  std::vector<i128> m61 = values, m127 = values;
  m61.push_back(static_cast<i128>(Fp61::P / 2));
  m61.push_back(-static_cast<i128>(Fp61::P / 2));
  expect_injective<Fp61>(m61);
  m127.push_back(static_cast<i128>(std::numeric_limits<std::int64_t>::max()) + 1);
  m127.push_back(-static_cast<i128>(std::numeric_limits<std::int64_t>::max()) - 2);
  m127.push_back(-(static_cast<i128>(1) << 64));
  m127.push_back(static_cast<i128>(Fp127::P / 2));
  m127.push_back(-static_cast<i128>(Fp127::P / 2));
  expect_injective<Fp127>(m127);
}

// Long vectors (the vectorized loops' main bodies, not only their tails) of every width, with the
// extreme value of each width at a random place: the fast encoding equals the portable one.
template <class F>
void expect_long_vectors_encode_as_portable(std::uint64_t salt) {
  auto rng = testing::make_rng(salt);
  for (unsigned bytes : {1u, 2u, 4u, 8u, 16u}) {
    if (bytes == 16 && sizeof(F) == 8) continue;
    const bool widest = 8 * bytes > F::kBits;  // this width holds every centered value: p/2 is the top
    const i128 top = widest ? static_cast<i128>(F::P / 2) : (static_cast<i128>(1) << (8 * bytes - 1)) - 1;
    std::uniform_int_distribution<std::int64_t> small(-100, 100);
    for (std::size_t n : {std::size_t{1000}, std::size_t{4097}}) {
      std::vector<F> v(n);
      for (auto& x : v) x = F::from_int(small(rng));
      v[rng() % n] = F::from_i128(top);
      v[rng() % n] = F::from_i128(-top - (widest ? 0 : 1));
      const std::vector<unsigned char> bytes_out = encode<F>(v);
      EXPECT_EQ(bytes_out.at(0), bytes) << "n " << n;
      EXPECT_EQ(decode<F>(bytes_out, n), v);
    }
  }
}

TEST(CompactEncoding, LongVectorsOfEveryWidthEncodeAsThePortableLoop) {
  expect_long_vectors_encode_as_portable<Fp61>(81);
  expect_long_vectors_encode_as_portable<Fp127>(82);
}

template <class Cfg>
class InputPassTest : public ::testing::Test {};
using AllConfigs = ::testing::Types<M61, M127, M61Interactive>;
TYPED_TEST_SUITE(InputPassTest, AllConfigs);

using testing::shape_only_model;

// Chunks of every width the field has (one sample a chunk at n0 = 40000, 13107 samples a chunk at
// n0 = 5): the one pass gives the binding input_binding gives and X~(s, r) as sample_major_mle.
TYPED_TEST(InputPassTest, OnePassEqualsTheHashAndTheMleApart) {
  using F = typename TypeParam::F;
  using K = typename TypeParam::K;
  auto rng = testing::make_rng(61);
  const std::vector<std::int64_t> bounds{100, 30000, 2000000000, std::int64_t{1} << 59};
  for (std::size_t n0 : {std::size_t{40000}, std::size_t{5}}) {
    const std::size_t batch = n0 == 5 ? 13110 : bounds.size() + 1;
    const QuantizedModel m = shape_only_model(n0);
    Statement<TypeParam> st;
    st.model = &m;
    st.batch = batch;
    st.outputs.assign(3 * batch, F::from_int(-7));
    for (std::size_t k = 0; k < batch; ++k) {
      const std::int64_t bound = bounds[k % bounds.size()];
      std::uniform_int_distribution<std::int64_t> value(-bound, bound);
      for (std::size_t j = 0; j < n0; ++j) st.input.push_back(F::from_int(value(rng)));
    }
    if (n0 == 40000) st.input[st.input.size() - 1] = testing::random_element<F>(rng);  // any element: m127's 16 bytes
    std::vector<K> eq_s(n0), eq_r(batch);
    for (auto& e : eq_s) e = testing::random_element<K>(rng);
    for (auto& e : eq_r) e = testing::random_element<K>(rng);
    const K mle = sample_major_mle<K>(st.input, batch, n0, eq_s, eq_r);
    for (InputEncoding encoding : {InputEncoding::compact, InputEncoding::field_elements}) {
      const InputPass<K> pass = input_pass(st, encoding, std::span<const K>(eq_s), std::span<const K>(eq_r));
      EXPECT_EQ(pass.mle, mle) << "n0 " << n0;
      EXPECT_EQ(pass.binding, input_binding(st, encoding)) << "n0 " << n0;
      EXPECT_EQ(pass.binding, statement_bindings(st, encoding).input) << "n0 " << n0;
      EXPECT_EQ(pass.outputs, output_binding(st)) << "n0 " << n0;
    }
    EXPECT_NE(input_binding(st, InputEncoding::compact), input_binding(st, InputEncoding::field_elements));
  }
}

template <class Cfg>
class VersionedProofTest : public ::testing::Test {};
using FileConfigs = ::testing::Types<M61, M127>;
TYPED_TEST_SUITE(VersionedProofTest, FileConfigs);

// The honest proof's input with entry i set to x.
template <class Cfg>
Statement<Cfg> with_entry(const Statement<Cfg>& st, std::size_t i, std::int64_t x) {
  Statement<Cfg> other = st;
  other.input[i] = Cfg::F::from_int(x);
  return other;
}

template <class Cfg>
void expect_input_bound(const testing::HonestProof<Cfg>& h, const ProofBundle<Cfg>& bundle) {
  ASSERT_TRUE(verify_bundle(h.st, bundle).accepted);
  for (std::size_t i : {std::size_t{0}, h.st.input.size() / 2, h.st.input.size() - 1}) {
    const std::int64_t was = h.st.input[i].centered() > 0 ? 1 : -1;
    // Another small value (same width), and a value that needs two bytes (the width changes).
    for (std::int64_t x : {-was, std::int64_t{300}}) {
      const Verdict v = verify_bundle(with_entry(h.st, i, x), bundle);
      EXPECT_FALSE(v.accepted) << "entry " << i << " = " << x;
      EXPECT_EQ(v.failed_check, kInputBindingRejection) << "entry " << i << " = " << x;
    }
  }
}

TYPED_TEST(VersionedProofTest, Version3BindsTheCompactInput) {
  testing::HonestProof<TypeParam> h({6, 4, 3}, 5, 71);
  EXPECT_EQ(h.bundle.header.version, 3u);
  EXPECT_EQ(h.bundle.header.input_binding, input_binding(h.st, InputEncoding::compact));
  expect_input_bound(h, h.bundle);
}

TYPED_TEST(VersionedProofTest, Version2StillVerifiesWithTheOldBinding) {
  testing::HonestProof<TypeParam> h({6, 4, 3}, 5, 72);
  Statement<TypeParam> st = h.st;
  const ProofBundle<TypeParam> v2 = prove_bundle(*make_reference_engine<TypeParam>(), st, {}, 2);
  EXPECT_EQ(v2.header.version, 2u);
  EXPECT_EQ(v2.header.input_binding, statement_bindings(h.st, InputEncoding::field_elements).input);
  const std::vector<unsigned char> bytes = serialize_bundle(v2);
  EXPECT_EQ(bytes[8], 2);
  const ProofBundle<TypeParam> parsed = parse_bundle<TypeParam>(bytes, h.shape());
  EXPECT_EQ(parsed.header.version, 2u);
  expect_input_bound(h, parsed);
  // The same messages read as the other version: its binding is not the header's.
  for (auto [bundle, other] : {std::pair{parsed, 3u}, std::pair{h.bundle, 2u}}) {
    bundle.header.version = other;
    const Verdict v = verify_bundle(h.st, parse_bundle<TypeParam>(serialize_bundle(bundle), h.shape()));
    EXPECT_FALSE(v.accepted) << "as version " << other;
    EXPECT_EQ(v.failed_check, kInputBindingRejection) << "as version " << other;
  }
}

// A prover that proves input A's computation under input B's statement (B's bindings in the
// header, the transcript started from B's digest, every layer's messages honest for A): only the
// input check, y* = X~(s, r) read from B in the verifier's one pass, can tell, and it does.
TYPED_TEST(VersionedProofTest, ProofOfAnotherInputUnderThisInputsBindingIsRejected) {
  using K = typename TypeParam::K;
  testing::HonestProof<TypeParam> h({6, 4, 3}, 5, 73);
  Statement<TypeParam> b = with_entry(h.st, 7, h.st.input[7].centered() > 0 ? -2 : 2);
  b.outputs = h.st.outputs;  // A's outputs, claimed for B
  auto engine = make_reference_engine<TypeParam>();
  const auto layers = field_layers<typename TypeParam::F>(*h.st.model);
  const auto trace = run_forward(*engine, layers, h.st.input, h.st.batch);
  ProofBundle<TypeParam> forged = h.bundle;
  const StatementBindings bindings = statement_bindings(b);
  forged.header.input_binding = bindings.input;
  forged.header.statement_digest = statement_digest(b, bindings);
  Transcript t = statement_transcript<TypeParam>(forged.header.statement_digest);
  FiatShamirProverChannel<K> ch(t);
  prove_layers(*engine, layers, trace, ch);
  forged.messages = std::move(ch.messages());
  Verdict v = verify_bundle(b, forged);
  EXPECT_FALSE(v.accepted);
  EXPECT_EQ(v.failed_check, "input check: y* != X~(s,r) at layer 1");
  v = verify_bundle(h.st, forged);  // and A, the input it was computed from, is not its statement's
  EXPECT_FALSE(v.accepted);
  EXPECT_EQ(v.failed_check, kInputBindingRejection);
}

}  // namespace
}  // namespace nnproof
