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

#ifdef _OPENMP
#include <omp.h>
#endif

namespace nnproof {

// sum over i < n of fn(i), where fn returns std::array<K, N>.
template <class K, std::size_t N, class Fn>
std::array<K, N> parallel_sum(std::size_t n, Fn fn) {
  std::array<K, N> total;
  total.fill(K::zero());
#pragma omp parallel
  {
    std::array<K, N> local;
    local.fill(K::zero());
#pragma omp for schedule(static) nowait
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(n); ++i) {
      std::array<K, N> v = fn(static_cast<std::size_t>(i));
      for (std::size_t m = 0; m < N; ++m) local[m] += v[m];
    }
#pragma omp critical
    for (std::size_t m = 0; m < N; ++m) total[m] += local[m];
  }
  return total;
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

// Runs `main` and `side` at once, on two threads where there are two (sequentially otherwise).
// `main`'s own parallel loops then run on its thread alone (OpenMP does not nest by default): for
// a long sequential job (a hash stream) beside work that parallelises, this beats both one after
// the other and a third thread, whose spinning stalls the other loops' barriers on two cores.
// An exception from either is rethrown here, `main`'s first.
template <class Main, class Side>
void beside(Main main, Side side) {
  std::exception_ptr errors[2];
#ifdef _OPENMP
  const int threads = omp_get_max_threads() >= 2 ? 2 : 1;  // --threads 1 stays one thread
#else
  const int threads = 1;
#endif
#pragma omp parallel sections num_threads(threads)
  {
#pragma omp section
    try {
      main();
    } catch (...) {
      errors[0] = std::current_exception();
    }
#pragma omp section
    try {
      side();
    } catch (...) {
      errors[1] = std::current_exception();
    }
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
