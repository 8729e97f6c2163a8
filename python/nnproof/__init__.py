# SPDX-License-Identifier: Apache-2.0
"""nnproof from Python: prove and verify neural-network inference (SafetyNets).

The calls run the same library code as the ``nnproof`` command line, in this process:

    import nnproof
    bundle = nnproof.prove("model.onnx", x)           # the server's side
    bundle.save("proof.nnp")
    v = nnproof.verify("model.onnx", x, nnproof.Bundle.load("proof.nnp"))   # the client's side
    v.outputs, v.labels                                # verified: float64 (b, n_L), int64 (b,)

and training (``nnproof train``, ``prove-training``, ``verify-training``):

    t = nnproof.train("model.onnx", x, labels, epochs=5)             # exact gradient descent
    tb = nnproof.prove_training(t, x, labels)                        # the server's side
    tv = nnproof.verify_training(t, x, labels, tb)                   # the client's side
    tv.converged, tv.loss_float, tv.gradient_norms

``verify`` and ``verify_training`` raise :class:`Rejected` for anything wrong with what the server sent (the exit code 1
of ``nnproof verify``, with the same reason) and :class:`InputError` for the caller's own model,
input or argument (exit code 2). See docs/CLIENTS.md.
"""
from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from typing import Any, List, Optional, Union

import numpy as np

from . import _nnproof
from ._nnproof import Error, InputError

__version__: str = _nnproof.__version__

__all__ = [
    "Bundle",
    "Error",
    "InputError",
    "Quantized",
    "Rejected",
    "Trained",
    "TrainingBundle",
    "TrainingVerified",
    "Verified",
    "inspect",
    "prove",
    "prove_training",
    "quantize",
    "set_threads",
    "train",
    "verify",
    "verify_training",
]

PathLike = Union[str, "os.PathLike[str]"]


class Rejected(Error):
    """The bundle does not prove these outputs for this model and input (``nnproof verify`` exit 1).

    ``check`` names the check that failed, as ``nnproof verify`` prints it after ``REJECTED:``
    (for example ``"model binding: ..."``, ``"input binding: ..."``, ``"proof format: ..."``).
    """

    def __init__(self, check: str) -> None:
        super().__init__(check)
        self.check = check


# Error (the base of both) and InputError (also a ValueError: the caller's own model, input or
# argument is wrong, ``nnproof verify`` exit 2) come from the extension, which raises InputError.


class Bundle:
    """A proof bundle (.nnp): the outputs claimed by the prover, with their proof.

    ``outputs`` and ``labels`` are the prover's dequantized outputs and argmax classes when the
    bundle was made by :func:`prove` in this process (``None`` for a bundle loaded from elsewhere:
    read a server's outputs from :func:`verify`, never from the bundle).
    """

    __slots__ = ("_data", "outputs", "labels", "engine")

    def __init__(self, data: bytes, *, outputs: Optional[np.ndarray] = None,
                 labels: Optional[np.ndarray] = None, engine: Optional[str] = None) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"Bundle(data): bytes expected, got {type(data).__name__}")
        self._data = bytes(data)
        self.outputs = outputs
        self.labels = labels
        self.engine = engine

    @classmethod
    def load(cls, path: PathLike) -> "Bundle":
        """Reads a bundle file (as written by ``nnproof prove --proof`` or :meth:`save`)."""
        try:
            with open(path, "rb") as f:
                return cls(f.read())
        except OSError as e:
            raise InputError(f"{os.fspath(path)}: cannot read the bundle: {e.strerror}; check the path") from None

    @classmethod
    def from_bytes(cls, data: bytes) -> "Bundle":
        """A bundle from its bytes (for example an HTTP response body)."""
        return cls(data)

    def to_bytes(self) -> bytes:
        """The bundle's bytes: exactly what ``nnproof prove --proof`` writes for the same problem."""
        return self._data

    def __bytes__(self) -> bytes:
        return self._data

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Bundle) and other._data == self._data

    def __hash__(self) -> int:
        return hash(self._data)

    def save(self, path: PathLike) -> None:
        """Writes the bundle to ``path`` atomically (a temporary file beside it, then a rename)."""
        path = os.fspath(path)
        directory = os.path.dirname(os.path.abspath(path))
        try:
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=".nnproof-", suffix=".tmp")
        except OSError as e:
            raise InputError(f"{path}: cannot write the bundle: {e.strerror}; check the directory") from None
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(self._data)
            os.replace(tmp, path)
        except OSError as e:
            os.unlink(tmp)
            raise InputError(f"{path}: cannot write the bundle: {e.strerror}; check the path") from None

    def __repr__(self) -> str:
        return f"<nnproof.Bundle {len(self._data)} bytes>"


