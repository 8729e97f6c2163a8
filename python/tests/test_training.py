# SPDX-License-Identifier: Apache-2.0
"""The training calls against `nnproof train`, `prove-training` and `verify-training` on the same
files: the same model and bundle bytes, the same verdicts and figures, the same REJECTED reasons,
and InputError for the caller's own files and arguments (the CLI's exit 2)."""
import json

import numpy as np
import pytest

import nnproof
from conftest import MLP, MLP_INPUT, flip_middle, run_cli

# The example MLP's values need m127 for a training step (its m61 bound is refused: exit 2).
FIELD = "m127"


@pytest.fixture(scope="module")
def files(cli, tmp_path_factory):
    """The CLI's trained model and training proof: what the Python calls are compared with."""
    d = tmp_path_factory.mktemp("training")
    x = np.load(MLP_INPUT)
    y = (np.arange(x.shape[0]) % 3).astype(np.int64)
    np.save(d / "y.npy", y)
    r = run_cli(cli, "train", "--model", MLP, "--data", MLP_INPUT, "--labels", d / "y.npy", "--out", d / "t.onnx",
                "--epochs", "2", "--field", FIELD, "--json")
    assert r.returncode == 0, r.stderr
    epochs = [json.loads(line) for line in r.stdout.splitlines()]
    r = run_cli(cli, "prove-training", "--model", d / "t.onnx", "--data", MLP_INPUT, "--labels", d / "y.npy",
                "--proof", d / "p.nnpt")
    assert r.returncode == 0, r.stderr
    return d, x, y, epochs


def cli_verify(cli, d, proof: bytes, *flags):
    (d / "q.nnpt").write_bytes(proof)
    r = run_cli(cli, "verify-training", "--model", d / "t.onnx", "--data", MLP_INPUT, "--labels", d / "y.npy",
                "--proof", d / "q.nnpt", "--json", *flags)
    return r.returncode, json.loads(r.stdout)


def test_train_writes_the_cli_model_and_reports_its_epochs(files):
    d, x, y, epochs = files
    t = nnproof.train(MLP, x, y, epochs=2, field=FIELD)
    assert t.onnx == (d / "t.onnx").read_bytes()  # exact training: the same bytes
    assert t.field == FIELD and t.epochs == len(epochs) == 2
    for mine, theirs in zip(t.history, epochs):
        assert type(mine["loss"]) is int and str(mine["loss"]) == theirs["loss"]
        for k in ("epoch", "loss_float", "accuracy", "weights_changed"):
            assert mine[k] == theirs[k], k
    # A path, labels from a file and the result saved: the same model again.
    t.save(d / "py.onnx")
    assert nnproof.train(str(MLP), MLP_INPUT, d / "y.npy", epochs=2, field=FIELD).onnx == (d / "py.onnx").read_bytes()


def test_prove_training_writes_the_cli_bundle(files):
    d, x, y, _ = files
    b = nnproof.prove_training(d / "t.onnx", x, y)
    assert isinstance(b, nnproof.TrainingBundle)
    assert b.to_bytes() == (d / "p.nnpt").read_bytes()  # Fiat-Shamir: deterministic
    b.save(d / "py.nnpt")
    assert nnproof.TrainingBundle.load(d / "py.nnpt") == b
    assert nnproof.TrainingBundle.from_bytes(b.to_bytes()).to_bytes() == b.to_bytes()


@pytest.mark.parametrize("max_changed", [0, 1000])
def test_verify_training_gives_the_cli_verdict_and_figures(cli, files, max_changed):
    d, x, y, _ = files
    code, j = cli_verify(cli, d, (d / "p.nnpt").read_bytes(), "--max-changed", str(max_changed))
    assert code == (0 if j["converged"] else 3) and j["verified"]
    model = (d / "t.onnx").read_bytes()  # as bytes: the model argument's other form
    v = nnproof.verify_training(model, x, y, nnproof.TrainingBundle.load(d / "p.nnpt"), max_changed=max_changed)
    assert v.converged == j["converged"] and v.converged == (max_changed >= v.weights_changed)
    assert type(v.loss) is int and str(v.loss) == j["loss"]
    for k in ("loss_float", "accuracy", "weights_changed", "weights_total", "gradient_norms", "learning_rate",
              "soundness_bits", "proof_bytes"):
        assert getattr(v, k) == j[k], k
    assert v.field == FIELD and v.soundness_bits >= 100
    # The labels are the proved outputs' argmax, the accuracy their agreement with y.
    assert v.labels.dtype == np.int64 and v.labels.shape == y.shape
    assert np.array_equal(v.labels, np.argmax(np.array(v.exact, dtype=object).astype(float), axis=1))
    assert v.accuracy == np.mean(v.labels == y)


