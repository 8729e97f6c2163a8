// SPDX-License-Identifier: Apache-2.0
// The prover's limb route for a first convolution (kernels/cpu/structured_limbs.hpp) on
// CIFAR-size's (3 -> 32 channels, 3 x 3, padding 1, 32 x 32 images), quantized inputs below 2^13
// held as int16, int8-range kernel, into a narrow Z's int32 rows (on huge pages), m127:
//   BM_ConvLimbsInt16/batch: the int16 planes cut, then each output's taps (a TapTable) summed by
//     VNNI pairs. Session 30 measured a table-free variant here (each output's taps as its
//     channel's kernel at an offset): no faster, so the table stays (docs/PERFORMANCE.md).
#include <benchmark/benchmark.h>

#include <random>

#include "host/synthetic.hpp"
#include "kernels/cpu/structured_limbs.hpp"
#include "kernels/engine/uninitialized.hpp"

namespace nnproof {
namespace {

void BM_ConvLimbsInt16(benchmark::State& state) {
  if (!int16_taps_available()) return state.SkipWithError("no AVX-512 VNNI: the int16 route does not run here");
  std::mt19937_64 rng(31);
  ConvShape c{3, 32, 32, 32, 3, 3};
  c.pad_top = c.pad_left = c.pad_bottom = c.pad_right = 1;
  c.pow2_in = c.pow2_out = true;
  const LinearOp op = LinearOp::convolution(c, random_ints(rng, c.kernel_size(), 15));
  const auto batch = static_cast<std::size_t>(state.range(0));
  std::vector<Fp127> in(op.cols * batch);
  for (auto& x : in) x = Fp127::from_int(static_cast<std::int64_t>(rng() % 8191) - 4095);
  HugePageVector<std::int32_t> out(op.rows * batch);
  const NarrowRows<std::int32_t> rows{out.data(), batch, nullptr};
  for (auto _ : state) {
    apply_op_limbs_to<Fp127, NarrowRows<std::int32_t>, std::int16_t>(op, in.data(), batch, batch, 1, rows);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_ConvLimbsInt16)->Arg(64)->Arg(256)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace nnproof
