#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Trains the two SafetyNets-style quadratic networks on Fashion-MNIST and exports them to ONNX.

SafetyNets (Ghodsi, Gu and Garg, NeurIPS 2017) verifies inference of networks whose activations
are x^2 and whose pooling is sum/average pooling, since those are the operations its interactive
proof (a sum-check over a finite field) can express. This script trains two such networks:

  cnn2quad  Conv2d(1,16,5) -> x*x -> AvgPool2d(2) -> Conv2d(16,32,5) -> x*x -> AvgPool2d(2)
            -> Flatten -> Linear(512,10)
  fcquad    Flatten -> Linear(784,128) -> x*x -> Linear(128,10)

Inputs are the raw pixels scaled to [0, 1] (no mean/std normalization, which keeps later integer
quantization simple); outputs are the 10 class logits (no softmax). Each model is exported with
torch.onnx.export (opset 13, constant folding on, input "input", output "logits", dynamic batch),
checked with onnx.checker, and run through the small numpy ONNX evaluator below on 100 test images
to confirm that it gives the same classes as PyTorch.

Written files (in --out-dir, default this directory):
  cnn2quad_float.onnx, fcquad_float.onnx
  float_results.json   test accuracy (full 10,000-image test set, float PyTorch model), parameter
                       count, and the largest absolute weights and layer outputs seen on the
                       training and test sets, for choosing quantization scales.

Run with the system Python, which has torch (Debian's python3-torch), numpy and onnx:
  apt-get install python3-torch dataset-fashion-mnist
  /usr/bin/python3 examples/fashion_mnist/train.py [--model cnn2quad|fcquad|both] [--epochs N]

Training runs on the CPU with fixed seeds and deterministic algorithms, so a rerun on the same
machine with the same torch version and --threads reproduces the same weights.
"""
import argparse
import json
import os
import sys
import time

# libgomp's threads spin while they wait by default; when other processes keep the cores busy
# (a parallel build, say) that slows training down by an order of magnitude. Passive waiting
# costs little on an idle machine. This has to be set before torch loads the OpenMP runtime.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fashion_mnist  # noqa: E402  (the loader beside this script)

SEED = 20171204
OPSET = 13
ALLOWED_OPS = {"Conv", "Mul", "AveragePool", "Flatten", "Gemm"}


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------

class Square(nn.Module):
    """The quadratic activation x^2, written as x * x so that ONNX export gives Mul(x, x)."""

    def forward(self, x):
        return x * x


def avg_pool2():
    """2x2 average pooling with stride 2 and no padding.

    count_include_pad=False changes nothing numerically here (there is no padding), but with the
    default True, torch.onnx.export writes an all-zero Pad node (plus its Constant) before every
    AveragePool. With False it writes a single AveragePool(kernel 2x2, stride 2, pads 0)."""
    return nn.AvgPool2d(2, count_include_pad=False)


def cnn2quad():
    """The SafetyNets convolutional network: two 5x5 convolutions, each followed by x^2 and 2x2
    average pooling, then one fully connected layer. 28x28 -> 24x24 -> 12x12 -> 8x8 -> 4x4."""
    return nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=5),    # (n, 16, 24, 24)
        Square(),
        avg_pool2(),                        # (n, 16, 12, 12)
        nn.Conv2d(16, 32, kernel_size=5),   # (n, 32, 8, 8)
        Square(),
        avg_pool2(),                        # (n, 32, 4, 4)
        nn.Flatten(),                       # (n, 512)
        nn.Linear(512, 10),
    )


def fcquad():
    """A fully connected quadratic network of MNIST size: 784 -> 128 -> x^2 -> 10."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 128),
        Square(),
        nn.Linear(128, 10),
    )


# Per model: constructor and default training settings. Adam with a modest learning rate,
# gradient-norm clipping (as in the paper) and a little weight decay keeps the squares from
# blowing up and keeps weights and activations small for quantization. The learning rate
# decays along a cosine to zero over the run.
MODELS = {
    "cnn2quad": dict(build=cnn2quad, epochs=15, lr=1e-3, weight_decay=1e-4, batch_size=64, clip=1.0),
    "fcquad": dict(build=fcquad, epochs=15, lr=1e-3, weight_decay=1e-4, batch_size=64, clip=1.0),
}


def count_parameters(model):
    return sum(p.numel() for p in model.parameters())


# --------------------------------------------------------------------------------------------
# Training and evaluation
# --------------------------------------------------------------------------------------------

def seed_everything(seed):
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.use_deterministic_algorithms(True)


