// SPDX-License-Identifier: Apache-2.0
#pragma once
// eq tables, multilinear extensions and round-polynomial interpolation (PROTOCOL.md sections 3, 4).
// Conventions: coordinate x_t of a point pairs with bit t of an index (bit 0 least significant).
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <vector>

#include "core/fields.hpp"

namespace nnproof {

// eq(x, i) = prod_t (x_t i_t + (1 - x_t)(1 - i_t)) for a single Boolean index i.
template <class K>
K eq_at_index(std::span<const K> x, std::size_t i) {
  K r = K::one();
  for (std::size_t t = 0; t < x.size(); ++t) r *= ((i >> t) & 1) ? x[t] : K::one() - x[t];
  return r;
}

// eq(x, y) for two points of the same length.
template <class K>
K eq_eval(std::span<const K> x, std::span<const K> y) {
  K r = K::one();
  for (std::size_t t = 0; t < x.size(); ++t) r *= x[t] * y[t] + (K::one() - x[t]) * (K::one() - y[t]);
  return r;
}

// T[i] = eq(x, i) for all i < 2^n, by doubling: 2^n multiplications.
template <class K>
std::vector<K> eq_table(std::span<const K> x) {
  std::vector<K> t(std::size_t{1} << x.size());
  t[0] = K::one();
  for (std::size_t b = 0; b < x.size(); ++b) {
    std::size_t half = std::size_t{1} << b;
    for (std::size_t i = 0; i < half; ++i) {
      K hi = t[i] * x[b];
      t[i + half] = hi;
      t[i] = t[i] - hi;  // t[i] * (1 - x_b)
    }
  }
  return t;
}

// T~(x) for a table of size 2^n (entries of F or K), as sum_i eq(x, i) T[i].
template <class K, class T>
K mle_evaluate(std::span<const T> table, std::span<const K> x) {
  if (table.size() != (std::size_t{1} << x.size()))
    throw std::invalid_argument("mle_evaluate: table size is not 2^|x|");
  std::vector<K> e = eq_table(x);
  K acc = K::zero();
  for (std::size_t i = 0; i < table.size(); ++i) acc += mul_base(e[i], table[i]);
  return acc;
}

// 1 / prod_{m != j, m < n} (j - m): the Lagrange denominators over the nodes 0..n-1, which depend
// only on n (each an inversion in K, ~120 multiplications: computed once, not in every round).
template <class K>
K lagrange_denominator_inverse(std::size_t n, std::size_t j) {
  constexpr std::size_t kCached = 8;
  const auto compute = [](std::size_t nodes, std::size_t node) {
    std::int64_t den = 1;
    for (std::size_t m = 0; m < nodes; ++m)
      if (m != node) den *= static_cast<std::int64_t>(node) - static_cast<std::int64_t>(m);
    return K::from_int(den).inverse();
  };
  static const auto table = [&] {
    std::array<std::array<K, kCached>, kCached + 1> t{};
    for (std::size_t nodes = 1; nodes <= kCached; ++nodes)
      for (std::size_t node = 0; node < nodes; ++node) t[nodes][node] = compute(nodes, node);
    return t;
  }();
  return n <= kCached ? table[n][j] : compute(n, j);
}

// h(r) from h(0), h(1), ..., h(d) by Lagrange interpolation over the nodes 0..d.
template <class K>
K interpolate(std::span<const K> values, K r) {
  const std::size_t n = values.size();
  K acc = K::zero();
  for (std::size_t j = 0; j < n; ++j) {
    K num = K::one();
    for (std::size_t m = 0; m < n; ++m)
      if (m != j) num *= r - K::from_int(static_cast<std::int64_t>(m));
    acc += values[j] * num * lagrange_denominator_inverse<K>(n, j);
  }
  return acc;
}

// Fold a table on its top variable: T'[i] = T[i] + r (T[i + half] - T[i]) (PROTOCOL.md section 4).
template <class K, class Allocator>
void fold_top(std::vector<K, Allocator>& t, K r) {
  std::size_t half = t.size() / 2;
  for (std::size_t i = 0; i < half; ++i) t[i] = t[i] + r * (t[i + half] - t[i]);
  t.resize(half);
}

constexpr unsigned ceil_log2(std::size_t d) {
  unsigned n = 0;
  while ((std::size_t{1} << n) < d) ++n;
  return n;
}

}  // namespace nnproof
