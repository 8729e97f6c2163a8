# SPDX-License-Identifier: Apache-2.0
"""docs/CLIENTS.md's Python example runs as written: the README's example, from Python."""
import re
import subprocess
import sys

import numpy as np

from conftest import ROOT, run_cli

MARK = "<!-- tested by python/tests/test_docs.py -->"


def example() -> str:
    text = (ROOT / "docs/CLIENTS.md").read_text()
    assert text.count(MARK) == 1, f"docs/CLIENTS.md must mark its Python example with {MARK}"
    m = re.search(re.escape(MARK) + r"\s*```python\n(.*?)```", text, re.S)
    assert m, "the marked block is not a ```python block"
    return m.group(1)


def test_the_clients_example_verifies_a_server_bundle(cli, tmp_path):
    code = example()
    assert len(code.strip().splitlines()) <= 12
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    # The server's side, as in the README: nnproof prove writes p.nnp.
    r = run_cli(cli, "prove", "--model", ROOT / "examples/mlp/model.onnx", "--input", ROOT / "examples/mlp/input.npy",
                "--proof", tmp_path / "p.nnp", "--labels-out", tmp_path / "l.npy")
    assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == str(np.load(tmp_path / "l.npy"))
    # A tampered bundle: the example reports the rejection and exits non-zero.
    b = bytearray((tmp_path / "p.nnp").read_bytes())
    b[len(b) // 2] ^= 1
    (tmp_path / "p.nnp").write_bytes(bytes(b))
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and r.stderr.startswith("REJECTED: "), (r.returncode, r.stderr)
