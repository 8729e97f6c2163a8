// SPDX-License-Identifier: Apache-2.0
#pragma once
// The cross-engine typed suite EngineTest (test_engines.cpp: the operations, test_engine_proofs.cpp:
// sum-check rounds and whole proofs): its configurations and a random table. A named namespace, not
// an anonymous one: EngineTest<Cfg> must be one class in both files, as GoogleTest demands of a suite.
#include <gtest/gtest.h>

#include <cstddef>
#include <random>

#include "tests/support/engines.hpp"
#include "tests/support/problems.hpp"

namespace nnproof::engine_test {

using testing::make_rng;
using testing::random_element;

template <class Cfg>
class EngineTest : public ::testing::Test {};
using Configs = ::testing::Types<M61, M127, M61Interactive>;
TYPED_TEST_SUITE(EngineTest, Configs);

using testing::engines_under_test;

template <class F>
Table2D<F> random_table(std::size_t real_rows, std::size_t real_cols, std::mt19937_64& rng) {
  Table2D<F> t(padded(real_rows), padded(real_cols));
  for (std::size_t j = 0; j < real_rows; ++j)
    for (std::size_t k = 0; k < real_cols; ++k) t.at(j, k) = random_element<F>(rng);
  return t;
}

}  // namespace nnproof::engine_test
