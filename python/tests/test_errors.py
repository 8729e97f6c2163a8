# SPDX-License-Identifier: Apache-2.0
"""Every exception type: Rejected for what the server sent (`nnproof verify` exit 1, the same
reason), InputError for the caller's own files and arguments (exit 2), and never a crash."""
import numpy as np
import pytest

import nnproof
from conftest import CASES, MLP, MLP_INPUT, ROOT, run_cli

CNN = next(c for c in CASES if c.name == "cnn_m61")


@pytest.fixture(scope="module")
def honest():
    return nnproof.prove(MLP, np.load(MLP_INPUT))


def cli_verdict(cli, tmp_path, model, inp, proof: bytes, *flags):
    (tmp_path / "p.nnp").write_bytes(proof)
    r = run_cli(cli, "verify", "--model", model, "--input", inp, "--proof", tmp_path / "p.nnp", *flags)
    return r.returncode, r.stdout.strip()


def rejected_cases(honest):
    x = np.load(MLP_INPUT)
    other = x.copy()
    other[0, 0] += 0.25
    data = honest.to_bytes()
    return {
        "truncated": (MLP, x, data[:-1], {}),
        "trailing": (MLP, x, data + b"\0", {}),
        "empty": (MLP, x, b"", {}),
        "not a bundle": (MLP, x, b"hello" * 40, {}),
        "other input": (MLP, other, data, {}),
        "other model": (CNN.model, np.load(CNN.input), data, {"alpha": 2, "beta": 4}),
        "other scales": (MLP, x, data, {"alpha": 8}),
        "field": (MLP, x, data, {"field": "m127"}),
    }


@pytest.mark.parametrize("what", ["truncated", "trailing", "empty", "not a bundle", "other input", "other model",
                                  "other scales", "field"])
def test_rejected_with_the_cli_reason(cli, tmp_path, honest, what):
    model, x, data, kw = rejected_cases(honest)[what]
    with pytest.raises(nnproof.Rejected) as e:
        nnproof.verify(model, x, data, **kw)
    assert isinstance(e.value, nnproof.Error) and not isinstance(e.value, nnproof.InputError)
    np.save(tmp_path / "x.npy", x)
    flags = [a for k, v in kw.items() for a in (f"--{k}", str(v))]
    code, line = cli_verdict(cli, tmp_path, model, tmp_path / "x.npy", data, *flags)
    assert (code, line) == (1, f"REJECTED: {e.value.check}")


