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


def ticks_during(call, repeat):
    """(seconds, ticks): how often this thread ran (1 ms sleeps) in the middle 60% of `repeat` calls
    made on another thread. A call holding the GIL in C++ lets this thread run only between calls,
    while its Python wrapper runs: a tick or two per call, not one per millisecond."""
    window, ticks, done = [], [], threading.Event()

    def work():
        window.append(time.perf_counter())
        for _ in range(repeat):
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
    return end - start, sum(start + 0.2 * (end - start) < s < end - 0.2 * (end - start) for s in ticks)


def test_gil_is_released_while_proving_and_verifying():
    x = np.load(ROOT / "tests/fixtures/cross/cnn_input.npy")
    x = np.concatenate([x] * 2048)  # 4096 images: about 0.3-1 s a proof, verifying ~0.1 s
    model = ROOT / "examples/fashion_mnist/cnn2quad.onnx"
    bundles = []
    # Three proofs: one alone came close to the 0.5 s this needs on a fast machine (the prover keeps
    # getting faster; 2048 images once fell under it).
    seconds, ticks = ticks_during(lambda: bundles.append(nnproof.prove(model, x, alpha=2, beta=4)), 3)
    assert seconds > 0.5 and ticks >= 50, (seconds, ticks)
    calls = 10
    seconds, ticks = ticks_during(lambda: nnproof.verify(model, x, bundles[0], alpha=2, beta=4), calls)
    assert ticks >= 5 * calls, (seconds, ticks)
