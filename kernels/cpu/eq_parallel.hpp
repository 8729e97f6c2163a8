// SPDX-License-Identifier: Apache-2.0
#pragma once
// eq_table (core/polynomial.hpp) for the prover's larger tables, split between threads: the
// activation sum-check builds one of up to a quarter of Z's rows in each of its first row rounds
// (2^13 entries for CIFAR-size's first Z), which on one core kept the other idle ~0.3 ms a proof.
#include <cstddef>
#include <span>
#include <vector>

#include "core/polynomial.hpp"
#include "verifier/parallel.hpp"

namespace nnproof {

// eq_table(x), entry for entry: eq(x, i) = eq(x_lo, i_lo) eq(x_hi, i_hi), i_lo the low half of i's
// bits (x[b] is bit b's), so two tables of about 2^(n/2) entries and one product an entry, by
// rows of the high part. Tables of up to 2^kSerialEqVars entries are eq_table's own.
template <class K>
std::vector<K> eq_table_parallel(std::span<const K> x) {
  constexpr std::size_t kSerialEqVars = 12;
  if (x.size() <= kSerialEqVars) return eq_table<K>(x);
  const std::size_t m = x.size() / 2;
  const std::vector<K> lo = eq_table<K>(x.first(m)), hi = eq_table<K>(x.subspan(m));
  std::vector<K> t(std::size_t{1} << x.size());
  parallel_for(hi.size(), [&](std::size_t h) {
    K* row = t.data() + (h << m);
    for (std::size_t l = 0; l < lo.size(); ++l) row[l] = hi[h] * lo[l];
  });
  return t;
}

}  // namespace nnproof
