// SPDX-License-Identifier: Apache-2.0
// eq tables and sum-check rounds on each engine (cpu, thrust-omp, cuda with a device), with bytes/s
// of table next to a plain memory copy of the same table: the floor if the rounds were bound by
// memory (on this CPU they are bound by 64-bit multiplies).
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>

#include "bench/engines.hpp"
#include "core/polynomial.hpp"
#include "host/synthetic.hpp"
#include "kernels/cpu/cpu_engine.hpp"
#include "kernels/cpu/int8_column_sums.hpp"
#include "kernels/cpu/limb_gemm.hpp"
#include "kernels/cpu/m127_kernels.hpp"
#include "kernels/cpu/m61_kernels.hpp"

namespace nnproof {
namespace {

template <class Cfg>
void BM_EqTable(benchmark::State& state) {
  using K = typename Cfg::K;
  std::mt19937_64 rng(1);
  std::vector<K> x(static_cast<std::size_t>(state.range(0)));
  for (auto& v : x) v = random_element<K>(rng);
  for (auto _ : state) benchmark::DoNotOptimize(eq_table<K>(x));
  state.SetItemsProcessed(state.iterations() * (std::int64_t{1} << state.range(0)));
}

// One full square (activation) sum-check over an N x B table in the base field: all rounds.
// range(2), the work per activation layer that is timed:
//   0: the sum-check alone;
//   1: the next layer's col_combine over Y = Z o Z, then the sum-check (the thrust engines' path);
//   2: col_combine_of_squares over Z, then the sum-check from its carry (the cpu engine's path).
template <class Cfg>
void BM_SquareSumcheck(benchmark::State& state, const char* engine_name) {
  using F = typename Cfg::F;
  using K = typename Cfg::K;
  const unsigned rb = static_cast<unsigned>(state.range(0)), cb = static_cast<unsigned>(state.range(1));
  std::mt19937_64 rng(2);
  Table2D<F> Z(std::size_t{1} << rb, std::size_t{1} << cb);
  for (auto& z : Z.data) z = random_element<F>(rng);
  std::vector<K> s(rb), r(cb);
  for (auto& v : s) v = random_element<K>(rng);
  for (auto& v : r) v = random_element<K>(rng);
  auto engine = bench_engine<Cfg>(engine_name, state);
  if (!engine) return;
  // The claim the sum-check proves: sum eq(s, j) eq(r, k) Z[j][k]^2 (the engine derives h(1) from it).
  std::vector<K> point(r);
  point.insert(point.end(), s.begin(), s.end());
  std::vector<K> E = eq_table<K>(point);
  K claim = K::zero();
  for (std::size_t i = 0; i < E.size(); ++i) claim += mul_base(E[i], Z.data[i] * Z.data[i]);
  const int path = static_cast<int>(state.range(2));
  const Table2D<F> Zd = engine_table(*engine, Z);  // on the engine's device, uploaded once
  const Table2D<F> Y = engine->square(Zd);
  const std::vector<K> eq_r = eq_table<K>(r);
  for (auto _ : state)
    timed_iteration(state, engine_name, [&] {
      SquareCarry<K> carry;
      if (path == 1) benchmark::DoNotOptimize(engine->col_combine(Y, eq_r));
      if (path == 2) benchmark::DoNotOptimize(engine->col_combine_of_squares(Zd, Y, eq_r, carry));
      // As the prover driver runs it: round, then fused fold-and-round, then the last fold.
      const K c = s.empty() ? K::one() : s[0];
      auto sc = engine->square_sumcheck(Zd, s, r, claim, std::move(carry));
      benchmark::DoNotOptimize(sc->round());
      for (unsigned t = 1; t < rb + cb; ++t) benchmark::DoNotOptimize(sc->fold_and_round(c));
      sc->fold(c);
      benchmark::DoNotOptimize(sc->final_value());
    });
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(Z.data.size() * sizeof(F)));
}

// The prover's row_combine core for an int8 2000 x 2000 layer and 16 byte arrays (one eq(q, .)
// element of K in bytes): each column-sums kernel on one thread, next to oneDNN's s8s8 GEMM of
// W^T (the fallback where the VNNI kernel cannot run).
void BM_ColumnByteSums(benchmark::State& state, const char* kernel_name) {
  constexpr std::size_t kRows = 2000, kCols = 2000, kBytes = 16;
  std::mt19937_64 rng(3);
  std::vector<std::int8_t> w(kRows * kCols);
  for (auto& x : w) x = static_cast<std::int8_t>(rng());
  std::vector<std::uint8_t> bytes(kBytes * kRows);
  for (auto& x : bytes) x = static_cast<std::uint8_t>(rng());
  std::vector<std::int32_t> G(kCols * kBytes);
  const std::string name = kernel_name;
  if (name == "onednn") {
    std::vector<std::int8_t> shifted(kRows * kBytes);  // row-major rows x bytes, minus 128
    for (std::size_t a = 0; a < kRows; ++a)
      for (std::size_t c = 0; c < kBytes; ++c)
        shifted[a * kBytes + c] = static_cast<std::int8_t>(bytes[c * kRows + a] - 128);
    for (auto _ : state) {
      int8_transposed_byte_gemm(kCols, kRows, kBytes, w.data(), shifted.data(), G.data());
      benchmark::DoNotOptimize(G.data());
    }
  } else {
    ColumnSumsFn fn = nullptr;
    for (const auto& k : int8_column_sums_kernels())
      if (name == k.name) fn = k.fn;
    if (!fn) return state.SkipWithError("kernel not available on this CPU");
    std::vector<std::int32_t> acc(kBytes * column_sums_stride(kCols));
    for (auto _ : state) {
      std::fill(acc.begin(), acc.end(), 0);
      fn(w.data(), kRows, kCols, 0, kRows, bytes.data(), kRows, kBytes, acc.data());
      benchmark::DoNotOptimize(acc.data());
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kRows * kCols * kBytes));
}

// The kernel set named `name` among those this CPU runs (`all`: m61_kernels_available() or
// m127_kernels_available()), or nullptr.
template <class Kernels>
const Kernels* find_kernels(const std::vector<Kernels>& all, const char* name) {
  for (const auto& k : all)
    if (std::string(name) == k.name) return &k;
  return nullptr;
}

// The activation kernels on one thread, per implementation, at the TIMIT shape. Group sums (the
// carried pass, col_combine_of_squares): every group of four rows of a 2048 x 512 table of F, with
// eq(r, .) in K.
template <class F, class K, class Kernels, class Weights>
void group_sums_benchmark(benchmark::State& state, const std::vector<Kernels>& all, const char* kernel_name) {
  constexpr std::size_t kRows = 2048, kCols = 512;
  std::mt19937_64 rng(4);
  std::vector<F> z(kRows * kCols);
  for (auto& x : z) x = random_element<F>(rng);
  std::vector<K> e(kCols);
  for (auto& x : e) x = random_element<K>(rng);
  const Kernels* kernels = find_kernels(all, kernel_name);
  if (!kernels) return state.SkipWithError("kernel not available on this CPU");
  const Weights w(e);
  constexpr std::size_t q = kRows / 4;
  for (auto _ : state)
    for (std::size_t g = 0; g < q; ++g) {
      const F* z00 = z.data() + g * kCols;
      benchmark::DoNotOptimize(kernels->group_sums(z00, z00 + q * kCols, z00 + 2 * q * kCols, z00 + 3 * q * kCols, w));
    }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(z.size() * sizeof(F)));
}
void BM_M61GroupSums(benchmark::State& state, const char* kernel_name) {
  static const std::vector<M61Kernels> all = m61_kernels_available();
  group_sums_benchmark<Fp61, Fp61x2, M61Kernels, M61ColumnWeights>(state, all, kernel_name);
}
void BM_M127GroupSums(benchmark::State& state, const char* kernel_name) {
  static const std::vector<M127Kernels> all = m127_kernels_available();
  group_sums_benchmark<Fp127, Fp127, M127Kernels, M127ColumnWeights>(state, all, kernel_name);
}

