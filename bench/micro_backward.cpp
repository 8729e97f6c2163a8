// SPDX-License-Identifier: Apache-2.0
// Training's backward operations (Engine::transpose_product, double_hadamard,
// batch_outer_product) on the TIMIT shape: 2000 x 2000 int8 weights, batch 512, tables of full
// field elements. batch_outer_product is the hot one: rows x cols x batch multiply-adds of two
// base-field elements (2.05 G at this shape), where the forward GEMM has small weights.
#include <benchmark/benchmark.h>

#include <random>

#include "bench/engines.hpp"
#include "host/synthetic.hpp"
#include "host/training/backward.hpp"
#include "kernels/cpu/outer_product.hpp"

namespace nnproof {
namespace {

constexpr std::size_t kN = 2000;

template <class F>
Table2D<F> random_full_table(std::size_t rows, std::size_t cols, std::mt19937_64& rng) {
  Table2D<F> t(padded(rows), padded(cols));
  for (std::size_t j = 0; j < rows; ++j)
    for (std::size_t k = 0; k < cols; ++k) t.at(j, k) = random_element<F>(rng);
  return t;
}

template <class Cfg>
void BM_BatchOuterProduct(benchmark::State& state, const char* engine_name) {
  using F = typename Cfg::F;
  const auto batch = static_cast<std::size_t>(state.range(0));
  std::mt19937_64 rng(7);
  const auto D = random_full_table<F>(kN, batch, rng), Y = random_full_table<F>(kN, batch, rng);
  auto engine = bench_engine<Cfg>(engine_name, state);
  if (!engine) return;
  // On the engine's device for the Thrust engines (uploaded once), as the backward pass leaves them.
  const auto Dd = engine_table(*engine, D), Yd = engine_table(*engine, Y);
  for (auto _ : state)
    timed_iteration(state, engine_name, [&] { benchmark::DoNotOptimize(engine->batch_outer_product(Dd, Yd, kN, kN)); });
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kN * kN * batch));
}

template <class Cfg>
void BM_TransposeProduct(benchmark::State& state, const char* engine_name) {
  using F = typename Cfg::F;
  const auto batch = static_cast<std::size_t>(state.range(0));
  std::mt19937_64 rng(8);
  const QuantizedModel m = synthetic_model({kN, kN}, rng, 127, 1000);
  const auto layers = field_layers<F>(m);
  const auto D = random_full_table<F>(kN, batch, rng);
  auto engine = bench_engine<Cfg>(engine_name, state);
  if (!engine) return;
  for (auto _ : state) benchmark::DoNotOptimize(engine->transpose_product(layers[0], D));
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kN * kN * batch));
}

template <class Cfg>
void BM_DoubleHadamard(benchmark::State& state, const char* engine_name) {
  using F = typename Cfg::F;
  const auto batch = static_cast<std::size_t>(state.range(0));
  std::mt19937_64 rng(9);
  const auto Z = random_full_table<F>(kN, batch, rng), E = random_full_table<F>(kN, batch, rng);
  auto engine = bench_engine<Cfg>(engine_name, state);
  if (!engine) return;
  for (auto _ : state) benchmark::DoNotOptimize(engine->double_hadamard(Z, E));
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kN * batch));
}

// The cpu engine's portable outer product, where the AVX-512 IFMA one would run.
template <class F>
void BM_OuterProductPortable(benchmark::State& state) {
  const auto batch = static_cast<std::size_t>(state.range(0));
  std::mt19937_64 rng(7);
  const auto D = random_full_table<F>(kN, batch, rng), Y = random_full_table<F>(kN, batch, rng);
  for (auto _ : state) benchmark::DoNotOptimize(cpu_batch_outer_product(D, Y, kN, kN, OuterProductKernel::portable));
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kN * kN * batch));
}

