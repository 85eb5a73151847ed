#!/usr/bin/env bash
# scrawl against PyTorch on one GPU, on the seed network (models/seed.json), in one run:
#   training: N epochs (default 5) at batch B (default 32), the whole set resident on the device
#             (scrawl train --device cuda --data-placement device, CUDA Graph replay on);
#             PyTorch eager, torch.compile and torch.compile with CUDA graphs, the same data on
#             the device, Adam lr 0.001, reshuffled each epoch (profiling/bench_gpu.py);
#   inference: images per second at batch 1, 256 and 8192 from the resident test set, to the
#             logits (scrawl bench --infer-only --infer-data device; the same in PyTorch).
# Prints a table with the ratios scrawl/PyTorch and the issue's targets, and writes it with the
# GPU's name, the date and the command to profiling/results/<date>-gpu-<gpu-name>.md.
#
# Usage: profiling/bench_gpu.sh [--epochs 5] [--batch 32] [--infer-batches 1,256,8192]
#                               [--modes eager,compile,compile-cudagraphs] [--scrawl-only]
#                               [--torch-only] [--no-save] [--smoke]
#   --smoke   a check of the script itself: 512 training and 256 test images, one epoch, small
#             batches, on the CPU when no GPU answers; writes its report to a temporary folder
# Env: SCRAWL_BIN   the scrawl binary (default build/scrawl; .gpu-bundle/env.sh sets it)
#      SCRAWL_DATA  MNIST folder (default: scripts/fetch_mnist.sh; env.sh sets it)
#      SCRAWL_PYTHON  interpreter with torch and numpy (default: python3, else /usr/bin/python3)
# Timing: scrawl's figure is the sum of its epochs as `scrawl train` reports them (its one-off
# set-up, graph capture and cuDNN tuning included, the data upload and per-epoch test excluded);
# PyTorch's excludes warm-up steps, stated in the report. Without a GPU (and no --smoke): exit 2.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

log() { printf 'bench_gpu: %s\n' "$*" >&2; }
die() {  # message [exit status, default 1]
  log "error: $1"
  exit "${2:-1}"
}

epochs=5
batch=32
infer_batches="1,256,8192"
modes="eager,compile,compile-cudagraphs"
run_scrawl=1
run_torch=1
save=1
smoke=0
invocation="profiling/bench_gpu.sh${*:+ $*}"
while (($#)); do
  case "$1" in
    --epochs) epochs="${2:?}"; shift 2 ;;
    --batch) batch="${2:?}"; shift 2 ;;
    --infer-batches) infer_batches="${2:?}"; shift 2 ;;
    --modes) modes="${2:?}"; shift 2 ;;
    --scrawl-only) run_torch=0; shift ;;
    --torch-only) run_scrawl=0; shift ;;
    --no-save) save=0; shift ;;
    --smoke) smoke=1; shift ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
      exit 0
      ;;
    *) die "unknown argument: $1 (try --help)" ;;
  esac
done

# ---- what runs where ----
bin="${SCRAWL_BIN:-build/scrawl}"
arch=models/seed.json
[[ -f "$arch" || -z "${SCRAWL_BUNDLE:-}" ]] || arch="$SCRAWL_BUNDLE/models/seed.json"
[[ -f "$arch" ]] || die "models/seed.json not found"

# Python runs with the environment it had before .gpu-bundle/env.sh: the bundle's libraries are
# for scrawl only.
py_env=(env)
[[ -z "${SCRAWL_LD_LIBRARY_PATH_BEFORE+x}" ]] ||
  py_env=(env LD_LIBRARY_PATH="$SCRAWL_LD_LIBRARY_PATH_BEFORE")
py="${SCRAWL_PYTHON:-}"
if [[ -z "$py" ]]; then
  for cand in python3 /usr/bin/python3; do
    if command -v "$cand" >/dev/null && "${py_env[@]}" "$cand" -c 'import torch, numpy' 2>/dev/null; then
      py="$cand"
      break
    fi
  done
fi
[[ -n "$py" ]] || die "no python3 with torch and numpy (set SCRAWL_PYTHON)"

