# SPDX-License-Identifier: Apache-2.0
"""Round trips with the CLI's files: the same bundle bytes, the same outputs, the same verdicts."""
import json

import numpy as np
import pytest

import nnproof
from conftest import CASES, MLP, MLP_INPUT, ROOT, flip_middle, run_cli


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_cli_bundle_verifies_with_the_cli_outputs(case):
    """Each committed bundle (made by `nnproof prove`) verifies, with the bytes `verify --output` wrote."""
    v = nnproof.verify(case.model, case.input, nnproof.Bundle.load(case.proof), alpha=case.alpha, beta=case.beta)
    out = np.load(case.expected / f"{case.name}.out.npy")
    labels = np.load(case.expected / f"{case.name}.labels.npy")
    assert v.outputs.dtype == np.float64 and v.outputs.shape == out.shape
    assert v.outputs.tobytes() == out.tobytes()  # bit for bit
    assert v.labels.dtype == np.int64 and np.array_equal(v.labels, labels)
    assert v.field == case.name.rsplit("_", 1)[1]
    assert v.soundness_bits >= 100
    # The exact outputs are Python ints that the dequantized ones are computed from.
    assert len(v.exact) == out.shape[0] and all(len(r) == out.shape[1] for r in v.exact)
    assert all(type(y) is int for r in v.exact for y in r)
    assert nnproof.inspect(case.proof)["outputs"] == v.exact


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_tampered_cli_bundle_is_rejected_with_the_cli_reason(case):
    expected = (case.expected / f"{case.name}.tampered.txt").read_text().splitlines()
    assert expected[-1] == "exit 1" and expected[0].startswith("REJECTED: ")
    with pytest.raises(nnproof.Rejected) as e:
        nnproof.verify(case.model, case.input, flip_middle(case.proof.read_bytes()), alpha=case.alpha, beta=case.beta)
    assert e.value.check == expected[0][len("REJECTED: "):]
    assert str(e.value) == e.value.check


@pytest.mark.parametrize("case", [c for c in CASES if not c.name.startswith("v2_")], ids=lambda c: c.name)
def test_python_bundle_has_the_bytes_of_the_committed_cli_bundle(case):
    """Fiat-Shamir makes proving deterministic: Python's prove writes `nnproof prove`'s bytes."""
    field = case.name.rsplit("_", 1)[1]
    b = nnproof.prove(case.model, np.load(case.input), field=field, alpha=case.alpha, beta=case.beta)
    assert b.to_bytes() == case.proof.read_bytes()
    assert b.outputs.tobytes() == np.load(case.expected / f"{case.name}.out.npy").tobytes()


def test_prove_matches_the_cli_now_and_each_verifies_the_other(cli, tmp_path):
    x = np.load(MLP_INPUT)
    r = run_cli(cli, "prove", "--model", MLP, "--input", MLP_INPUT, "--proof", tmp_path / "cli.nnp",
                "--output", tmp_path / "y.npy", "--labels-out", tmp_path / "l.npy")
    assert r.returncode == 0, r.stderr
    b = nnproof.prove(str(MLP), x)
    assert b.to_bytes() == (tmp_path / "cli.nnp").read_bytes()
    assert np.array_equal(b.outputs, np.load(tmp_path / "y.npy"))
    assert np.array_equal(b.labels, np.load(tmp_path / "l.npy"))
    # The Python bundle, saved, verifies with the CLI; the CLI's verifies in Python.
    b.save(tmp_path / "py.nnp")
    r = run_cli(cli, "verify", "--model", MLP, "--input", MLP_INPUT, "--proof", tmp_path / "py.nnp",
                "--output", tmp_path / "vy.npy")
    assert r.returncode == 0 and r.stdout == "VERIFIED\n", r.stdout + r.stderr
    v = nnproof.verify(MLP, MLP_INPUT, nnproof.Bundle.load(tmp_path / "cli.nnp"))
    assert v.outputs.tobytes() == np.load(tmp_path / "vy.npy").tobytes()


def test_inspect_equals_the_cli_json(cli, tmp_path):
    for case in CASES:
        r = run_cli(cli, "inspect", case.proof, "--json")
        assert r.returncode == 0, r.stderr
        want = json.loads(r.stdout)
        got = nnproof.inspect(nnproof.Bundle.load(case.proof))
        for key in want:
            assert got[key] == (want[key] if key != "outputs" else [[int(y) for y in row] for row in want[key]]), key
        assert got["version"] == (2 if case.name.startswith("v2_") else nnproof._nnproof.proof_version)


