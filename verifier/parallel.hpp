#pragma once
// Small OpenMP helpers. Field addition is exact and commutative, so a parallel sum is
// bit-identical to a sequential one whatever the split. Without OpenMP (a plain compiler) the
// pragmas are ignored and the loops run sequentially.
#include <array>
#include <cstddef>
#include <cstdint>

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

}  // namespace nnproof
