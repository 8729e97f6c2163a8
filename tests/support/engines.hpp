// SPDX-License-Identifier: Apache-2.0
#pragma once
// The engines the cross-engine tests hold to the reference engine's bits.
#include <gtest/gtest.h>

#include <memory>
#include <string_view>
#include <vector>

#include "kernels/registry.hpp"

namespace nnproof::testing {

// Every engine of the registry that runs here but the reference (the oracle): the cpu engine,
// the thrust-omp twin, and cuda with a device.
template <class Cfg>
std::vector<std::unique_ptr<Engine<Cfg>>> engines_under_test() {
  std::vector<std::unique_ptr<Engine<Cfg>>> out;
  for (std::string_view name : runnable_engines())
    if (name != "reference") out.push_back(make_engine<Cfg>(name));
  EXPECT_GE(out.size(), 1u);
  return out;
}

}  // namespace nnproof::testing
