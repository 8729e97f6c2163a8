// SPDX-License-Identifier: Apache-2.0
// The statement's input held as small integers (Statement::small_input, hold_input_small): the
// verifier's input pass over them gives exactly what it gives over the same input's field elements
// (X~(s, r), the input binding of both versions, the outputs' binding) for every storage width,
// chunks narrower than the storage, odd sizes and every field; whole proofs verify from it and
// reject a changed value; and an input held both ways, or too wide to hold so, is refused.
#include <gtest/gtest.h>

#include <limits>

#include "tests/support/problems.hpp"
#include "verifier/input_binding.hpp"
#include "verifier/public_mle.hpp"

namespace nnproof {
namespace {

template <class Cfg>
class SmallInputTest : public ::testing::Test {};
using AllConfigs = ::testing::Types<M61, M127, M61Interactive>;
TYPED_TEST_SUITE(SmallInputTest, AllConfigs);

using testing::shape_only_model;

// Sample k's values are within bounds[k % bounds.size()]: the chunks' widths vary below the
// storage width (the widest bound's).
template <class Cfg>
Statement<Cfg> small_test_statement(const QuantizedModel& m, std::size_t batch, const std::vector<std::int64_t>& bounds,
                                    std::mt19937_64& rng) {
  using F = typename Cfg::F;
  Statement<Cfg> st;
  st.model = &m;
  st.batch = batch;
  st.outputs.assign(3 * batch + 1, F::from_int(-7));
  const std::size_t n0 = m.in_dim();
  for (std::size_t k = 0; k < batch; ++k) {
    const std::int64_t bound = bounds[k % bounds.size()];
    std::uniform_int_distribution<std::int64_t> value(-bound - 1, bound);  // both ends of two's complement
    for (std::size_t j = 0; j < n0; ++j) st.input.push_back(F::from_int(value(rng)));
  }
  return st;
}

template <class Cfg>
void expect_same_pass(const Statement<Cfg>& fields, const Statement<Cfg>& small, std::mt19937_64& rng,
                      const std::string& what) {
  using K = typename Cfg::K;
  const std::size_t n0 = fields.model->in_dim();
  std::vector<K> eq_s(n0), eq_r(fields.batch);
  for (auto& e : eq_s) e = testing::random_element<K>(rng);
  for (auto& e : eq_r) e = testing::random_element<K>(rng);
  const K mle = sample_major_mle<K>(fields.input, fields.batch, n0, eq_s, eq_r);
  for (InputEncoding encoding : {InputEncoding::compact, InputEncoding::field_elements}) {
    const InputPass<K> want = input_pass(fields, encoding, std::span<const K>(eq_s), std::span<const K>(eq_r));
    const InputPass<K> got = input_pass(small, encoding, std::span<const K>(eq_s), std::span<const K>(eq_r));
    ASSERT_EQ(want.mle, mle) << what;
    EXPECT_EQ(got.mle, mle) << what;
    EXPECT_EQ(got.binding, want.binding) << what;
    EXPECT_EQ(got.outputs, want.outputs) << what;
    EXPECT_EQ(input_binding(small, encoding), want.binding) << what;
    EXPECT_EQ(statement_bindings(small, encoding).input, want.binding) << what;
  }
}

// Storage widths 1, 2, 4; per width, chunks of every narrower width too. n0 = 37: 1771 samples a
// chunk, the last one short; n0 = 65539: one sample a chunk, longer than kElementChunk.
TYPED_TEST(SmallInputTest, PassEqualsTheFieldElementsPass) {
  auto rng = testing::make_rng(127);
  const std::vector<std::vector<std::int64_t>> widths{{127}, {127, 32767}, {127, 32767, 2147483647}};
  for (std::size_t n0 : {std::size_t{37}, std::size_t{65539}}) {
    const QuantizedModel m = shape_only_model(n0);
    for (std::size_t w = 0; w < widths.size(); ++w) {
      const std::size_t batch = n0 == 37 ? 2 * compact_chunk_samples(n0) + 3 : 5;
      // Per chunk: one bound for all its samples (n0 = 65539), or each bound in turn (n0 = 37).
      Statement<TypeParam> fields = small_test_statement<TypeParam>(m, batch, widths[w], rng);
      Statement<TypeParam> small = fields;
      ASSERT_TRUE(hold_input_small(small));
      EXPECT_EQ(small.small_input.width, 1u << w);
      EXPECT_TRUE(small.input.empty());
      ASSERT_EQ(input_size(small), fields.input.size());
      for (std::size_t i = 0; i < fields.input.size(); ++i)
        ASSERT_EQ(small.small_input.at(i), fields.input[i].centered()) << i;
      std::vector<typename TypeParam::F> storage;
      EXPECT_EQ(input_elements(small, storage), fields.input);
      expect_same_pass(fields, small, rng, "n0 " + std::to_string(n0) + " width " + std::to_string(1u << w));
    }
  }
}

// Each chunk's width and bytes are those of the field elements' compact encoding.
TYPED_TEST(SmallInputTest, ChunkEncodingIsTheCompactEncoding) {
  using F = typename TypeParam::F;
  auto rng = testing::make_rng(128);
  const QuantizedModel m = shape_only_model(33);
  for (const std::vector<std::int64_t>& bounds : std::vector<std::vector<std::int64_t>>{
           {127}, {127, 128}, {-1 + (1 << 15)}, {1 << 15}, {5, 1 << 20}, {2147483647}}) {
    Statement<TypeParam> st = small_test_statement<TypeParam>(m, 13, bounds, rng);
    const std::vector<F> input = st.input;
    ASSERT_TRUE(hold_input_small(st));
    std::vector<unsigned char> buf;
    for (auto [begin, end] : {std::pair<std::size_t, std::size_t>{0, input.size()}, {33, 66}, {66, 99}, {7, 8}}) {
      const std::span<const F> v(input.data() + begin, end - begin);
      const std::vector<unsigned char> want = compact_encoding<F>(v);
      const unsigned w = small_chunk_width(st.small_input, begin, end);
      ASSERT_EQ(w, want.at(0)) << begin;
      const unsigned char* got = small_chunk_encoding(st.small_input, begin, end, w, buf);
      EXPECT_EQ(std::vector<unsigned char>(got, got + (end - begin) * w),
                std::vector<unsigned char>(want.begin() + 1, want.end()))
          << begin;
    }
  }
}

TYPED_TEST(SmallInputTest, WideValuesStayFieldElementsAndTwoCopiesAreRefused) {
  using F = typename TypeParam::F;
  const QuantizedModel m = shape_only_model(3);
  Statement<TypeParam> st;
  st.model = &m;
  st.batch = 1;
  st.input = {F::from_int(1), F::from_int(std::int64_t{1} << 31), F::from_int(0)};  // 2^31 needs 8 bytes
  const std::vector<F> before = st.input;
  EXPECT_FALSE(hold_input_small(st));
  EXPECT_EQ(st.input, before);
  EXPECT_TRUE(st.small_input.empty());
  st.input[1] = F::from_int(-(std::int64_t{1} << 31));  // fits int32
  ASSERT_TRUE(hold_input_small(st));
  EXPECT_EQ(st.small_input.width, 4u);
  EXPECT_FALSE(hold_input_small(st));  // held so already: unchanged
  st.input = before;
  EXPECT_THROW(input_size(st), std::invalid_argument);
  st.input.clear();
  st.small_input.width = 3;  // not one of hold_input_small's widths: refused, not read
  EXPECT_THROW(small_chunk_width(st.small_input, 0, 3), std::invalid_argument);
  EXPECT_THROW(st.small_input.at(0), std::invalid_argument);
}

// sample_statement: a range of int64 samples, in the field (the prover's form) or as small
// integers built straight from the int64 values (the verifier's): the same bytes as converting to
// the field and then hold_input_small, for each width and across int32's ends; a value past int32
// keeps the field form; a range past the input's end is refused.
TYPED_TEST(SmallInputTest, SampleStatementsFromIntegersMatchHoldInputSmall) {
  using F = typename TypeParam::F;
  const QuantizedModel m = shape_only_model(3);
  const Digest digest{};
  std::mt19937_64 rng(91);
  constexpr std::int64_t lo = std::numeric_limits<std::int32_t>::min(), hi = std::numeric_limits<std::int32_t>::max();
  for (std::int64_t bound : {std::int64_t{100}, std::int64_t{30000}, hi, hi + 1}) {
    std::uniform_int_distribution<std::int64_t> value(-bound - 1, bound);
    std::vector<std::int64_t> x(5 * 3);
    for (auto& v : x) v = value(rng);
    if (bound >= hi) x[4] = bound == hi ? lo : hi + 1;  // an end of int32, or just past it
    const Statement<TypeParam> field = sample_statement<TypeParam>(m, digest, x, 1, 3);
    ASSERT_EQ(field.batch, 3u);
    ASSERT_TRUE(field.small_input.empty());
    ASSERT_EQ(field.input.size(), 9u);
    for (std::size_t i = 0; i < 9; ++i) ASSERT_EQ(field.input[i], F::from_int(x[3 + i]));
    Statement<TypeParam> held = field;
    const bool fits = hold_input_small(held);
    EXPECT_EQ(fits, bound <= hi);
    const Statement<TypeParam> small = sample_statement<TypeParam>(m, digest, x, 1, 3, InputForm::small_if_fits);
    EXPECT_EQ(small.batch, 3u);
    EXPECT_EQ(small.small_input.width, held.small_input.width) << bound;
    EXPECT_EQ(small.small_input.bytes, held.small_input.bytes) << bound;
    EXPECT_EQ(small.input, held.input) << bound;  // empty when held small, else the field form
    EXPECT_EQ(small_input_of(std::span(x).subspan(3, 9)).has_value(), fits);
  }
  const std::vector<std::int64_t> x(6);
  EXPECT_NO_THROW(sample_statement<TypeParam>(m, digest, x, 2, 0));
  EXPECT_THROW(sample_statement<TypeParam>(m, digest, x, 1, 2), std::invalid_argument);
  EXPECT_THROW(sample_statement<TypeParam>(m, digest, x, 3, 0), std::invalid_argument);
}

template <class Cfg>
class SmallInputProofTest : public ::testing::Test {};
using FileConfigs = ::testing::Types<M61, M127>;
TYPED_TEST_SUITE(SmallInputProofTest, FileConfigs);

// Versions 3 and 2 verify from the small integers; any one value changed is another input.
TYPED_TEST(SmallInputProofTest, ProofsVerifyAndAChangedValueIsRejected) {
  testing::HonestProof<TypeParam> h({6, 4, 3}, 5, 74);
  Statement<TypeParam> fields = h.st;
  const ProofBundle<TypeParam> v2 = prove_bundle(*make_reference_engine<TypeParam>(), fields, {}, 2);
  Statement<TypeParam> small = h.st;
  ASSERT_TRUE(hold_input_small(small));
  for (const ProofBundle<TypeParam>* bundle : {static_cast<const ProofBundle<TypeParam>*>(&h.bundle), &v2}) {
    const Verdict ok = verify_bundle(small, *bundle);
    EXPECT_TRUE(ok.accepted) << ok.failed_check;
    for (std::size_t i : {std::size_t{0}, input_size(small) - 1}) {
      Statement<TypeParam> other = small;
      other.small_input.bytes[i * other.small_input.width] ^= 2;
      const Verdict v = verify_bundle(other, *bundle);
      EXPECT_FALSE(v.accepted) << "entry " << i;
      EXPECT_EQ(v.failed_check, kInputBindingRejection) << "entry " << i;
    }
  }
}

}  // namespace
}  // namespace nnproof
