// SPDX-License-Identifier: Apache-2.0
#pragma once
// The preamble of the hand-vectorized x86-64 kernels (verifier/ and host/engines/), in one place:
// - NNP_X86_KERNELS and <immintrin.h> where the compiler offers the intrinsics (GCC or Clang on
//   x86-64); the kernels check the running CPU themselves before taking an AVX-512 path;
// - NNP_CLONES_V4_V3 / NNP_CLONES_V3: a portable loop compiled for x86-64-v4 (AVX-512), v3 (AVX2)
//   and the baseline, the best chosen at load time (GCC's target_clones; nothing elsewhere);
// - NNP_AVX512_WARNINGS_OFF / _ON around AVX-512 code: GCC 12's headers pass
//   _mm512_undefined_epi32() as the unused merge operand of shifts, min and multiplies, which
//   -Wmaybe-uninitialized (or -Wuninitialized, `__Y`) reports once inlined: a false positive.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define NNP_X86_KERNELS 1
#endif

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define NNP_CLONES_V4_V3 __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define NNP_CLONES_V3 __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define NNP_CLONES_V4_V3
#define NNP_CLONES_V3
#endif

#if defined(__GNUC__) && !defined(__clang__)
#define NNP_AVX512_WARNINGS_OFF                                                              \
  _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wmaybe-uninitialized\"") \
      _Pragma("GCC diagnostic ignored \"-Wuninitialized\"")
#define NNP_AVX512_WARNINGS_ON _Pragma("GCC diagnostic pop")
#else
#define NNP_AVX512_WARNINGS_OFF
#define NNP_AVX512_WARNINGS_ON
#endif
