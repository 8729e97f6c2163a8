// SPDX-License-Identifier: Apache-2.0
#pragma once
// The engines built from kernels/thrust/thrust_engine.inl: `cuda` (nvcc, cuBLAS int8 tensor-core GEMMs)
// and `thrust-omp` (the same source compiled for Thrust's OpenMP backend, with the int8 GEMM done
// exactly by BLAS), which CI runs so that the GPU's algorithms are tested without a GPU.
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "kernels/engine/engine.hpp"

namespace nnproof {

// A CUDA failure: "<file>:<line>: <call>: <CUDA's message>".
struct CudaError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Whether this binary was built with the Thrust engines (the CUDA toolkit was found at build time).
bool thrust_engines_built();

// Why cuBLAS, which the cuda engine loads on first use (kernels/thrust/cublas_library.hpp), cannot be
// loaded here; empty when it can. Needs no device. "built without CUDA" in a build without it.
std::string cublas_load_error();

// Throws std::runtime_error when the engines were not built.
template <class Cfg>
std::unique_ptr<Engine<Cfg>> make_thrust_omp_engine();

// Throws CudaError when there is no usable device, std::runtime_error when not built with CUDA.
template <class Cfg>
std::unique_ptr<Engine<Cfg>> make_cuda_engine();

// For benchmarks: seconds for one float32 GEMM (rows x inner) * (inner x n) with cuBLAS, timed
// with CUDA events. Throws CudaError without a device.
double cuda_sgemm_seconds(std::size_t rows, std::size_t inner, std::size_t n);

// For benchmarks: the device's seconds for what `work` queues on the engine's stream (the legacy
// default stream), by CUDA events recorded before and after it; host time between the two that
// leaves the device idle counts too. Throws CudaError without a device.
double cuda_seconds(const std::function<void()>& work);

// For benchmarks: seconds for one device-to-device copy of `bytes` (the floor of a pass that reads
// and writes a table once), timed with CUDA events. Throws CudaError without a device.
double cuda_copy_seconds(std::size_t bytes);

}  // namespace nnproof