@dataclass(frozen=True, eq=False)  # arrays have no single truth value to compare by
class Verified:
    """What :func:`verify` proved: the network's outputs on the input, exactly.

    outputs: float64, (b, n_L): the exact outputs dequantized (then the model's final softmax or
        log-softmax, if any), as ``nnproof verify --output`` writes them.
    labels: int64, (b,): the argmax class of each sample (``--labels-out``).
    exact: the exact integer outputs, rows of Python ints (m127 values exceed 64 bits).
    field: "m61" or "m127"; soundness_bits: the proof's soundness (PROTOCOL.md).
    """

    outputs: np.ndarray
    labels: np.ndarray
    exact: List[List[int]]
    field: str
    soundness_bits: float


@dataclass(frozen=True)
class Quantized:
    """What :func:`quantize` chose: the scales, and the model with them in its metadata."""

    onnx: bytes
    alpha: float
    beta: float
    field: str
    accuracy: Optional[float]
    output_error: Optional[float]
    agreement: Optional[float]

    def save(self, path: PathLike) -> None:
        """Writes the model with its scales (what ``nnproof quantize --out`` writes)."""
        Bundle(self.onnx).save(path)


class _Model:
    """A model argument as a path: a path as given, bytes through a temporary file."""

    def __init__(self, model: Any) -> None:
        self._tmp: Optional[tempfile.TemporaryDirectory] = None
        if isinstance(getattr(model, "onnx", None), bytes):  # a Quantized or Trained result
            model = model.onnx
        if isinstance(model, (bytes, bytearray, memoryview)):
            self._tmp = tempfile.TemporaryDirectory(prefix="nnproof-")
            self.path = os.path.join(self._tmp.name, "model.onnx")
            with open(self.path, "wb") as f:
                f.write(model)
            self.name = "<model bytes>"
        elif isinstance(model, (str, os.PathLike)):
            self.path = self.name = os.fspath(model)
        else:
            raise TypeError(f"model: a path, the bytes of an ONNX model, or a Quantized or Trained result expected, "
                            f"got {type(model).__name__}")

    def __enter__(self) -> "_Model":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()

    def rename(self, e: InputError) -> InputError:
        # Messages name the temporary file of model bytes as what it stands for.
        if self._tmp is None:
            return e
        return InputError(str(e).replace(self.path, self.name))


def _input_args(x: Any, what: str = "x") -> tuple:
    """(path, npy bytes or None, name): a path as given; an array as the bytes numpy.save writes.

    The C++ reader of ``nnproof prove --input`` then checks the array: the same dtypes (float16/32/64,
    int32/64, uint8, bool) and shapes are accepted, the same errors raised.
    """
    if isinstance(x, (str, os.PathLike)):
        return os.fspath(x), None, os.fspath(x)
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor, with or without autograd
        x = x.detach().cpu()
    try:
        a = np.asarray(x)
    except Exception as e:  # anything without __array__ is the caller's mistake
        raise InputError(f"{what}: cannot be read as a NumPy array ({e}); pass a numpy array or a .npy path") from None
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    if a.dtype.hasobject:
        raise InputError(f"{what}: an array of Python objects ({list(a.shape)}); pass numbers (float32, int64, ...)")
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(a), allow_pickle=False)
    return "", buf.getvalue(), f"{what} (array {a.dtype}{list(a.shape)})"


def _bundle_bytes(bundle: Any) -> bytes:
    if isinstance(bundle, Bundle):
        return bundle.to_bytes()
    if isinstance(bundle, (bytes, bytearray, memoryview)):
        return bytes(bundle)
    if isinstance(bundle, (str, os.PathLike)):
        return Bundle.load(bundle).to_bytes()
    raise TypeError(f"bundle: a Bundle, bytes or a path expected, got {type(bundle).__name__}")


def _scale(v: Optional[float], name: str) -> Optional[float]:
    if v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        raise InputError(f"{name}: a number expected, got {v!r}") from None


def prove(model: Any, x: Any, *, field: Optional[str] = None, engine: str = "auto",
          alpha: Optional[float] = None, beta: Optional[float] = None) -> Bundle:
    """Runs the network on the batch ``x`` and proves its outputs (``nnproof prove``).

    model: a path to an ONNX model, or its bytes. x: a NumPy array (anything with ``__array__``,
    a torch tensor included) of shape (b, n_0) or (b, C, H, W), or a .npy path.
    field: "m61" or "m127" (default: the model's nnproof.field metadata, else m61).
    engine: "auto", "cpu", "reference" or "cuda" (a build with CUDA). alpha, beta: the scales
    (default: the model's metadata). Returns the :class:`Bundle`, with the prover's outputs and
    labels. Raises :class:`InputError` for a bad model, input or argument. The GIL is released
    while proving.
    """
    args = _input_args(x)
    a, b = _scale(alpha, "alpha"), _scale(beta, "beta")
    with _Model(model) as m:
        try:
            data, outputs, labels, eng = _nnproof.prove(m.path, *args, field or "", engine, a, b)
        except InputError as e:
            raise m.rename(e) from None
    return Bundle(data, outputs=outputs, labels=labels, engine=eng)


