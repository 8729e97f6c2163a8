// SPDX-License-Identifier: Apache-2.0
#pragma once
// The multi-threaded CPU engine, bit-identical to the reference engine: OpenMP for the table work;
// the exact modular GEMM as oneDNN int8 matmuls on the input's 8-bit limbs (CPUs with VNNI or AMX),
// else OpenBLAS DGEMM on wide limbs, else a direct kernel (DESIGN.md, "Exact modular GEMM");
// AVX-512 IFMA / VNNI kernels for the sum-checks and row_combine, each with a portable twin
// (docs/ARCHITECTURE.md).
#include "kernels/engine/engine.hpp"

namespace nnproof {

template <class Cfg>
std::unique_ptr<Engine<Cfg>> make_cpu_engine();

// Sets the threads used by OpenMP and OpenBLAS (0 = leave the defaults).
void set_cpu_threads(int threads);

}  // namespace nnproof
