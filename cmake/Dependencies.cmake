# SPDX-License-Identifier: Apache-2.0
# Every dependency comes from Debian packages (scripts/test installs them).
find_package(OpenSSL REQUIRED COMPONENTS Crypto)
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(Threads REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(nlohmann_json CONFIG REQUIRED)
find_package(fmt CONFIG REQUIRED)
find_package(Protobuf REQUIRED)
find_package(ONNX CONFIG REQUIRED)
# .npz archives (verify-training --gradient-out). By pkg-config: Debian's libzip CMake config
# also imports the zipcmp / zipmerge tools, which live in another package.
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBZIP REQUIRED IMPORTED_TARGET libzip)
# OpenBLAS built for OpenMP (Debian's libopenblas-openmp-dev): it shares the OpenMP thread pool
# with the engines. The pthread build spins its own threads after each GEMM, which then compete
# with the OpenMP threads of the sum-check for the same cores.
# The multiarch triplet (x86_64-linux-gnu, or aarch64-linux-gnu when cross-compiling with
# cmake/toolchains/aarch64-linux-gnu.cmake).
if(CMAKE_LIBRARY_ARCHITECTURE)
  set(nnproof_multiarch ${CMAKE_LIBRARY_ARCHITECTURE})
else()
  set(nnproof_multiarch x86_64-linux-gnu)
endif()
find_library(BLAS_LIBRARIES openblas PATHS /usr/lib/${nnproof_multiarch}/openblas-openmp NO_DEFAULT_PATH REQUIRED)
find_path(CBLAS_INCLUDE_DIR cblas.h PATHS /usr/include/${nnproof_multiarch}/openblas-openmp NO_DEFAULT_PATH REQUIRED)
message(STATUS "nnproof: OpenBLAS ${BLAS_LIBRARIES}")
# oneDNN (Debian's libdnnl-dev) for the cpu engine's int8 limb GEMM (VNNI).
find_package(dnnl REQUIRED)
if(NNPROOF_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(NNPROOF_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()
