"""PyTorch peer for profiling/bench_gpu.sh: the seed network (models/seed.json) trained and
timed on the GPU with the whole data set resident on the device, in eager mode and under
torch.compile, then inference at several batch sizes; one JSON object on the last line of stdout.

Network: Conv2d(1, 64, 3) -> ReLU -> Flatten -> Linear(26*26*64, 10); Adam(lr 1e-3, betas (0.9,
0.999), eps 1e-7, fused on CUDA); cross-entropy on logits; pixels scaled to [0, 1]; batches drawn
from a fresh permutation each epoch (torch.randperm on the device), the last partial batch kept.
Losses are summed on the device and read once per epoch, as scrawl does.

Timing: a CUDA synchronize before starting and after each epoch. Excluded, and stated in the
JSON: the upload of the data, `--warmup` training steps run first (cuDNN/cuBLAS set-up,
torch.compile's compilation) after which the weights and Adam state are reset, and per batch size
a few warm-up inference calls. Inference feeds slices of the resident test set and stops at the
logits (no softmax, argmax or copy to the host), like `scrawl bench --infer-data device`.

Only stdlib, NumPy and torch; reads the raw IDX files (gzipped ones too) with mnist_idx.py.
    python3 profiling/bench_gpu.py --data DIR [--modes eager,compile] [--smoke]
"""
import argparse
import copy
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# mnist_idx lives beside this file; `python3 profiling/bench_gpu.py` puts this folder on sys.path
# already, but not under -P / PYTHONSAFEPATH.
_here = os.path.dirname(os.path.abspath(__file__))
if _here not in sys.path:
    sys.path.insert(0, _here)
import mnist_idx  # noqa: E402

MODES = {
    "eager": None,
    "compile": "default",
    "compile-cudagraphs": "reduce-overhead",  # torch.compile with CUDA graphs
}


def load_split(data_dir, prefix, limit, dev):
    images, labels = mnist_idx.read_split(data_dir, prefix, allow_gz=True)
    if limit > 0:
        images, labels = images[:limit], labels[:limit]
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)  # (N, 1, 28, 28)
    y = torch.from_numpy(labels.astype(np.int64))  # (N,)
    return x.to(dev), y.to(dev)


def seed_network():
    return nn.Sequential(nn.Conv2d(1, 64, 3), nn.ReLU(), nn.Flatten(), nn.Linear(26 * 26 * 64, 10))


def make_optimizer(model, dev):
    extra = {"fused": True} if dev.type == "cuda" else {}
    return torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7, **extra)


def rate(fn, batch, target_s, sync):
    """Images per second of fn(i) (the i-th call), timed for about target_s after a calibration."""
    sync()
    t0 = time.perf_counter()
    for i in range(4):
        fn(i)
    sync()
    per_call = (time.perf_counter() - t0) / 4
    calls = max(8, min(1_000_000, int(target_s / max(per_call, 1e-7))))
    t0 = time.perf_counter()
    for i in range(calls):
        fn(i)
    sync()
    return calls * batch / (time.perf_counter() - t0)


