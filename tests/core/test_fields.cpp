// SPDX-License-Identifier: Apache-2.0
// Field arithmetic against independent references: unsigned __int128 remainders for m61, and a
// shift-and-add modular multiplication (no Mersenne folding) for m127.
#include <gtest/gtest.h>

#include <vector>

#include "core/fields.hpp"
#include "tests/support/random.hpp"

namespace nnproof {
namespace {

using testing::make_rng;
using testing::random_element;

// Reference arithmetic on plain integers, independent of the field classes.
struct Ref61 {
  static constexpr u128 P = (u128{1} << 61) - 1;
  static u128 mul(u128 a, u128 b) { return (a * b) % P; }
};
struct Ref127 {
  static constexpr u128 P = (u128{1} << 127) - 1;
  static u128 add(u128 a, u128 b) { return a >= P - b ? a - (P - b) : a + b; }
  static u128 mul(u128 a, u128 b) {  // double-and-add: every intermediate stays below 2^128
    u128 r = 0;
    for (int bit = 126; bit >= 0; --bit) {
      r = add(r, r);
      if ((b >> bit) & 1) r = add(r, a);
    }
    return r;
  }
};

template <class F>
struct Traits;
template <>
struct Traits<Fp61> {
  using Ref = Ref61;
};
template <>
struct Traits<Fp127> {
  using Ref = Ref127;
};

template <class F>
class PrimeFieldTest : public ::testing::Test {};
using PrimeFields = ::testing::Types<Fp61, Fp127>;
TYPED_TEST_SUITE(PrimeFieldTest, PrimeFields);

template <class F>
std::vector<F> edge_values() {
  const u128 p = F::P;
  std::vector<u128> raw = {0,
                           1,
                           2,
                           3,
                           p - 1,
                           p - 2,
                           p / 2,
                           p / 2 + 1,
                           u128{1} << (F::kBits - 1),
                           (u128{1} << 32) - 1,
                           u128{1} << 32,
                           ~u64{0} % p};
  std::vector<F> out;
  for (u128 x : raw) {
    F f;
    f.v = static_cast<decltype(f.v)>(x);
    out.push_back(f);
  }
  auto rng = make_rng(1);
  for (int i = 0; i < 200; ++i) out.push_back(random_element<F>(rng));
  return out;
}

TYPED_TEST(PrimeFieldTest, ArithmeticMatchesReference) {
  using F = TypeParam;
  using Ref = typename Traits<F>::Ref;
  const u128 p = F::P;
  const auto vals = edge_values<F>();
  for (F a : vals)
    for (F b : vals) {
      const u128 x = a.v, y = b.v;
      ASSERT_EQ(static_cast<u128>((a + b).v), (x + y) % p);
      ASSERT_EQ(static_cast<u128>((a - b).v), (x + p - y) % p);
      ASSERT_EQ(static_cast<u128>((a * b).v), Ref::mul(x, y))
          << "a=" << static_cast<double>(x) << " b=" << static_cast<double>(y);
      ASSERT_TRUE((a * b).is_canonical());
    }
}

TYPED_TEST(PrimeFieldTest, InverseAndNegation) {
  using F = TypeParam;
  for (F a : edge_values<F>()) {
    EXPECT_EQ(a + (-a), F::zero());
    if (a != F::zero()) {
      EXPECT_EQ(a * a.inverse(), F::one());
    }
  }
}

TYPED_TEST(PrimeFieldTest, IntegersEnterAndLeaveCentered) {
  using F = TypeParam;
  for (std::int64_t x : {std::int64_t{0}, std::int64_t{1}, std::int64_t{-1}, std::int64_t{127}, std::int64_t{-128},
                         INT64_MAX, INT64_MIN, INT64_MIN + 1}) {
    F f = F::from_int(x);
    EXPECT_TRUE(f.is_canonical());
    EXPECT_EQ(F::from_int(x) + F::from_int(-(x + 1)) + F::one(), F::zero()) << x;  // x + (-x) = 0 without overflow
    if constexpr (F::kBits == 127) {
      EXPECT_EQ(f.centered(), static_cast<i128>(x));
    }
  }
  EXPECT_EQ(F::from_int(-5).centered(), -5);
  EXPECT_EQ(F::from_int(5).centered(), 5);
  F top;
  top.v = F::P / 2;  // the largest positive centered value, and the next one is negative
  EXPECT_GT(top.centered(), 0);
  EXPECT_LT((top + F::one()).centered(), 0);
}

TYPED_TEST(PrimeFieldTest, ReducesWideIntegers) {
  using F = TypeParam;
  auto rng = make_rng(2);
  for (int i = 0; i < 1000; ++i) {
    u128 x = (static_cast<u128>(rng()) << 64) | rng();
    if (i == 0) x = ~u128{0};
    EXPECT_EQ(static_cast<u128>(F::from_u128(x).v), x % F::P);
    i128 s = static_cast<i128>(x >> 1) * ((i & 1) ? -1 : 1);
    u128 want = s >= 0 ? static_cast<u128>(s) % F::P : (F::P - (static_cast<u128>(-s) % F::P)) % F::P;
    EXPECT_EQ(static_cast<u128>(F::from_i128(s).v), want);
  }
}

TYPED_TEST(PrimeFieldTest, SerializationIsCanonical) {
  using F = TypeParam;
  auto rng = make_rng(3);
  unsigned char buf[F::kBytes];
  for (int i = 0; i < 100; ++i) {
    F a = random_element<F>(rng), b;
    a.to_bytes(buf);
    ASSERT_TRUE(F::from_bytes(buf, b));
    EXPECT_EQ(a, b);
  }
  F p;
  p.v = F::P;  // p itself encodes 0 non-canonically
  p.to_bytes(buf);
  F out;
  EXPECT_FALSE(F::from_bytes(buf, out));
}

TYPED_TEST(PrimeFieldTest, UniformBytesUseEveryBit) {
  using F = TypeParam;
  unsigned char ones[32], zeros[32] = {};
  std::fill(ones, ones + 32, 0xFF);
  F a, z;
  from_uniform_bytes(ones, a);
  from_uniform_bytes(zeros, z);
  EXPECT_EQ(z, F::zero());
  if constexpr (F::kBits == 61) {
    EXPECT_EQ(static_cast<u128>(a.v), (~u128{0}) % F::P);  // 16 bytes, all used
  } else {
    // 2^256 - 1 = (2^128 - 1) 2^128 + (2^128 - 1) = 2 (2^128 - 1) + (2^128 - 1) (mod p), 2^128 = 2.
    EXPECT_EQ(static_cast<u128>(a.v), Ref127::mul(3, (~u128{0}) % F::P));
  }
}

TEST(ExtensionField, SquareOfIIsMinusOne) {
  Fp61x2 i{Fp61::zero(), Fp61::one()};
  EXPECT_EQ(i * i, Fp61x2::from_int(-1));
}

TEST(ExtensionField, MultiplicationMatchesSchoolbook) {
  auto rng = make_rng(4);
  std::vector<Fp61> edge = {Fp61::zero(), Fp61::one(), Fp61{Fp61::P - 1}, Fp61{Fp61::P / 2}};
  for (int n = 0; n < 2000; ++n) {
    Fp61x2 a = random_element<Fp61x2>(rng), b = random_element<Fp61x2>(rng);
    if (n < 16) a = {edge[n % 4], edge[n / 4]}, b = {edge[n / 4], edge[n % 4]};
    Fp61x2 want{a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re};
    ASSERT_EQ(a * b, want);
    ASSERT_EQ(a * b, b * a);
    if (a != Fp61x2::zero()) {
      ASSERT_EQ(a * a.inverse(), Fp61x2::one());
    }
    Fp61 f = random_element<Fp61>(rng);
    ASSERT_EQ(mul_base(a, f), a * Fp61x2::from_base(f));
  }
}

TEST(ExtensionField, SerializationRejectsEitherNonCanonicalHalf) {
  unsigned char buf[Fp61x2::kBytes];
  Fp61x2 x{Fp61{5}, Fp61{Fp61::P}}, out;
  x.to_bytes(buf);
  EXPECT_FALSE(Fp61x2::from_bytes(buf, out));
  x = {Fp61{Fp61::P}, Fp61{5}};
  x.to_bytes(buf);
  EXPECT_FALSE(Fp61x2::from_bytes(buf, out));
}

}  // namespace
}  // namespace nnproof