// A row round on a 512 x 512 table of K (the fourth round at TIMIT size): every row folded, and
// q(0), q(2) summed over the folded pairs.
void BM_M61RowRound(benchmark::State& state, const char* kernel_name) {
  constexpr std::size_t kRows = 512, kCols = 512;
  std::mt19937_64 rng(5);
  std::vector<Fp61x2> z(kRows * kCols), folded(kRows / 2 * kCols), e(kCols);
  for (auto& x : z) x = random_element<Fp61x2>(rng);
  for (auto& x : e) x = random_element<Fp61x2>(rng);
  const Fp61x2 r = random_element<Fp61x2>(rng);
  static const std::vector<M61Kernels> all = m61_kernels_available();
  const M61Kernels* kernels = find_kernels(all, kernel_name);
  if (!kernels) return state.SkipWithError("kernel not available on this CPU");
  const M61ColumnWeights w(e);
  constexpr std::size_t half = kRows / 2, quarter = kRows / 4;
  for (auto _ : state)
    for (std::size_t j = 0; j < quarter; ++j) {
      Fp61x2 *lo = folded.data() + j * kCols, *hi = folded.data() + (j + quarter) * kCols;
      kernels->fold_row(z.data() + j * kCols, z.data() + (j + half) * kCols, r, lo, kCols);
      kernels->fold_row(z.data() + (j + quarter) * kCols, z.data() + (j + quarter + half) * kCols, r, hi, kCols);
      benchmark::DoNotOptimize(kernels->pair_q(lo, hi, w));
    }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(z.size() * sizeof(Fp61x2)));
}

