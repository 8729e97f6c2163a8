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
  nnproof_install_packages "${NNPROOF_PACKAGES[@]}" "$@"
}

# nnproof_install_packages PACKAGE...: installs those not yet installed (as root), or names them.
nnproof_install_packages() {
  local missing=()
  for p in "$@"; do
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

# The PyTorch example (examples/pytorch, scripts/test_pytorch_example, CI's PyTorch stage): Debian's
# PyTorch 1.13 for /usr/bin/python3. Only that stage pays for it: 173 packages, 128 MB downloaded,
# 541 MB installed; 63 s to install on a 2-core machine with a nearby mirror (bookworm, 2026-12).
NNPROOF_TORCH_PACKAGES=(python3-torch python3-numpy)

# nnproof_install_torch: installs the packages above when missing (as root), or names them.
nnproof_install_torch() {
  nnproof_install_packages "${NNPROOF_TORCH_PACKAGES[@]}"
}

# The arm64 cross build (scripts/test_arm64, docs/CLIENTS.md): Debian's cross compilers, qemu-user to
# run the tests, and the :arm64 twins of the libraries the core, verifier, kernels and host layers
# link (multiarch). Header-only and architecture-independent packages (CLI11, nlohmann-json,
# GoogleTest's sources) come from the main list; libdnnl-dev and libonnx-dev, which cannot sit beside
# their amd64 twins, scripts/test_arm64 unpacks into its build tree. Only the arm64 CI stage pays for these.
NNPROOF_ARM64_PACKAGES=(crossbuild-essential-arm64 qemu-user libssl-dev:arm64 libgtest-dev:arm64 libgmock-dev:arm64
  libprotobuf-dev:arm64 libfmt-dev:arm64 libopenblas-openmp-dev:arm64
  ocl-icd-opencl-dev:arm64 libzip-dev:arm64 libcpp-httplib-dev:arm64)

# nnproof_install_arm64_deps: adds the arm64 architecture to dpkg (once) and installs the packages above.
nnproof_install_arm64_deps() {
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "nnproof: the arm64 build needs dpkg's arm64 architecture; run: sudo dpkg --add-architecture arm64" >&2
      exit 2
    fi
    dpkg --add-architecture arm64
    apt-get update -qq
  fi
  nnproof_install_packages "${NNPROOF_ARM64_PACKAGES[@]}"
}

nnproof_build() {
  cmake --preset release >/dev/null
  cmake --build --preset release -j "$(nproc)"
}
