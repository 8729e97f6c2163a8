// SPDX-License-Identifier: Apache-2.0
#pragma once
// The cpu engine's instruction-set policy, in one place: which of its routes and kernel sets may
// run on this CPU. oneDNN's cap (ONEDNN_MAX_CPU_ISA) governs the engine's own AVX-512 kernels too,
// so that one environment variable pins every route of the prover (the tests run each route on
// one machine this way).

namespace nnproof {

// Whether oneDNN runs its int8 GEMMs with VNNI (or AMX) instructions here. Without them it builds
// the products from 16-bit pair sums, which saturate at these magnitudes (it shifts a signed
// operand into 0..255, and two products of 255 and -128 already overflow), so the exact int8
// routes need VNNI; otherwise the DGEMM route is used.
bool int8_limb_gemm_available();
// Whether oneDNN's instruction-set cap (ONEDNN_MAX_CPU_ISA, unset: this CPU's best) admits AVX-512
// VNNI; and whether this CPU has AVX-512 F and IFMA and the cap admits AVX-512 (the m61 and m127
// sum-check kernel sets). The cpu engine's own AVX-512 kernels follow the same cap, so that one
// variable pins every route of the prover (the tests run each route on one machine this way).
bool int8_avx512_vnni_allowed();
bool avx512_ifma_kernels_allowed();
// Whether oneDNN's cap admits AMX: its int8 convolutions then run on AMX tiles (conv_int8.cpp folds
// a narrow kernel's columns into the channels for them).
bool int8_amx_allowed();

}  // namespace nnproof
