# SPDX-License-Identifier: Apache-2.0
"""What the service test scripts share: the command line (NNPROOF_BIN SOURCE_DIR CASE), the example
model and input, a scratch folder, and small helpers. Each case is a function named case_<CASE>."""
import os
import shutil
import sys
import tempfile

from harness import run

BIN, SRC, CASE = sys.argv[1], sys.argv[2], sys.argv[3]
MODEL = os.path.join(SRC, "examples/mlp/model.onnx")
INPUT = os.path.join(SRC, "examples/mlp/input.npy")
TMP = tempfile.mkdtemp(prefix="nnproof-service-")


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def tmp(name):
    return os.path.join(TMP, name)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def query(url, *extra, model=MODEL, inp=INPUT, timeout=180):
    return run([BIN, "query", "--server", url, "--model", model, *(["--input", inp] if inp else []), *extra],
               timeout=timeout)


def labels_file(name, values):
    path = tmp(name)
    header = "{'descr': '<i8', 'fortran_order': False, 'shape': (%d,), }" % len(values)
    header += " " * (64 - (10 + len(header) + 1) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode()
                + b"".join(v.to_bytes(8, "little", signed=True) for v in values))
    return path


def other_model():
    """The mlp with other scales (nnproof quantize, alpha and beta <= 4): same shapes, another binding."""
    path = tmp("other.onnx")
    if not os.path.exists(path):
        labels = labels_file("labels.npy", [0] * 8)
        r = run([BIN, "quantize", "--model", MODEL, "--calibration", INPUT, "--labels", labels, "--out", path,
                 "--max-exponent", "2"])
        check(r.returncode == 0, "quantize failed: " + r.stderr)
    return path


def proved_by_cli(model=MODEL, inp=INPUT):
    out = tmp("cli.nnp")
    r = run([BIN, "prove", "--model", model, "--input", inp, "--proof", out, "--engine", "cpu"])
    check(r.returncode == 0, "nnproof prove failed: " + r.stderr)
    return read(out)


def main(cases):
    """Runs cases["case_" + CASE], then removes the scratch folder."""
    try:
        cases["case_" + CASE]()
        print(f"service {CASE}: ok")
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
