#pragma once
// sum_k e[k] y[k] for a row y of m61 values against a fixed vector e of K = F_{p^2}: the verifier's
// input and output MLEs (one row per sample against eq(s, .)), and the prover's V for the input
// layer (host/engines/m61_kernels.hpp, row dots). With AVX-512 IFMA, eight columns per register,
// two products per column in 52-bit limbs; elsewhere LazyDot's 128-bit sums. Bit-identical.
#include <cstdint>
#include <span>
#include <vector>

#include "core/fields.hpp"

namespace nnproof {

// e as the kernels read it: the K elements, and for the AVX-512 kernels each coordinate cut at
// bit 52 (low 52 bits, high 9 bits), zero-padded to a multiple of eight columns.
struct M61ColumnWeights {
  explicit M61ColumnWeights(std::span<const Fp61x2> e);
  std::span<const Fp61x2> eq;
  std::vector<std::uint64_t> re_lo, re_hi, im_lo, im_hi;
};

// sum_{k < w.eq.size()} w.eq[k] y[k], by the fastest kernel this CPU runs.
Fp61x2 m61_row_dot(const Fp61* y, const M61ColumnWeights& w);

// Every implementation this CPU can run, the fastest first (for tests).
using M61RowDotFn = Fp61x2 (*)(const Fp61*, const M61ColumnWeights&);
struct M61RowDotKernel {
  const char* name;
  M61RowDotFn fn;
};
std::vector<M61RowDotKernel> m61_row_dot_kernels();

// The AVX-512 kernel itself, for callers that have checked the CPU (AVX-512 F and IFMA).
Fp61x2 m61_row_dot_avx512(const Fp61* y, const M61ColumnWeights& w);

}  // namespace nnproof