if ((run_scrawl)); then
  [[ -x "$bin" ]] || die "$bin not found: build it (bash scripts/build.sh) or set SCRAWL_BIN"
  [[ "$("$bin" bench --help 2>&1)" == *--infer-data* ]] ||
    die "$bin bench has no --infer-data: rebuild it"
fi

# Is there a GPU? Ask PyTorch (it needs one anyway) or, for --scrawl-only, nvidia-smi.
gpu_name=""
if ((run_torch)); then
  gpu_name="$("${py_env[@]}" "$py" -c 'import torch
print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")' 2>/dev/null || true)"
elif command -v nvidia-smi >/dev/null; then
  gpu_name="$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1 || true)"
fi
if [[ -z "$gpu_name" ]] && ((!smoke)); then
  die "no CUDA device answers here; this benchmark needs a GPU (--smoke checks the script on the CPU)" 2
fi
device=cuda
[[ -n "$gpu_name" ]] || device=cpu

work="$(mktemp -d "${TMPDIR:-/tmp}/scrawl-bench-gpu.XXXXXX")"
trap 'rm -rf "$work"' EXIT

data="${SCRAWL_DATA:-}"
[[ -n "$data" ]] || data="$(bash scripts/fetch_mnist.sh | tail -n 1)"
[[ -f "$data/train-images-idx3-ubyte" ]] || die "no MNIST in $data (run scripts/fetch_mnist.sh)"

if ((smoke)); then
  # A small copy of MNIST that both sides read, so the CPU gets through it in seconds.
  "${py_env[@]}" "$py" - "$data" "$work/mnist" <<'PY'
import os, struct, sys
src, dst = sys.argv[1], sys.argv[2]
os.makedirs(dst)
for prefix, count in (("train", 512), ("t10k", 256)):
    for kind, dims in (("images-idx3-ubyte", 3), ("labels-idx1-ubyte", 1)):
        name = f"{prefix}-{kind}"
        with open(os.path.join(src, name), "rb") as f:
            head = f.read(4 + 4 * dims)
            shape = list(struct.unpack(">" + "I" * dims, head[4:]))
            item = 1
            for d in shape[1:]:
                item *= d
            body = f.read(count * item)
        shape[0] = count
        with open(os.path.join(dst, name), "wb") as f:
            f.write(head[:4] + struct.pack(">" + "I" * dims, *shape) + body)
PY
  data="$work/mnist"
  epochs=1
  infer_batches="1,16,64"
  log "smoke: 512 training and 256 test images, 1 epoch, inference at $infer_batches, on $device"
fi

# ---- scrawl ----
train_cmd=("$bin" train --data "$data" --arch "$arch" --out "$work/seed.scrawl" --epochs "$epochs"
  --batch "$batch" --device "$device" --quiet --json)
[[ "$device" == cpu ]] || train_cmd+=(--data-placement device)
infer_cmd=("$bin" bench --arch "$arch" --data "$data" --device "$device" --infer-only
  --infer-data device --infer-batches "$infer_batches" --json)
torch_cmd=("$py" profiling/bench_gpu.py --data "$data" --epochs "$epochs" --batch "$batch"
  --modes "$modes" --infer-batches "$infer_batches")
((smoke)) && torch_cmd+=(--smoke)

if ((run_scrawl)); then
  log "scrawl: ${train_cmd[*]}"
  "${train_cmd[@]}" >"$work/scrawl_train.out" 2>"$work/scrawl_train.err" ||
    die "scrawl train failed: $(tail -n 5 "$work/scrawl_train.err")"
  log "scrawl: ${infer_cmd[*]}"
  "${infer_cmd[@]}" >"$work/scrawl_infer.out" 2>"$work/scrawl_infer.err" ||
    die "scrawl bench failed: $(tail -n 5 "$work/scrawl_infer.err")"
fi
if ((run_torch)); then
  log "pytorch: ${torch_cmd[*]}"
  "${py_env[@]}" PYTHONUNBUFFERED=1 "${torch_cmd[@]}" >"$work/torch.out" ||
    die "bench_gpu.py failed (exit $?)"
fi

