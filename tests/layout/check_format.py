#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Every C++ and CUDA source is as clang-format (.clang-format at the root) writes it.

Usage: check_format.py CLANG_FORMAT [ROOT]. Lists the files clang-format would change (its own
one-line warnings) and exits 1 if there is any; the fix is `clang-format -i FILE...`. The files
are those check_spdx.py finds with a // comment style (build trees and fuzz seeds skipped).
"""
import pathlib
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from check_spdx import source_files  # noqa: E402  (the one list of the project's sources)


def main():
    clang_format = sys.argv[1]
    root = pathlib.Path(sys.argv[2] if len(sys.argv) > 2 else pathlib.Path(__file__).resolve().parents[2])
    files = [rel for rel, style in source_files(root) if style == "//"]
    result = subprocess.run([clang_format, "--dry-run", "--Werror", *files], cwd=root, capture_output=True, text=True)
    changed = sorted({line.split(":")[0] for line in result.stderr.splitlines() if ": error:" in line})
    for name in changed:
        print(f"{name}: not clang-formatted; run clang-format -i {name}")
    if result.returncode != 0:
        print(f"{len(changed)} of {len(files)} files need clang-format" if changed else result.stderr.strip())
        return 1
    print(f"{len(files)} files are clang-formatted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
