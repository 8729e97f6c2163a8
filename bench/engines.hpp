#pragma once
// Engines by name for the microbenchmarks; a benchmark whose engine is missing here (cuda without
// a device, or a build without CUDA) is reported as skipped, not run.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "host/engines/cpu_engine.hpp"
#include "kernels/device_info.hpp"
#include "kernels/thrust_engine.hpp"

namespace nnproof {

template <class Cfg>
std::unique_ptr<Engine<Cfg>> bench_engine(const std::string& name, benchmark::State& state) {
  if (name == "cpu") return make_cpu_engine<Cfg>();
  if (!thrust_engines_built()) {
    state.SkipWithError("built without CUDA: no Thrust engines");
    return nullptr;
  }
  if (name == "thrust-omp") return make_thrust_omp_engine<Cfg>();
  if (query_cuda_devices().count == 0) {
    state.SkipWithError("no CUDA device");
    return nullptr;
  }
  return make_cuda_engine<Cfg>();
}

}  // namespace nnproof
