#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# ctest Install.FindPackageClient: `cmake --install` the build into a scratch prefix (WORK_DIR/prefix,
# emptied first), check the installed CLI's --version, then configure, build and run the client in
# client/ (find_package(nnproof), nnproof::verifier) with -DCMAKE_PREFIX_PATH=<that prefix>.
#   check_install.sh CMAKE BUILD_DIR WORK_DIR VERSION [cmake arguments for the client...]
set -euo pipefail
cmake=$1 build=$2 work=$3 version=$4
shift 4
client_src="$(cd "$(dirname "$0")/client" && pwd)"
rm -rf "$work"
mkdir -p "$work"
prefix="$work/prefix"
"$cmake" --install "$build" --prefix "$prefix" >"$work/install.log"
"$prefix/bin/nnproof" --version | grep -F "nnproof $version (proof format: "
"$cmake" -S "$client_src" -B "$work/client" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release "$@" \
  >"$work/configure.log" || { cat "$work/configure.log"; exit 1; }
"$cmake" --build "$work/client"
"$work/client/nnproof_client" | tee "$work/client.out"
grep -q "^nnproof $version, " "$work/client.out"
