#pragma once
// The multi-threaded CPU engine: OpenMP for the table work, OpenBLAS DGEMM on limbs for the exact
// modular GEMM (DESIGN.md, "Exact modular GEMM"). Bit-identical to the reference engine.
#include "kernels/engine/engine.hpp"

namespace nnproof {

template <class Cfg>
std::unique_ptr<Engine<Cfg>> make_cpu_engine();

// Sets the threads used by OpenMP and OpenBLAS (0 = leave the defaults).
void set_cpu_threads(int threads);

}  // namespace nnproof
