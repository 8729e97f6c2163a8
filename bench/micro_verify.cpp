// SPDX-License-Identifier: Apache-2.0
// The client's read of the input (verifier/input_binding.hpp) at the TIMIT shape, batch 2048:
// the one pass (binding + X~(s, r)) against its parts done apart (the version 2 binding, the
// compact one, X~(s, r) alone), and the memory floor: a plain read of the same bytes.
#include <benchmark/benchmark.h>

#include <cstring>
#include <numeric>
#include <random>

#include "host/prover.hpp"
#include "host/synthetic.hpp"
#include "kernels/cpu/cpu_engine.hpp"
#include "verifier/input_binding.hpp"
#include "verifier/public_mle.hpp"
#include "verifier/verifier.hpp"

namespace nnproof {
namespace {

constexpr std::size_t kN0 = 1845, kBatch = 2048;

// A TIMIT-shaped statement with inputs in +-(2^(bits-1) - 1), and random eq tables.
template <class Cfg>
struct InputFixture {
  using K = typename Cfg::K;
  QuantizedModel model;
  Statement<Cfg> st;
  std::vector<K> eq_s, eq_r;
  explicit InputFixture(int bits) : eq_s(kN0), eq_r(kBatch) {
    QuantizedLayer l;
    l.rows = 1;
    l.cols = kN0;
    model.layers.push_back(l);
    st.model = &model;
    st.batch = kBatch;
    std::mt19937_64 rng(1);
    const std::int64_t bound = (std::int64_t{1} << (bits - 1)) - 1;
    std::uniform_int_distribution<std::int64_t> value(-bound, bound);
    st.input.resize(kN0 * kBatch);
    for (auto& x : st.input) x = Cfg::F::from_int(value(rng));
    for (auto& e : eq_s) e = random_element<K>(rng);
    for (auto& e : eq_r) e = random_element<K>(rng);
  }
  void set_bytes(benchmark::State& state) const {
    // The field elements' bytes, whichever way the input is held by then.
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(kN0 * kBatch * sizeof(typename Cfg::F)));
  }
};

// range(0): input bits, range(1): 1 the input held as small integers (hold_input_small, as
// `nnproof verify` holds it), 0 as field elements. The verifier's one pass: compact binding and X~(s, r).
template <class Cfg>
void BM_InputPass(benchmark::State& state) {
  using K = typename Cfg::K;
  InputFixture<Cfg> f(static_cast<int>(state.range(0)));
  if (state.range(1)) hold_input_small(f.st);
  for (auto _ : state)
    benchmark::DoNotOptimize(
        input_pass(f.st, InputEncoding::compact, std::span<const K>(f.eq_s), std::span<const K>(f.eq_r)));
  f.set_bytes(state);
}

// range(0): input bits, range(1): 1 compact, 0 field elements (version 2). The binding alone.
template <class Cfg>
void BM_InputBinding(benchmark::State& state) {
  InputFixture<Cfg> f(static_cast<int>(state.range(0)));
  const InputEncoding e = state.range(1) ? InputEncoding::compact : InputEncoding::field_elements;
  for (auto _ : state) benchmark::DoNotOptimize(input_binding(f.st, e));
  f.set_bytes(state);
}

// X~(s, r) alone from the field elements: version 2's second pass.
template <class Cfg>
void BM_InputMle(benchmark::State& state) {
  using K = typename Cfg::K;
  InputFixture<Cfg> f(8);
  for (auto _ : state) benchmark::DoNotOptimize(sample_major_mle<K>(f.st.input, kBatch, kN0, f.eq_s, f.eq_r));
  f.set_bytes(state);
}

// The whole verifier at the TIMIT shape (1845-2000-2000-2000-183, int8 weights, 8-bit inputs),
// batch 2048, on a cpu-engine proof made once: what `nnproof bench` reports as verify_s.
// range(0): the proof format version (2: the field elements hashed, X~(s, r) a second pass);
// range(1): 1 the input held as small integers, 0 as field elements.
template <class Cfg>
void BM_VerifyBundle(benchmark::State& state) {
  std::mt19937_64 rng(1);
  const std::vector<std::size_t> arch{kN0, 2000, 2000, 2000, 183};
  const QuantizedModel model = synthetic_model(arch, rng, 127, 127);
  InputFixture<Cfg> f(8);
  f.st.model = &model;
  f.st.model_digest = model_digest(model);
  Statement<Cfg> st = f.st;
  const auto version = static_cast<std::uint32_t>(state.range(0));
  const ProofBundle<Cfg> bundle = prove_bundle(*make_cpu_engine<Cfg>(), st, {}, version);
  if (state.range(1)) hold_input_small(st);
  for (auto _ : state)
    if (!verify_bundle(st, bundle).accepted) state.SkipWithError("an honest proof was rejected");
  f.set_bytes(state);
}

// The floor: summing range(0) bytes of 64-bit words on every core (a STREAM-like read).
void BM_MemoryRead(benchmark::State& state) {
  const std::size_t words = static_cast<std::size_t>(state.range(0)) / 8;
  std::vector<std::uint64_t> a(words, 1);
  for (auto _ : state) {
    std::uint64_t sum = 0;
#pragma omp parallel for reduction(+ : sum) schedule(static)
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(words); ++i) sum += a[static_cast<std::size_t>(i)];
    benchmark::DoNotOptimize(sum);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(words * 8));
}

BENCHMARK(BM_InputPass<M61>)->ArgsProduct({{8, 16}, {0, 1}})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_InputPass<M127>)->ArgsProduct({{8, 16}, {0, 1}})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_InputBinding<M61>)->Args({8, 1})->Args({8, 0})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_InputBinding<M127>)->Args({8, 1})->Args({8, 0})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_InputMle<M61>)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_InputMle<M127>)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_VerifyBundle<M61>)->ArgsProduct({{2, 3}, {0, 1}})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_VerifyBundle<M127>)->ArgsProduct({{2, 3}, {0, 1}})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MemoryRead)->Arg(kN0* kBatch * 8)->Arg(kN0* kBatch * 16)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace nnproof
