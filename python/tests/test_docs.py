# SPDX-License-Identifier: Apache-2.0
"""docs/CLIENTS.md's Python examples run as written: the README's example, from Python, and training."""
import json
import re
import subprocess
import sys

import numpy as np

from conftest import ROOT, run_cli

MARK = "<!-- tested by python/tests/test_docs.py -->"
TRAINING_MARK = "<!-- tested by python/tests/test_docs.py (training) -->"


def example(mark: str = MARK) -> str:
    text = (ROOT / "docs/CLIENTS.md").read_text()
    assert text.count(mark) == 1, f"docs/CLIENTS.md must mark its Python example with {mark}"
    m = re.search(re.escape(mark) + r"\s*```python\n(.*?)```", text, re.S)
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


def test_the_training_example_gives_the_clis_verdict(cli, tmp_path):
    code = example(TRAINING_MARK)
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    converged, changed, total = r.stdout.splitlines()[0].split()
    # The CLI on the same problem: train, prove-training, verify-training --json.
    x = np.load(ROOT / "examples/mlp/input.npy")
    np.save(tmp_path / "y.npy", np.arange(len(x)) % 3)
    files = ["--data", ROOT / "examples/mlp/input.npy", "--labels", tmp_path / "y.npy"]
    r = run_cli(cli, "train", "--model", ROOT / "examples/mlp/model.onnx", *files, "--out", tmp_path / "t.onnx",
                "--epochs", "2", "--field", "m127")
    assert r.returncode == 0, r.stderr
    r = run_cli(cli, "prove-training", "--model", tmp_path / "t.onnx", *files, "--proof", tmp_path / "p.nnpt")
    assert r.returncode == 0, r.stderr
    r = run_cli(cli, "verify-training", "--model", tmp_path / "t.onnx", *files, "--proof", tmp_path / "p.nnpt",
                "--json")
    j = json.loads(r.stdout)
    assert r.returncode == (0 if j["converged"] else 3)
    assert (converged, int(changed), int(total)) == (str(j["converged"]), j["weights_changed"], j["weights_total"])
