// SPDX-License-Identifier: Apache-2.0
// The cpu engine's structured forward (structured_cpu.hpp) against the reference engine's
// (structured_forward.hpp), table for table: chains of a sum pool and a convolution, and single
// convolutions, with odd image sides, strides, asymmetric paddings, groups, either layout (dense or
// padded to powers of two), a bias, batches below the padded column count, both fields. Inputs of
// every width the narrow routes pick between: non-negative below 2^b, signed below 2^b (centered),
// and random field elements, so that each limb count of the 31-bit route and each byte count of
// the int8 route is taken. Also the limb cut and its join, on their own.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <type_traits>
#include <vector>

#include "kernels/cpu/conv_int8.hpp"
#include "kernels/cpu/cpu_engine.hpp"
#include "kernels/cpu/isa.hpp"
#include "kernels/cpu/structured_cpu.hpp"
#include "kernels/reference/reference_engine.hpp"
#include "tests/support/engines.hpp"
#include "tests/support/random.hpp"

namespace nnproof {
namespace {

std::size_t pick(std::mt19937_64& rng, std::size_t lo, std::size_t hi) {
  return std::uniform_int_distribution<std::size_t>(lo, hi)(rng);
}

// A value of the given kind: 0 a random field element, 1 non-negative below 2^bits, 2 signed with
// |x| < 2^bits; at the extremes every few draws.
template <class F>
F draw(std::mt19937_64& rng, int kind, unsigned bits) {
  if (kind == 0) return testing::random_element<F>(rng);
  const u128 top = (u128{1} << bits) - 1;
  u128 v = (static_cast<u128>(rng()) << 64 | rng()) & top;
  if (rng() % 8 == 0) v = top;
  const F x = F::from_u128(v);
  return kind == 2 && rng() % 2 ? F::zero() - x : x;
}

// Kernels: int8 at its extremes, or int16 within the int8 route's split (-32768, 32639).
WeightMatrix kernel(std::size_t n, bool wide, std::mt19937_64& rng) {
  const std::int64_t lo = wide ? -32768 : -128, hi = wide ? 32639 : 127;
  std::vector<std::int64_t> w(n);
  for (std::size_t i = 0; i < n; ++i)
    w[i] = i % 5 == 0 ? lo : i % 5 == 1 ? hi : std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
  return WeightMatrix(std::move(w));
}

// A convolution of (in_c, h, w) images: kernels 2-3 x 2-4, strides 1-2, paddings below the kernel.
LinearOp conv_of(std::mt19937_64& rng, std::size_t in_c, std::size_t h, std::size_t w, bool pow2_in, bool wide) {
  ConvShape c;
  c.groups = in_c % 2 == 0 && rng() % 3 == 0 ? 2 : 1;
  c.in_channels = in_c, c.out_channels = c.groups * pick(rng, 1, 5);
  c.in_h = h, c.in_w = w;
  c.kernel_h = pick(rng, 2, 3), c.kernel_w = pick(rng, 2, 4);
  c.stride_h = pick(rng, 1, 2), c.stride_w = pick(rng, 1, 2);
  c.pad_top = pick(rng, 0, c.kernel_h - 1), c.pad_bottom = pick(rng, 0, c.kernel_h - 1);
  c.pad_left = pick(rng, 0, c.kernel_w - 1), c.pad_right = pick(rng, 0, c.kernel_w - 1);
  c.pow2_in = pow2_in, c.pow2_out = rng() % 2 == 0;
  return LinearOp::convolution(c, kernel(c.kernel_size(), wide, rng));
}

// A 2x2 sum pool, stride 2, of (ch, h, w) images.
LinearOp pool_of(std::size_t ch, std::size_t h, std::size_t w, bool pow2_in, bool pow2_out) {
  ConvShape c;
  c.groups = c.in_channels = c.out_channels = ch;
  c.in_h = h, c.in_w = w, c.kernel_h = c.kernel_w = c.stride_h = c.stride_w = 2;
  c.pow2_in = pow2_in, c.pow2_out = pow2_out;
  return LinearOp::sum_pool(c);
}

template <class F>
class StructuredCpu : public ::testing::Test {};
using Fields = ::testing::Types<Fp61, Fp127>;
TYPED_TEST_SUITE(StructuredCpu, Fields);

TYPED_TEST(StructuredCpu, EqualsTheReferenceForwardAtEveryInputWidth) {
  using F = TypeParam;
  auto rng = testing::make_rng(233);
  const std::vector<unsigned> widths = F::kBits == 61
                                           ? std::vector<unsigned>{1, 13, 30, 31, 32, 45, 59}
                                           : std::vector<unsigned>{1, 13, 30, 31, 32, 61, 62, 79, 80, 81, 93, 125};
  for (int trial = 0; trial < 10; ++trial) {
    const std::size_t ch = pick(rng, 1, 9), h = pick(rng, 5, 11), w = pick(rng, 5, 11);
    const bool pow2_in = rng() % 2 == 0, pooled = trial % 2 == 0, wide = trial % 3 == 0;
    QuantizedLayer q;
    if (pooled) {
      const bool mid = rng() % 2 == 0;
      q.ops.push_back(pool_of(ch, h, w, pow2_in, mid));
      q.ops.push_back(conv_of(rng, ch, h / 2, w / 2, mid, wide));
    } else {
      q.ops.push_back(conv_of(rng, ch, h, w, pow2_in, wide));
    }
    q.rows = q.ops.back().rows, q.cols = q.ops.front().cols;
    FieldLayer<F> layer{&q, {}};
    for (std::size_t a = 0; a < q.rows; ++a) layer.bias.push_back(draw<F>(rng, 2, 20));
    for (std::size_t batch : {3, 33}) {
      for (int kind : {0, 1, 2})
        for (unsigned bits : kind == 0 ? std::vector<unsigned>{0} : widths) {
          Table2D<F> Y(padded(q.cols), padded(batch));
          for (std::size_t j = 0; j < q.cols; ++j)
            for (std::size_t k = 0; k < batch; ++k) Y.at(j, k) = draw<F>(rng, kind, bits);
          const Table2D<F> want = structured_forward(layer, Y, batch), got = structured_forward_cpu(layer, Y, batch);
          ASSERT_EQ(got.rows, want.rows);
          ASSERT_EQ(got.cols, want.cols);
          EXPECT_EQ(got.data, want.data) << "trial " << trial << " batch " << batch << " kind " << kind << " bits "
                                         << bits << " taps " << max_taps_per_row(q.ops.back());
        }
    }
  }
}

// A pool of (ch, h, w) images: k x k taps, stride s, padding pad on every side (a 3 x 3 stride-1
// pool has 9 taps inside and fewer at the edges; a global pool one k h w-tap row per channel).
LinearOp pool_k(std::size_t ch, std::size_t h, std::size_t w, std::size_t kh, std::size_t kw, std::size_t stride,
                std::size_t pad) {
  ConvShape c;
  c.groups = c.in_channels = c.out_channels = ch;
  c.in_h = h, c.in_w = w, c.kernel_h = kh, c.kernel_w = kw, c.stride_h = c.stride_w = stride;
  c.pad_top = c.pad_bottom = c.pad_left = c.pad_right = pad;
  return LinearOp::sum_pool(c);
}

// A value of centered width exactly `bits` at its extremes, or one whose low 64 bits look narrow
// while its high bits are set (m127: 2^64 k + small), each with a random sign.
template <class F>
F edge_value(std::mt19937_64& rng, unsigned bits, bool low_small) {
  u128 v;
  switch (low_small ? 2 : rng() % 4) {
    case 0:
      v = (u128{1} << bits) - 1;
      break;  // the top of the width
    case 1:
      v = u128{1} << (bits - 1);
      break;  // its first value
    case 2:
      v = (u128{1} << (bits - 1)) + rng() % 7;
      break;  // above it, low bits small
    default:
      v = (static_cast<u128>(rng()) << 64 | rng()) & ((u128{1} << bits) - 1);
  }
  const F x = F::from_u128(v);
  return rng() % 2 ? F::zero() - x : x;
}

// The cpu engine's forward from the previous layer's Z (Engine::forward_of_square: a chain that
// starts with a sum pool pools the squares as it reads them, in 64-bit integers where a row's taps
// are narrow, in 128-bit ones where they are below the wide bound; any other chain squares into
// scratch first) against the reference engine's forward of the square. Pools of 4, up to 9 and h w
// taps (each its own bounds), widths at and around each bound (29-33 bits, 60-63 bits) and 2^64,
// m61's top width (60), values at the extremes of their width and with narrow-looking low words,
// batches whose vector loops have a tail.
TYPED_TEST(StructuredCpu, ForwardOfSquareEqualsTheForwardOfTheSquare) {
  using F = TypeParam;
  using Cfg = std::conditional_t<std::is_same_v<F, Fp61>, M61, M127>;
  auto rng = testing::make_rng(237);
  const auto ref = make_reference_engine<Cfg>(), cpu = make_cpu_engine<Cfg>();
  const std::vector<unsigned> widths =
      F::kBits == 61 ? std::vector<unsigned>{1, 26, 28, 29, 30, 31, 32, 33, 45, 59, 60}
                     : std::vector<unsigned>{1, 26, 28, 29, 30, 31, 32, 33, 60, 61, 62, 63, 64, 65, 66, 90, 125};
  for (int trial = 0; trial < 10; ++trial) {
    const std::size_t ch = pick(rng, 1, 4), h = pick(rng, 4, 7), w = pick(rng, 4, 7);
    const bool pow2_in = rng() % 2 == 0, mid = rng() % 2 == 0;
    QuantizedLayer q;
    switch (trial % 5) {
      case 0:
        q.ops.push_back(pool_of(ch, h, w, pow2_in, mid));
        break;  // 4 taps, then a conv
      case 1:
        q.ops.push_back(pool_of(ch, h, w, pow2_in, mid));
        break;  // 4 taps alone
      case 2:
        q.ops.push_back(pool_k(ch, h, w, 3, 3, 1, 1));
        break;  // up to 9 taps
      case 3:
        q.ops.push_back(pool_k(ch, h, w, h, w, 1, 0));
        break;  // global: h w taps
      default:
        break;  // a conv alone
    }
    if (trial % 5 == 0 || trial % 5 == 4)
      q.ops.push_back(conv_of(rng, ch, q.ops.empty() ? h : h / 2, q.ops.empty() ? w : w / 2,
                              q.ops.empty() ? pow2_in : mid, trial % 3 == 0));
    q.rows = q.ops.back().rows, q.cols = q.ops.front().cols;
    FieldLayer<F> layer{&q, {}};
    for (std::size_t a = 0; a < q.rows; ++a) layer.bias.push_back(draw<F>(rng, 2, 20));
    // Tables of mixed extremes, and tables whose every value has small low bits (2^(bits - 1) plus
    // a little: past 2^64 only their high words say they are wide).
    for (std::size_t batch : {3, 19, 67})
      for (unsigned bits : widths)
        for (bool low_small : {false, true}) {
          Table2D<F> S(padded(q.cols), padded(batch));
          for (std::size_t j = 0; j < q.cols; ++j)
            for (std::size_t k = 0; k < batch; ++k) S.at(j, k) = edge_value<F>(rng, bits, low_small);
          const Table2D<F> want = ref->forward(layer, ref->square(S), batch),
                           got = cpu->forward_of_square(layer, S, batch);
          EXPECT_EQ(got.data, want.data) << "trial " << trial << " batch " << batch << " bits " << bits
                                         << (low_small ? " low bits small" : "");
        }
  }
}

// Each route on its own (whatever the engine would pick for the op), on narrow inputs.
TYPED_TEST(StructuredCpu, EachRouteEqualsThe128BitRouteOnNarrowInputs) {
  using F = TypeParam;
  auto rng = testing::make_rng(234);
  for (int trial = 0; trial < 12; ++trial) {
    const LinearOp op = conv_of(rng, pick(rng, 1, 6), pick(rng, 4, 9), pick(rng, 4, 9), rng() % 2 == 0, trial % 2);
    const std::size_t batch = pick(rng, 1, 40), stride = batch + 3;
    for (int kind : {1, 2})
      for (unsigned bits : {1u, 14u, 31u, 40u, 60u, F::kBits == 61 ? 60u : 88u}) {
        std::vector<F> in(op.cols * stride);
        for (auto& x : in) x = draw<F>(rng, kind, bits);
        const std::vector<F> want = apply_op(op, in.data(), stride, batch);
        if (limb_route_fits(op)) {
          EXPECT_EQ(apply_op_limbs(op, in.data(), stride, batch), want) << trial << " " << bits;
        }
        if (int8_conv_exact(op)) {
          EXPECT_EQ(apply_conv_int8(op, in.data(), stride, batch), want) << trial << " " << bits;
        }
        std::vector<F> exact(op.rows * batch);
        apply_op_exact_into(op, in.data(), stride, batch, OpOutput<F>{exact.data(), batch});
        EXPECT_EQ(exact, want) << trial << " " << bits;
      }
  }
}

// cut_limbs31 then join_limbs31_n of the single-tap sums (weight 1) gives x back, at the edges of
// each limb count.
TYPED_TEST(StructuredCpu, LimbCutJoinsBack) {
  using F = TypeParam;
  for (unsigned bits = 0; bits + 1 < F::kBits; ++bits)
    for (int sign : {1, -1})
      for (int off : {0, -1}) {
        const u128 mag = (u128{1} << bits) + static_cast<u128>(static_cast<i128>(off));
        const F x = sign > 0 ? F::from_u128(mag) : F::zero() - F::from_u128(mag);
        const ValueWidth width = value_width(&x, 1, 1, 1);
        const unsigned n = limbs31_needed<F>(width);
        std::int32_t limb[kLimbs31<F>] = {};
        std::int64_t acc[kLimbs31<F>] = {};
        cut_limbs31(x, n, limb, 1);
        for (unsigned l = 0; l < n; ++l) acc[l] = limb[l];
        EXPECT_EQ(join_limbs31_n<F>(acc, 1, n), x) << "bits " << bits << " sign " << sign << " limbs " << n;
      }
}

// from_small_i128 (branch-free for m127) against from_i128 at the edges of its range |x| < 2^126.
TYPED_TEST(StructuredCpu, SmallI128ReducesAsFromI128) {
  using F = TypeParam;
  const i128 top = (i128{1} << 126) - 1;
  const i128 p61 = (i128{1} << 61) - 1;
  for (i128 x : {i128{0}, i128{1}, i128{-1}, top, -top, p61, -p61, p61 + 1, -p61 - 1, i128{1} << 64, -(i128{1} << 64)})
    EXPECT_EQ(from_small_i128<F>(x), F::from_i128(x)) << static_cast<double>(x);
}

// The cpu engine's square (m127: one 64-bit product for entries whose centered value is below
// 2^64) against the reference engine's, at widths around 2^64, signed and not, and zeros.
TEST(CpuSquare, EqualsTheReferenceAtEveryWidth) {
  auto rng = testing::make_rng(235);
  Table2D<Fp127> Z(64, 48);
  for (std::size_t i = 0; i < Z.data.size(); ++i) {
    const unsigned bits = static_cast<unsigned>(i % 70) + 60 * (i % 3 == 0);  // 0-69 and 60-129
    Z.data[i] = bits >= 127 ? testing::random_element<Fp127>(rng) : draw<Fp127>(rng, 2, bits);
  }
  const auto ref = make_reference_engine<M127>(), cpu = make_cpu_engine<M127>();
  EXPECT_EQ(cpu->square(Z).data, ref->square(Z).data);
}

}  // namespace
}  // namespace nnproof
