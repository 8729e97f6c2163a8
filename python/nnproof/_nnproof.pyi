# SPDX-License-Identifier: Apache-2.0
# Stubs of the extension module (python/src); the public API is nnproof (__init__.py).
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

__version__: str
proof_version: int
oldest_proof_version: int

class Error(Exception): ...
class InputError(Error, ValueError): ...

def inspect(bundle: bytes) -> Dict[str, Any]: ...
def prove(
    model: str, input_path: str, input_npy: Optional[bytes], input_name: str, field: str, engine: str,
    alpha: Optional[float], beta: Optional[float],
) -> Tuple[bytes, np.ndarray, np.ndarray, str]: ...
def verify(
    model: str, input_path: str, input_npy: Optional[bytes], input_name: str, proof: bytes, field: str,
    alpha: Optional[float], beta: Optional[float],
) -> Dict[str, Any]: ...
def quantize(
    model: str, input_path: str, input_npy: Optional[bytes], input_name: str, labels: Optional[List[int]],
    field: str, out: str, max_exponent: int,
) -> Dict[str, Any]: ...
def train(
    model: str, data: str, labels: str, out: str, field: str, engine: str, epochs: int, batch: int,
    lr: Optional[float], seed: int, alpha: Optional[float], beta: Optional[float],
) -> Dict[str, Any]: ...
def prove_training(model: str, data: str, labels: str, field: str, engine: str, lr: Optional[float]) -> bytes: ...
def verify_training(
    model: str, data: str, labels: str, proof: bytes, field: str, lr: Optional[float], max_changed: int,
) -> Dict[str, Any]: ...
def set_threads(threads: int) -> None: ...
