#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes a TIMIT-shaped quadratic network (1845-2000-2000-2000-183) as ONNX, and an input batch.

Usage: timit_model.py MODEL_OUT.onnx INPUT_OUT.npy BATCH [SEED]

For throughput measurements of `nnproof serve` (docs/SERVICE.md) next to `nnproof prove`: the
layer sizes are those of the bench's TIMIT shape; each weight row holds one +-1 (the rest 0) and
the inputs are 0 or 1, so the worst-case magnitude bound of PROTOCOL.md section 7 stays at 1 and
m61 holds every value. The prover's cost does not depend on the weights' values (its GEMMs and
sum-checks are dense). Standard library only: the ONNX protobuf is encoded by hand (Gemm with
transB=1 and a bias, Mul(z, z) activations, opset 13).
"""
import random
import struct
import sys

DIMS = [1845, 2000, 2000, 2000, 183]


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number, wire, payload):
    key = varint(number << 3 | wire)
    if wire == 0:
        return key + varint(payload)
    return key + varint(len(payload)) + payload  # wire 2: length-delimited


def text(number, s):
    return field(number, 2, s.encode())


def tensor(name, dims, floats_bytes):
    # TensorProto: dims (1), data_type (2) = FLOAT (1), name (8), raw_data (9).
    return b"".join(field(1, 0, d) for d in dims) + field(2, 0, 1) + text(8, name) + field(9, 2, floats_bytes)


def value_info(name, width):
    dims = field(1, 2, text(2, "batch")) + field(1, 2, field(1, 0, width))  # Dimension: dim_param / dim_value
    tensor_type = field(1, 0, 1) + field(2, 2, dims)  # elem_type FLOAT, shape
    return text(1, name) + field(2, 2, field(1, 2, tensor_type))


def node(op, inputs, outputs, name, attrs=b""):
    return b"".join(text(1, i) for i in inputs) + b"".join(text(2, o) for o in outputs) + text(3, name) + text(4, op) + attrs


def model(rng):
    nodes, inits, x = [], [], "input"
    for i, (n_in, n_out) in enumerate(zip(DIMS[:-1], DIMS[1:]), start=1):
        w = bytearray(4 * n_in * n_out)
        for r in range(n_out):  # one +-1 per row
            struct.pack_into("<f", w, 4 * (r * n_in + rng.randrange(n_in)), rng.choice((-1.0, 1.0)))
        inits += [tensor(f"fc{i}.weight", [n_out, n_in], bytes(w)), tensor(f"fc{i}.bias", [n_out], bytes(4 * n_out))]
        z = "output" if i == len(DIMS) - 1 else f"fc{i}.out"
        trans_b = field(5, 2, text(1, "transB") + field(3, 0, 1) + field(20, 0, 2))  # AttributeProto INT
        nodes.append(node("Gemm", [x, f"fc{i}.weight", f"fc{i}.bias"], [z], f"fc{i}", trans_b))
        x = z
        if z != "output":
            nodes.append(node("Mul", [z, z], [f"act{i}"], f"act{i}"))
            x = f"act{i}"
    graph = (b"".join(field(1, 2, n) for n in nodes) + text(2, "timit") + b"".join(field(5, 2, t) for t in inits)
             + field(11, 2, value_info("input", DIMS[0])) + field(12, 2, value_info("output", DIMS[-1])))
    return field(1, 0, 7) + text(2, "nnproof examples/service") + field(7, 2, graph) + field(8, 2, field(2, 0, 13))


def npy_f64(rows, cols, values):
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (%d, %d), }" % (rows, cols)
    header += " " * (64 - (10 + len(header) + 1) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + struct.pack(f"<{len(values)}d", *values)


if __name__ == "__main__":
    model_out, input_out, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 1)
    with open(model_out, "wb") as f:
        f.write(model(rng))
    with open(input_out, "wb") as f:
        f.write(npy_f64(batch, DIMS[0], [float(rng.randrange(2)) for _ in range(batch * DIMS[0])]))