// A whole backward pass with its gradients (run_backward + gradient_claims: forward, W^T D,
// Hadamards, every G_i and g_i) on the TIMIT network 1845-2000-2000-2000-183, int8 weights,
// random full-field inputs: the cost of one training step before the update.
template <class Cfg>
void BM_BackwardPass(benchmark::State& state, const char* engine_name) {
  using F = typename Cfg::F;
  const auto batch = static_cast<std::size_t>(state.range(0));
  std::mt19937_64 rng(10);
  const QuantizedModel m = synthetic_model({1845, 2000, 2000, 2000, 183}, rng, 127, 1000);
  const auto layers = field_layers<F>(m);
  std::vector<F> input(batch * 1845);
  for (auto& x : input) x = random_element<F>(rng);
  std::vector<std::int64_t> labels(batch);
  for (auto& y : labels) y = static_cast<std::int64_t>(rng() % 183);
  auto engine = bench_engine<Cfg>(engine_name, state);
  if (!engine) return;
  for (auto _ : state) {
    auto trace = run_backward(*engine, layers, input, labels, F::from_int(1 << 20));
    benchmark::DoNotOptimize(gradient_claims(*engine, layers, trace));
  }
}

// BENCHMARK_CAPTURE takes a plain function name: one per field.
void BM_BatchOuterProduct_m61(benchmark::State& s, const char* e) { BM_BatchOuterProduct<M61>(s, e); }
void BM_BatchOuterProduct_m127(benchmark::State& s, const char* e) { BM_BatchOuterProduct<M127>(s, e); }
void BM_TransposeProduct_m61(benchmark::State& s, const char* e) { BM_TransposeProduct<M61>(s, e); }
void BM_TransposeProduct_m127(benchmark::State& s, const char* e) { BM_TransposeProduct<M127>(s, e); }
void BM_DoubleHadamard_m61(benchmark::State& s, const char* e) { BM_DoubleHadamard<M61>(s, e); }
void BM_DoubleHadamard_m127(benchmark::State& s, const char* e) { BM_DoubleHadamard<M127>(s, e); }

void BM_BackwardPass_m61(benchmark::State& s, const char* e) { BM_BackwardPass<M61>(s, e); }
void BM_BackwardPass_m127(benchmark::State& s, const char* e) { BM_BackwardPass<M127>(s, e); }

void timit(benchmark::internal::Benchmark* b) { b->Arg(512)->Unit(benchmark::kMillisecond)->UseRealTime(); }
void timit_cuda(benchmark::internal::Benchmark* b) { b->Arg(512)->Unit(benchmark::kMillisecond)->UseManualTime(); }

BENCHMARK_CAPTURE(BM_BatchOuterProduct_m61, cpu, "cpu")->Apply(timit);
BENCHMARK_CAPTURE(BM_BatchOuterProduct_m127, cpu, "cpu")->Apply(timit);
BENCHMARK_CAPTURE(BM_BatchOuterProduct_m61, thrust_omp, "thrust-omp")->Apply(timit);
BENCHMARK_CAPTURE(BM_BatchOuterProduct_m127, thrust_omp, "thrust-omp")->Apply(timit);
BENCHMARK_CAPTURE(BM_BatchOuterProduct_m61, cuda, "cuda")->Apply(timit_cuda);
BENCHMARK_CAPTURE(BM_BatchOuterProduct_m127, cuda, "cuda")->Apply(timit_cuda);
BENCHMARK(BM_OuterProductPortable<Fp61>)->Apply(timit);
BENCHMARK(BM_OuterProductPortable<Fp127>)->Apply(timit);
BENCHMARK_CAPTURE(BM_TransposeProduct_m61, cpu, "cpu")->Apply(timit);
BENCHMARK_CAPTURE(BM_TransposeProduct_m127, cpu, "cpu")->Apply(timit);
BENCHMARK_CAPTURE(BM_DoubleHadamard_m61, cpu, "cpu")->Apply(timit);
BENCHMARK_CAPTURE(BM_BackwardPass_m61, cpu, "cpu")->Apply(timit)->Iterations(1);
BENCHMARK_CAPTURE(BM_BackwardPass_m127, cpu, "cpu")->Apply(timit)->Iterations(1);
BENCHMARK_CAPTURE(BM_DoubleHadamard_m127, cpu, "cpu")->Apply(timit);

}  // namespace
}  // namespace nnproof
