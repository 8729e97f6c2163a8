// SPDX-License-Identifier: Apache-2.0
// The Thrust engine: the Engine operations as functors plus Thrust algorithms, written once and
// compiled twice (DESIGN.md, "One protocol, several engines"): by nvcc for CUDA (cuda_engine.cu,
// the `cuda` engine) and by the host compiler with THRUST_DEVICE_SYSTEM_OMP (thrust_omp_engine.cpp,
// the `thrust-omp` engine), so every algorithm the GPU runs also runs, and is tested, in CI.
//
// Before including this file a backend defines:
//   NNP_THRUST_NS                 the namespace for this build (the two builds link into one binary)
//   gemm_s8(W, T, C, rows, inner, n)  C (rows x n, int32) = W (rows x inner, int8) * T^T, where T
//                                 (n x inner, int8) holds the limbs one column of the product per
//                                 row: the "TN" layout cuBLAS's int8 tensor-core GEMMs want; inner
//                                 rows, inner and n are multiples of kGemmAlign; row-major device pointers
//   kGemmCopyBytes                bytes gemm_s8 holds per entry of its operands and product beside
//                                 them (thrust-omp: doubles; cuda: 0), for Engine::proof_memory
//   kEngineName                   "cuda" or "thrust-omp"
//   exec(), exec_nosync()         the execution policies of the Thrust calls (cuda: with cached
//                                 temporary storage): exec() where the host waits (a value comes
//                                 back, or the call must have finished), counted by note_host_sync()
//                                 (host_syncs.hpp); exec_nosync() for stream-ordered launches
//   device_allocate(bytes), device_free(p)  the memory of every device table (cuda: CUB's caching
//                                 allocator; a plain cudaMalloc / cudaFree synchronizes the device)
//   upload_input<T>(p, n)         the input's rows as a new table (cuda: through a pinned staging
//                                 buffer, the host not waiting for the transfer; thrust-omp: upload)
//
// The source is split by concern into these parts, each including the parts it uses:
//   functors.hpp   the device code: every functor the algorithms run, a thread per index
//   sumchecks.inl  the sum-check provers, their tables on the device for the sum-check's whole life
//   eq_tables.inl  eq(x, .) built on the device from the point x, as the host's eq_table
//   gemm.inl       the dense forward pass: the exact int8 limb GEMM, or a direct modular kernel
//   engine.inl     the Engine itself, and its tables that stay on the device (Table2D::device)
//   transfers.hpp  every upload and download, each counted as a host sync (host_syncs.hpp)
// They are .hpp / .inl files included here, not translation units of their own, so that nvcc still
// compiles one .cu file for the engine (cuda_engine.cu, the build's slowest step) and each part
// still compiles once per backend, in that backend's namespace.
#include "kernels/thrust/engine.inl"
#include "kernels/thrust/eq_tables.inl"
#include "kernels/thrust/functors.hpp"
#include "kernels/thrust/gemm.inl"
#include "kernels/thrust/sumchecks.inl"