@torch.no_grad()
def accuracy(model, images, labels, batch_size=1000):
    """Fraction of IMAGES (a float tensor) whose argmax logit equals LABELS."""
    model.eval()
    correct = 0
    for i in range(0, len(images), batch_size):
        logits = model(images[i:i + batch_size])
        correct += (logits.argmax(dim=1) == labels[i:i + batch_size]).sum().item()
    return correct / len(images)


def train(name, cfg, epochs, train_x, train_y, test_x, test_y):
    """Builds model NAME and trains it for EPOCHS epochs; returns the trained model."""
    seed_everything(SEED)
    model = cfg["build"]()
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    steps_per_epoch = (len(train_x) + cfg["batch_size"] - 1) // cfg["batch_size"]
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch)
    loss_fn = nn.CrossEntropyLoss()
    shuffler = torch.Generator().manual_seed(SEED)
    print(f"[{name}] {count_parameters(model)} parameters; {epochs} epochs, Adam lr={cfg['lr']}, "
          f"weight decay {cfg['weight_decay']}, batch {cfg['batch_size']}, grad clip {cfg['clip']}")
    for epoch in range(1, epochs + 1):
        model.train()
        start, total_loss, seen = time.time(), 0.0, 0
        order = torch.randperm(len(train_x), generator=shuffler)
        for i in range(0, len(order), cfg["batch_size"]):
            idx = order[i:i + cfg["batch_size"]]
            x, y = train_x[idx], train_y[idx]
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            if not torch.isfinite(loss):
                sys.exit(f"[{name}] loss became {loss.item()} in epoch {epoch}; lower the learning rate")
            loss.backward()
            # Squares make gradients grow fast; clipping their norm keeps single steps bounded.
            nn.utils.clip_grad_norm_(model.parameters(), cfg["clip"])
            opt.step()
            sched.step()
            total_loss += loss.item() * len(idx)
            seen += len(idx)
        acc = accuracy(model, test_x, test_y)
        print(f"[{name}] epoch {epoch}/{epochs}: train loss {total_loss / seen:.4f}, "
              f"test accuracy {acc:.4f} ({time.time() - start:.1f} s)")
    model.eval()
    return model


@torch.no_grad()
def max_abs_weights(model):
    """Largest absolute value of each parameter tensor."""
    return {name: float(p.abs().max()) for name, p in model.named_parameters()}


@torch.no_grad()
def max_abs_activations(model, images, batch_size=1000):
    """Largest absolute value of each layer's output over IMAGES, keyed "index.Layer" as in the
    nn.Sequential (the input pixels are in [0, 1], so max |input| <= 1)."""
    acts = {}
    for i in range(0, len(images), batch_size):
        x = images[i:i + batch_size]
        for idx, layer in enumerate(model):
            x = layer(x)
            key = f"{idx}.{type(layer).__name__}"
            acts[key] = max(acts.get(key, 0.0), float(x.abs().max()))
    return acts


# --------------------------------------------------------------------------------------------
# ONNX export and a numpy evaluator to check it
# --------------------------------------------------------------------------------------------

def export_onnx(model, path):
    dummy = torch.zeros(1, 1, 28, 28)
    torch.onnx.export(
        model, dummy, path,
        opset_version=OPSET,
        do_constant_folding=True,
        input_names=["input"],
        output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
    )
    onnx_model = onnx.load(path)
    onnx.checker.check_model(onnx_model, full_check=True)
    # Only the operations a SafetyNets-style prover handles (and the evaluator below knows).
    ops = {n.op_type for n in onnx_model.graph.node}
    if not ops <= ALLOWED_OPS:
        sys.exit(f"{path}: unexpected ONNX ops {sorted(ops - ALLOWED_OPS)}")
    return onnx_model


