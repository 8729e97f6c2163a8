# SPDX-License-Identifier: Apache-2.0
"""The package without torch, with torch tensors when torch is installed, and the GIL released."""
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import nnproof
from conftest import MLP, MLP_INPUT, ROOT


def test_torch_free_path():
    """nnproof imports and verifies with torch unimportable (sys.modules entry None blocks it)."""
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import numpy as np, nnproof\n"
        f"x = np.load({str(MLP_INPUT)!r})\n"
        f"b = nnproof.prove({str(MLP)!r}, x)\n"
        f"v = nnproof.verify({str(MLP)!r}, x, b.to_bytes())\n"
        "assert 'torch' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
        "print(v.labels.tolist())\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(nnproof.verify(MLP, MLP_INPUT, nnproof.prove(MLP, np.load(MLP_INPUT))).labels.tolist())


def test_torch_tensor_input():
    torch = pytest.importorskip("torch")
    x = np.load(MLP_INPUT)
    ref = nnproof.prove(MLP, x)
    t = torch.from_numpy(x)
    assert nnproof.prove(MLP, t) == ref
    assert nnproof.prove(MLP, t.clone().requires_grad_(True)) == ref  # autograd tensors are detached
    v = nnproof.verify(MLP, t, ref)
    assert np.array_equal(v.outputs, ref.outputs)


def test_gil_is_released_while_proving_and_verifying():
    """Another Python thread runs while the C++ call does: its ticks fall inside the call's window."""
    x = np.load(ROOT / "tests/fixtures/cross/cnn_input.npy")
    x = np.concatenate([x] * 256)  # 512 images: verifying takes tens of milliseconds
    model = ROOT / "examples/fashion_mnist/cnn2quad.onnx"
    b = nnproof.prove(model, x, alpha=2, beta=4)
    for call in (lambda: nnproof.prove(model, x, alpha=2, beta=4), lambda: nnproof.verify(model, x, b, alpha=2, beta=4)):
        window, ticks, done = [], [], threading.Event()

        def work():
            window.append(time.perf_counter())
            call()
            window.append(time.perf_counter())
            done.set()

        t = threading.Thread(target=work)
        t.start()
        while not done.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)
        t.join()
        start, end = window
        inside = [s for s in ticks if start + 0.2 * (end - start) < s < end - 0.2 * (end - start)]
        # With the GIL held for the whole call the main thread could not tick inside its middle.
        assert end - start > 0.02, "the call is too short to measure"
        assert len(inside) >= 3, (end - start, len(inside))
