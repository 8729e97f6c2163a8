// SPDX-License-Identifier: Apache-2.0
#include "kernels/cpu/outer_product.hpp"

#include <algorithm>
#include <array>
#include <limits>
#include <stdexcept>
#include <type_traits>

#include "core/simd/m127_avx512.hpp"
#include "core/simd/m61_avx512.hpp"
#include "kernels/cpu/cpu_backward.hpp"
#include "kernels/cpu/isa.hpp"
#include "kernels/engine/backward_ops.hpp"
#include "verifier/parallel.hpp"

namespace nnproof {
namespace {

// A task is kTileA rows of D by kTileB rows of Y: its own tile of G. Its batch is walked in slices
// of `slice` columns, so that the tile's slice of D stays in L2 and a block's rows of Y in L1
// while the block's sums run.
constexpr std::size_t kTileA = 32, kTileB = 64;

// Runs tile(a0, a1, j0, j1) for every tile of G, in parallel.
template <class Tile>
void for_each_tile(std::size_t rows, std::size_t cols, Tile&& tile) {
  const std::size_t tiles_a = (rows + kTileA - 1) / kTileA, tiles_b = (cols + kTileB - 1) / kTileB;
  parallel_for_dynamic(tiles_a * tiles_b, [&](std::size_t t) {
    const std::size_t a0 = t / tiles_b * kTileA, j0 = t % tiles_b * kTileB;
    tile(a0, std::min(rows, a0 + kTileA), j0, std::min(cols, j0 + kTileB));
  });
}

// ---- portable ----

// A sum of products of two base-field elements, reduced rarely: add() may run kChunk times between
// settle()s.
template <class F>
struct ProductSum;

// m61: products of canonical values are below 2^122; 32 of them plus a settled value (< 2^61) stay
// below 2^128.
template <>
struct ProductSum<Fp61> {
  static constexpr std::size_t kChunk = 32;
  u128 acc = 0;
  void add(Fp61 a, Fp61 b) { acc += static_cast<u128>(a.v) * b.v; }
  void settle() { acc = Fp61::from_u128(acc).v; }
  Fp61 result() const { return Fp61::from_u128(acc); }
};

// m127: each product as mul_unreduced's 128-bit value and a count of the carries out of 128 bits
// (2^128 = 2 mod p): no reduction per term, nothing to settle.
template <>
struct ProductSum<Fp127> {
  static constexpr std::size_t kChunk = std::numeric_limits<std::size_t>::max();
  u128 acc = 0;
  std::uint64_t carries = 0;
  void add(Fp127 a, Fp127 b) {
    const u128 x = Fp127::mul_unreduced(a, b);
    acc += x;
    carries += acc < x ? 1 : 0;
  }
  void settle() {}
  Fp127 result() const { return Fp127::from_u128(acc) + Fp127::from_u128(u128{carries} * 2); }
};

// Register blocks of RA rows of D by RB rows of Y (m61: 2 x 2, four 128-bit sums; m127: 2 x 1, as
// its three-word sums and 128-bit operands would spill a larger block out of the 16 registers).
template <class F>
struct PortableBlock {
  static constexpr std::size_t RA = 2, RB = std::is_same_v<F, Fp61> ? 2 : 1;
};

// G[a][j] += sum_{k in [k0, k1)} D[a][k] Y[j][k] for the RA rows from a0 and RB from j0.
template <class F, std::size_t RA, std::size_t RB>
void portable_block(const Table2D<F>& D, const Table2D<F>& Y, std::size_t a0, std::size_t j0, std::size_t k0,
                    std::size_t k1, F* G, std::size_t cols) {
  std::array<ProductSum<F>, RA * RB> sums{};
  std::array<const F*, RA> d;
  std::array<const F*, RB> y;
  for (std::size_t r = 0; r < RA; ++r) d[r] = &D.at(a0 + r, 0);
  for (std::size_t c = 0; c < RB; ++c) y[c] = &Y.at(j0 + c, 0);
  for (std::size_t k = k0; k < k1;) {
    const std::size_t end = k1 - k > ProductSum<F>::kChunk ? k + ProductSum<F>::kChunk : k1;
    for (; k < end; ++k)
      for (std::size_t r = 0; r < RA; ++r)
        for (std::size_t c = 0; c < RB; ++c) sums[r * RB + c].add(d[r][k], y[c][k]);
    for (auto& s : sums) s.settle();
  }
  for (std::size_t r = 0; r < RA; ++r)
    for (std::size_t c = 0; c < RB; ++c) G[(a0 + r) * cols + j0 + c] += sums[r * RB + c].result();
}

template <class F>
void portable_tile(const Table2D<F>& D, const Table2D<F>& Y, std::size_t a0, std::size_t a1, std::size_t j0,
                   std::size_t j1, std::size_t used, F* G, std::size_t cols) {
  constexpr std::size_t RA = PortableBlock<F>::RA, RB = PortableBlock<F>::RB, kSlice = 256;
  for (std::size_t k0 = 0; k0 < used; k0 += kSlice) {
    const std::size_t k1 = std::min(used, k0 + kSlice);
    std::size_t j = j0;
    for (; j + RB <= j1; j += RB) {
      std::size_t a = a0;
      for (; a + RA <= a1; a += RA) portable_block<F, RA, RB>(D, Y, a, j, k0, k1, G, cols);
      for (; a < a1; ++a) portable_block<F, 1, RB>(D, Y, a, j, k0, k1, G, cols);
    }
    for (; j < j1; ++j)
      for (std::size_t a = a0; a < a1; ++a) portable_block<F, 1, 1>(D, Y, a, j, k0, k1, G, cols);
  }
}

// ---- AVX-512 IFMA ----
// Slices of 1024 columns (128 steps of eight): each lane of an accumulator takes at most five (m127)
// or three (m61) addends below 2^52 per step, far from the 4096 that could wrap it, and a slice of
// a tile's D (32 rows, 768 KiB for m127's limbs) stays in L2.
#if defined(NNP_M127_AVX512)
NNP_AVX512_WARNINGS_OFF  // GCC 12's false positives (core/simd/x86.hpp)

constexpr std::size_t kAvxSlice = 1024;
static_assert(kAvxSlice <= m127_avx512::kFlushColumns && kAvxSlice <= m61_avx512::kFlushColumns);

// m61: rows read in place, cut at bit 52 as they are loaded (two instructions per register).
// Blocks of 2 x 2: four Lazy52 sums (twelve registers) and four operands.
template <std::size_t RA, std::size_t RB>
NNP_AVX512_IFMA void m61_block(const Table2D<Fp61>& D, const Table2D<Fp61>& Y, std::size_t a0, std::size_t j0,
                               std::size_t k0, std::size_t k1, Fp61* G, std::size_t cols) {
  using namespace m61_avx512;
  const M61x8 f;
  std::array<Lazy52, RA * RB> sums;
  for (std::size_t k = k0; k < k1; k += 8) {
    const std::size_t n = std::min<std::size_t>(8, k1 - k);
    std::array<Limbs52, RA> d;
    std::array<Limbs52, RB> y;
    for (std::size_t r = 0; r < RA; ++r) d[r] = Limbs52::of(load_up_to_8(&D.at(a0 + r, k), n), f);
    for (std::size_t c = 0; c < RB; ++c) y[c] = Limbs52::of(load_up_to_8(&Y.at(j0 + c, k), n), f);
    for (std::size_t r = 0; r < RA; ++r)
      for (std::size_t c = 0; c < RB; ++c) sums[r * RB + c].add(d[r], y[c]);
  }
  for (std::size_t r = 0; r < RA; ++r)
    for (std::size_t c = 0; c < RB; ++c) G[(a0 + r) * cols + j0 + c] += sums[r * RB + c].total();
}

// m127: both tables cut into radix-2^52 limbs once (Limbs127), three planes per row, so that the
// inner loop is loads and multiply-adds only. Blocks of 2 x 1: two W5 sums (ten registers) and
// nine operand registers.
struct Limbs127 {
  std::size_t stride = 0;                     // columns per plane, a multiple of 8
  UninitializedVector<std::uint64_t> planes;  // row r's limb l at (3 r + l) stride
  const std::uint64_t* plane(std::size_t r, unsigned l) const { return planes.data() + (3 * r + l) * stride; }
};

// Row r of t in limbs: eight columns at a time from M127x8::load (zeros past the table's columns).
NNP_AVX512_IFMA void split_row(const Table2D<Fp127>& t, std::size_t r, Limbs127& out) {
  using namespace m127_avx512;
  const M127x8 f;
  for (std::size_t k = 0; k < out.stride; k += 8) {
    const V3 v = f.load(&t.at(r, 0) + k, std::min<std::size_t>(8, t.cols - std::min(t.cols, k)));
    std::uint64_t* p = out.planes.data() + 3 * r * out.stride + k;
    _mm512_storeu_si512(p, v.l0);
    _mm512_storeu_si512(p + out.stride, v.l1);
    _mm512_storeu_si512(p + 2 * out.stride, v.l2);
  }
}

// The first `rows` rows of t, columns [0, used) rounded up to a multiple of 8.
Limbs127 split_limbs(const Table2D<Fp127>& t, std::size_t rows, std::size_t used) {
  Limbs127 out;
  out.stride = (used + 7) / 8 * 8;
  out.planes.resize(3 * rows * out.stride);
  parallel_for(rows, [&](std::size_t r) { split_row(t, r, out); });
  return out;
}

NNP_AVX512_IFMA inline m127_avx512::V3 load_limbs(const Limbs127& t, std::size_t r, std::size_t k) {
  return {_mm512_loadu_si512(t.plane(r, 0) + k), _mm512_loadu_si512(t.plane(r, 1) + k),
          _mm512_loadu_si512(t.plane(r, 2) + k)};
}

template <std::size_t RA>
NNP_AVX512_IFMA void m127_block(const Limbs127& D, const Limbs127& Y, std::size_t a0, std::size_t j, std::size_t k0,
                                std::size_t k1, Fp127* G, std::size_t cols) {
  using namespace m127_avx512;
  std::array<W5, RA> sums;
  for (std::size_t k = k0; k < k1; k += 8) {
    const V3 y = load_limbs(Y, j, k);
    for (std::size_t r = 0; r < RA; ++r) sums[r].mac(load_limbs(D, a0 + r, k), y);
  }
  for (std::size_t r = 0; r < RA; ++r) G[(a0 + r) * cols + j] += sums[r].total();
}

NNP_AVX512_IFMA void m61_tile(const Table2D<Fp61>& D, const Table2D<Fp61>& Y, std::size_t a0, std::size_t a1,
                              std::size_t j0, std::size_t j1, std::size_t used, Fp61* G, std::size_t cols) {
  for (std::size_t k0 = 0; k0 < used; k0 += kAvxSlice) {
    const std::size_t k1 = std::min(used, k0 + kAvxSlice);
    std::size_t j = j0;
    for (; j + 2 <= j1; j += 2) {
      std::size_t a = a0;
      for (; a + 2 <= a1; a += 2) m61_block<2, 2>(D, Y, a, j, k0, k1, G, cols);
      for (; a < a1; ++a) m61_block<1, 2>(D, Y, a, j, k0, k1, G, cols);
    }
    for (; j < j1; ++j)
      for (std::size_t a = a0; a < a1; ++a) m61_block<1, 1>(D, Y, a, j, k0, k1, G, cols);
  }
}

NNP_AVX512_IFMA void m127_tile(const Limbs127& D, const Limbs127& Y, std::size_t a0, std::size_t a1, std::size_t j0,
                               std::size_t j1, Fp127* G, std::size_t cols) {
  // Both tables were cut to the same columns; those past `used` (rounded up to 8) are zero in one of
  // the two tables, so they add nothing.
  const std::size_t used = D.stride;
  for (std::size_t k0 = 0; k0 < used; k0 += kAvxSlice) {
    const std::size_t k1 = std::min(used, k0 + kAvxSlice);
    for (std::size_t j = j0; j < j1; ++j) {
      std::size_t a = a0;
      for (; a + 2 <= a1; a += 2) m127_block<2>(D, Y, a, j, k0, k1, G, cols);
      for (; a < a1; ++a) m127_block<1>(D, Y, a, j, k0, k1, G, cols);
    }
  }
}

NNP_AVX512_WARNINGS_ON
#endif

}  // namespace

bool outer_product_avx512() {
#if defined(NNP_M127_AVX512)
  return avx512_ifma_kernels_allowed();
#else
  return false;
#endif
}

template <class F>
std::vector<F> cpu_batch_outer_product(const Table2D<F>& D, const Table2D<F>& Y, std::size_t rows, std::size_t cols,
                                       OuterProductKernel kernel) {
  backward_ops::require_host(D, "batch_outer_product");
  backward_ops::require_host(Y, "batch_outer_product");
  if (D.cols != Y.cols) throw std::logic_error("batch_outer_product: batch sizes differ");
  if (rows > D.rows || cols > Y.rows) throw std::logic_error("batch_outer_product: more rows than the tables hold");
  std::vector<F> G(rows * cols, F::zero());
  // Columns past the last nonzero one of either table add nothing (the batch's padding, at least).
  const std::size_t used = std::min(used_columns(D), used_columns(Y));
  if (used == 0 || rows == 0 || cols == 0) return G;
#if defined(NNP_M127_AVX512)
  if (kernel == OuterProductKernel::best && outer_product_avx512()) {
    if constexpr (std::is_same_v<F, Fp61>) {
      for_each_tile(rows, cols, [&](std::size_t a0, std::size_t a1, std::size_t j0, std::size_t j1) {
        m61_tile(D, Y, a0, a1, j0, j1, used, G.data(), cols);
      });
    } else {
      const Limbs127 d = split_limbs(D, rows, used), y = split_limbs(Y, cols, used);
      for_each_tile(rows, cols, [&](std::size_t a0, std::size_t a1, std::size_t j0, std::size_t j1) {
        m127_tile(d, y, a0, a1, j0, j1, G.data(), cols);
      });
    }
    return G;
  }
#endif
  for_each_tile(rows, cols, [&](std::size_t a0, std::size_t a1, std::size_t j0, std::size_t j1) {
    portable_tile(D, Y, a0, a1, j0, j1, used, G.data(), cols);
  });
  return G;
}

template std::vector<Fp61> cpu_batch_outer_product(const Table2D<Fp61>&, const Table2D<Fp61>&, std::size_t, std::size_t,
                                                   OuterProductKernel);
template std::vector<Fp127> cpu_batch_outer_product(const Table2D<Fp127>&, const Table2D<Fp127>&, std::size_t,
                                                    std::size_t, OuterProductKernel);

}  // namespace nnproof
