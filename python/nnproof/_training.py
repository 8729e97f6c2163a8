# SPDX-License-Identifier: Apache-2.0
"""nnproof's training calls: ``nnproof train``, ``prove-training`` and ``verify-training`` from Python.

Public through the package (``nnproof.train`` and the others); see docs/CLIENTS.md.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import Any, List, Optional

import numpy as np

from . import _nnproof
from . import Bundle, InputError, PathLike, Rejected, _bundle_bytes, _input_args, _Model, _scale


class TrainingBundle(Bundle):
    """A training-proof bundle (.nnpt): the claimed loss, gradients and outputs, with their proof.

    Made by :func:`prove_training` (exactly the bytes ``nnproof prove-training --proof`` writes for
    the same problem), read with :meth:`load` or :meth:`from_bytes`, checked by
    :func:`verify_training`; ``save``, ``to_bytes``, ``len`` as for :class:`Bundle`.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<nnproof.TrainingBundle {len(self._data)} bytes>"


@dataclass(frozen=True)
class Trained:
    """What :func:`train` returns: the trained model, and each epoch's figures.

    onnx: the trained model's bytes (exactly what ``nnproof train --out`` writes: float64 weights
    that quantize back to the trained integers, the field in its metadata); every call that takes a
    model takes this object too. history: one dict per epoch (epoch, loss as a Python int,
    loss_float, accuracy, weights_changed, converged, seconds), as ``nnproof train --json`` prints.
    converged: the last epoch changed no weight (training stopped early). field, engine: where it ran.
    """

    onnx: bytes
    history: List[dict]
    field: str
    engine: str

    @property
    def epochs(self) -> int:
        return len(self.history)

    @property
    def converged(self) -> bool:
        return bool(self.history) and bool(self.history[-1]["converged"])

    def save(self, path: PathLike) -> None:
        """Writes the trained model (what ``nnproof train --out`` writes)."""
        Bundle(self.onnx).save(path)


@dataclass(frozen=True, eq=False)
class TrainingVerified:
    """What :func:`verify_training` proved about the model on the caller's data and labels.

    converged: a further full-batch step at the caller's learning rate would change at most
        ``max_changed`` weights (``nnproof verify-training`` exit 0; False is its exit 3, still
        verified). loss: the exact loss (a Python int); loss_float: the mean squared error per
        sample. weights_changed / weights_total: the weights and biases that step would change.
    gradient_norms: per layer, in real units. accuracy: the proved outputs' argmax against the
        labels; labels: that argmax per sample (int64); exact: the proved outputs, rows of ints.
    learning_rate, field, soundness_bits, proof_bytes: as ``verify-training --json`` prints them.
    """

    converged: bool
    loss: int
    loss_float: float
    accuracy: float
    weights_changed: int
    weights_total: int
    gradient_norms: List[float]
    learning_rate: float
    field: str
    soundness_bits: float
    proof_bytes: int
    labels: np.ndarray
    exact: List[List[int]]


class _TrainingFiles:
    """The model, data and labels of a training call as paths (arrays through temporary .npy files).

    The C++ side reads them as ``nnproof train --data/--labels`` do: the same checks and messages,
    whose temporary paths are renamed to what they stand for.
    """

    def __init__(self, model: Any, x: Any, labels: Any) -> None:
        self.model = _Model(model)
        self._tmp = tempfile.TemporaryDirectory(prefix="nnproof-")
        self._names = {}
        path, npy, name = _input_args(x)
        self.data = path or self._write("x.npy", npy, name)
        self.labels = self._labels(labels)

    def _write(self, file: str, data: bytes, name: str) -> str:
        path = os.path.join(self._tmp.name, file)
        with open(path, "wb") as f:
            f.write(data)
        self._names[path] = name
        return path

    def _labels(self, labels: Any) -> str:
        if isinstance(labels, (str, os.PathLike)):
            return os.fspath(labels)
        path, npy, name = _input_args(labels, "labels")
        return self._write("labels.npy", npy, name)

    def __enter__(self) -> "_TrainingFiles":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.model.__exit__(*exc)
        self._tmp.cleanup()

    def rename(self, e: InputError) -> InputError:
        text = str(self.model.rename(e))
        for path, name in self._names.items():
            text = text.replace(path, name)
        return InputError(text)


def _lr(lr: Optional[float]) -> Optional[float]:
    return _scale(lr, "lr")


def _count(v: Optional[int], name: str, default: int) -> int:
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
        raise InputError(f"{name}: a non-negative integer expected, got {v!r}")
    return int(v)


