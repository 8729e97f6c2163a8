#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the small example network: examples/mlp/model.onnx and examples/mlp/input.npy.

A fully connected quadratic network 16-12-8-4 as torch.onnx.export writes nn.Linear layers
(Gemm, transB=1, with bias), Mul(x, x) activations and a trailing Softmax that the verifier
applies itself. Weights, biases and inputs are multiples of 1/16 in [-1, 1] drawn with a fixed
seed, so quantization with alpha = beta = 16 (stored as metadata) is exact.

Run with the system Python, which has the onnx package:  /usr/bin/python3 examples/mlp/make_model.py
Needs only onnx and numpy.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

DIMS = [16, 12, 8, 4]
BATCH = 8
ALPHA = 16  # input scale
BETA = 16   # weight scale
SEED = 20261123
P = 2**61 - 1  # the default field m61 (PROTOCOL.md section 1)

HERE = os.path.dirname(os.path.abspath(__file__))


def sixteenths(rng, shape, limit):
    """Uniform multiples of 1/16 in [-limit, limit] (limit <= 1)."""
    k = int(np.floor(limit * 16))
    return rng.integers(-k, k + 1, size=shape).astype(np.float64) / 16


def make_layers(rng):
    # PyTorch's default nn.Linear init range, 1/sqrt(fan_in), rounded down to sixteenths. Drawing
    # from all of [-1, 1] instead would make the worst-case bound below overflow m61: the values
    # grow like squares of squares, so the weight range decides whether a 3-layer net fits.
    layers = []
    for n_in, n_out in zip(DIMS[:-1], DIMS[1:]):
        limit = 1 / np.sqrt(n_in)
        layers.append((sixteenths(rng, (n_out, n_in), limit), sixteenths(rng, (n_out,), limit)))
    return layers


def build_model(layers):
    nodes, inits = [], []
    x = "input"
    for i, (w, b) in enumerate(layers, start=1):
        last = i == len(layers)
        z = "logits" if last else f"fc{i}.out"
        inits += [numpy_helper.from_array(w.astype(np.float32), f"fc{i}.weight"),
                  numpy_helper.from_array(b.astype(np.float32), f"fc{i}.bias")]
        nodes.append(helper.make_node("Gemm", [x, f"fc{i}.weight", f"fc{i}.bias"], [z], name=f"fc{i}",
                                      alpha=1.0, beta=1.0, transB=1))
        x = z
        if not last:
            nodes.append(helper.make_node("Mul", [z, z], [f"act{i}"], name=f"act{i}"))
            x = f"act{i}"
    nodes.append(helper.make_node("Softmax", [x], ["output"], name="softmax", axis=-1))
    graph = helper.make_graph(
        nodes, "mlp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", DIMS[0]])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", DIMS[-1]])],
        initializer=inits)
    model = helper.make_model(graph, producer_name="nnproof examples/mlp",
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7  # the IR version that goes with opset 13
    helper.set_model_props(model, {"nnproof.alpha": str(ALPHA), "nnproof.beta": str(BETA)})
    onnx.checker.check_model(model, full_check=True)
    return model


def round_away(v):
    """Round to nearest, ties away from zero (PROTOCOL.md section 7), to Python ints."""
    return [int(np.sign(t) * np.floor(abs(t) + 0.5)) for t in np.asarray(v, dtype=np.float64).ravel()]


def quantize(layers, x):
    """Integer weights, biases and inputs with their scales, as PROTOCOL.md section 7 defines them."""
    q_layers, s_y = [], ALPHA
    for i, (w, b) in enumerate(layers):
        s_z = BETA * s_y
        q_w = np.array(round_away(BETA * w), dtype=object).reshape(w.shape)
        q_b = np.array(round_away(s_z * b), dtype=object)
        q_layers.append((q_w, q_b))
        s_y = s_z * s_z
    return q_layers, np.array(round_away(ALPHA * x), dtype=object).reshape(x.shape), s_z


def worst_case_bounds(q_layers, x_bound):
    """Per layer, max |Z_i| assuming every input entry has |x| = x_bound (PROTOCOL.md section 7):
    row sums of |W_i| times the previous bound, plus |B_i|; the previous bound squares after an activation."""
    bounds, prev = [], x_bound
    for i, (w, b) in enumerate(q_layers):
        z = max(sum(abs(v) for v in w[r]) * prev + abs(b[r]) for r in range(w.shape[0]))
        bounds.append(z)
        prev = z * z
    return bounds


def forward_float(layers, x):
    y = x.astype(np.float64)
    for i, (w, b) in enumerate(layers):
        z = y @ w.T + b
        y = z * z if i + 1 < len(layers) else z
    return z


def forward_int(q_layers, x):
    y = x
    for i, (w, b) in enumerate(q_layers):
        z = y.dot(w.T) + b
        y = z * z if i + 1 < len(q_layers) else z
    return z


def main():
    rng = np.random.default_rng(SEED)
    layers = make_layers(rng)
    x = sixteenths(rng, (BATCH, DIMS[0]), 1.0).astype(np.float32)

    q_layers, q_x, out_scale = quantize(layers, x)
    limit = (P - 1) // 2
    batch_bound = max(abs(v) for v in q_x.ravel())
    for label, x_bound in (("this batch", batch_bound), ("any input in [-1, 1]", ALPHA)):
        bounds = worst_case_bounds(q_layers, x_bound)
        pretty = ", ".join(f"|Z_{i + 1}| <= {z} (2^{np.log2(float(z)):.1f})" for i, z in enumerate(bounds))
        print(f"worst case for {label}: {pretty}; field limit (p-1)/2 = 2^{np.log2(float(limit)):.1f}")
        if bounds[-1] >= limit or any(z * z >= limit for z in bounds[:-1]):
            sys.exit(f"make_model.py: the worst-case bound for {label} exceeds (p-1)/2; shrink the weights")

    # Dyadic values make quantization exact: the integer network dequantizes to the float one.
    exact = forward_int(q_layers, q_x).astype(np.float64) / out_scale
    diff = np.max(np.abs(exact - forward_float(layers, x)))
    print(f"output scale s_Z(L) = 2^{np.log2(out_scale):.0f}; max |dequantized - float| = {diff}")
    assert diff == 0

    model_path, input_path = os.path.join(HERE, "model.onnx"), os.path.join(HERE, "input.npy")
    onnx.save(build_model(layers), model_path)
    np.save(input_path, x)
    print(f"wrote {model_path} ({'-'.join(map(str, DIMS))}, Softmax, alpha={ALPHA}, beta={BETA})")
    print(f"wrote {input_path} (float32, shape {x.shape})")


if __name__ == "__main__":
    main()
