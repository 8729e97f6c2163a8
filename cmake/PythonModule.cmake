# SPDX-License-Identifier: Apache-2.0
# Settings of the Python module's build only (NNPROOF_PYTHON, set by python/pyproject.toml): the
# main build's flags stay as they are.
# The module is a shared object that links the static libraries: they must be position-independent
# (Debian's default -fPIE objects cannot go into a shared object).
set(CMAKE_POSITION_INDEPENDENT_CODE ON)
# pip builds from scratch in a build directory of its own: through ccache (when installed and no
# launcher was named) a rebuild of unchanged sources costs seconds, not the minutes of a compile.
find_program(NNPROOF_CCACHE ccache)
foreach(lang C CXX CUDA)
  if(NNPROOF_CCACHE AND NOT CMAKE_${lang}_COMPILER_LAUNCHER AND NOT DEFINED ENV{CMAKE_${lang}_COMPILER_LAUNCHER})
    set(CMAKE_${lang}_COMPILER_LAUNCHER ${NNPROOF_CCACHE})
  endif()
endforeach()
message(STATUS "nnproof: Python module build (position-independent; launcher: ${CMAKE_CXX_COMPILER_LAUNCHER})")
