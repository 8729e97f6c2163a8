// SPDX-License-Identifier: Apache-2.0
// The verifier's per-layer work on a CNN-2-Quad-shaped model (28x28 -> conv 5x5 16 -> x^2 -> 2x2 sum
// pool, conv 5x5 32 -> x^2 -> 2x2 sum pool, dense 512 -> 10; random int8 kernels), m127:
//   BM_ConvWeightMle/layer/version: W~(q, s) as `nnproof verify` computes it, eq(s, .) included where
//     that route builds it: version 2 the direct route (the transposed convolution applied to
//     eq(q, .)), version 3 the separable one where it applies (docs/IMAGE_LAYOUT.md). Counters:
//     `mults`, the route's multiplications (separable_cost, or the ops' taps plus the columns).
//   BM_ConvMagnitude/bounds: the magnitude profile, per row (0, chain_abs_row_sums, before) or per
//     channel (1, chain_abs_row_bounds, now).
#include <benchmark/benchmark.h>

#include <random>

#include "host/synthetic.hpp"
#include "verifier/image_layout.hpp"
#include "verifier/separable_conv.hpp"
#include "verifier/verifier.hpp"

namespace nnproof {
namespace {

LinearOp conv_op(std::mt19937_64& rng, std::size_t in_c, std::size_t hw, std::size_t out_c, std::size_t k) {
  ConvShape c{in_c, hw, hw, out_c, k, k};
  return LinearOp::convolution(c, random_ints(rng, c.kernel_size(), 100));
}

LinearOp sum_pool(std::size_t channels, std::size_t hw) {
  ConvShape c{channels, hw, hw, channels, 2, 2, 2, 2};
  c.groups = channels;
  return LinearOp::sum_pool(c);
}

const QuantizedModel& cnn2quad_shape() {
  static const QuantizedModel m = [] {
    std::mt19937_64 rng(23);
    QuantizedModel m;
    auto layer = [&](std::vector<LinearOp> ops) {
      QuantizedLayer l;
      l.cols = ops.front().cols;
      l.rows = ops.back().rows;
      l.ops = std::move(ops);
      l.bias.assign(l.rows, 1);
      m.layers.push_back(std::move(l));
    };
    layer({conv_op(rng, 1, 28, 16, 5)});
    layer({sum_pool(16, 24), conv_op(rng, 16, 12, 32, 5)});
    layer({sum_pool(32, 8), LinearOp::dense(10, 512, random_ints(rng, 5120, 100))});
    m.validate();
    return m;
  }();
  return m;
}

std::size_t direct_mults(const QuantizedLayer& l) {
  std::size_t n = l.cols;
  for (const LinearOp& op : l.ops) n += op.nnz_bound();
  return n;
}

void BM_ConvWeightMle(benchmark::State& state) {
  using K = Fp127;
  const std::size_t i = static_cast<std::size_t>(state.range(0));
  const auto version = static_cast<std::uint32_t>(state.range(1));
  const ProofLayout layout(cnn2quad_shape(), version);
  const QuantizedLayer& l = layout.model().layers[i];
  std::mt19937_64 rng(5);
  std::vector<K> q(ceil_log2(l.rows)), s(ceil_log2(l.cols));
  for (auto& v : q) v = random_element<K>(rng);
  for (auto& v : s) v = random_element<K>(rng);
  const std::vector<K> eq_q = eq_table<K>(q);
  for (auto _ : state) {
    std::vector<K> eq_s;
    if (version == 2) {  // the version 2 route, whatever the layer
      eq_s = eq_table<K>(s);
      benchmark::DoNotOptimize(weight_mle<K>(l, eq_q, eq_s));
    } else {
      benchmark::DoNotOptimize(layer_weight_mle<K>(l, q, eq_q, s, eq_s));
    }
  }
  std::size_t mults = direct_mults(l);
  if (version != 2)
    if (const std::optional<std::size_t> sep = separable_cost(l.ops); sep.has_value() && sep.value() <= mults)
      mults = sep.value();
  state.counters["mults"] = static_cast<double>(mults);
}
BENCHMARK(BM_ConvWeightMle)->ArgsProduct({{0, 1, 2}, {2, 3}})->Unit(benchmark::kMicrosecond);

void BM_ConvMagnitude(benchmark::State& state) {
  const QuantizedModel& m = cnn2quad_shape();
  for (auto _ : state)
    for (const QuantizedLayer& l : m.layers)
      benchmark::DoNotOptimize(state.range(0) == 0 ? chain_abs_row_sums(l.ops) : chain_abs_row_bounds(l.ops));
}
BENCHMARK(BM_ConvMagnitude)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace nnproof