def train(model: Any, x: Any, labels: Any, *, epochs: Optional[int] = None, batch: Optional[int] = None,
          lr: Optional[float] = None, field: Optional[str] = None, engine: str = "auto",
          seed: Optional[int] = None, alpha: Optional[float] = None, beta: Optional[float] = None) -> Trained:
    """Trains the quantized model by exact gradient descent (``nnproof train``).

    model: a path, ONNX bytes or a :class:`Quantized` / :class:`Trained` result, with power-of-two
    scales. x: the training inputs as for :func:`prove` ((N, n_0), or (N, C, H, W)); labels: their
    classes ((N,) integers in [0, n_L), an array or a .npy path). epochs: passes over the data
    (default 10; stops early once nothing changes). batch: samples per step (default: all), in an
    order drawn from ``seed`` (default 0). lr: rounded to a power of two (default 2^-6). field: every
    value of every step must fit it (default: the model's metadata, else m61). The result is the same
    bytes on every engine. Raises :class:`InputError`. The GIL is released while training.
    """
    a, b, r = _scale(alpha, "alpha"), _scale(beta, "beta"), _lr(lr)
    n_epochs, n_batch, n_seed = _count(epochs, "epochs", 10), _count(batch, "batch", 0), _count(seed, "seed", 0)
    with _TrainingFiles(model, x, labels) as f, tempfile.TemporaryDirectory(prefix="nnproof-") as tmp:
        out = os.path.join(tmp, "trained.onnx")
        try:
            d = _nnproof.train(f.model.path, f.data, f.labels, out, field or "", engine, n_epochs, n_batch, r,
                               n_seed, a, b)
        except InputError as e:
            raise f.rename(e) from None
        with open(out, "rb") as fh:
            onnx = fh.read()
    return Trained(onnx=onnx, history=d["history"], field=d["field"], engine=d["engine"])


def prove_training(model: Any, x: Any, labels: Any, *, lr: Optional[float] = None, field: Optional[str] = None,
                   engine: str = "auto") -> TrainingBundle:
    """Proves the model's exact loss and gradients over the labelled data (``nnproof prove-training``).

    model, x, labels: as for :func:`train` (dense, convolution and sum-pool layers, as
    ``prove-training`` takes them). lr: bound into the proof (default 2^-6; the verifier's must match). field:
    default the model's metadata, else m61. Returns the :class:`TrainingBundle`. Raises
    :class:`InputError` (a bad model, data, labels or argument, or values that could wrap the
    field). The GIL is released while proving.
    """
    r = _lr(lr)
    with _TrainingFiles(model, x, labels) as f:
        try:
            data = _nnproof.prove_training(f.model.path, f.data, f.labels, field or "", engine, r)
        except InputError as e:
            raise f.rename(e) from None
    return TrainingBundle(data)


def verify_training(model: Any, x: Any, labels: Any, bundle: Any, *, lr: Optional[float] = None,
                    max_changed: int = 0, field: Optional[str] = None) -> TrainingVerified:
    """Checks a training bundle against the caller's model, data and labels (``nnproof verify-training``).

    bundle: a :class:`TrainingBundle`, its bytes or a path. lr: the caller's learning rate (default
    2^-6); the proof's must be the same. max_changed: weights a further step may change and still
    count as converged. field: the field the proof must be over (default: the proof's). Returns
    :class:`TrainingVerified` (verified; ``.converged`` says whether it converged). Raises
    :class:`Rejected` (the failed check, exactly as ``verify-training`` prints it after
    ``REJECTED:``) or :class:`InputError`. The GIL is released while verifying.
    """
    r = _lr(lr)
    proof = _bundle_bytes(bundle)
    mc = _count(max_changed, "max_changed", 0)
    with _TrainingFiles(model, x, labels) as f:
        try:
            d = _nnproof.verify_training(f.model.path, f.data, f.labels, proof, field or "", r, mc)
        except InputError as e:
            raise f.rename(e) from None
    if not d["accepted"]:
        raise Rejected(d["reason"])
    return TrainingVerified(converged=d["converged"], loss=d["loss"], loss_float=d["loss_float"],
                            accuracy=d["accuracy"], weights_changed=d["weights_changed"],
                            weights_total=d["weights_total"], gradient_norms=list(d["gradient_norms"]),
                            learning_rate=d["learning_rate"], field=d["field"],
                            soundness_bits=d["soundness_bits"], proof_bytes=d["proof_bytes"], labels=d["labels"],
                            exact=d["exact"])
