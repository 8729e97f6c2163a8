// SPDX-License-Identifier: Apache-2.0
#include "verifier/int8_chunk_dot.hpp"

#include "core/simd/x86.hpp"

namespace nnproof {
namespace {

// One array at a time, compiled for x86-64-v4 (AVX-512), v3 (AVX2) and the baseline, the best
// chosen at load time: the compiler vectorizes it as 16-bit multiply-adds at each width.
NNP_CLONES_V4_V3
std::int32_t int8_byte_dot(const std::int8_t* w, const std::uint8_t* b, std::size_t len) {
  std::int32_t s = 0;
  for (std::size_t j = 0; j < len; ++j) s += static_cast<std::int32_t>(w[j]) * b[j];
  return s;
}

void byte_dots_portable(const std::int8_t* w, const std::uint8_t* bytes, std::size_t stride, unsigned arrays,
                        std::size_t len, std::int64_t* totals) {
  for (unsigned t = 0; t < arrays; ++t) totals[t] += int8_byte_dot(w, bytes + t * stride, len);
}

#ifdef NNP_X86_KERNELS
// VNNI: vpdpbusd adds four byte x int8 products to each int32 lane; 64 weights per instruction,
// loaded once for every array. N (8 or 16, kArrays of the m61 family and m127) is a template
// argument so that the N accumulators are registers: with a run-time count GCC kept them on the
// stack, a load and a store around every vpdpbusd.
template <unsigned N>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void byte_dots_vnni_n(const std::int8_t* w,
                                                                             const std::uint8_t* bytes,
                                                                             std::size_t stride, std::size_t len,
                                                                             std::int64_t* totals) {
  __m512i acc[N];
  for (unsigned t = 0; t < N; ++t) acc[t] = _mm512_setzero_si512();
  // Plain loads but in the last chunk (masked ones were slower on Zen 4, m61_avx512.hpp).
  std::size_t j = 0;
  for (; j + 64 <= len; j += 64) {
    const __m512i wv = _mm512_loadu_si512(w + j);
    for (unsigned t = 0; t < N; ++t)
      acc[t] = _mm512_dpbusd_epi32(acc[t], _mm512_loadu_si512(bytes + t * stride + j), wv);
  }
  if (j < len) {
    const __mmask64 m = (__mmask64{1} << (len - j)) - 1;
    const __m512i wv = _mm512_maskz_loadu_epi8(m, w + j);
    for (unsigned t = 0; t < N; ++t)
      acc[t] = _mm512_dpbusd_epi32(acc[t], _mm512_maskz_loadu_epi8(m, bytes + t * stride + j), wv);
  }
  // (summed by hand: GCC 12's _mm512_reduce_add_epi32 trips -Wmaybe-uninitialized in its header)
  alignas(64) std::int32_t lanes[N][16];
  for (unsigned t = 0; t < N; ++t) _mm512_store_si512(lanes[t], acc[t]);
  for (unsigned t = 0; t < N; ++t) {
    std::int64_t sum = 0;
    for (std::int32_t lane : lanes[t]) sum += lane;
    totals[t] += sum;
  }
}

__attribute__((target("avx512f,avx512bw,avx512vnni"))) void byte_dots_vnni(const std::int8_t* w,
                                                                           const std::uint8_t* bytes,
                                                                           std::size_t stride, unsigned arrays,
                                                                           std::size_t len, std::int64_t* totals) {
  if (arrays == 16) return byte_dots_vnni_n<16>(w, bytes, stride, len, totals);
  if (arrays == 8) return byte_dots_vnni_n<8>(w, bytes, stride, len, totals);
  byte_dots_portable(w, bytes, stride, arrays, len, totals);
}
#endif

}  // namespace

std::vector<ByteDotsKernel> int8_byte_dots_kernels() {
  std::vector<ByteDotsKernel> k;
#ifdef NNP_X86_KERNELS
  if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw"))
    k.push_back({"avx512-vnni", byte_dots_vnni});
#endif
  k.push_back({"portable", byte_dots_portable});
  return k;
}

void int8_byte_dots(const std::int8_t* w, const std::uint8_t* bytes, std::size_t stride, unsigned arrays,
                    std::size_t len, std::int64_t* totals) {
  static const ByteDotsFn fn = int8_byte_dots_kernels().front().fn;
  fn(w, bytes, stride, arrays, len, totals);
}

}  // namespace nnproof
