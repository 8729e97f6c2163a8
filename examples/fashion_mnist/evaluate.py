#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Accuracy of a quantized model's *verified* predictions on the whole Fashion-MNIST test set.

Proves and verifies the test set in chunks (one proof per chunk) with the nnproof binary and
compares the verified argmax labels with the true ones. This is how the README's "quantized
accuracy" column was measured:

    /usr/bin/python3 examples/fashion_mnist/evaluate.py --model examples/fashion_mnist/cnn2quad.onnx --field m127
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fashion_mnist  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="quantized ONNX model (scales in its metadata)")
    ap.add_argument("--field", default="m61", choices=["m61", "m127"])
    ap.add_argument("--chunk", type=int, default=1000, help="images per proof (default 1000)")
    ap.add_argument("--count", type=int, default=10000, help="test images to use (default all 10000)")
    ap.add_argument("--nnproof", default="build/host/nnproof")
    args = ap.parse_args()

    images, labels = fashion_mnist.load("test")
    images, labels = images[: args.count], labels[: args.count]
    correct = 0
    prove_s = verify_s = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        x, p, v = (os.path.join(tmp, n) for n in ("x.npy", "p.nnp", "verified.npy"))
        for start in range(0, len(labels), args.chunk):
            np.save(x, images[start : start + args.chunk])
            common = ["--model", args.model, "--input", x, "--proof", p]
            t0 = time.perf_counter()
            subprocess.run([args.nnproof, "prove", *common, "--field", args.field], check=True, stderr=subprocess.DEVNULL)
            t1 = time.perf_counter()
            subprocess.run([args.nnproof, "verify", *common, "--labels-out", v], check=True, stdout=subprocess.DEVNULL)
            t2 = time.perf_counter()
            prove_s, verify_s = prove_s + t1 - t0, verify_s + t2 - t1
            correct += int(np.sum(np.load(v) == labels[start : start + args.chunk]))
            print(f"\r{start + args.chunk}/{len(labels)} images", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    print(f"{args.model}: verified accuracy {100 * correct / len(labels):.2f}% on {len(labels)} test images "
          f"(prove {prove_s:.1f} s, verify {verify_s:.1f} s in total, chunks of {args.chunk})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
