// SPDX-License-Identifier: Apache-2.0
// The engine registry (kernels/registry.hpp): one list of names for the CLI, tests and benchmarks,
// one-line refusals, and `auto`'s choice by the proof's work.
#include <gtest/gtest.h>

#include <cstdlib>

#include "kernels/registry.hpp"
#include "tests/support/models.hpp"
#include "tests/support/random.hpp"

namespace nnproof {
namespace {

TEST(Registry, OneListOfNames) {
  EXPECT_EQ(engine_names(), "auto, reference, cpu, cuda or thrust-omp");
  for (const EngineEntry& e : kEngines) {
    if (e.id == EngineId::cuda && !engine_unavailable_reason(EngineId::thrust_omp).empty()) {
      EXPECT_THROW(parse_engine_name(e.name), EngineChoiceError);  // a build without CUDA says so
    } else {
      EXPECT_EQ(parse_engine_name(e.name), e.id);
    }
  }
  EXPECT_THROW(parse_engine_name("warp"), EngineChoiceError);
  for (std::string_view name : runnable_engines()) EXPECT_EQ(make_engine<M61>(name)->name(), name);
}

TEST(Registry, DenseWorkCountsTheDenseLayersMultiplyAdds) {
  auto rng = testing::make_rng(5);
  const QuantizedModel m = testing::random_model({6, 4, 3}, rng);
  EXPECT_EQ(dense_work(m, 10), (4u * 6 + 3 * 4) * 10);
}

TEST(Registry, AutoTakesTheCpuEngineBelowTheWorkThreshold) {
  unsetenv("NNPROOF_CUDA_MIN_WORK");
  EXPECT_EQ(cuda_min_work(), std::size_t{1} << 35);
  EXPECT_EQ(make_engine<M61>("auto", 0, cuda_min_work() - 1)->name(), "cpu");
  setenv("NNPROOF_CUDA_MIN_WORK", "123", 1);
  EXPECT_EQ(cuda_min_work(), 123u);
  EXPECT_EQ(make_engine<M61>("auto", 0, 122)->name(), "cpu");
  // At or above it, cuda where a device is usable, else cpu.
  const std::string big = make_engine<M61>("auto", 0, 123)->name();
  EXPECT_EQ(big, engine_unavailable_reason(EngineId::cuda).empty() ? "cuda" : "cpu");
  setenv("NNPROOF_CUDA_MIN_WORK", "lots", 1);
  EXPECT_THROW(cuda_min_work(), EngineChoiceError);
  unsetenv("NNPROOF_CUDA_MIN_WORK");
}

}  // namespace
}  // namespace nnproof
