#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Reads the Fashion-MNIST data set from its IDX files into numpy arrays.

Fashion-MNIST (Zalando Research) is 70,000 grayscale 28x28 images of clothing in 10 classes,
60,000 for training and 10,000 for testing, in the same IDX format as MNIST. Debian ships it:

    apt-get install dataset-fashion-mnist

which puts the four files under /usr/share/datasets/fashion-mnist/ (gzip-compressed). Both the
.gz files and uncompressed copies are accepted. Another directory can be named with the
FASHION_MNIST_DIR environment variable or the `data_dir` argument.

Depends only on numpy and the standard library, so scripts without torch can import it:

    from fashion_mnist import load
    images, labels = load("test")   # float32 (10000, 1, 28, 28) in [0, 1], int64 (10000,)

As a command, it writes the first COUNT images and labels of a split as .npy files:

    /usr/bin/python3 examples/fashion_mnist/fashion_mnist.py --split test --count 1000 \
        --images-out X.npy --labels-out y.npy
"""
import argparse
import gzip
import os
import struct
import sys

import numpy as np

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"

# File name stems for each split: (images, labels). The files are FILE or FILE.gz.
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

# IDX magic: two zero bytes, a type code (0x08 = unsigned byte) and the number of dimensions.
_IDX_UBYTE = 0x08


def data_dir():
    """The directory to read from: $FASHION_MNIST_DIR if set, else Debian's location."""
    return os.environ.get("FASHION_MNIST_DIR", DEFAULT_DIR)


def _find(directory, stem):
    """Path of STEM or STEM.gz in DIRECTORY, or a FileNotFoundError that says how to get it."""
    for name in (stem, stem + ".gz"):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(
        f"Fashion-MNIST file {os.path.join(directory, stem)}[.gz] not found. "
        f"Install the data set with `apt-get install dataset-fashion-mnist` "
        f"(it goes to {DEFAULT_DIR}), or set FASHION_MNIST_DIR to a directory holding the IDX files.")


def read_idx(path):
    """Reads one IDX file of unsigned bytes (gzip-compressed if its name ends in .gz) into a uint8 array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4:
        raise ValueError(f"{path}: too short for an IDX header")
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != _IDX_UBYTE:
        raise ValueError(f"{path}: not an unsigned-byte IDX file (magic {data[:4].hex()})")
    header = 4 + 4 * ndim
    shape = struct.unpack(f">{ndim}I", data[4:header])
    count = int(np.prod(shape))
    if len(data) - header != count:
        raise ValueError(f"{path}: header says {shape} ({count} bytes) but {len(data) - header} bytes follow")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def load(split, count=None, directory=None):
    """Images and labels of SPLIT ("train" or "test").

    Returns (images, labels): images float32 of shape (n, 1, 28, 28) with pixel values scaled to
    [0, 1], labels int64 of shape (n,) in 0..9. COUNT, if given, keeps only the first COUNT examples.
    """
    if split not in FILES:
        raise ValueError(f"split must be one of {sorted(FILES)}, not {split!r}")
    directory = directory or data_dir()
    image_stem, label_stem = FILES[split]
    images = read_idx(_find(directory, image_stem))
    labels = read_idx(_find(directory, label_stem))
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(f"unexpected shapes: images {images.shape}, labels {labels.shape}")
    if count is not None:
        if not 0 < count <= images.shape[0]:
            raise ValueError(f"count must be in 1..{images.shape[0]}, not {count}")
        images, labels = images[:count], labels[:count]
    images = (images.astype(np.float32) / 255.0)[:, None, :, :]
    return images, labels.astype(np.int64)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Write Fashion-MNIST images and labels as .npy files.")
    parser.add_argument("--split", choices=sorted(FILES), default="test")
    parser.add_argument("--count", type=int, default=None, help="keep the first COUNT examples (default: all)")
    parser.add_argument("--images-out", required=True, help="float32 (count, 1, 28, 28) in [0, 1]")
    parser.add_argument("--labels-out", help="int64 (count,)")
    parser.add_argument("--data-dir", default=None, help=f"directory of the IDX files (default: {DEFAULT_DIR})")
    args = parser.parse_args(argv)
    try:
        images, labels = load(args.split, args.count, args.data_dir)
    except (FileNotFoundError, ValueError) as e:
        sys.exit(f"fashion_mnist.py: {e}")
    np.save(args.images_out, images)
    print(f"wrote {args.images_out} ({images.dtype}, shape {images.shape})")
    if args.labels_out:
        np.save(args.labels_out, labels)
        print(f"wrote {args.labels_out} ({labels.dtype}, shape {labels.shape})")


if __name__ == "__main__":
    main()
