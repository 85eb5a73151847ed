#!/usr/bin/env bash
# scrawl against PyTorch on the CPU, on the seed network: trains N epochs on MNIST with each,
# times inference at batch 1 and 256, prints a table with the ratios scrawl/PyTorch (above 1 means
# scrawl is faster) and writes it to profiling/results/<date>-cpu-seed.md.
#
# Usage: profiling/bench_cpu.sh [--epochs 1] [--batch 32] [--threads 2] [--build-dir build]
#                               [--data DIR] [--torch-only] [--no-save]
# Needs build/scrawl with the `bench` subcommand (scripts/build.sh), models/seed.json, and
# Debian's python3-torch (called as /usr/bin/python3). MNIST comes from scripts/fetch_mnist.sh
# unless --data or SCRAWL_DATA names it.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

log() { printf 'bench_cpu: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

epochs=1
batch=32
threads=2
build_dir="${SCRAWL_BUILD_DIR:-build}"
data="${SCRAWL_DATA:-}"
torch_only=0
save=1
py=/usr/bin/python3
invocation="profiling/bench_cpu.sh $*"

while (($#)); do
  case "$1" in
    --epochs) epochs="${2:?}"; shift 2 ;;
    --batch) batch="${2:?}"; shift 2 ;;
    --threads) threads="${2:?}"; shift 2 ;;
    --build-dir) build_dir="${2:?}"; shift 2 ;;
    --data) data="${2:?}"; shift 2 ;;
    --torch-only) torch_only=1; shift ;;
    --no-save) save=0; shift ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
      exit 0
      ;;
    *) die "unknown argument: $1 (try --help)" ;;
  esac
done

# Check everything before spending minutes on either run.
if ! [[ -x "$py" ]] || ! "$py" -c 'import torch, numpy' 2>/dev/null; then
  die "$py cannot import torch and numpy: run scripts/install_deps.sh --all"
fi

bin="$build_dir/scrawl"
if ((!torch_only)); then
  [[ -x "$bin" ]] || die "$bin not found: build it first (bash scripts/build.sh), or pass --torch-only"
  "$bin" bench --help >/dev/null 2>&1 ||
    die "$bin has no working 'bench' subcommand yet; pass --torch-only to run the PyTorch side alone"
  [[ -f models/seed.json ]] || die "models/seed.json not found"
fi

if [[ -z "$data" ]]; then
  data="$(bash scripts/fetch_mnist.sh | tail -n 1)"
fi
[[ -f "$data/train-images-idx3-ubyte" ]] || die "no MNIST in $data (run scripts/fetch_mnist.sh)"

work="$(mktemp -d "${TMPDIR:-/tmp}/scrawl-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# Both sides get the same number of threads; OpenMP and OpenBLAS read these.
scrawl_cmd=("$bin" bench --arch models/seed.json --data "$data" --epochs "$epochs" --batch "$batch"
  --device cpu --json)
if ((!torch_only)) && [[ "$("$bin" bench --help 2>&1)" == *--threads* ]]; then
  scrawl_cmd+=(--threads "$threads")
fi
torch_cmd=("$py" profiling/torch_seed.py --data "$data" --epochs "$epochs" --batch "$batch"
  --threads "$threads")

if ((!torch_only)); then
  log "scrawl: ${scrawl_cmd[*]}"
  # scrawl sizes its own thread pool from --threads.
  "${scrawl_cmd[@]}" >"$work/scrawl.out" ||
    die "scrawl bench failed (exit $?)"
fi
log "pytorch: ${torch_cmd[*]}"
"${torch_cmd[@]}" >"$work/torch.out" || die "torch_seed.py failed (exit $?)"

