#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The include order of docs/ARCHITECTURE.md, checked: core <- verifier <- kernels <- host.

Each folder (layer) may include its own files and those of the layers below it, never above. Inside
kernels/ the same holds: engine/ (the interface and what engines share) <- reference/, cpu/ <-
thrust/ (which runs structured layers through the cpu route) <- registry. core/ and verifier/ build
with a plain compiler: they include no CUDA, Thrust, oneDNN, BLAS or ONNX header.

Usage: check_layers.py [ROOT]   (default: the repository holding this file). Prints one line per
include that runs back up, and exits 1 if there is any.
"""
import pathlib
import re
import sys

# Each layer, in order from the ground up, as path prefixes; a file belongs to the longest match.
LAYERS = [
    ("core", ["core/"]),
    ("verifier", ["verifier/"]),
    ("kernels/engine", ["kernels/engine/"]),
    ("kernels/engines", ["kernels/reference/", "kernels/cpu/"]),
    ("kernels/thrust", ["kernels/thrust/"]),
    ("kernels/registry", ["kernels/registry."]),
    ("host", ["host/"]),
]
# The layers that must build with a plain C++ compiler and OpenSSL: no headers of these libraries.
PLAIN = {"core", "verifier"}
FOREIGN = re.compile(r"#\s*include\s*<(thrust/|cub/|cuda|cublas|oneapi/|dnnl|cblas|onnx/|google/protobuf)")
LOCAL = re.compile(r'#\s*include\s*"([^"]+)"')
SOURCES = (".hpp", ".cpp", ".cu", ".inl", ".h")


def layer_of(path):
    best = None
    for rank, (name, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if path.startswith(prefix) and (best is None or len(prefix) > best[2]):
                best = (rank, name, len(prefix))
    return best


def violations(root):
    for file in sorted(root.rglob("*")):
        rel = file.relative_to(root).as_posix()
        if file.suffix not in SOURCES or not file.is_file():
            continue
        here = layer_of(rel)
        if here is None:  # tests/, bench/, examples/: may include anything
            continue
        for number, line in enumerate(file.read_text(errors="replace").splitlines(), 1):
            m = LOCAL.search(line)
            if m:
                there = layer_of(m.group(1))
                if there is not None and there[0] > here[0]:
                    yield f"{rel}:{number}: {here[1]} includes {m.group(1)} ({there[1]}, a layer above it)"
            if here[1] in PLAIN and FOREIGN.search(line):
                yield f"{rel}:{number}: {here[1]} must build with a plain compiler: {line.strip()}"


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[2])
    found = list(violations(root))
    for v in found:
        print(v)
    if found:
        print(f"{len(found)} include(s) run back up the order core <- verifier <- kernels <- host "
              "(docs/ARCHITECTURE.md): move the shared code down a layer instead")
        return 1
    print(f"includes of {root} run one way: core <- verifier <- kernels <- host")
    return 0


if __name__ == "__main__":
    sys.exit(main())
