#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Writes examples/cifar_cnn/cifar_cnn.onnx: the CIFAR-size CNN of issue 23, for `nnproof bench --model`.

  Conv 3->32 3x3 pad 1, x^2, 2x2 average pool, Conv 32->64 3x3 pad 1, x^2, 2x2 average pool,
  Flatten, Gemm 4096->10

on (b, 3, 32, 32) inputs, laid out as torch.onnx.export writes nn.Conv2d / nn.AvgPool2d /
nn.Linear (opset 13). The weights and biases are random integers drawn with a fixed seed (weights
in [-15, 15], biases in [-8, 8]): the model is for timing, not accuracy, and integer weights at
scales alpha = beta = 1 (metadata) quantize to themselves. The worst-case bound of PROTOCOL.md
section 7 then admits inputs up to |x| <= 2^10 in m127 (8-bit pixels fit), which this script checks
(nnproof computes the same bound; `nnproof bench --model` draws its inputs below it).

Not run by CI: the .onnx is committed. It needs the onnx package and numpy:
  /usr/bin/python3 examples/cifar_cnn/make_model.py     (Debian: apt-get install python3-onnx)
"""
import math
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SEED = 20261205
WMAX, BMAX = 15, 8
P127 = 2**127 - 1
HERE = os.path.dirname(os.path.abspath(__file__))


def ints(rng, shape, limit):
    return rng.integers(-limit, limit + 1, size=shape).astype(np.float32)


def build_model(rng):
    w1, b1 = ints(rng, (32, 3, 3, 3), WMAX), ints(rng, (32,), BMAX)
    w2, b2 = ints(rng, (64, 32, 3, 3), WMAX), ints(rng, (64,), BMAX)
    w3, b3 = ints(rng, (10, 64 * 8 * 8), WMAX), ints(rng, (10,), BMAX)
    inits = [numpy_helper.from_array(a, n) for a, n in
             ((w1, "conv1.weight"), (b1, "conv1.bias"), (w2, "conv2.weight"), (b2, "conv2.bias"),
              (w3, "fc.weight"), (b3, "fc.bias"))]
    conv = dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1], dilations=[1, 1], group=1)
    pool = dict(kernel_shape=[2, 2], pads=[0, 0, 0, 0], strides=[2, 2], ceil_mode=0)
    nodes = [
        helper.make_node("Conv", ["input", "conv1.weight", "conv1.bias"], ["c1"], name="conv1", **conv),
        helper.make_node("Mul", ["c1", "c1"], ["a1"], name="act1"),
        helper.make_node("AveragePool", ["a1"], ["p1"], name="pool1", **pool),
        helper.make_node("Conv", ["p1", "conv2.weight", "conv2.bias"], ["c2"], name="conv2", **conv),
        helper.make_node("Mul", ["c2", "c2"], ["a2"], name="act2"),
        helper.make_node("AveragePool", ["a2"], ["p2"], name="pool2", **pool),
        helper.make_node("Flatten", ["p2"], ["f"], name="flatten", axis=1),
        helper.make_node("Gemm", ["f", "fc.weight", "fc.bias"], ["logits"], name="fc", alpha=1.0, beta=1.0,
                         transB=1),
    ]
    graph = helper.make_graph(
        nodes, "cifar_cnn",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 32, 32])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])],
        initializer=inits)
    model = helper.make_model(graph, producer_name="nnproof examples/cifar_cnn",
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7  # the IR version that goes with opset 13
    helper.set_model_props(model, {"nnproof.alpha": "1", "nnproof.beta": "1", "nnproof.field": "m127"})
    onnx.checker.check_model(model, full_check=True)
    return model, (w1, b1, w2, b2, w3, b3)


def worst_case_log2(weights, x_bound):
    """log2 of the largest |Z_3| the bound allows: the 2x2 pools are exact sums (a factor 4 in the
    next layer's row sums), each activation squares the bound."""
    w1, b1, w2, b2, w3, b3 = (a.astype(np.float64) for a in weights)
    z1 = np.max(np.abs(w1).reshape(32, -1).sum(1) * x_bound + np.abs(b1))
    z2 = np.max(np.abs(w2).reshape(64, -1).sum(1) * 4 * z1 * z1 + np.abs(b2))
    z3 = np.max(np.abs(w3).sum(1) * 4 * z2 * z2 + np.abs(b3))
    return math.log2(z3)


def main():
    model, weights = build_model(np.random.default_rng(SEED))
    bound = worst_case_log2(weights, 2**10)
    print(f"worst case |Z_3| for |x| <= 2^10: 2^{bound:.1f} (m127 limit 2^126)")
    if bound >= 126:
        sys.exit("make_model.py: inputs up to 2^10 could wrap m127; shrink WMAX")
    path = os.path.join(HERE, "cifar_cnn.onnx")
    onnx.save(model, path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
