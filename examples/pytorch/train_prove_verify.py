#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The README's flow as a PyTorch user walks it: train, export, quantize, prove, verify.

A tiny quadratic-activation CNN, written the way a PyTorch user writes one,

    Conv2d(1, 6, 3) -> x * x -> nn.AvgPool2d(2) -> BatchNorm2d(6) -> x.view(x.size(0), -1)
    -> Linear(216, 4)

(nn.AvgPool2d with its defaults, so count_include_pad=True and torch.onnx.export writes a zero Pad
before the AveragePool; the BatchNorm sits after the pool, so the exporter cannot fold it into the
convolution and a BatchNormalization node reaches nnproof; view() exports the Shape / Gather /
Unsqueeze / Concat / Reshape idiom), is trained for a few seconds on synthetic 14x14 images (four
classes of noisy, shifted patterns; no download), exported with torch.onnx.export for each opset
asked for, and then run through the command line exactly as the README says:

    nnproof quantize --model float.onnx --calibration calib.npy --out q.onnx      (no other flag)
    nnproof prove    --model q.onnx --input test.npy --proof p.nnp
    nnproof verify   --model q.onnx --input test.npy --proof p.nnp --labels-out labels.npy

(prove and verify read the scales and the field from q.onnx's metadata: no --field, --alpha or
--beta.) The script checks that verify prints VERIFIED and that the verified labels agree with
PyTorch's float predictions on at least --min-agreement of the test samples, and prints that
agreement. Exit 0 when every opset passes, 1 otherwise.

    apt-get install python3-torch        # Debian's PyTorch (1.13) for /usr/bin/python3
    /usr/bin/python3 examples/pytorch/train_prove_verify.py --nnproof build/host/nnproof
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

# libgomp's threads spin while they wait by default, which on a busy 2-core machine slows training
# down by an order of magnitude; set before torch loads the OpenMP runtime.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SEED = 19
CLASSES = 4
SIDE = 14
NOISE = 0.45  # the pixel noise: enough that the float model errs on a few percent
# How users call torch.onnx.export, one style per default opset (others get the dynamic batch):
#   11: constant folding off and the activation written x ** 2: Constant(2) -> Cast -> Pow stays in
#       the graph for the importer to fold, as do the Constants and the BatchNormalization;
#   13: named tensors with a dynamic batch: the view's Shape / Gather / Unsqueeze / Concat idiom;
#   17: the plain call (batch 1 fixed, the view's shape folded to a constant).
DYNAMIC = dict(input_names=["input"], output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
EXPORT_STYLES = {
    11: ("x ** 2, dynamic batch, no constant folding", dict(DYNAMIC, do_constant_folding=False), "pow"),
    13: ("dynamic batch", DYNAMIC, "mul"),
    17: ("plain call", {}, "mul"),
}


class Square(nn.Module):
    """The quadratic activation: x * x exports as Mul(x, x), x ** 2 as Pow(x, 2) (the same function;
    `written` picks the spelling, for the export styles below)."""

    written = "mul"

    def forward(self, x):
        return x ** 2 if self.written == "pow" else x * x


class TinyQuadCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 6, 3)  # 14x14 -> 12x12
        self.square = Square()
        self.pool = nn.AvgPool2d(2)  # defaults: stride 2, padding 0, count_include_pad=True; 12x12 -> 6x6
        self.norm = nn.BatchNorm2d(6)
        self.fc = nn.Linear(6 * 6 * 6, CLASSES)

    def forward(self, x):
        x = self.norm(self.pool(self.square(self.conv(x))))
        return self.fc(x.view(x.size(0), -1))


def synthetic_images(n, rng, templates):
    """n images in [0, 1] (float32, N x 1 x 14 x 14) and their classes: a class's template shifted by
    up to one pixel each way, dimmed or brightened, with Gaussian noise."""
    labels = rng.integers(0, CLASSES, n)
    images = np.empty((n, 1, SIDE, SIDE), np.float32)
    for i, c in enumerate(labels):
        t = np.roll(templates[c], (rng.integers(-1, 2), rng.integers(-1, 2)), axis=(0, 1))
        images[i, 0] = np.clip(t * rng.uniform(0.7, 1.0) + rng.normal(0, NOISE, t.shape), 0, 1)
    return images, labels.astype(np.int64)


def make_templates(rng):
    """One smooth random pattern per class (a few Gaussian blobs)."""
    yy, xx = np.mgrid[0:SIDE, 0:SIDE]
    templates = []
    for _ in range(CLASSES):
        t = np.zeros((SIDE, SIDE))
        for _ in range(3):
            cy, cx = rng.uniform(2, SIDE - 2, 2)
            t += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 6.0)
        templates.append(t / t.max())
    return templates


def train(model, x, y, epochs):
    """Adam on mini-batches of 64 for a fixed number of epochs (a fixed count, not a time, so that a
    rerun with the same torch gives the same model); leaves the model in eval mode."""
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(SEED)
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(xt), generator=gen).split(64):
            opt.zero_grad()
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    model.eval()
    return float(loss)


def run(cmd, log):
    """Runs one nnproof command, logging it with its output; returns (exit code, stdout, stderr, seconds)."""
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True)
    secs = time.monotonic() - t0
    log.write("$ " + " ".join(cmd) + "\n" + p.stdout + p.stderr)
    return p.returncode, p.stdout, p.stderr, secs


