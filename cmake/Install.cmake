# SPDX-License-Identifier: Apache-2.0
# cmake --install: the nnproof CLI, and the verifier as a CMake package for programs that check
# proofs themselves:
#   find_package(nnproof REQUIRED)
#   target_link_libraries(app PRIVATE nnproof::verifier)
# Headers go under include/nnproof/ (core/, verifier/ and version.hpp, from cmake/version.hpp.in), the
# static library under lib/, the package files under lib/cmake/nnproof/. The prover side (host/,
# kernels/) is not installed: it is the CLI's.
include(CMakePackageConfigHelpers)
set(NNPROOF_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/nnproof)

install(TARGETS nnproof RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS nnproof_core nnproof_verifier EXPORT nnproofTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/core/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/nnproof/core
        FILES_MATCHING PATTERN "*.hpp")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/verifier/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/nnproof/verifier
        FILES_MATCHING PATTERN "*.hpp")
install(FILES ${PROJECT_BINARY_DIR}/generated/nnproof/version.hpp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/nnproof)
install(EXPORT nnproofTargets NAMESPACE nnproof:: FILE nnproofTargets.cmake DESTINATION ${NNPROOF_CMAKE_DIR})

# The package config finds what nnproof::verifier links: OpenSSL's libcrypto, and OpenMP when the
# verifier was built with it (verifier/CMakeLists.txt).
if(OpenMP_CXX_FOUND)
  set(NNPROOF_VERIFIER_OPENMP ON)
else()
  set(NNPROOF_VERIFIER_OPENMP OFF)
endif()
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/nnproofConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/nnproofConfig.cmake INSTALL_DESTINATION ${NNPROOF_CMAKE_DIR})
# 0.x: a new minor version may change the API, so only the same 0.y is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/nnproofConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/nnproofConfig.cmake ${PROJECT_BINARY_DIR}/nnproofConfigVersion.cmake
        DESTINATION ${NNPROOF_CMAKE_DIR})

install(FILES ${PROJECT_SOURCE_DIR}/LICENSE ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/CHANGELOG.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