def test_chunked_cli_bundle_verifies_with_one_proofs_outputs(cli, tmp_path):
    """`prove --max-memory` below the batch's need writes a chunked bundle (docs/FORMAT.md): Python's
    verify reads it through the CLI's verify path and returns one proof's outputs; a dropped chunk
    is rejected; inspect walks the chunks as `nnproof inspect --json` does."""
    model = ROOT / "examples/fashion_mnist/cnn2quad.onnx"
    x = np.random.default_rng(5).uniform(0, 1, size=(64, 1, 28, 28)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    r = run_cli(cli, "prove", "--model", model, "--input", tmp_path / "x.npy", "--proof", tmp_path / "c.nnp",
                "--field", "m127", "--max-memory", "150M", "--output", tmp_path / "y.npy")
    assert r.returncode == 0 and " chunks" in r.stderr, r.stderr
    chunked = (tmp_path / "c.nnp").read_bytes()
    assert chunked[:8] == b"NNPCHUNK"
    v = nnproof.verify(model, x, chunked)
    assert v.outputs.tobytes() == np.load(tmp_path / "y.npy").tobytes()
    assert v.soundness_bits >= 100
    whole = nnproof.prove(model, x, field="m127")
    assert v.outputs.tobytes() == whole.outputs.tobytes()
    with pytest.raises(nnproof.Rejected):
        nnproof.verify(model, x, chunked[: len(chunked) // 2])
    r = run_cli(cli, "inspect", tmp_path / "c.nnp", "--json")
    assert r.returncode == 0, r.stderr
    want = json.loads(r.stdout)
    got = nnproof.inspect(chunked)
    assert want["chunks"] > 1 and sum(want["chunk_batches"]) == 64
    for key in want:
        assert got[key] == (want[key] if key != "outputs" else [[int(y) for y in row] for row in want[key]]), key
    assert got["soundness_bits"] == v.soundness_bits and got["file_bytes"] == len(chunked)
    # The claimed outputs are the verified ones (this bundle is honest).
    assert got["outputs"] == v.exact
    # A dropped chunk or trailing bytes: the CLI's format errors, as InputError.
    for bad in (chunked[: len(chunked) // 2], chunked + b"\0"):
        with pytest.raises(nnproof.InputError, match="bundle: "):
            nnproof.inspect(bad)


def test_bundle_bytes_round_trip(tmp_path):
    b = nnproof.prove(MLP, np.load(MLP_INPUT))
    b.save(tmp_path / "p.nnp")
    loaded = nnproof.Bundle.load(tmp_path / "p.nnp")
    assert loaded == b and bytes(loaded) == b.to_bytes() == nnproof.Bundle.from_bytes(b.to_bytes()).to_bytes()
    assert loaded.outputs is None  # a loaded bundle's claims are read through verify, not trusted
    # verify takes a Bundle, its bytes or a path alike
    for form in (loaded, b.to_bytes(), tmp_path / "p.nnp", str(tmp_path / "p.nnp")):
        assert np.array_equal(nnproof.verify(MLP, MLP_INPUT, form).outputs, b.outputs)


def test_model_as_bytes_and_input_dtypes():
    x = np.load(MLP_INPUT)
    ref = nnproof.prove(MLP, x)
    assert nnproof.prove(MLP.read_bytes(), x) == ref
    # The CLI accepts float16/32/64, int32/64, uint8, bool: arrays of each give the file's proof.
    assert nnproof.prove(MLP, x.astype(">f8")) == ref  # big-endian: converted, same values
    assert nnproof.prove(MLP, np.asfortranarray(x)) == ref  # any memory order
    assert nnproof.prove(MLP, x.tolist()) == ref  # anything NumPy reads as the same array
    xi = np.round(x).astype(np.int32)
    assert nnproof.prove(MLP, xi) == nnproof.prove(MLP, xi.astype(np.int64)) == nnproof.prove(MLP, xi.astype(np.float32))


def test_quantize_matches_the_cli(cli, tmp_path):
    """quantize chooses the CLI's scales and writes the CLI's model bytes."""
    x = np.load(MLP_INPUT)
    labels = np.arange(len(x)) % 4
    np.save(tmp_path / "labels.npy", labels)
    r = run_cli(cli, "quantize", "--model", MLP, "--calibration", MLP_INPUT, "--labels", tmp_path / "labels.npy",
                "--out", tmp_path / "q.onnx", "--field", "m127", "--max-exponent", "6")
    assert r.returncode == 0, r.stderr
    q = nnproof.quantize(MLP, x, labels, field="m127", max_exponent=6)
    assert q.onnx == (tmp_path / "q.onnx").read_bytes()
    assert q.field == "m127" and q.accuracy is not None
    b = nnproof.prove(q.onnx, x)  # the field and scales come from the metadata
    assert nnproof.inspect(b)["field"] == "m127"
    assert nnproof.verify(q.onnx, x, b).field == "m127"
    q2 = nnproof.quantize(MLP, x)  # no labels: closest to the float model
    assert q2.accuracy is None and q2.output_error is not None
    q2.save(tmp_path / "q2.onnx")
    assert (tmp_path / "q2.onnx").read_bytes() == q2.onnx
