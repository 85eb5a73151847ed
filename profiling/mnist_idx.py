"""Reads the raw MNIST IDX files with NumPy (no torchvision), for profiling/bench_gpu.py and
profiling/torch_seed.py. Stdlib and NumPy only.
"""
import gzip
import os
import struct
import sys

import numpy as np


def read_idx(path, magic, dims, allow_gz=False):
    """One IDX file, its magic number and dimension count checked; with allow_gz, PATH.gz when
    PATH itself is missing. Exits with a message naming the file when a check fails."""
    if allow_gz and not os.path.exists(path) and os.path.exists(path + ".gz"):
        path += ".gz"
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    got, = struct.unpack(">I", data[:4])
    if got != magic:
        sys.exit(f"{path}: magic {got:#x}, expected {magic:#x} (not an IDX file?)")
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims)
    if body.size != int(np.prod(shape)):
        sys.exit(f"{path}: {body.size} bytes of data, header says {shape}")
    return body.reshape(shape)


def read_split(data_dir, prefix, allow_gz=False):
    """The images (N, 28, 28) and labels (N,) of one split, prefix "train" or "t10k", as uint8
    arrays read from DATA_DIR/<prefix>-images-idx3-ubyte and <prefix>-labels-idx1-ubyte."""
    images = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte"), 0x803, 3, allow_gz)
    labels = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte"), 0x801, 1, allow_gz)
    return images, labels
