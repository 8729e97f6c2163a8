// SPDX-License-Identifier: Apache-2.0
// The prover's int8 convolution route (kernels/cpu/conv_int8.hpp) on CNN-2-Quad's second
// convolution (16 -> 32 channels, 5 x 5, 12 x 12 images in 16 x 16, outputs 8 x 8), a batch of
// 256 pooled squares below 2^40 (five bytes each), into a narrow Z's int64 rows (on huge pages):
//   BM_ConvInt8Narrow/kernel: 0 int8 weights; 1 int16 weights with 3 of the 12800 past int8, as
//     CNN-2-Quad's quantized kernel has (clamped into int8, residual taps); 2 the same kernel with
//     40 past int8 (two int8 halves). Counter: `byte_products`, oneDNN's u8 x s8 products.
#include <benchmark/benchmark.h>

#include <random>

#include "host/synthetic.hpp"
#include "kernels/cpu/conv_int8.hpp"
#include "kernels/cpu/conv_int8_kernel.hpp"
#include "kernels/cpu/isa.hpp"
#include "kernels/engine/uninitialized.hpp"

namespace nnproof {
namespace {

void BM_ConvInt8Narrow(benchmark::State& state) {
  if (!int8_limb_gemm_available()) return state.SkipWithError("no VNNI or AMX: the int8 route is not exact here");
  std::mt19937_64 rng(29);
  ConvShape c{16, 12, 12, 32, 5, 5};
  c.pow2_in = c.pow2_out = true;
  std::vector<std::int64_t> w = random_ints(rng, c.kernel_size(), 127);
  const std::size_t wide = state.range(0) == 0 ? 0 : state.range(0) == 1 ? 3 : 40;
  for (std::size_t i = 0; i < wide; ++i) w[rng() % w.size()] = i % 2 ? 158 : -150;
  const LinearOp op = LinearOp::convolution(c, std::move(w));
  const std::size_t batch = 256;
  std::vector<std::uint64_t> in(op.cols * batch);
  for (auto& x : in) x = rng() >> 24;                 // below 2^40
  HugePageVector<std::int64_t> out(op.rows * batch);  // as a narrow Z's (NarrowTable)
  for (auto _ : state) {
    std::uint64_t magnitudes = 0;
    apply_conv_int8_into(op, in.data(), batch, batch, 40, NarrowOutput{out.data(), batch, nullptr, &magnitudes});
    benchmark::DoNotOptimize(out.data());
  }
  const std::size_t halves = conv_kernel::int8_kernel(op).halves;
  state.counters["byte_products"] =
      static_cast<double>(5 * halves * c.out_channels * c.out_h() * c.out_w() * c.in_channels * 25 * batch);
}
BENCHMARK(BM_ConvInt8Narrow)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace nnproof
