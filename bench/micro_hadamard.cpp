// SPDX-License-Identifier: Apache-2.0
// The training proof's Hadamard reduction on the TIMIT shape (D = 2 Z o E, 2000 x 512 padded to
// 2048 x 512, two claims as D_2 and D_3 carry): the host's sum-check over the combined eq table
// (HostTableSumcheck, what the prover ran before) against the cpu engine's with eq factored
// (kernels/cpu/hadamard_sumcheck.hpp). Each iteration is a whole sum-check: tables built, every
// round and fold.
#include <benchmark/benchmark.h>

#include <random>

#include "host/synthetic.hpp"
#include "host/training/table_sumcheck.hpp"
#include "kernels/cpu/hadamard_sumcheck.hpp"

namespace nnproof {
namespace {

constexpr std::size_t kRows = 2048, kCols = 512, kClaims = 2;

template <class Cfg>
struct Problem {
  using F = typename Cfg::F;
  using K = typename Cfg::K;
  Table2D<F> Z{kRows, kCols}, E{kRows, kCols};
  std::vector<EqClaim<K>> claims;
  std::vector<K> challenges;
  explicit Problem(std::mt19937_64& rng) {
    for (F& x : Z.data) x = random_element<F>(rng);
    for (F& x : E.data) x = random_element<F>(rng);
    auto point = [&](std::size_t n) {
      std::vector<K> p(ceil_log2(n));
      for (K& v : p) v = random_element<K>(rng);
      return p;
    };
    for (std::size_t c = 0; c < kClaims; ++c)
      claims.push_back({point(kRows), point(kCols), random_element<K>(rng), random_element<K>(rng)});
    for (unsigned i = 0; i < ceil_log2(kRows * kCols); ++i) challenges.push_back(random_element<K>(rng));
  }
};

template <class K>
void run_rounds(SumcheckProver<K>& sc, const std::vector<K>& challenges) {
  benchmark::DoNotOptimize(sc.round());
  for (std::size_t i = 0; i + 1 < challenges.size(); ++i) benchmark::DoNotOptimize(sc.fold_and_round(challenges[i]));
  sc.fold(challenges.back());
}

template <class Cfg>
void BM_HadamardSumcheckHost(benchmark::State& state) {
  using K = typename Cfg::K;
  std::mt19937_64 rng(11);
  const Problem<Cfg> p(rng);
  for (auto _ : state) {
    std::vector<K> w(kRows * kCols, K::zero()), z(w.size()), e(w.size());
    std::vector<std::vector<K>> er, ec;
    for (const auto& c : p.claims) {
      er.push_back(eq_table<K>(c.s));
      ec.push_back(eq_table<K>(c.r));
      for (K& x : er.back()) x *= c.weight;
    }
    parallel_for(kRows, [&](std::size_t a) {
      for (std::size_t c = 0; c < er.size(); ++c)
        for (std::size_t k = 0; k < kCols; ++k) w[a * kCols + k] += er[c][a] * ec[c][k];
      for (std::size_t k = 0; k < kCols; ++k) {
        z[a * kCols + k] = K::from_base(p.Z.data[a * kCols + k]);
        e[a * kCols + k] = K::from_base(p.E.data[a * kCols + k]);
      }
    });
    HostTableSumcheck<K> sc({std::move(w), std::move(z), std::move(e)});
    run_rounds<K>(sc, p.challenges);
  }
}

template <class Cfg>
void BM_HadamardSumcheckCpu(benchmark::State& state) {
  std::mt19937_64 rng(11);
  const Problem<Cfg> p(rng);
  for (auto _ : state) {
    auto sc = make_cpu_hadamard_sumcheck<Cfg>(p.Z, p.E, p.claims);
    run_rounds<typename Cfg::K>(*sc, p.challenges);
  }
}

BENCHMARK(BM_HadamardSumcheckHost<M61>)->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();
BENCHMARK(BM_HadamardSumcheckCpu<M61>)->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();
BENCHMARK(BM_HadamardSumcheckHost<M127>)->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();
BENCHMARK(BM_HadamardSumcheckCpu<M127>)->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();

}  // namespace
}  // namespace nnproof
