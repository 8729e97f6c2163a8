// SPDX-License-Identifier: Apache-2.0
#include "kernels/thrust/cublas_library.hpp"

#include <dlfcn.h>

#include <string>
#include <type_traits>

#include "kernels/thrust/thrust_engine.hpp"

namespace nnproof {
namespace {

// Compiles only while GemmEx is the signature of one of the header's cublasGemmEx overloads.
static_assert(std::is_same_v<decltype(static_cast<CublasLibrary::GemmEx>(&cublasGemmEx)), CublasLibrary::GemmEx>);

const std::string kSoname = "libcublas.so." + std::to_string(CUBLAS_VER_MAJOR);

// dlerror()'s message (it may have none).
std::string loader_error() {
  const char* e = dlerror();
  return e ? e : "no reason given";
}

// By soname first (LD_LIBRARY_PATH, the loader's cache: how an installed toolkit is found), then
// in the toolkit this binary was built with. The handle is never closed: cuBLAS stays loaded for
// the process, as a linked library would.
void* open_library(std::string& why) {
  if (void* h = dlopen(kSoname.c_str(), RTLD_NOW | RTLD_LOCAL)) return h;
  why = loader_error();
#ifdef NNPROOF_CUDA_LIBRARY_DIR
  if (void* h = dlopen((std::string(NNPROOF_CUDA_LIBRARY_DIR) + "/" + kSoname).c_str(), RTLD_NOW | RTLD_LOCAL))
    return h;
  why += "; " + loader_error();
#endif
  return nullptr;
}

template <class Fn>
void resolve(void* lib, const char* name, Fn& fn) {
  fn = reinterpret_cast<Fn>(dlsym(lib, name));
  if (!fn)
    throw CudaError(kSoname + " has no " + name + " (" + loader_error() + "); install the cuBLAS of CUDA " +
                    std::to_string(CUBLAS_VER_MAJOR) + " or use --engine cpu");
}

CublasLibrary load() {
  std::string why;
  void* lib = open_library(why);
  if (!lib)
    throw CudaError("cannot load cuBLAS (" + why + "); install the CUDA " + std::to_string(CUBLAS_VER_MAJOR) +
                    " toolkit's libraries (or add their folder to LD_LIBRARY_PATH), or use --engine cpu");
  CublasLibrary c;
  resolve(lib, "cublasCreate_v2", c.create);
  resolve(lib, "cublasDestroy_v2", c.destroy);
  resolve(lib, "cublasGemmEx", c.gemm_ex);
  resolve(lib, "cublasSgemm_v2", c.sgemm);
  resolve(lib, "cublasGetStatusString", c.status_string);
  return c;
}

}  // namespace

const CublasLibrary& cublas_library() {
  static const CublasLibrary library = load();  // a failure throws, and the next call tries again
  return library;
}

std::string cublas_load_error() {
  try {
    cublas_library();
    return {};
  } catch (const CudaError& e) {
    return e.what();
  }
}

}  // namespace nnproof
