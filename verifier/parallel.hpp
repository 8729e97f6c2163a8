// SPDX-License-Identifier: Apache-2.0
#pragma once
// Small OpenMP helpers. Field addition is exact and commutative, so a parallel sum is
// bit-identical to a sequential one whatever the split. Without OpenMP (a plain compiler) the
// pragmas are ignored and the loops run sequentially.
#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace nnproof {

// parallel_sum inside a parallel region (with_side_task): chunks as tasks that any thread of the
// team takes, partial sums added in chunk order afterwards. Field addition makes the order moot.
template <class K, std::size_t N, class Fn>
std::array<K, N> task_sum(std::size_t n, Fn fn) {
  const std::size_t chunks = std::min<std::size_t>(n, 64);
  std::vector<std::array<K, N>> partial(chunks);
#pragma omp taskloop grainsize(1) shared(partial, fn)
  for (std::int64_t c = 0; c < static_cast<std::int64_t>(chunks); ++c) {
    const std::size_t begin = n * static_cast<std::size_t>(c) / chunks;
    const std::size_t end = n * (static_cast<std::size_t>(c) + 1) / chunks;
    std::array<K, N> local;
    local.fill(K::zero());
    for (std::size_t i = begin; i < end; ++i) {
      const std::array<K, N> v = fn(i);
      for (std::size_t m = 0; m < N; ++m) local[m] += v[m];
    }
    partial[static_cast<std::size_t>(c)] = local;
  }
  std::array<K, N> total;
  total.fill(K::zero());
  for (const std::array<K, N>& p : partial)
    for (std::size_t m = 0; m < N; ++m) total[m] += p[m];
  return total;
}

// sum over i < n of fn(i), where fn returns std::array<K, N>: each thread one contiguous range
// (grain 0), or chunks of `grain` indices handed out as threads free up (work that is uneven in
// runs of i). Inside with_side_task: the team's tasks (task_sum) either way.
template <class K, std::size_t N, class Fn>
std::array<K, N> parallel_sum_by(std::size_t n, std::size_t grain, Fn fn) {
#ifdef _OPENMP
  if (omp_in_parallel()) return task_sum<K, N>(n, fn);
#endif
  std::array<K, N> total;
  total.fill(K::zero());
  const auto count = static_cast<std::int64_t>(n), chunk = static_cast<std::int64_t>(std::max<std::size_t>(grain, 1));
#pragma omp parallel
  {
    std::array<K, N> local;
    local.fill(K::zero());
    const auto add = [&](std::int64_t i) {
      const std::array<K, N> v = fn(static_cast<std::size_t>(i));
      for (std::size_t m = 0; m < N; ++m) local[m] += v[m];
    };
    if (grain == 0) {
#pragma omp for schedule(static) nowait
      for (std::int64_t i = 0; i < count; ++i) add(i);
    } else {
#pragma omp for schedule(dynamic, chunk) nowait
      for (std::int64_t i = 0; i < count; ++i) add(i);
    }
#pragma omp critical
    for (std::size_t m = 0; m < N; ++m) total[m] += local[m];
  }
  return total;
}

template <class K, std::size_t N, class Fn>
std::array<K, N> parallel_sum(std::size_t n, Fn fn) {
  return parallel_sum_by<K, N>(n, 0, fn);
}

template <class Fn>
void parallel_for(std::size_t n, Fn fn) {
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(n); ++i) fn(static_cast<std::size_t>(i));
}

// parallel_for for a few tasks of unequal length: each thread takes the next task when it is free.
template <class Fn>
void parallel_for_dynamic(std::size_t n, Fn fn) {
#pragma omp parallel for schedule(dynamic, 1)
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(n); ++i) fn(static_cast<std::size_t>(i));
}

// Runs `main` with `side` as an OpenMP task beside it. While both run, the sums inside `main`
// (parallel_sum) are task loops (task_sum) that every thread of the team takes, so the thread that
// ran `side` joins `main`'s loops as soon as it is done: a long sequential job (one SHA-256 stream)
// costs its own length on one core, not that plus a barrier behind it. A plain third thread stalls
// the other loops' barriers on two cores. An exception from either is rethrown here, `main`'s first.
template <class Main, class Side>
void with_side_task(Main main, Side side) {
  std::exception_ptr errors[2];
#pragma omp parallel
#pragma omp single
  {
#pragma omp task shared(errors, side)
    try {
      side();
    } catch (...) {
      errors[1] = std::current_exception();
    }
    try {
      main();
    } catch (...) {
      errors[0] = std::current_exception();
    }
#pragma omp taskwait
  }
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
}

// Whether a[0, n) == b[0, n), compared in chunks on every core: caches of large weight matrices
// compare a caller's weights with their copy on each use (4 MB took ~0.45 ms on one core).
template <class T>
bool equal_in_parallel(const T* a, const T* b, std::size_t n) {
  constexpr std::size_t kChunk = std::size_t{1} << 20;
  std::atomic<bool> same{true};
  parallel_for((n + kChunk - 1) / kChunk, [&](std::size_t c) {
    if (!same.load(std::memory_order_relaxed)) return;  // another chunk already differs
    const std::size_t begin = c * kChunk, end = std::min(n, begin + kChunk);
    if (!std::equal(a + begin, a + end, b + begin)) same.store(false, std::memory_order_relaxed);
  });
  return same.load();
}

}  // namespace nnproof
