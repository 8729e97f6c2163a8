// SPDX-License-Identifier: Apache-2.0
#pragma once
// eq(x, .) built on the device from the point x (kernels/thrust/thrust_engine.inl): the host's
// eq_table (core/polynomial.hpp) by the same doubling, so that a layer's eq tables need only their
// points uploaded (|x| entries, not 2^|x|). Field arithmetic is exact and every entry is computed by
// the same operations in the same order as on the host, so the tables are bit for bit the host's
// (tests/kernels/test_thrust_eq.cpp compares them for many sizes in both fields).
//
// Include with NNP_THRUST_NS and exec_nosync() defined, as thrust_engine.inl.
#include <thrust/for_each.h>

#include "core/hostdevice.hpp"
#include "kernels/thrust/device_vector.hpp"
#include "kernels/thrust/functors.hpp"
#include "kernels/thrust/thrust_errors.hpp"
#include "kernels/thrust/transfers.hpp"

namespace nnproof::NNP_THRUST_NS {

// One thread: eq over the point's first `bits` variables into t[0, 2^bits), the host loop as is.
// The first doublings touch a handful of entries each: one thread does them instead of a launch
// per variable.
template <class K>
struct EqFirstBits {
  K* t;
  const K* x;
  unsigned bits;
  NNP_HD void operator()(Index /*thread*/) const {
    t[0] = K::one();
    for (unsigned b = 0; b < bits; ++b) {
      const Index half = Index{1} << b;
      for (Index i = 0; i < half; ++i) {
        const K hi = t[i] * x[b];
        t[i + half] = hi;
        t[i] = t[i] - hi;  // t[i] * (1 - x_b)
      }
    }
  }
};

// Thread per i < half: variable b's doubling of t[0, half) into t[0, 2 half), as the host's loop.
// Each thread reads and writes only i and i + half, so the pass runs in place.
template <class K>
struct EqDouble {
  K* t;
  const K* xb;
  Index half;
  NNP_HD void operator()(Index i) const {
    const K hi = t[i] * *xb;
    t[i + half] = hi;
    t[i] = t[i] - hi;
  }
};

// Variables a single thread doubles through before the table is wide enough for a pass per variable
// (2^6 = 64 entries, ~64 multiplications).
constexpr unsigned kEqSerialBits = 6;

// t[0, 2^n) = eq(x, .) for the n-variable point x, both in device memory (x not inside t's
// entries): n - 5 stream-ordered launches, no wait.
template <class K>
void device_eq_table(K* t, const K* x, unsigned n) {
  const unsigned serial = n < kEqSerialBits ? n : kEqSerialBits;
  NNP_THRUST(thrust::for_each(exec_nosync(), count(0), count(1), EqFirstBits<K>{t, x, serial}));
  for (unsigned b = serial; b < n; ++b) {
    const Index half = Index{1} << b;
    NNP_THRUST(thrust::for_each(exec_nosync(), count(0), count(half), EqDouble<K>{t, x + b, half}));
  }
}

}  // namespace nnproof::NNP_THRUST_NS