def rejected_cases(d):
    data = (d / "p.nnpt").read_bytes()
    return {
        "tampered": (flip_middle(data), {}, []),
        "truncated": (data[:-1], {}, []),
        "trailing": (data + b"\0", {}, []),
        "not a bundle": (b"hello" * 40, {}, []),
        "other lr": (data, {"lr": 0.125}, ["--lr", "0.125"]),
        "field": (data, {"field": "m61"}, ["--field", "m61"]),
    }


@pytest.mark.parametrize("name", ["tampered", "truncated", "trailing", "not a bundle", "other lr", "field"])
def test_a_bad_bundle_is_rejected_with_the_cli_reason(cli, files, name):
    d, x, y, _ = files
    proof, kw, flags = rejected_cases(d)[name]
    code, j = cli_verify(cli, d, proof, *flags)
    assert code == 1 and not j["verified"]
    with pytest.raises(nnproof.Rejected) as e:
        nnproof.verify_training(d / "t.onnx", x, y, proof, **kw)
    assert e.value.check == j["rejected"]


def test_other_data_or_labels_are_rejected_as_the_cli_does(cli, files):
    d, x, y, _ = files
    other = y.copy()
    other[0] = (other[0] + 1) % 3
    with pytest.raises(nnproof.Rejected) as e:
        nnproof.verify_training(d / "t.onnx", x, other, d / "p.nnpt")
    assert e.value.check.startswith("data binding: ")
    with pytest.raises(nnproof.Rejected) as e:
        nnproof.verify_training(MLP, x, y, d / "p.nnpt")  # the untrained model
    assert e.value.check.startswith("model binding: ")


def test_the_callers_own_mistakes_are_input_errors(files):
    d, x, y, _ = files
    bad = {
        "labels out of range": dict(labels=np.full(8, 7, dtype=np.int64)),
        "float labels": dict(labels=np.zeros(8)),
        "too few labels": dict(labels=y[:5]),
        "lr": dict(kw={"lr": 2.0}),
        "field name": dict(kw={"field": "m62"}),
        "missing model": dict(model=d / "missing.onnx"),
    }
    for name, case in bad.items():
        model, labels, kw = case.get("model", d / "t.onnx"), case.get("labels", y), case.get("kw", {})
        for call in (lambda: nnproof.verify_training(model, x, labels, d / "p.nnpt", **kw),
                     lambda: nnproof.prove_training(model, x, labels, **kw)):
            with pytest.raises(nnproof.InputError) as e:
                call()
            assert "nnproof-" not in str(e.value), (name, str(e.value))  # temporary files named as what they hold
    with pytest.raises(nnproof.InputError, match="labels \\(array int64\\[8\\]\\)"):
        nnproof.prove_training(d / "t.onnx", x, np.full(8, 7, dtype=np.int64))
    with pytest.raises(nnproof.InputError):
        nnproof.train(MLP, x, y, epochs=0)
    with pytest.raises(nnproof.InputError):
        nnproof.verify_training(d / "t.onnx", x, y, d / "p.nnpt", max_changed=-1)
    with pytest.raises(TypeError):
        nnproof.verify_training(d / "t.onnx", x, y, 42)


def test_inspect_reads_a_training_bundle_as_the_cli_does(cli, files):
    d, x, y, _ = files
    r = run_cli(cli, "inspect", d / "p.nnpt", "--json")
    assert r.returncode == 0, r.stderr
    want = json.loads(r.stdout)
    got = nnproof.inspect(nnproof.TrainingBundle.load(d / "p.nnpt"))
    assert want["kind"] == "training"
    for key in want:
        if key == "outputs":
            assert got[key] == [[int(v) for v in row] for row in want[key]]
        elif key == "loss":
            assert type(got[key]) is int and str(got[key]) == want[key]
        else:
            assert got[key] == want[key], key
    v = nnproof.verify_training(d / "t.onnx", x, y, d / "p.nnpt")
    assert got["loss"] == v.loss and got["outputs"] == v.exact
    with pytest.raises(nnproof.InputError, match="bundle: truncated training proof"):
        nnproof.inspect((d / "p.nnpt").read_bytes()[:-1])
