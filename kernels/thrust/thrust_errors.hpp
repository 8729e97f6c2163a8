// SPDX-License-Identifier: Apache-2.0
#pragma once
// Where a Thrust call failed. Thrust reports a failed launch, synchronization or copy as
// thrust::system_error, whose message says what failed ("for_each: failed to synchronize:
// cudaErrorIllegalAddress: ...") but not where. Each Thrust call of kernels/thrust/thrust_engine.inl goes
// through NNP_THRUST, which rethrows that error as CudaError "<file>:<line>: <call>: <message>",
// as NNP_CUDA_CHECK does for the CUDA runtime's own calls (kernels/thrust/cuda_engine.cu).
//
// Include with NNP_THRUST_NS defined, as kernels/thrust/thrust_engine.inl: the cuda and thrust-omp builds
// link into one binary and each has its own copy.
#include <thrust/system_error.h>

#include <string>
#include <string_view>
#include <utility>

#include "kernels/thrust/thrust_engine.hpp"

namespace nnproof::NNP_THRUST_NS {

// The call's text up to its arguments: "thrust::for_each(exec(), ...)" -> "thrust::for_each".
inline std::string_view callee(std::string_view call) { return call.substr(0, call.find_first_of("({")); }

template <class Call>
decltype(auto) located(const char* file, int line, std::string_view call, Call&& run) {
  try {
    return std::forward<Call>(run)();
  } catch (const thrust::system_error& e) {
    throw CudaError(std::string(file) + ":" + std::to_string(line) + ": " + std::string(callee(call)) + ": " +
                    e.what());
  }
}

}  // namespace nnproof::NNP_THRUST_NS

// NNP_THRUST(expression): the expression's value; a thrust::system_error it throws becomes a
// CudaError naming this file and line. A launch with exec_nosync() returns before its kernel runs,
// so a fault in that kernel surfaces at the next call that waits for the device (a download, a
// reduction) and is reported there: look at the launches queued just before it.
#define NNP_THRUST(...) \
  ::nnproof::NNP_THRUST_NS::located(__FILE__, __LINE__, #__VA_ARGS__, [&]() -> decltype(auto) { return __VA_ARGS__; })