def run_mode(mode, args, data, dev, sync):
    x_train, y_train, x_test, y_test = data
    torch.manual_seed(args.seed)
    model = seed_network().to(dev)
    init_state = copy.deepcopy(model.state_dict())
    compile_mode = MODES[mode]
    net = model if compile_mode is None else torch.compile(model, mode=compile_mode)
    opt = make_optimizer(model, dev)
    n = x_train.shape[0]
    b = args.batch

    def step(xb, yb):
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(xb), yb)
        loss.backward()
        opt.step()
        return loss.detach()

    # Warm-up on random batches (both sizes an epoch uses), then back to the initial state.
    model.train()
    gen = torch.Generator(device=dev).manual_seed(args.seed + 1)
    sizes = [b] + ([n % b] if n % b else [])
    for i in range(args.warmup):
        idx = torch.randint(0, n, (sizes[i % len(sizes)],), device=dev, generator=gen)
        step(x_train[idx], y_train[idx])
    sync()
    model.load_state_dict(init_state)
    opt = make_optimizer(model, dev)

    epoch_s = []
    losses = []
    sync()
    t_start = time.perf_counter()
    for _ in range(args.epochs):
        t0 = time.perf_counter()
        order = torch.randperm(n, device=dev, generator=gen)
        total = torch.zeros((), device=dev)  # sum of the full batches' mean losses
        last = 0.0
        for i in range(0, n, b):
            idx = order[i:i + b]
            loss = step(x_train[idx], y_train[idx])
            if idx.numel() == b:
                total += loss  # one small kernel a step, as scrawl's stats
            else:
                last = loss * idx.numel()
        losses.append(((total * b + last) / n).item())  # synchronises
        epoch_s.append(time.perf_counter() - t0)
    train_s = time.perf_counter() - t_start

    model.eval()
    with torch.inference_mode():
        correct = 0
        for i in range(0, x_test.shape[0], 1000):
            correct += (model(x_test[i:i + 1000]).argmax(1) == y_test[i:i + 1000]).sum().item()
        accuracy = correct / x_test.shape[0]

    out = {
        "train_seconds": round(train_s, 4),
        "epoch_seconds": [round(s, 4) for s in epoch_s],
        "epoch_losses": [round(v, 4) for v in losses],
        "train_images_per_s": round(n * args.epochs / train_s, 1),
        "test_accuracy": round(accuracy, 4),
    }
    # Inference: its own compiled module for compile modes, warmed up at each batch size.
    infer_net = model if compile_mode is None else torch.compile(model, mode=compile_mode)
    count = x_test.shape[0]
    with torch.inference_mode():
        for bs in args.infer_batches:
            if bs > count:
                out[f"infer_b{bs}_images_per_s"] = None
                continue
            starts = count - bs + 1

            def call(i, bs=bs, starts=starts):
                first = (i * bs) % starts
                infer_net(x_test[first:first + bs])

            for i in range(args.infer_warmup):
                call(i)
            out[f"infer_b{bs}_images_per_s"] = round(rate(call, bs, args.infer_seconds, sync), 1)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.environ.get("SCRAWL_DATA"),
                   help="folder with the four MNIST IDX files, raw or .gz (default: $SCRAWL_DATA)")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--modes", default="eager,compile",
                   help=f"comma-separated, from {', '.join(MODES)} (default: eager,compile)")
    p.add_argument("--infer-batches", default="1,256,8192")
    p.add_argument("--warmup", type=int, default=100, help="training steps before timing")
    p.add_argument("--infer-warmup", type=int, default=5, help="calls per batch size")
    p.add_argument("--infer-seconds", type=float, default=0.5, help="timed per batch size")
    p.add_argument("--train-images", type=int, default=0, help="first N only (default: all)")
    p.add_argument("--test-images", type=int, default=0, help="first N only (default: all)")
    p.add_argument("--smoke", action="store_true",
                   help="tiny sizes, and the CPU when no GPU answers: checks the code path only")
    args = p.parse_args()
    if not args.data:
        p.error("--data DIR is required (or set SCRAWL_DATA)")
    args.modes = [m for m in args.modes.split(",") if m]
    for m in args.modes:
        if m not in MODES:
            p.error(f"unknown mode {m!r}; choose from {', '.join(MODES)}")
    args.infer_batches = [int(v) for v in args.infer_batches.split(",") if v]

    if torch.cuda.is_available():
        dev = torch.device("cuda")
    elif args.smoke:
        dev = torch.device("cpu")
        print("bench_gpu.py: no CUDA device; --smoke runs on the CPU", file=sys.stderr)
    else:
        print("bench_gpu.py: error: no CUDA device answers (torch.cuda.is_available() is False); "
              "this benchmark needs a GPU (--smoke checks the code on the CPU)", file=sys.stderr)
        sys.exit(2)
    if args.smoke:
        args.warmup = min(args.warmup, 4)
        args.infer_warmup = min(args.infer_warmup, 2)
        args.infer_seconds = min(args.infer_seconds, 0.05)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    torch.backends.cudnn.benchmark = True

    data = (*load_split(args.data, "train", args.train_images, dev),
            *load_split(args.data, "t10k", args.test_images, dev))
    sync()

    runs = {}
    for mode in args.modes:
        print(f"bench_gpu.py: {mode} ...", file=sys.stderr)
        try:
            runs[mode] = run_mode(mode, args, data, dev, sync)
        except Exception as e:  # compile back ends fail in many ways; report and go on
            reason = " ".join(f"{type(e).__name__}: {e}".split())[:300]
            runs[mode] = {"error": f"{'compile' if MODES[mode] else mode} failed: {reason}"}
            print(f"bench_gpu.py: {runs[mode]['error']}", file=sys.stderr)
            if dev.type == "cuda":
                torch.cuda.empty_cache()
        print(f"bench_gpu.py: {mode}: {json.dumps(runs[mode])}", file=sys.stderr)

    name = torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu"
    print(json.dumps({
        "framework": f"pytorch {torch.__version__}",
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if dev.type == "cuda" else None,
        "device": dev.type,
        "device_name": name,
        "epochs": args.epochs,
        "batch": args.batch,
        "train_images": data[0].shape[0],
        "test_images": data[2].shape[0],
        "warmup_steps": args.warmup,
        "infer_warmup_calls": args.infer_warmup,
        "runs": runs,
    }))


if __name__ == "__main__":
    main()