def check_opset(opset, model, args, data, work):
    """Export at this opset, then quantize / prove / verify; returns True when verified and agreeing."""
    calib, test, float_pred, truth = data
    d = os.path.join(work, f"opset{opset}")
    os.makedirs(d, exist_ok=True)
    onnx_path, q_path = os.path.join(d, "float.onnx"), os.path.join(d, "q.onnx")
    proof, labels_out = os.path.join(d, "p.nnp"), os.path.join(d, "labels.npy")
    calib_path, test_path = os.path.join(d, "calib.npy"), os.path.join(d, "test.npy")
    np.save(calib_path, calib)
    np.save(test_path, test)
    style, kwargs, model.square.written = EXPORT_STYLES.get(opset, EXPORT_STYLES[13])
    torch.onnx.export(model, torch.from_numpy(test[:1]), onnx_path, opset_version=opset, **kwargs)
    nnproof = args.nnproof
    steps = [
        ("quantize", [nnproof, "quantize", "--model", onnx_path, "--calibration", calib_path, "--out", q_path]),
        ("prove", [nnproof, "prove", "--model", q_path, "--input", test_path, "--proof", proof]),
        ("verify", [nnproof, "verify", "--model", q_path, "--input", test_path, "--proof", proof,
                    "--labels-out", labels_out]),
    ]
    times = {}
    with open(os.path.join(d, "nnproof.log"), "w") as log:
        for name, cmd in steps:
            rc, out, err, times[name] = run(cmd, log)
            if name == "quantize" and rc == 0:
                chose = [line for line in out.splitlines() if "chose alpha=" in line]
                print(f"  opset {opset} ({style}): {chose[-1] if chose else out.strip().splitlines()[-1]}")
            if rc != 0:
                print(f"  opset {opset}: nnproof {name} failed (exit {rc}): {(err or out).strip()}")
                return False
            if name == "verify" and out.strip() != "VERIFIED":
                print(f"  opset {opset}: verify printed {out.strip()!r}, not VERIFIED")
                return False
    verified = np.load(labels_out)
    agreement = float(np.mean(verified == float_pred))
    ok = agreement >= args.min_agreement
    print(f"  opset {opset}: VERIFIED; verified labels agree with PyTorch's float predictions on "
          f"{100 * agreement:.1f}% of {len(test)} samples (need {100 * args.min_agreement:.0f}%), verified "
          f"accuracy {100 * np.mean(verified == truth):.1f}%; "
          f"quantize {times['quantize']:.2f} s, prove {times['prove']:.2f} s, verify {times['verify']:.2f} s"
          + ("" if ok else "  <- FAILED"))
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nnproof", default=os.path.join(REPO, "build", "host", "nnproof"), help="the nnproof binary")
    ap.add_argument("--opsets", default="11,13,17", help="comma-separated ONNX opsets to export (default 11,13,17)")
    ap.add_argument("--epochs", type=int, default=4, help="training epochs (default 4, about 2 s on 2 cores)")
    ap.add_argument("--samples", type=int, default=2000, help="training samples (default 2000)")
    ap.add_argument("--calibration", type=int, default=500, help="calibration samples for quantize (default 500)")
    ap.add_argument("--test", type=int, default=300, help="samples to prove and verify (default 300)")
    ap.add_argument("--min-agreement", type=float, default=0.9,
                    help="the least fraction of verified labels equal to PyTorch's (default 0.9)")
    ap.add_argument("--work-dir", help="keep the files here (default: a temporary directory)")
    args = ap.parse_args()
    if not os.access(args.nnproof, os.X_OK):
        sys.exit(f"{args.nnproof}: no nnproof binary there; build it (cmake --preset release && "
                 "cmake --build build -t nnproof) or pass --nnproof PATH")

    torch.manual_seed(SEED)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    rng = np.random.default_rng(SEED)
    templates = make_templates(rng)
    x_train, y_train = synthetic_images(args.samples, rng, templates)
    x_test, y_test = synthetic_images(args.test, rng, templates)
    model = TinyQuadCnn()
    t0 = time.monotonic()
    loss = train(model, x_train, y_train, args.epochs)
    with torch.no_grad():
        float_pred = model(torch.from_numpy(x_test)).argmax(1).numpy()
    print(f"torch {torch.__version__}: trained {args.epochs} epochs in {time.monotonic() - t0:.1f} s (last loss "
          f"{loss:.3f}); float test accuracy {100 * np.mean(float_pred == y_test):.1f}% on {args.test} samples")

    data = (x_train[: args.calibration], x_test, float_pred, y_test)
    work = args.work_dir or tempfile.mkdtemp(prefix="nnproof-pytorch-")  # removed if every opset passes
    opsets = [int(s) for s in args.opsets.split(",") if s]
    with torch.no_grad():
        results = [check_opset(opset, model, args, data, work) for opset in opsets]
    if not all(results):
        print(f"FAILED for opset(s) {', '.join(str(o) for o, r in zip(opsets, results) if not r)}; "
              f"the files and nnproof's output (nnproof.log) are in {work}")
        return 1
    if args.work_dir:
        print(f"files and nnproof's output (nnproof.log): {work}")
    else:
        shutil.rmtree(work)
    print(f"all {len(opsets)} opsets: trained, exported, quantized, proved and VERIFIED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
