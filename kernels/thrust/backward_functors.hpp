// SPDX-License-Identifier: Apache-2.0
#pragma once
// The Thrust engine's device code for training's backward pass (Engine::double_hadamard,
// batch_outer_product, batch_row_sums; engine.inl): as functors.hpp, a thread per index, NNP_HD,
// plain pointers. Straightforward first versions: each thread sums a whole row product, so that
// the engine keeps the trace's tables on its device and the cuda build runs the same code as the
// thrust-omp one the tests check; the GPU's tiled version is future work.
//
// Include with NNP_THRUST_NS defined, as thrust_engine.inl.
#include "core/fields.hpp"
#include "core/hostdevice.hpp"
#include "kernels/thrust/functors.hpp"

namespace nnproof::NNP_THRUST_NS {

// A sum of products of two base-field elements with rare reductions: m61 products (< 2^122) in
// 128 bits, reduced every 32; m127 products as mul_unreduced's 128-bit values with a count of the
// carries out of 128 bits (2^128 = 2 mod p).
template <class F>
struct ProductSum;
template <>
struct ProductSum<Fp61> {
  u128 acc = 0;
  unsigned pending = 0;
  NNP_HD void add(Fp61 a, Fp61 b) {
    acc += static_cast<u128>(a.v) * b.v;
    if (++pending == 32) acc = Fp61::from_u128(acc).v, pending = 0;
  }
  NNP_HD Fp61 result() const { return Fp61::from_u128(acc); }
};
template <>
struct ProductSum<Fp127> {
  u128 acc = 0;
  std::uint64_t carries = 0;
  NNP_HD void add(Fp127 a, Fp127 b) {
    const u128 x = Fp127::mul_unreduced(a, b);
    acc += x;
    carries += acc < x ? 1 : 0;
  }
  NNP_HD Fp127 result() const { return Fp127::from_u128(acc) + Fp127::from_u128(u128{carries} * 2); }
};

// 2 Z o E, a thread per entry.
template <class F>
struct DoubleProduct {
  NNP_HD F operator()(F z, F e) const {
    const F p = z * e;
    return p + p;
  }
};

// G[a][j] = sum_k D[a][k] Y[j][k], a thread per entry t = a cols + j of G (rows of D and Y are n
// long): adjacent threads share D's row and read adjacent rows of Y.
template <class F>
struct OuterEntry {
  const F* d;
  const F* y;
  F* g;
  Index cols, n;
  NNP_HD void operator()(Index t) const {
    const F* dr = d + (t / cols) * n;
    const F* yr = y + (t % cols) * n;
    ProductSum<F> acc;
    for (Index k = 0; k < n; ++k) acc.add(dr[k], yr[k]);
    g[t] = acc.result();
  }
};

}  // namespace nnproof::NNP_THRUST_NS
