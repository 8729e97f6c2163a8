# SPDX-License-Identifier: Apache-2.0
option(NNPROOF_BUILD_TESTS "Build the GoogleTest suites" ON)
option(NNPROOF_BUILD_BENCH "Build the Google Benchmark microbenchmarks" ON)
option(NNPROOF_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
set(NNPROOF_CUDA "AUTO" CACHE STRING "Build the CUDA code: AUTO (when nvcc is found), ON or OFF")
set_property(CACHE NNPROOF_CUDA PROPERTY STRINGS AUTO ON OFF)
option(NNPROOF_FUZZ "Build the libFuzzer targets (clang only; implies ASan and UBSan)" OFF)
