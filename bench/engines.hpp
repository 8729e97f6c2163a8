// SPDX-License-Identifier: Apache-2.0
#pragma once
// Engines by name for the microbenchmarks (kernels/registry.hpp); a benchmark whose engine cannot
// run here (cuda without a device, or a build without CUDA) is reported as skipped, not run.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/registry.hpp"
#include "kernels/thrust/thrust_engine.hpp"

namespace nnproof {

template <class Cfg>
std::unique_ptr<Engine<Cfg>> bench_engine(const std::string& name, benchmark::State& state) {
  if (const std::string why = engine_unavailable_reason(parse_engine_name(name)); !why.empty()) {
    state.SkipWithError(why.c_str());
    return nullptr;
  }
  return make_engine<Cfg>(name);
}

// Runs `work` once as an iteration of `state`: on the cuda engine timed on the device by CUDA events
// (register the benchmark with UseManualTime), elsewhere by the benchmark's own real-time clock.
template <class Work>
void timed_iteration(benchmark::State& state, std::string_view engine_name, Work&& work) {
  if (engine_name == "cuda") {
    state.SetIterationTime(cuda_seconds(work));
  } else {
    work();
  }
}

// The protocol's rows x cols table t (row-major) as the engine keeps it: on its device for the
// Thrust engines (uploaded once here, so that no iteration pays an upload), on the host elsewhere.
template <class Cfg>
Table2D<typename Cfg::F> engine_table(Engine<Cfg>& engine, const Table2D<typename Cfg::F>& t) {
  std::vector<typename Cfg::F> sample_major(t.rows * t.cols);  // input_table's layout: row per column
  for (std::size_t j = 0; j < t.rows; ++j)
    for (std::size_t k = 0; k < t.cols; ++k) sample_major[k * t.rows + j] = t.at(j, k);
  return engine.input_table(sample_major, t.rows, t.cols);
}

}  // namespace nnproof
