#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Every source file names its license (LICENSE, Apache-2.0) in an SPDX line near its top.

Source files: .hpp .cpp .cu .inl .h .py .cmake, CMakeLists.txt, and the scripts (every file in
scripts/ and .ci/, and *.sh). Build trees (folders holding a CMakeCache.txt), Python venvs (a
pyvenv.cfg), hidden folders other
than .ci/, __pycache__/ and tests/fuzz/corpus/ (fuzzer inputs) are skipped. A file passes when one
of its first HEAD_LINES lines is a comment (// or # or /*) holding the identifier below.

Usage: check_spdx.py [--fix] [ROOT]   (default: the repository holding this file)
  without --fix: prints each file that lacks the line and exits 1 if there is any;
  with --fix (what scripts/add_spdx runs): inserts the line at the top of each such file, as
  "// ..." in C++ and CUDA files and "# ..." in Python, CMake and shell files, after a shebang
  line (and after a Python encoding line). Running it again changes nothing.
"""
import pathlib
import re
import sys

LICENSE_ID = "Apache-2.0"
HEAD_LINES = 5
SLASH_SUFFIXES = {".hpp", ".cpp", ".cu", ".inl", ".h"}
HASH_SUFFIXES = {".py", ".cmake", ".sh"}
SCRIPT_FOLDERS = {"scripts", ".ci"}
SKIPPED_FOLDERS = {"__pycache__", "node_modules"}
SKIPPED_PATHS = {"tests/fuzz/corpus"}
MARKER = re.compile(r"^\s*(//|#|/\*)\s*SPDX-License-Identifier:\s*" + re.escape(LICENSE_ID) + r"\b")
CODING = re.compile(r"^#.*coding[:=]")


def comment_style(rel):
    """The comment that starts the file's SPDX line, or None if `rel` is not a source file."""
    path = pathlib.PurePosixPath(rel)
    if path.name == "CMakeLists.txt" or path.suffix in HASH_SUFFIXES:
        return "#"
    if path.suffix in SLASH_SUFFIXES:
        return "//"
    if len(path.parts) > 1 and path.parts[0] in SCRIPT_FOLDERS:
        return "#"
    return None


def source_files(root):
    """(path relative to root, comment) for each source file under root, sorted."""
    found = []

    def walk(folder):
        for entry in sorted(folder.iterdir()):
            rel = entry.relative_to(root).as_posix()
            if entry.is_dir() and not entry.is_symlink():
                hidden = entry.name.startswith(".") and entry.name not in SCRIPT_FOLDERS
                if hidden or entry.name in SKIPPED_FOLDERS or rel in SKIPPED_PATHS:
                    continue
                if (entry / "CMakeCache.txt").exists():  # a build tree
                    continue
                if (entry / "pyvenv.cfg").exists():  # a Python venv (scripts/test_python makes one)
                    continue
                walk(entry)
            elif entry.is_file():
                style = comment_style(rel)
                if style is not None:
                    found.append((rel, style))

    walk(root)
    return found


def has_marker(lines):
    return any(MARKER.match(line) for line in lines[:HEAD_LINES])


def with_marker(text, style):
    """The file's text with the SPDX line inserted after any shebang (and Python encoding) line."""
    lines = text.splitlines(keepends=True)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    at = 0
    if lines and lines[0].startswith("#!"):
        at = 1
    if style == "#" and len(lines) > at and CODING.match(lines[at]):
        at += 1
    if at > 0 and not lines[at - 1].endswith(("\n", "\r")):
        lines[at - 1] += newline  # a file that is only a shebang line with no newline
    lines.insert(at, f"{style} SPDX-License-Identifier: {LICENSE_ID}{newline}")
    return "".join(lines)


def main(argv):
    fix = "--fix" in argv
    args = [a for a in argv if a != "--fix"]
    root = pathlib.Path(args[0] if args else pathlib.Path(__file__).resolve().parents[2]).resolve()
    missing = []
    for rel, style in source_files(root):
        path = root / rel
        # newline="" keeps each file's line endings as they are.
        with open(path, encoding="utf-8", errors="surrogateescape", newline="") as f:
            text = f.read()
        if has_marker(text.splitlines()):
            continue
        missing.append(rel)
        if fix:
            with open(path, "w", encoding="utf-8", errors="surrogateescape", newline="") as f:
                f.write(with_marker(text, style))
    if fix:
        print(f"added the SPDX line ({LICENSE_ID}) to {len(missing)} file(s) under {root}")
        return 0
    for rel in missing:
        print(rel)
    if missing:
        print(f"{len(missing)} source file(s) lack 'SPDX-License-Identifier: {LICENSE_ID}' in their first "
              f"{HEAD_LINES} lines: run scripts/add_spdx")
        return 1
    print(f"every source file under {root} carries SPDX-License-Identifier: {LICENSE_ID}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
