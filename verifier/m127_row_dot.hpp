#pragma once
// sum_k e[k] y[k] for a row y of m127 values against a fixed vector e: the verifier's input and
// output MLEs (one row per sample against eq(s, .)), and the prover's V for the input layer
// (host/engines/m127_kernels.hpp, row dots). With AVX-512 IFMA, eight columns per register, one
// product per column into five 52-bit-weighted accumulators; elsewhere LazyDot. Bit-identical.
#include <cstdint>
#include <span>
#include <vector>

#include "core/fields.hpp"

namespace nnproof {

// e as the kernels read it: the elements, and for the AVX-512 kernel their three limbs (radix
// 2^52), zero-padded to a multiple of eight columns.
struct M127ColumnWeights {
  explicit M127ColumnWeights(std::span<const Fp127> e);
  std::span<const Fp127> eq;
  std::vector<std::uint64_t> limb0, limb1, limb2;
};

// sum_{k < w.eq.size()} w.eq[k] y[k], by the fastest kernel this CPU runs.
Fp127 m127_row_dot(const Fp127* y, const M127ColumnWeights& w);

// Every implementation this CPU can run, the fastest first (for tests).
using M127RowDotFn = Fp127 (*)(const Fp127*, const M127ColumnWeights&);
struct M127RowDotKernel {
  const char* name;
  M127RowDotFn fn;
};
std::vector<M127RowDotKernel> m127_row_dot_kernels();

// The AVX-512 kernel itself, for callers that have checked the CPU (AVX-512 F and IFMA).
Fp127 m127_row_dot_avx512(const Fp127* y, const M127ColumnWeights& w);

}  // namespace nnproof
