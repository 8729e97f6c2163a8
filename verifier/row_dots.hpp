// SPDX-License-Identifier: Apache-2.0
#pragma once
// sum_k e[k] y[k] for a row y of base-field values against a fixed vector e of K, for the two
// fields with AVX-512 kernels (K = F_{p^2} over m61, and m127): the verifier's input and output
// MLEs (one row per sample against eq(s, .)) and the prover's V for the input layer
// (kernels/cpu/m61_kernels.hpp, m127_kernels.hpp: row dots). With AVX-512 IFMA, eight columns per
// register in 52-bit limbs (m61_avx512.hpp, m127_avx512.hpp); elsewhere LazyDot. Bit-identical.
#include <cstdint>
#include <span>
#include <vector>

#include "core/fields.hpp"

namespace nnproof {

// e as the m61 kernels read it: the K elements, and for the AVX-512 kernels each coordinate cut at
// bit 52 (low 52 bits, high 9 bits), zero-padded to a multiple of eight columns.
struct M61ColumnWeights {
  explicit M61ColumnWeights(std::span<const Fp61x2> e);
  std::span<const Fp61x2> eq;
  std::vector<std::uint64_t> re_lo, re_hi, im_lo, im_hi;
};

// e as the m127 kernels read it: the elements, and for the AVX-512 kernels their three limbs (radix
// 2^52), zero-padded to a multiple of eight columns.
struct M127ColumnWeights {
  explicit M127ColumnWeights(std::span<const Fp127> e);
  std::span<const Fp127> eq;
  std::vector<std::uint64_t> limb0, limb1, limb2;
  Fp127 total;  // sum_k e[k]: the prover's narrow kernels add a constant to every product, then take it off
};

template <class K>
struct ColumnWeightsOf;
template <>
struct ColumnWeightsOf<Fp61x2> {
  using type = M61ColumnWeights;
};
template <>
struct ColumnWeightsOf<Fp127> {
  using type = M127ColumnWeights;
};
template <class K>
using ColumnWeights = typename ColumnWeightsOf<K>::type;

// Whether K has these kernels (Fp61x2, Fp127).
template <class K>
concept HasRowDot = requires {
  typename ColumnWeightsOf<K>::type;
};

// sum_{k < w.eq.size()} w.eq[k] y[k], by the fastest kernel this CPU runs.
template <class K>
K row_dot(const base_field_t<K>* y, const ColumnWeights<K>& w);

// Every implementation this CPU can run, the fastest first (for tests).
template <class K>
struct RowDotKernel {
  const char* name;
  K (*fn)(const base_field_t<K>*, const ColumnWeights<K>&);
};
template <class K>
std::vector<RowDotKernel<K>> row_dot_kernels();

// The AVX-512 kernels themselves, for callers that have checked the CPU (AVX-512 F and IFMA).
Fp61x2 m61_row_dot_avx512(const Fp61* y, const M61ColumnWeights& w);
Fp127 m127_row_dot_avx512(const Fp127* y, const M127ColumnWeights& w);

}  // namespace nnproof
