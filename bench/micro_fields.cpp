// SPDX-License-Identifier: Apache-2.0
// Field multiplication throughput: a dependent chain (latency) and independent lanes (throughput).
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "core/fields.hpp"
#include "host/synthetic.hpp"

namespace nnproof {
namespace {

template <class T>
T seeded(std::uint64_t s) {
  std::mt19937_64 rng(s);
  return random_element<T>(rng);
}

template <class T>
void BM_MulLatency(benchmark::State& state) {
  T x = seeded<T>(1), y = seeded<T>(2);
  for (auto _ : state) {
    for (int i = 0; i < 1024; ++i) x = x * y;
    benchmark::DoNotOptimize(x);
  }
  state.SetItemsProcessed(state.iterations() * 1024);
}

template <class T>
void BM_MulThroughput(benchmark::State& state) {
  std::vector<T> a(4096), b(4096);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = seeded<T>(i), b[i] = seeded<T>(i + 9999);
  for (auto _ : state) {
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = a[i] * b[i];
    benchmark::DoNotOptimize(a.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(a.size()));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(a.size() * 2 * sizeof(T)));
}

BENCHMARK(BM_MulLatency<Fp61>);
BENCHMARK(BM_MulLatency<Fp61x2>);
BENCHMARK(BM_MulLatency<Fp127>);
BENCHMARK(BM_MulThroughput<Fp61>);
BENCHMARK(BM_MulThroughput<Fp61x2>);
BENCHMARK(BM_MulThroughput<Fp127>);

}  // namespace
}  // namespace nnproof
