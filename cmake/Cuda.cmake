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
    # CMake 3.25 knows no C++20 flag for nvcc 13 (and takes CXX_STANDARD 20 for CUDA too, which
    # fails): CUDA targets set CUDA_STANDARD 17 until the build moves to a newer CMake.
    set(CMAKE_CUDA_STANDARD 17)
    find_package(CUDAToolkit REQUIRED)
    set(NNPROOF_HAVE_CUDA ON)
  elseif(NNPROOF_CUDA STREQUAL "ON")
    message(FATAL_ERROR "NNPROOF_CUDA=ON but no CUDA compiler was found (is nvcc on PATH?)")
  endif()
endif()
message(STATUS "nnproof: CUDA ${NNPROOF_HAVE_CUDA} (architectures: ${CMAKE_CUDA_ARCHITECTURES})")