# What goes into the results file names no path of this machine.
scrawl_shown="${scrawl_cmd[*]}"
torch_shown="${torch_cmd[*]}"
scrawl_shown="${scrawl_shown//"$data"/\$SCRAWL_DATA}"
[[ "$bin" != /* ]] || scrawl_shown="${scrawl_shown//"$bin"/$(basename "$build_dir")/scrawl}"
torch_shown="${torch_shown//"$data"/\$SCRAWL_DATA}"
invocation="${invocation//"$data"/\$SCRAWL_DATA}"
[[ "$build_dir" != /* ]] || invocation="${invocation//"$build_dir"/$(basename "$build_dir")}"

cpu="$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)"
cores="$(nproc 2>/dev/null || echo '?')"
rev="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
git diff --quiet HEAD 2>/dev/null || rev="$rev (with local changes)"

stamp="$(date +%Y-%m-%d)"
out="profiling/results/$stamp-cpu-seed.md"
[[ -e "$out" ]] && out="profiling/results/$stamp-$(date +%H%M%S)-cpu-seed.md"
((save)) && mkdir -p profiling/results || out=""

SCRAWL_OUT="$work/scrawl.out" TORCH_OUT="$work/torch.out" RESULT_FILE="$out" \
  CPU="${cpu:-unknown}" CORES="$cores" THREADS="$threads" REV="$rev" INVOCATION="$invocation" \
  SCRAWL_SHOWN="$scrawl_shown" TORCH_SHOWN="$torch_shown" TORCH_ONLY="$torch_only" \
  "$py" - <<'PY'
import datetime
import json
import os


def last_json(path):
    """The last line of a program's stdout that parses as a JSON object."""
    try:
        lines = open(path).read().splitlines()
    except FileNotFoundError:
        return None
    for line in reversed(lines):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                pass
    raise SystemExit(f"bench_cpu: error: no JSON object in the output of {path}")


env = os.environ
torch_r = last_json(env["TORCH_OUT"])
scrawl_r = None if env["TORCH_ONLY"] == "1" else last_json(env["SCRAWL_OUT"])
keys = ["train_seconds", "train_images_per_s", "infer_b1_images_per_s", "infer_b256_images_per_s"]
if scrawl_r is not None:
    missing = [k for k in keys + ["test_accuracy"] if k not in scrawl_r]
    if missing:
        raise SystemExit(f"bench_cpu: error: scrawl bench --json lacks {', '.join(missing)}")


def fmt(v):
    if isinstance(v, float):
        return f"{v:,.4f}" if v < 1 else f"{v:,.1f}"
    return "-" if v is None else str(v)


rows = []
for k in keys + ["test_accuracy"]:
    t = torch_r.get(k)
    s = scrawl_r.get(k) if scrawl_r else None
    if s is None or not t:
        ratio = "-"
    elif k == "train_seconds":
        ratio = f"{t / s:.2f}x"  # time: PyTorch's over scrawl's, so above 1 = scrawl faster
    elif k == "test_accuracy":
        ratio = f"{(s - t) * 100:+.2f} pts"
    else:
        ratio = f"{s / t:.2f}x"
    rows.append((k, fmt(s), fmt(t), ratio))
rows.append(("device / threads",
             f"{scrawl_r.get('device')} / {scrawl_r.get('threads')}" if scrawl_r else "-",
             f"{torch_r.get('device')} / {torch_r.get('threads')}", ""))

header = ("metric", "scrawl", "pytorch", "speed-up")
widths = [max(len(r[i]) for r in rows + [header]) for i in range(4)]
line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"
table = "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
                  + [line(r) for r in rows])
print(table)
print("speed-up = scrawl / PyTorch in images per second (PyTorch / scrawl in seconds); "
      "above 1 means scrawl is faster")

if env["RESULT_FILE"]:
    md = f"""# CPU, seed network: scrawl against PyTorch

- date: {datetime.datetime.now().strftime("%Y-%m-%d %H:%M")}
- machine: {env["CPU"]}, {env["CORES"]} cores; both sides limited to {env["THREADS"]} threads
- scrawl: git {env["REV"]}
- peer: {torch_r.get("framework", "pytorch")}
- command: `{env["INVOCATION"].strip()}`
  - scrawl: `{env["SCRAWL_SHOWN"] if scrawl_r else "(not run: --torch-only)"}`
  - pytorch: `{env["TORCH_SHOWN"]}`

{table}

Speed-up is scrawl over PyTorch in images per second (PyTorch over scrawl in seconds); above 1
means scrawl is faster. Batch 1 times single-image calls over test images; batch 256 the whole
10,000-image test set.
"""
    with open(env["RESULT_FILE"], "w") as f:
        f.write(md)
    print(f"wrote {env['RESULT_FILE']}")
PY