# ---- report ----
stamp="$(date +%Y-%m-%d)"
slug="$(tr '[:upper:]' '[:lower:]' <<<"${gpu_name:-cpu}" | sed -e 's/[^a-z0-9]\{1,\}/-/g' -e 's/^-//' -e 's/-$//')"
if ((smoke)); then
  out="$work/$stamp-gpu-$slug-smoke.md"
elif ((save)); then
  mkdir -p profiling/results
  out="profiling/results/$stamp-gpu-$slug.md"
  [[ -e "$out" ]] && out="profiling/results/$stamp-$(date +%H%M%S)-gpu-$slug.md"
else
  out=""
fi

# What goes into the report names no path of this machine.
shown() {
  local s="$*"
  s="${s//"$work/mnist"/\$SCRAWL_DATA}"
  s="${s//"$data"/\$SCRAWL_DATA}"
  s="${s//"$work"/\$TMP}"
  s="${s//"$bin"/\$SCRAWL_BIN}"
  s="${s//"$root/"/}"
  printf '%s' "$s"
}
driver="$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -n 1 || true)"
rev="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
git diff --quiet HEAD 2>/dev/null || rev="$rev (with local changes)"

WORK="$work" RESULT_FILE="$out" INVOCATION="$invocation" GPU="${gpu_name:-none (CPU smoke run)}" \
  DRIVER="${driver:-unknown}" REV="$rev" SMOKE="$smoke" RUN_SCRAWL="$run_scrawl" \
  RUN_TORCH="$run_torch" TRAIN_SHOWN="$(shown "${train_cmd[*]}")" \
  INFER_SHOWN="$(shown "${infer_cmd[*]}")" TORCH_SHOWN="$(shown "${torch_cmd[*]}")" \
  INFER_BATCHES="$infer_batches" EPOCHS="$epochs" BATCH="$batch" \
  "${py_env[@]}" "$py" - <<'PY'
import datetime
import json
import os

env = os.environ
work = env["WORK"]


