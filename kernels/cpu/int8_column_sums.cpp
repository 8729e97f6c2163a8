// SPDX-License-Identifier: Apache-2.0
#include "kernels/cpu/int8_column_sums.hpp"

#include <algorithm>

#include "core/simd/x86.hpp"

namespace nnproof {
namespace {

// Row by row: acc[c][j] += bytes[c][a] * W[a][j], the j loop vectorized.
NNP_CLONES_V4_V3
void column_sums_portable(const std::int8_t* w, std::size_t, std::size_t cols, std::size_t a0, std::size_t a1,
                          const std::uint8_t* bytes, std::size_t stride, unsigned nbytes, std::int32_t* acc) {
  const std::size_t acc_stride = column_sums_stride(cols);
  for (std::size_t a = a0; a < a1; ++a) {
    const std::int8_t* row = w + a * cols;
    for (unsigned c = 0; c < nbytes; ++c) {
      const std::int32_t b = bytes[c * stride + a];
      std::int32_t* out = acc + c * acc_stride;
      for (std::size_t j = 0; j < cols; ++j) out[j] += b * row[j];
    }
  }
}

#ifdef NNP_X86_KERNELS
// Sixteen columns per register, one int32 lane each, NB accumulators (one per byte array). Rows
// go in strips of kStrip: for each block of sixteen columns the strip's partial sums are loaded
// from acc, take kStrip / 4 steps and are stored back, so W is read once, in memory order, a few
// rows at a time. Each step takes rows a..a+3: their 16 weights per row fill the four 128-bit
// quarters of a register, two shuffles interleave them so that lane j holds W[a..a+3][j], and
// vpdpbusd adds sum_i bytes[c][a + i] W[a + i][j] to lane j of accumulator c, the four bytes
// broadcast. The strip's bytes are first copied into one small table, step by step (`packed`):
// read from there, the broadcasts need one base address instead of NB row pointers, which did not
// fit the registers (the kernel ran 13% slower reloading them from the stack).
template <unsigned NB>
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) void column_sums_vnni_nb(
    const std::int8_t* w, std::size_t rows, std::size_t cols, std::size_t a0, std::size_t a1, const std::uint8_t* bytes,
    std::size_t stride, std::int32_t* acc) {
  constexpr std::size_t kStrip = 64, kSteps = kStrip / 4;
  // The interleave in two fixed shuffles: vpermd gathers dword L of each row (columns 4L..4L+3)
  // into 128-bit quarter L, then vpshufb transposes the 4 x 4 bytes of each quarter.
  alignas(64) std::int32_t dwords[16];
  alignas(64) std::uint8_t bytes_in_quarter[64];
  for (unsigned L = 0; L < 4; ++L)
    for (unsigned i = 0; i < 4; ++i) {
      dwords[4 * L + i] = static_cast<std::int32_t>(4 * i + L);
      for (unsigned m = 0; m < 4; ++m) bytes_in_quarter[16 * L + 4 * m + i] = static_cast<std::uint8_t>(4 * i + m);
    }
  const __m512i gather_dwords = _mm512_load_si512(dwords), transpose_bytes = _mm512_load_si512(bytes_in_quarter);
  const std::size_t acc_stride = column_sums_stride(cols);
  alignas(64) std::int32_t packed[kSteps][NB];  // step t, array c: bytes[c][a..a+3], a = s0 + 4t
  for (std::size_t s0 = a0; s0 < a1; s0 += kStrip) {
    const std::size_t s1 = std::min(a1, s0 + kStrip), steps = (s1 - s0 + 3) / 4;
    for (std::size_t t = 0; t < steps; ++t)
      for (unsigned c = 0; c < NB; ++c)
        __builtin_memcpy(&packed[t][c], bytes + c * stride + s0 + 4 * t, 4);  // zero past rows
    for (std::size_t jb = 0; jb < cols; jb += 16) {
      const std::size_t n = std::min<std::size_t>(16, cols - jb);
      const __mmask16 cols_mask = static_cast<__mmask16>((1u << n) - 1);
      __m512i sum[NB];
      for (unsigned c = 0; c < NB; ++c) sum[c] = _mm512_loadu_si512(acc + c * acc_stride + jb);
      for (std::size_t t = 0; t < steps; ++t) {
        const std::size_t a = s0 + 4 * t;
        __m128i quarter[4];
        if (jb % 64 == 0 && jb + 128 < cols)  // once per cache line: these rows, two lines ahead
          for (unsigned i = 0; i < 4 && a + i < rows; ++i)
            _mm_prefetch(reinterpret_cast<const char*>(w + (a + i) * cols + jb + 128), _MM_HINT_T0);
        for (unsigned i = 0; i < 4; ++i)
          quarter[i] = a + i < rows ? _mm_maskz_loadu_epi8(cols_mask, w + (a + i) * cols + jb) : _mm_setzero_si128();
        __m512i x = _mm512_zextsi128_si512(quarter[0]);
        x = _mm512_inserti32x4(x, quarter[1], 1);
        x = _mm512_inserti32x4(x, quarter[2], 2);
        x = _mm512_inserti32x4(x, quarter[3], 3);
        // (vpermd as its maskz form with every lane set: GCC 12's unmasked form trips
        // -Wmaybe-uninitialized in its header)
        x = _mm512_shuffle_epi8(_mm512_maskz_permutexvar_epi32(0xFFFF, gather_dwords, x), transpose_bytes);
        for (unsigned c = 0; c < NB; ++c) sum[c] = _mm512_dpbusd_epi32(sum[c], _mm512_set1_epi32(packed[t][c]), x);
      }
      for (unsigned c = 0; c < NB; ++c) _mm512_storeu_si512(acc + c * acc_stride + jb, sum[c]);
    }
  }
}

void column_sums_vnni(const std::int8_t* w, std::size_t rows, std::size_t cols, std::size_t a0, std::size_t a1,
                      const std::uint8_t* bytes, std::size_t stride, unsigned nbytes, std::int32_t* acc) {
  if (nbytes == 16) return column_sums_vnni_nb<16>(w, rows, cols, a0, a1, bytes, stride, acc);
  if (nbytes == 8) return column_sums_vnni_nb<8>(w, rows, cols, a0, a1, bytes, stride, acc);
  column_sums_portable(w, rows, cols, a0, a1, bytes, stride, nbytes, acc);
}

bool cpu_has_vnni_kernel() {
  return __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl");
}
#endif

}  // namespace

std::vector<ColumnSumsKernel> int8_column_sums_kernels() {
  std::vector<ColumnSumsKernel> k;
#ifdef NNP_X86_KERNELS
  if (cpu_has_vnni_kernel()) k.push_back({"avx512-vnni", column_sums_vnni});
#endif
  k.push_back({"portable", column_sums_portable});
  return k;
}

bool int8_column_sums_vnni() {
  static const bool vnni = int8_column_sums_kernels().size() > 1;
  return vnni;
}

void int8_column_byte_sums(const std::int8_t* w, std::size_t rows, std::size_t cols, std::size_t a0, std::size_t a1,
                           const std::uint8_t* bytes, std::size_t stride, unsigned nbytes, std::int32_t* acc) {
  static const ColumnSumsFn fn = int8_column_sums_kernels().front().fn;
  fn(w, rows, cols, a0, a1, bytes, stride, nbytes, acc);
}

}  // namespace nnproof
