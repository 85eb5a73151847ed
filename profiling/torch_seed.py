"""PyTorch peer for `scrawl bench`: the seed network (models/seed.json) trained and timed the same
way, printing the same JSON keys, so profiling/bench_cpu.sh can put the two side by side.

Network: Conv2d(1, 64, 3) -> ReLU -> Flatten -> Linear(26*26*64, 10); Adam(lr 1e-3, betas (0.9,
0.999), eps 1e-7); cross-entropy; pixels scaled to [0, 1]. Reads the raw IDX files with NumPy
(profiling/mnist_idx.py, no torchvision). Run with Debian's interpreter, which owns python3-torch:
    /usr/bin/python3 profiling/torch_seed.py --data DIR [--epochs 1] [--batch 32] [--threads 2]
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn

# mnist_idx lives beside this file; `python3 profiling/torch_seed.py` puts this folder on sys.path
# already, but not under -P / PYTHONSAFEPATH.
_here = os.path.dirname(os.path.abspath(__file__))
if _here not in sys.path:
    sys.path.insert(0, _here)
import mnist_idx  # noqa: E402


def load_split(data_dir, prefix):
    images, labels = mnist_idx.read_split(data_dir, prefix)
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)  # (N, 1, 28, 28)
    y = torch.from_numpy(labels.astype(np.int64))  # (N,)
    return x, y


def seed_network():
    return nn.Sequential(nn.Conv2d(1, 64, 3), nn.ReLU(), nn.Flatten(), nn.Linear(26 * 26 * 64, 10))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.environ.get("SCRAWL_DATA"),
                   help="directory with the four MNIST IDX files (default: $SCRAWL_DATA)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--infer-b1-images", type=int, default=2000,
                   help="test images timed one at a time (default 2000)")
    p.add_argument("--train-images", type=int, default=0,
                   help="train on the first N images only, for smoke runs (default: all 60000)")
    args = p.parse_args()
    if not args.data:
        p.error("--data DIR is required (or set SCRAWL_DATA; scripts/fetch_mnist.sh prints it)")
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: no CUDA device answers")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    dev = torch.device(args.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)

    x_train, y_train = load_split(args.data, "train")
    x_test, y_test = load_split(args.data, "t10k")
    if args.train_images > 0:
        x_train, y_train = x_train[:args.train_images], y_train[:args.train_images]
    x_train, y_train = x_train.to(dev), y_train.to(dev)
    x_test, y_test = x_test.to(dev), y_test.to(dev)

    model = seed_network().to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(args.seed)

    # Training: shuffled mini-batches, the last partial batch included (as Keras does).
    n = x_train.shape[0]
    model.train()
    sync()
    t0 = time.perf_counter()
    for epoch in range(args.epochs):
        order = torch.randperm(n, generator=gen).to(dev)
        total, count = 0.0, 0
        for i in range(0, n, args.batch):
            idx = order[i:i + args.batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x_train[idx]), y_train[idx])
            loss.backward()
            opt.step()
            total += loss.item() * idx.numel()
            count += idx.numel()
        print(f"epoch {epoch + 1}: loss {total / count:.4f}", file=sys.stderr)
    sync()
    train_seconds = time.perf_counter() - t0

    model.eval()
    with torch.inference_mode():
        # Accuracy over the whole test set.
        correct = 0
        for i in range(0, x_test.shape[0], 256):
            correct += (model(x_test[i:i + 256]).argmax(1) == y_test[i:i + 256]).sum().item()
        accuracy = correct / x_test.shape[0]

        # Batch 1: one image per call, as a server without batching would run; warm up first.
        k = min(args.infer_b1_images, x_test.shape[0])
        for i in range(20):
            model(x_test[i:i + 1])
        sync()
        t0 = time.perf_counter()
        for i in range(k):
            model(x_test[i:i + 1]).argmax(1).tolist()
        sync()
        b1 = k / (time.perf_counter() - t0)

        # Batch 256: the whole test set.
        model(x_test[:256])
        sync()
        t0 = time.perf_counter()
        for i in range(0, x_test.shape[0], 256):
            model(x_test[i:i + 256]).argmax(1).tolist()
        sync()
        b256 = x_test.shape[0] / (time.perf_counter() - t0)

    print(json.dumps({
        "framework": f"pytorch {torch.__version__}",
        "epochs": args.epochs,
        "batch": args.batch,
        "train_seconds": round(train_seconds, 3),
        "train_images_per_s": round(n * args.epochs / train_seconds, 1),
        "infer_b1_images_per_s": round(b1, 1),
        "infer_b256_images_per_s": round(b256, 1),
        "test_accuracy": round(accuracy, 4),
        "device": args.device,
        "threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
