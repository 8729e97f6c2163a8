# SPDX-License-Identifier: Apache-2.0
# Sourced by scripts/test and scripts/demo: installs the Debian packages nnproof builds with when
# they are missing (as root), then configures and builds the release preset once.
# ocl-icd-opencl-dev: Debian's dnnl-config.cmake (oneDNN built with its OpenCL GPU runtime) calls
# find_package(OpenCL REQUIRED), but libdnnl-dev does not depend on the OpenCL development files.
# libcpp-httplib-dev: nnproof serve / query (docs/SERVICE.md); openssl: the TLS test's certificate.
NNPROOF_PACKAGES=(cmake ninja-build g++ pkg-config libssl-dev libonnx-dev libprotobuf-dev protobuf-compiler
  libcli11-dev nlohmann-json3-dev libfmt-dev libopenblas-openmp-dev libdnnl-dev ocl-icd-opencl-dev
  libgtest-dev libgmock-dev libbenchmark-dev python3 clang-format libzip-dev libcpp-httplib-dev openssl)

# The demo also reads the Fashion-MNIST test set (Debian's IDX files) with numpy.
NNPROOF_DEMO_PACKAGES=(dataset-fashion-mnist python3-numpy)

# nnproof_install_deps [EXTRA_PACKAGE...]
nnproof_install_deps() {
  local missing=()
  for p in "${NNPROOF_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "nnproof: missing Debian packages: ${missing[*]}; install them (sudo apt-get install ${missing[*]})" >&2
    exit 2
  fi
  echo "nnproof: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

nnproof_build() {
  cmake --preset release >/dev/null
  cmake --build --preset release -j "$(nproc)"
}
