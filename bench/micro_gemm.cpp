// SPDX-License-Identifier: Apache-2.0
// The exact modular GEMM (the forward pass of one dense layer, int8 weights, TIMIT's 2000 x 2000
// at batch 512) on each engine, next to a float32 GEMM of the same shape on the same hardware:
// OpenBLAS sgemm on the CPU, cuBLAS sgemm on the GPU. Items are multiply-adds. On cuda the events
// bracket the engine's whole forward call: besides the device's work they include the host's part
// of it, the bias upload and the lookup of the layer's device weights (a byte comparison of its 4 MB
// of int8 weights, ~0.25 ms on 2 cores), during which the device idles.
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <random>
#include <string>

#include "bench/engines.hpp"
#include "host/synthetic.hpp"
#include "kernels/thrust/thrust_engine.hpp"

namespace nnproof {
namespace {

constexpr std::size_t kRows = 2000, kInner = 2000, kBatch = 512;

template <class Cfg>
void BM_ExactGemm(benchmark::State& state, const char* engine_name) {
  using F = typename Cfg::F;
  auto engine = bench_engine<Cfg>(engine_name, state);
  if (!engine) return;
  std::mt19937_64 rng(3);
  const QuantizedModel model = synthetic_model({kInner, kRows}, rng, 127, 127);
  const auto layers = field_layers<F>(model);
  Table2D<F> host_y(padded(kInner), kBatch);
  for (std::size_t j = 0; j < kInner; ++j)
    for (std::size_t k = 0; k < kBatch; ++k) host_y.at(j, k) = random_element<F>(rng);
  const Table2D<F> Y = engine_table(*engine, host_y);  // on the engine's device, uploaded once
  for (auto _ : state)
    timed_iteration(state, engine_name, [&] { benchmark::DoNotOptimize(engine->forward(layers[0], Y, kBatch)); });
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kRows * kInner * kBatch));
}

void BM_FloatGemmBlas(benchmark::State& state) {
  std::vector<float> w(kRows * kInner, 0.5f), y(kInner * kBatch, 0.25f), z(kRows * kBatch);
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, kRows, kBatch, kInner, 1.0f, w.data(), kInner, y.data(),
                kBatch, 0.0f, z.data(), kBatch);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kRows * kInner * kBatch));
}

// The bandwidth floor beside them: one device-to-device copy of a TIMIT activation table (2048 x 512
// entries of 8 bytes), which any pass that reads and writes a table once cannot beat.
void BM_DeviceCopy(benchmark::State& state) {
  if (const std::string why = engine_unavailable_reason(EngineId::cuda); !why.empty()) {
    state.SkipWithError(why.c_str());
    return;
  }
  const auto bytes = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) state.SetIterationTime(cuda_copy_seconds(bytes));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes));
}

void BM_FloatGemmCublas(benchmark::State& state) {
  if (const std::string why = engine_unavailable_reason(EngineId::cuda); !why.empty()) {
    state.SkipWithError(why.c_str());
    return;
  }
  for (auto _ : state) state.SetIterationTime(cuda_sgemm_seconds(kRows, kInner, kBatch));
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kRows * kInner * kBatch));
}

// BENCHMARK_CAPTURE takes a plain function name: one per field.
void BM_ExactGemm_m61(benchmark::State& state, const char* engine) { BM_ExactGemm<M61>(state, engine); }
void BM_ExactGemm_m127(benchmark::State& state, const char* engine) { BM_ExactGemm<M127>(state, engine); }

BENCHMARK_CAPTURE(BM_ExactGemm_m61, cpu, "cpu")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_ExactGemm_m61, thrust_omp, "thrust-omp")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_ExactGemm_m61, cuda, "cuda")->Unit(benchmark::kMillisecond)->UseManualTime();
BENCHMARK_CAPTURE(BM_ExactGemm_m127, cpu, "cpu")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_ExactGemm_m127, cuda, "cuda")->Unit(benchmark::kMillisecond)->UseManualTime();
BENCHMARK(BM_FloatGemmBlas)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_FloatGemmCublas)->Unit(benchmark::kMillisecond)->UseManualTime();
BENCHMARK(BM_DeviceCopy)->Arg(2048 * 512 * 8)->Unit(benchmark::kMillisecond)->UseManualTime();

}  // namespace
}  // namespace nnproof