def verify(model: Any, x: Any, bundle: Any, *, field: Optional[str] = None,
           alpha: Optional[float] = None, beta: Optional[float] = None) -> Verified:
    """Checks a bundle against the caller's own model and input (``nnproof verify``).

    bundle: a :class:`Bundle`, its bytes or a path. field: the field the proof must be over
    (default: the proof's). alpha, beta: the scales the model was proved with, when not in its
    metadata (as ``--alpha`` / ``--beta``). Returns :class:`Verified`. Raises :class:`Rejected`
    (with the failed check, exactly as ``nnproof verify`` prints it) or :class:`InputError`. The
    GIL is released while verifying.
    """
    args = _input_args(x)
    proof = _bundle_bytes(bundle)
    a, b = _scale(alpha, "alpha"), _scale(beta, "beta")
    with _Model(model) as m:
        try:
            r = _nnproof.verify(m.path, *args, proof, field or "", a, b)
        except InputError as e:
            raise m.rename(e) from None
    if not r["accepted"]:
        raise Rejected(r["reason"])
    return Verified(outputs=r["outputs"], labels=r["labels"], exact=r["exact"], field=r["field"],
                    soundness_bits=r["soundness_bits"])


def inspect(bundle: Any) -> dict:
    """The header and claimed outputs of a bundle, as ``nnproof inspect --json`` gives them.

    Reads plain and chunked inference bundles (.nnp) and training bundles (.nnpt, as
    :class:`TrainingBundle`), with the CLI's own checks of their format. Keys: nnproof_version,
    kind ("inference" or "training"), version, field, batch, dims, soundness_bits (of a chunked
    bundle's chunks together, the union bound), proof_bytes, file_bytes, outputs (exact integers,
    as the file claims them: unverified until :func:`verify` or :func:`verify_training` accepts
    the bundle); inference: chunks, chunk_batches; training: mode, samples, lr_exponent,
    claim_bytes, message_count, loss (a Python int). Raises :class:`InputError` when the bytes are
    not a well-formed bundle.
    """
    return _nnproof.inspect(_bundle_bytes(bundle))


def quantize(model: Any, calibration: Any, labels: Any = None, *, field: str = "m61",
             max_exponent: int = 12) -> Quantized:
    """Chooses the scales alpha, beta by calibration (``nnproof quantize``).

    calibration: inputs as for :func:`prove`. labels: their class indices ((b,) integers), or None
    (then the pair whose outputs are closest to the float model's). field: "m61" or "m127", written
    into the model's metadata with the scales. Returns :class:`Quantized` (its ``onnx`` bytes are a
    model :func:`prove` and :func:`verify` take). The GIL is released during the search.
    """
    args = _input_args(calibration, "calibration")
    lab = None
    if labels is not None:
        if isinstance(labels, (str, os.PathLike)):
            try:
                labels = np.load(labels, allow_pickle=False)
            except (OSError, ValueError) as e:
                raise InputError(f"{os.fspath(labels)}: cannot read the labels ({e}); save numpy int64 class indices") from None
        if hasattr(labels, "detach") and hasattr(labels, "cpu"):
            labels = labels.detach().cpu()
        arr = np.asarray(labels)
        if arr.ndim != 1 or not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
            raise InputError(f"labels: must be an integer array of shape (b,), got {arr.dtype}{list(arr.shape)}; "
                             "pass class indices")
        lab = [int(v) for v in arr]
    with _Model(model) as m, tempfile.TemporaryDirectory(prefix="nnproof-") as tmp:
        out = os.path.join(tmp, "quantized.onnx")
        try:
            r = _nnproof.quantize(m.path, *args, lab, field, out, int(max_exponent))
        except InputError as e:
            raise m.rename(e) from None
        with open(out, "rb") as f:
            onnx = f.read()
    return Quantized(onnx=onnx, alpha=r["alpha"], beta=r["beta"], field=field, accuracy=r["accuracy"],
                     output_error=r["output_error"], agreement=r["agreement"])


def set_threads(threads: int) -> None:
    """Threads of the cpu engine and the verifier (0, the default: every core)."""
    _nnproof.set_threads(int(threads))


# The training calls (train, prove_training, verify_training) live in _training.py, which uses the
# helpers above: imported last, once they exist.
from ._training import Trained, TrainingBundle, TrainingVerified, prove_training, train, verify_training  # noqa: E402
