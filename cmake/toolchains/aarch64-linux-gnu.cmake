# SPDX-License-Identifier: Apache-2.0
# Cross-compiling for Linux arm64 (aarch64) on a Debian x86-64 host, with Debian's multiarch
# packages: crossbuild-essential-arm64 (the compilers) and the :arm64 -dev packages
# (scripts/deps.sh, nnproof_install_arm64_deps). The tests run under qemu-user: CMake's
# CROSSCOMPILING_EMULATOR makes gtest_discover_tests and ctest start every test binary through
# qemu-aarch64 -L /: the loader and C library of the multiarch libc6:arm64 (/lib/ld-linux-aarch64.so.1,
# /usr/lib/aarch64-linux-gnu), which the :arm64 packages pull in. Not -L /usr/aarch64-linux-gnu: that
# loader (libc6-arm64-cross, another build of glibc 2.36) with the multiarch libc.so.6 hangs at the
# first pthread_create.
#   cmake -S . -B build-arm64 -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake \
#         -DNNPROOF_CUDA=OFF -DNNPROOF_BUILD_BENCH=OFF
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# Debian multiarch: the arm64 packages' libraries and CMake configs live in /usr/lib/aarch64-linux-gnu
# beside the host's /usr/lib/x86_64-linux-gnu, and the cross compiler searches the aarch64 directories
# itself. CMAKE_LIBRARY_ARCHITECTURE makes find_library / find_package look there, and never in the
# host's triplet directory; programs (protoc, pkg-config, python3) come from the host. (No
# CMAKE_FIND_ROOT_PATH: both architectures share the root /usr.)

# pkg-config (libzip, cpp-httplib) must read the arm64 .pc files, not the host's.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)

find_program(NNPROOF_QEMU_AARCH64 NAMES qemu-aarch64 qemu-aarch64-static)
if(NNPROOF_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${NNPROOF_QEMU_AARCH64} -L /)
endif()
