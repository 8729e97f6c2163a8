// SPDX-License-Identifier: Apache-2.0
#pragma once
// cuBLAS, loaded with dlopen when the cuda engine first needs it instead of linked into nnproof.
// Linked, libcublas and libcublasLt cost every nnproof start ~45 ms and ~150 MB of memory (their
// initializers run at load), which `nnproof verify` on a client's CPU would pay for nothing, and
// a CUDA build would not start at all on a machine without them. Needs the CUDA toolkit's headers.
#include <cublas_v2.h>

namespace nnproof {

struct CublasLibrary {
  // cublasGemmEx is overloaded in C++ (an inline wrapper takes the old cudaDataType compute type):
  // this is the library's own entry point.
  using GemmEx = cublasStatus_t (*)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const void*,
                                    const void*, cudaDataType, int, const void*, cudaDataType, int, const void*, void*,
                                    cudaDataType, int, cublasComputeType_t, cublasGemmAlgo_t);
  decltype(&cublasCreate_v2) create = nullptr;
  decltype(&cublasDestroy_v2) destroy = nullptr;
  GemmEx gemm_ex = nullptr;
  decltype(&cublasSgemm_v2) sgemm = nullptr;
  decltype(&cublasGetStatusString) status_string = nullptr;
};

// The library, loaded and resolved on first use (thread-safe). Throws CudaError naming the
// library, the loader's reason and the fix when it cannot be loaded.
const CublasLibrary& cublas_library();

}  // namespace nnproof