def last_json(name):
    """The last line of a program's stdout that parses as a JSON object."""
    path = os.path.join(work, name)
    if not os.path.exists(path):
        return None
    for line in reversed(open(path).read().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                pass
    raise SystemExit(f"bench_gpu: error: no JSON object in {name}")


train = last_json("scrawl_train.out")
infer = last_json("scrawl_infer.out")
torch_r = last_json("torch.out")
batches = [int(b) for b in env["INFER_BATCHES"].split(",") if b]
epochs = int(env["EPOCHS"])

# One column per system: scrawl, then each PyTorch mode (or its failure).
cols = []
if train:
    ep = [e["seconds"] for e in train["epochs_detail"]]
    col = {"name": "scrawl", "train_seconds": train["train_seconds"], "epoch_seconds": ep,
           "test_accuracy": train["test_accuracy"]}
    for b in batches:
        col[f"infer_b{b}_images_per_s"] = infer.get(f"infer_b{b}_images_per_s")
    cols.append(col)
failures = []
if torch_r:
    for mode, r in torch_r["runs"].items():
        if "error" in r:
            failures.append(f"PyTorch {mode}: {r['error']}")
        else:
            cols.append({"name": f"pytorch {mode}", **r})


def fmt(v, key):
    if v is None:
        return "-"
    if key == "epoch_seconds":
        return " / ".join(f"{s:.3f}" for s in v)
    if key == "test_accuracy":
        return f"{v:.4f}"
    if key == "train_seconds":
        return f"{v:.3f} s"
    return f"{v:,.0f}"


rows = [("train_seconds", f"{epochs} epochs, batch {env['BATCH']}"),
        ("epoch_seconds", "seconds per epoch"),
        ("test_accuracy", f"test accuracy after {epochs} epochs")]
rows += [(f"infer_b{b}_images_per_s", f"inference, batch {b} (images/s)") for b in batches]

scrawl_col = cols[0] if cols and cols[0]["name"] == "scrawl" else None
header = ["metric"] + [c["name"] for c in cols]
ratio_cols = [c for c in cols if c is not scrawl_col] if scrawl_col else []
header += [f"scrawl / {c['name'].replace('pytorch ', 'pt ')}" for c in ratio_cols]
table_rows = []
for key, label in rows:
    line = [label] + [fmt(c.get(key), key) for c in cols]
    for c in ratio_cols:
        s, t = scrawl_col.get(key), c.get(key)
        if key == "epoch_seconds" or s is None or t is None or not s:
            line.append("")
        elif key == "train_seconds":
            line.append(f"{t / s:.2f}x")
        elif key == "test_accuracy":
            line.append(f"{(s - t) * 100:+.2f} pts")
        else:
            line.append(f"{s / t:.2f}x")
    table_rows.append(line)
widths = [max(len(r[i]) for r in table_rows + [header]) for i in range(len(header))]
fmt_line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"
table = "\n".join([fmt_line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
                  + [fmt_line(r) for r in table_rows])

targets = []
if scrawl_col and env["SMOKE"] != "1":
    t = scrawl_col["train_seconds"]
    targets.append(f"- {epochs} epochs in under 1 s: {'met' if t < 1 else 'NOT met'} ({t:.3f} s)")
    peers = [c for c in ratio_cols if c.get("train_seconds")]
    if peers:
        best = min(peers, key=lambda c: c["train_seconds"])
        eager = next((c for c in peers if c["name"] == "pytorch eager"), None)
        line = f"- at least 5x PyTorch in training: "
        parts = []
        if eager:
            parts.append(f"{eager['train_seconds'] / t:.2f}x eager")
        parts.append(f"{best['train_seconds'] / t:.2f}x the fastest PyTorch ({best['name']})")
        ok = best["train_seconds"] / t >= 5
        targets.append(line + ("met" if ok else "NOT met") + " (" + ", ".join(parts) + ")")
    v = scrawl_col.get("infer_b8192_images_per_s")
    if v is not None:
        targets.append(f"- inference at batch 8192 at least 10 million images/s: "
                       f"{'met' if v >= 1e7 else 'NOT met'} ({v:,.0f} images/s)")

print(table)
for line in targets + [f"- {f}" for f in failures]:
    print(line)

if env["RESULT_FILE"]:
    warm = (f"{torch_r['warmup_steps']} training steps, then weights and Adam state reset; "
            f"{torch_r['infer_warmup_calls']} calls per inference batch size") if torch_r else "-"
    md = f"""# GPU, seed network: scrawl against PyTorch{" (smoke run, not figures)" if env["SMOKE"] == "1" else ""}

- date: {datetime.datetime.now().strftime("%Y-%m-%d %H:%M")}
- GPU: {env["GPU"]}, driver {env["DRIVER"]}
- scrawl: git {env["REV"]}{f"; backend: {infer.get('description')}" if infer else ""}
- peer: {torch_r["framework"] + f" (CUDA {torch_r['cuda']}, cuDNN {torch_r['cudnn']})" if torch_r else "not run"}
- command: `{env["INVOCATION"]}`
  - scrawl training: `{env["TRAIN_SHOWN"] if train else "(not run)"}`
  - scrawl inference: `{env["INFER_SHOWN"] if infer else "(not run)"}`
  - pytorch: `{env["TORCH_SHOWN"] if torch_r else "(not run)"}`

{table}

{chr(10).join(targets + [f"- {f}" for f in failures])}

Both sides keep the training set and the test set on the device. Training time is the sum of
the epochs: scrawl's as `scrawl train` reports it (its first epoch includes the one-off set-up:
CUDA Graph capture, cuDNN algorithm choice); PyTorch's after a warm-up that is not timed
({warm}), with a CUDA synchronize before the start and after each epoch. Test accuracy is each side's own
run from its own random initialisation. Inference feeds slices of the resident test set and
stops at the logits; scrawl's inference runs on untrained weights (the speed does not depend on
them). Ratios above 1 mean scrawl is faster.
"""
    with open(env["RESULT_FILE"], "w") as f:
        f.write(md)
    print(f"wrote {env['RESULT_FILE']}")
PY

if ((smoke)) && [[ -n "$out" ]]; then
  log "smoke report ($out, removed on exit):"
  cat "$out" >&2
fi