def test_every_flipped_byte_is_rejected(honest):
    """A sample of single-bit changes over the whole bundle (header, outputs, messages): none verifies."""
    data = honest.to_bytes()
    for i in range(0, len(data), max(1, len(data) // 64)):
        b = bytearray(data)
        b[i] ^= 0x10
        with pytest.raises(nnproof.Rejected):
            nnproof.verify(MLP, MLP_INPUT, bytes(b))


def input_error_cases(tmp_path, honest):
    x = np.load(MLP_INPUT)
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    return {
        "missing model": lambda: nnproof.verify(tmp_path / "none.onnx", x, honest),
        "model bytes": lambda: nnproof.verify(b"not a model", x, honest),
        "junk model": lambda: nnproof.prove(tmp_path / "junk.onnx", x),
        "missing input": lambda: nnproof.verify(MLP, tmp_path / "none.npy", honest),
        "wrong width": lambda: nnproof.verify(MLP, x[:, :5], honest),
        "complex input": lambda: nnproof.prove(MLP, x.astype(np.complex128)),
        "object input": lambda: nnproof.prove(MLP, np.array([object()], dtype=object)),
        "nan input": lambda: nnproof.prove(MLP, np.full_like(x, np.nan)),
        "unknown field": lambda: nnproof.verify(MLP, x, honest, field="m63"),
        "interactive field": lambda: nnproof.prove(MLP, x, field="m61-interactive"),
        "unknown engine": lambda: nnproof.prove(MLP, x, engine="quantum"),
        "bad alpha": lambda: nnproof.prove(MLP, x, alpha="sixteen"),
        "zero alpha": lambda: nnproof.prove(MLP, x, alpha=0),
        "missing bundle": lambda: nnproof.verify(MLP, x, tmp_path / "none.nnp"),
        "inspect junk": lambda: nnproof.inspect(b"junk"),
        "quantize field": lambda: nnproof.quantize(MLP, x, field="m61-interactive"),
        "quantize labels": lambda: nnproof.quantize(MLP, x, labels=np.zeros(3, dtype=np.int64)),
        "float labels": lambda: nnproof.quantize(MLP, x, labels=np.zeros(len(x))),
        "save to a directory": lambda: honest.save(tmp_path / "no" / "such" / "dir.nnp"),
    }


def test_every_input_error_is_one_line_and_a_value_error(tmp_path, honest):
    for what, call in input_error_cases(tmp_path, honest).items():
        with pytest.raises(nnproof.InputError) as e:
            call()
        assert isinstance(e.value, ValueError) and isinstance(e.value, nnproof.Error), what
        message = str(e.value)
        assert message and "\n" not in message, (what, message)


def test_model_bytes_errors_do_not_name_a_temporary_file():
    with pytest.raises(nnproof.InputError) as e:
        nnproof.prove(b"not a model", np.load(MLP_INPUT))
    assert "<model bytes>" in str(e.value) and "/tmp" not in str(e.value)


def test_input_errors_are_the_cli_exit_2(cli, tmp_path, honest):
    """The same class as the CLI: what exits 2 there raises InputError here."""
    honest.save(tmp_path / "p.nnp")
    np.save(tmp_path / "narrow.npy", np.load(MLP_INPUT)[:, :5])
    r = run_cli(cli, "verify", "--model", MLP, "--input", tmp_path / "narrow.npy", "--proof", tmp_path / "p.nnp")
    assert r.returncode == 2
    with pytest.raises(nnproof.InputError) as e:
        nnproof.verify(MLP, tmp_path / "narrow.npy", tmp_path / "p.nnp")
    assert str(e.value) in r.stderr


def test_wrong_argument_types_raise_type_error(honest):
    with pytest.raises(TypeError):
        nnproof.prove(3, np.load(MLP_INPUT))
    with pytest.raises(TypeError):
        nnproof.verify(MLP, MLP_INPUT, 3.5)
    with pytest.raises(TypeError):
        nnproof.Bundle("a string")


def test_a_failed_save_leaves_nothing(tmp_path, honest):
    (tmp_path / "d").mkdir()
    with pytest.raises(nnproof.InputError):
        honest.save(tmp_path / "d")  # a directory
    assert list((tmp_path / "d").iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]


def test_garbage_raises_and_never_crashes(tmp_path, honest):
    """Truncations at many lengths, random bytes and a hostile header: exceptions, not crashes."""
    rng = np.random.default_rng(21)
    data = honest.to_bytes()
    for n in list(range(0, 140, 7)) + [len(data) // 2, len(data) - 8]:
        with pytest.raises(nnproof.Rejected):
            nnproof.verify(MLP, MLP_INPUT, data[:n])
        with pytest.raises(nnproof.InputError):
            nnproof.inspect(data[:n])
    for _ in range(20):
        junk = data[:12] + rng.integers(0, 256, len(data) - 12, dtype=np.uint8).tobytes()
        with pytest.raises(nnproof.Rejected):
            nnproof.verify(MLP, MLP_INPUT, junk)
        with pytest.raises(nnproof.InputError):
            nnproof.inspect(junk)
    # A header claiming a huge depth and batch: refused before anything that size is allocated.
    huge = bytearray(data)
    huge[112:116] = (2**31).to_bytes(4, "little")
    with pytest.raises(nnproof.InputError):
        nnproof.inspect(bytes(huge))
    # A corrupt .npy input: the CLI reader's error, as InputError.
    (tmp_path / "bad.npy").write_bytes(b"\x93NUMPY\x01\x00" + b"\xff" * 100)
    with pytest.raises(nnproof.InputError):
        nnproof.prove(MLP, tmp_path / "bad.npy")
