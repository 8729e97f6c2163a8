// SPDX-License-Identifier: Apache-2.0
#pragma once
// Engines by name for the microbenchmarks (kernels/registry.hpp); a benchmark whose engine cannot
// run here (cuda without a device, or a build without CUDA) is reported as skipped, not run.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "kernels/registry.hpp"

namespace nnproof {

template <class Cfg>
std::unique_ptr<Engine<Cfg>> bench_engine(const std::string& name, benchmark::State& state) {
  if (const std::string why = engine_unavailable_reason(parse_engine_name(name)); !why.empty()) {
    state.SkipWithError(why.c_str());
    return nullptr;
  }
  return make_engine<Cfg>(name);
}

}  // namespace nnproof
