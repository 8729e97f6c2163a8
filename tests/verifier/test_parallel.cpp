// SPDX-License-Identifier: Apache-2.0
// verifier/parallel.hpp's task helpers: parallel_sum inside a parallel region (task_sum, chunks as
// tasks) equals the sequential sum for every size around its chunk count, and with_side_task runs
// both jobs, lets the main job's sums run as tasks, and rethrows either job's exception.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <functional>
#include <stdexcept>
#include <string>

#include "core/fields.hpp"
#include "verifier/parallel.hpp"

namespace nnproof {
namespace {

std::array<Fp61, 2> term(std::size_t i) {
  return {Fp61::from_int(static_cast<std::int64_t>(i * i + 1)), Fp61::from_int(-3 * static_cast<std::int64_t>(i))};
}

std::array<Fp61, 2> sequential_sum(std::size_t n) {
  std::array<Fp61, 2> s{Fp61::zero(), Fp61::zero()};
  for (std::size_t i = 0; i < n; ++i) {
    s[0] += term(i)[0];
    s[1] += term(i)[1];
  }
  return s;
}

TEST(Parallel, SumsInsideAndOutsideARegionEqualTheSequentialSum) {
  for (std::size_t n : {0, 1, 2, 63, 64, 65, 127, 1000, 4099}) {
    const std::array<Fp61, 2> want = sequential_sum(n);
    EXPECT_EQ((parallel_sum<Fp61, 2>(n, term)), want) << n;
    std::array<Fp61, 2> inside{};
#pragma omp parallel num_threads(2)
#pragma omp single
    inside = parallel_sum<Fp61, 2>(n, term);  // task_sum: the team takes the chunks
    EXPECT_EQ(inside, want) << n;
  }
}

TEST(Parallel, WithSideTaskRunsBothJobsAndTheMainJobsSums) {
  std::atomic<int> side_runs{0};
  std::array<Fp61, 2> got{};
  with_side_task([&] { got = parallel_sum<Fp61, 2>(5000, term); }, [&] { side_runs += 1; });
  EXPECT_EQ(side_runs.load(), 1);
  EXPECT_EQ(got, sequential_sum(5000));
}

std::string thrown_by(const std::function<void()>& main, const std::function<void()>& side) {
  try {
    with_side_task(main, side);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(nothing)";
}

TEST(Parallel, WithSideTaskRethrowsEitherJobsExceptionTheMainJobsFirst) {
  auto ok = [] {};
  auto main_fails = [] { throw std::runtime_error("main"); };
  auto side_fails = [] { throw std::runtime_error("side"); };
  EXPECT_EQ(thrown_by(main_fails, ok), "main");
  EXPECT_EQ(thrown_by(ok, side_fails), "side");
  EXPECT_EQ(thrown_by(main_fails, side_fails), "main");
  EXPECT_EQ(thrown_by(ok, ok), "(nothing)");
}

}  // namespace
}  // namespace nnproof