def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _conv(x, w, b, a):
    """ONNX Conv for group 1 and dilation 1, by gathering patches (im2col) and one matmul."""
    if a.get("group", 1) != 1 or any(d != 1 for d in a.get("dilations", [1, 1])):
        raise NotImplementedError("Conv with groups or dilations")
    pads = a.get("pads", [0, 0, 0, 0])
    sh, sw = a.get("strides", [1, 1])
    x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    n, c, h, wd = x.shape
    m, _, kh, kw = w.shape
    oh, ow = (h - kh) // sh + 1, (wd - kw) // sw + 1
    cols = np.empty((n, c, kh, kw, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = x[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw]
    y = np.einsum("nckloq,mckl->nmoq", cols, w, optimize=True)
    return y + b.reshape(1, m, 1, 1) if b is not None else y


def _average_pool(x, a):
    """ONNX AveragePool without padding and with the stride equal to the kernel size."""
    kh, kw = a["kernel_shape"]
    if list(a.get("strides", [1, 1])) != [kh, kw] or any(a.get("pads", [0] * 4)) or a.get("ceil_mode", 0):
        raise NotImplementedError(f"AveragePool with attributes {a}")
    n, c, h, w = x.shape
    x = x[:, :, :h - h % kh, :w - w % kw]
    return x.reshape(n, c, h // kh, kh, w // kw, kw).mean(axis=(3, 5))


def run_onnx_numpy(onnx_model, x):
    """Evaluates ONNX_MODEL on X in float64 with numpy, for the ops in ALLOWED_OPS.
    (onnx.reference.ReferenceEvaluator would do, but it needs onnx >= 1.13 and Debian 12 has 1.12.)"""
    env = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in onnx_model.graph.initializer}
    env[onnx_model.graph.input[0].name] = x.astype(np.float64)
    for node in onnx_model.graph.node:
        ins = [env[i] if i else None for i in node.input]
        a = _attrs(node)
        op = node.op_type
        if op == "Conv":
            out = _conv(ins[0], ins[1], ins[2] if len(ins) > 2 else None, a)
        elif op == "Mul":
            out = ins[0] * ins[1]
        elif op == "AveragePool":
            out = _average_pool(ins[0], a)
        elif op == "Flatten":
            axis = a.get("axis", 1)
            out = ins[0].reshape(int(np.prod(ins[0].shape[:axis])), -1)
        elif op == "Gemm":
            A = ins[0].T if a.get("transA", 0) else ins[0]
            B = ins[1].T if a.get("transB", 0) else ins[1]
            out = a.get("alpha", 1.0) * (A @ B)
            if len(ins) > 2 and ins[2] is not None:
                out = out + a.get("beta", 1.0) * ins[2]
        else:
            raise NotImplementedError(f"op {op} in the numpy evaluator")
        env[node.output[0]] = out
    return env[onnx_model.graph.output[0].name]


def check_onnx(name, model, onnx_model, images, count=100):
    """Checks that the ONNX graph (numpy) and PyTorch agree on the first COUNT test images."""
    x = images[:count]
    with torch.no_grad():
        ref = model(x).double().numpy()
    got = run_onnx_numpy(onnx_model, x.numpy())
    same = int((ref.argmax(1) == got.argmax(1)).sum())
    diff = float(np.abs(ref - got).max())
    print(f"[{name}] ONNX (numpy) vs PyTorch on {count} test images: same argmax {same}/{count}, "
          f"max |logit difference| {diff:.2e}")
    if same != count:
        sys.exit(f"[{name}] the exported ONNX graph disagrees with PyTorch")
    return diff


# --------------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=["cnn2quad", "fcquad", "both"], default="both")
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs per model (default: " +
                             ", ".join(f"{k} {v['epochs']}" for k, v in MODELS.items()) + ")")
    parser.add_argument("--out-dir", default=HERE, help="where to write the .onnx files and float_results.json")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    os.makedirs(args.out_dir, exist_ok=True)
    names = list(MODELS) if args.model == "both" else [args.model]

    train_x, train_y = fashion_mnist.load("train")
    test_x, test_y = fashion_mnist.load("test")
    train_x, train_y = torch.from_numpy(train_x), torch.from_numpy(train_y)
    test_x, test_y = torch.from_numpy(test_x), torch.from_numpy(test_y)

    # Keep the results of a model not retrained in this run.
    results_path = os.path.join(args.out_dir, "float_results.json")
    results = {}
    if os.path.exists(results_path):
        with open(results_path) as f:
            results = json.load(f)

    for name in names:
        cfg = MODELS[name]
        epochs = args.epochs or cfg["epochs"]
        start = time.time()
        model = train(name, cfg, epochs, train_x, train_y, test_x, test_y)
        train_seconds = time.time() - start

        acc = accuracy(model, test_x, test_y)
        path = os.path.join(args.out_dir, f"{name}_float.onnx")
        onnx_model = export_onnx(model, path)
        diff = check_onnx(name, model, onnx_model, test_x)
        ops = [n.op_type for n in onnx_model.graph.node]
        print(f"[{name}] test accuracy {acc:.4f}; wrote {path}: {' -> '.join(ops)}")

        results[name] = {
            "test_accuracy": acc,
            "parameters": count_parameters(model),
            "epochs": epochs,
            "train_seconds": round(train_seconds, 1),
            "onnx": os.path.basename(path),
            "onnx_ops": ops,
            "onnx_vs_torch_max_abs_logit_diff": diff,
            "input": "float32 (batch, 1, 28, 28), pixel / 255 in [0, 1]",
            "max_abs_weight": max_abs_weights(model),
            "max_abs_activation_train": max_abs_activations(model, train_x),
            "max_abs_activation_test": max_abs_activations(model, test_x),
        }

    with open(results_path, "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    print(f"wrote {results_path}")


if __name__ == "__main__":
    main()
