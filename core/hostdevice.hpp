// SPDX-License-Identifier: Apache-2.0
#pragma once
// One macro for functions that run on both the host and a CUDA device. Under nvcc they are
// __host__ __device__ and force-inlined; with a plain C++ compiler they are inline functions, so
// core/ builds on a laptop with no CUDA toolkit.
#if defined(__CUDACC__)
#define NNP_HD __host__ __device__ __forceinline__
#elif defined(__GNUC__)
// Field operations sit in every hot loop: inline them even where -O2's heuristics would not.
#define NNP_HD inline __attribute__((always_inline))
#else
#define NNP_HD inline
#endif

#include <cstdint>

namespace nnproof {
using u64 = std::uint64_t;
using u128 = unsigned __int128;
using i128 = __int128;
}  // namespace nnproof
