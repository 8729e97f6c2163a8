// SPDX-License-Identifier: Apache-2.0
// The word loops on field elements' centered values (verifier/centered_words.hpp) against
// F::centered(), element by element: values around every width's boundary and both fields' largest,
// every prefix length (the vector loops' tails), each output type.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <iterator>
#include <limits>
#include <random>
#include <vector>

#include "tests/support/random.hpp"
#include "verifier/centered_words.hpp"

namespace nnproof {
namespace {

template <class F>
class CenteredWords : public ::testing::Test {};
using Fields = ::testing::Types<Fp61, Fp127>;
TYPED_TEST_SUITE(CenteredWords, Fields);

// Values at and around each power of two up to the field's largest centered value, both signs,
// shuffled with random ones.
template <class F>
std::vector<F> edge_values(std::mt19937_64& rng) {
  const i128 top = static_cast<i128>(F::P / 2);
  std::vector<F> v{F::zero()};
  for (unsigned bits = 0; bits < F::kBits - 1; ++bits)
    for (i128 off : {i128{-1}, i128{0}, i128{1}}) {
      const i128 x = (i128{1} << bits) + off;
      if (x > top) continue;
      v.push_back(F::from_i128(x));
      v.push_back(F::from_i128(-x));
    }
  v.push_back(F::from_i128(top));
  v.push_back(F::from_i128(-top));
  for (int i = 0; i < 64; ++i) v.push_back(testing::random_element<F>(rng));
  std::shuffle(v.begin(), v.end(), rng);
  return v;
}

bool fits_64(i128 c) {
  return c >= std::numeric_limits<std::int64_t>::min() && c <= std::numeric_limits<std::int64_t>::max();
}

template <class F, class T>
void expect_encoding(const std::vector<F>& v, std::size_t n) {
  std::vector<T> out(n);
  std::uint64_t wide = 1;
  const std::uint64_t bits = encode_centered(v.data(), n, out.data(), &wide);
  std::uint64_t want_bits = 0;
  bool want_wide = false;
  for (std::size_t i = 0; i < n; ++i) {
    const i128 c = v[i].centered();
    ASSERT_EQ(out[i], static_cast<T>(c)) << "element " << i << " of " << n;  // c mod 2^(8 sizeof(T)), wide or not
    if (!fits_64(c)) {
      want_wide = true;
      continue;
    }
    want_bits |= static_cast<std::uint64_t>(c < 0 ? -c - 1 : c);
  }
  EXPECT_EQ(wide != 0, want_wide) << n;
  if (!want_wide) EXPECT_EQ(bits, want_bits) << n;
}

// Every prefix of the edge values, and of those among them that fit 64 bits (in m127 most prefixes
// of the first hold a wide element early, after which the OR is not checked).
TYPED_TEST(CenteredWords, EncodingIsEachCenteredValueTruncated) {
  using F = TypeParam;
  auto rng = testing::make_rng(91);
  const std::vector<F> all = edge_values<F>(rng);
  std::vector<F> narrow;
  std::copy_if(all.begin(), all.end(), std::back_inserter(narrow), [](const F& x) { return fits_64(x.centered()); });
  for (const std::vector<F>* v : std::array<const std::vector<F>*, 2>{&all, &narrow})
    for (std::size_t n = 0; n <= v->size(); n += n < 40 ? 1 : 17) {
      expect_encoding<F, std::int8_t>(*v, n);
      expect_encoding<F, std::int16_t>(*v, n);
      expect_encoding<F, std::int32_t>(*v, n);
      expect_encoding<F, std::int64_t>(*v, n);
    }
}

TYPED_TEST(CenteredWords, OrsAreOfTheRepresentativesAndTheMagnitudes) {
  using F = TypeParam;
  auto rng = testing::make_rng(92);
  const std::vector<F> v = edge_values<F>(rng);
  for (std::size_t n = 0; n <= v.size(); n += n < 40 ? 1 : 13) {
    u128 raw = 0, magnitude = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const i128 c = v[i].centered();
      raw |= static_cast<u128>(v[i].v);
      magnitude |= static_cast<u128>(c < 0 ? -c : c);
    }
    const ValueOrs ors = value_ors(v.data(), n);
    EXPECT_TRUE(ors.raw == raw && ors.magnitude == magnitude) << n;
  }
}

}  // namespace
}  // namespace nnproof
