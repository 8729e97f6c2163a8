# SPDX-License-Identifier: Apache-2.0
# CUDA is optional: found through check_language, enabled when nvcc exists (NNPROOF_CUDA=AUTO).
# Default architectures: sm_80 (A100) and sm_90 (H100). Override with -DCMAKE_CUDA_ARCHITECTURES.
set(NNPROOF_HAVE_CUDA OFF)
if(NOT NNPROOF_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 80 90)
    endif()
    enable_language(CUDA)
    # CMake 3.25 knows no C++20 flag for nvcc (newer CMakes do); nvcc 12+ takes -std=c++20, so tell
    # CMake the flag and build CUDA code as C++20 like the rest.
    if(NOT CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
      set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
      set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
    endif()
    set(CMAKE_CUDA_STANDARD 20)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    find_package(CUDAToolkit REQUIRED)
    set(NNPROOF_HAVE_CUDA ON)
  elseif(NNPROOF_CUDA STREQUAL "ON")
    message(FATAL_ERROR "NNPROOF_CUDA=ON but no CUDA compiler was found (is nvcc on PATH?)")
  endif()
endif()
message(STATUS "nnproof: CUDA ${NNPROOF_HAVE_CUDA} (architectures: ${CMAKE_CUDA_ARCHITECTURES})")
