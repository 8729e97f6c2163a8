#pragma once
// The nine column sums of one group of four rows (square_group_sums in cpu_square_sumcheck.hpp)
// for m61 with K = F_{p^2}: for z(b1, b2) the rows of the group, a_t = z(0, t), d_t = z(1, t) -
// z(0, t) extended linearly to t = 2, the sums over k of eq(r, k) times
//   a_0^2, a_1^2, a_2^2,  a_0 d_0, a_1 d_1, a_2 d_2,  d_0^2, d_1^2, d_2^2   (in this order).
// This is the prover's largest pass after the forward (it reads every activation table once), so
// it has an AVX-512 kernel: eight columns per register, the base products by 32-bit multiplies
// (vpmuludq) reduced mod p, and each eq(r, k) coordinate times a product summed exactly with
// 52-bit multiply-adds (IFMA) in three 64-bit accumulators. Elsewhere the portable loop (LazyDots).
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/fields.hpp"

namespace nnproof {

inline constexpr unsigned kM61GroupSums = 9;

// eq(r, .) as the kernels read it: the K elements, and for the AVX-512 kernel each coordinate cut
// at bit 52 (low 52 bits, high 9 bits), zero-padded to a multiple of eight columns.
struct M61ColumnWeights {
  explicit M61ColumnWeights(std::span<const Fp61x2> eq_r);
  std::span<const Fp61x2> eq;
  std::vector<std::uint64_t> re_lo, re_hi, im_lo, im_hi;
};

// The group's rows z00 = z(0, 0), z01 = z(0, 1), z10 = z(1, 0), z11 = z(1, 1), each `cols` long.
using M61GroupSumsFn = std::array<Fp61x2, kM61GroupSums> (*)(const Fp61* z00, const Fp61* z01, const Fp61* z10,
                                                             const Fp61* z11, const M61ColumnWeights& w);
std::array<Fp61x2, kM61GroupSums> m61_group_sums(const Fp61* z00, const Fp61* z01, const Fp61* z10, const Fp61* z11,
                                                 const M61ColumnWeights& w);

// Every implementation this CPU can run (the first is the one used), for tests and benchmarks.
struct M61GroupSumsKernel {
  const char* name;
  M61GroupSumsFn fn;
};
std::vector<M61GroupSumsKernel> m61_group_sums_kernels();

}  // namespace nnproof