void BM_MemoryCopy(benchmark::State& state) {
  const std::size_t bytes = static_cast<std::size_t>(state.range(0));
  std::vector<char> a(bytes, 1), b(bytes);
  for (auto _ : state) {
    std::memcpy(b.data(), a.data(), bytes);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes));
}

// BENCHMARK_CAPTURE takes a plain function name: one per field.
void BM_SquareSumcheck_m61(benchmark::State& state, const char* engine) { BM_SquareSumcheck<M61>(state, engine); }
void BM_SquareSumcheck_m127(benchmark::State& state, const char* engine) { BM_SquareSumcheck<M127>(state, engine); }

BENCHMARK(BM_EqTable<M61>)->Arg(11)->Arg(20);
BENCHMARK(BM_EqTable<M127>)->Arg(11)->Arg(20);
// {log2 rows, log2 columns, path}: the TIMIT shape's activation tables, 2048 x 512.
void square_sumcheck_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"rows_log2", "cols_log2", "path"});
  for (int path : {0, 1, 2}) b->Args({11, 9, path});
  b->Unit(benchmark::kMillisecond);
}
void square_sumcheck_args(benchmark::internal::Benchmark* b) {
  square_sumcheck_shapes(b);
  b->UseRealTime();
}
// The same on cuda, timed on the device by CUDA events (timed_iteration).
void square_sumcheck_args_cuda(benchmark::internal::Benchmark* b) {
  square_sumcheck_shapes(b);
  b->UseManualTime();
}
BENCHMARK_CAPTURE(BM_SquareSumcheck_m61, cpu, "cpu")->Apply(square_sumcheck_args);
BENCHMARK_CAPTURE(BM_SquareSumcheck_m61, thrust_omp, "thrust-omp")->Apply(square_sumcheck_args);
BENCHMARK_CAPTURE(BM_SquareSumcheck_m61, cuda, "cuda")->Apply(square_sumcheck_args_cuda);
BENCHMARK_CAPTURE(BM_SquareSumcheck_m127, cpu, "cpu")->Apply(square_sumcheck_args);
BENCHMARK_CAPTURE(BM_SquareSumcheck_m127, thrust_omp, "thrust-omp")->Apply(square_sumcheck_args);
BENCHMARK_CAPTURE(BM_SquareSumcheck_m127, cuda, "cuda")->Apply(square_sumcheck_args_cuda);
BENCHMARK_CAPTURE(BM_ColumnByteSums, avx512_vnni, "avx512-vnni")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_ColumnByteSums, portable, "portable")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_ColumnByteSums, onednn, "onednn")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_M61GroupSums, avx512_ifma, "avx512-ifma")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_M61GroupSums, portable, "portable")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_M61RowRound, avx512_ifma, "avx512-ifma")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_M61RowRound, portable, "portable")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_M127GroupSums, avx512_ifma, "avx512-ifma")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_M127GroupSums, portable, "portable")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MemoryCopy)->Arg(2048 * 512 * 8)->UseRealTime();

}  // namespace
}  // namespace nnproof
