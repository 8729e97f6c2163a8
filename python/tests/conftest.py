# SPDX-License-Identifier: Apache-2.0
"""Shared fixtures: the repository's files and the `nnproof` command line the package is compared with.

NNPROOF_CLI names the CLI (default: build/host/nnproof of this checkout, as scripts/test builds it).
The round trips need it: without it they fail rather than skip, so CI cannot pass them vacuously.
"""
import os
import pathlib
import subprocess
from dataclasses import dataclass
from typing import List

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
MLP = ROOT / "examples/mlp/model.onnx"
MLP_INPUT = ROOT / "examples/mlp/input.npy"


@dataclass
class Case:
    """A line of tests/fixtures/cross/cases.txt: a committed proof made on x86-64 by `nnproof prove`."""

    name: str
    model: pathlib.Path
    input: pathlib.Path
    proof: pathlib.Path
    alpha: float = None
    beta: float = None

    @property
    def expected(self) -> pathlib.Path:
        return ROOT / "tests/fixtures/cross/expected"

    @property
    def flags(self) -> List[str]:
        f = []
        if self.alpha is not None:
            f += ["--alpha", str(self.alpha)]
        if self.beta is not None:
            f += ["--beta", str(self.beta)]
        return f


def load_cases() -> List[Case]:
    cases = []
    for line in (ROOT / "tests/fixtures/cross/cases.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, model, inp, proof, *flags = line.split()
        kw = dict(zip([f.lstrip("-") for f in flags[0::2]], [float(v) for v in flags[1::2]]))
        cases.append(Case(name, ROOT / model, ROOT / inp, ROOT / proof, **kw))
    assert cases, "tests/fixtures/cross/cases.txt lists no case"
    return cases


CASES = load_cases()


@pytest.fixture(scope="session")
def cli() -> str:
    path = os.environ.get("NNPROOF_CLI", str(ROOT / "build/host/nnproof"))
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path}: no nnproof CLI to compare with; build it (scripts/test) or set NNPROOF_CLI")
    return path


def run_cli(cli: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([cli, *map(str, args)], capture_output=True, text=True, timeout=300)


def flip_middle(data: bytes) -> bytes:
    """scripts/verify_fixtures' tampering: bit 0 of the middle byte (inside the sum-check messages)."""
    b = bytearray(data)
    b[len(b) // 2] ^= 1
    return bytes(b)
