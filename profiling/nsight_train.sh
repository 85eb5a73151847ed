#!/usr/bin/env bash
# Profiles `scrawl train --device cuda` with Nsight Systems (timeline: NVTX ranges per op,
# kernels, copies, CUDA Graph nodes) and, with --ncu, Nsight Compute (per-kernel metrics for
# a window of launches). Reports and text summaries go to <build-dir>/nsight/ (ignored by git).
# How to read them: profiling/NSIGHT.md.
#
# Usage: profiling/nsight_train.sh [--arch models/seed.json] [--data DIR] [--epochs 1]
#                                  [--batch 32] [--conv auto|custom|cudnn] [--build-dir build]
#                                  [--out DIR] [--ncu] [--ncu-skip 2000] [--ncu-count 40]
#                                  [--ncu-set basic|full] [--no-nsys]
# Needs a CUDA build of scrawl (scripts/build.sh on a machine with nvcc), a GPU, and nsys/ncu
# on PATH or in the CUDA toolkit's bin folder. MNIST comes from scripts/fetch_mnist.sh unless
# --data or SCRAWL_DATA names it.
set -euo pipefail

self="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
root="$(dirname "$(dirname "$self")")"
cd "$root"

log() { printf 'nsight_train: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

arch=models/seed.json
data="${SCRAWL_DATA:-}"
epochs=1
batch=32
conv=auto
build_dir="${SCRAWL_BUILD_DIR:-build}"
out=""
run_nsys=1
run_ncu=0
ncu_skip=2000
ncu_count=40
ncu_set=full

while (($#)); do
  case "$1" in
    --arch) arch="${2:?}"; shift 2 ;;
    --data) data="${2:?}"; shift 2 ;;
    --epochs) epochs="${2:?}"; shift 2 ;;
    --batch) batch="${2:?}"; shift 2 ;;
    --conv) conv="${2:?}"; shift 2 ;;
    --build-dir) build_dir="${2:?}"; shift 2 ;;
    --out) out="${2:?}"; shift 2 ;;
    --ncu) run_ncu=1; shift ;;
    --ncu-skip) ncu_skip="${2:?}"; shift 2 ;;
    --ncu-count) ncu_count="${2:?}"; shift 2 ;;
    --ncu-set) ncu_set="${2:?}"; shift 2 ;;
    --no-nsys) run_nsys=0; shift ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$self" | sed -e '$d' -e 's/^# \{0,1\}//'
      exit 0
      ;;
    *) die "unknown argument: $1 (try --help)" ;;
  esac
done

case "$conv" in auto | custom | cudnn) ;; *) die "--conv must be auto, custom or cudnn" ;; esac

# The profilers: PATH first, then the toolkit that nvcc belongs to.
find_tool() {
  local name="$1" dir
  if command -v "$name" >/dev/null 2>&1; then
    command -v "$name"
    return
  fi
  for dir in "${CUDA_HOME:-}" "${CUDA_PATH:-}" "$(dirname "$(dirname "$(command -v nvcc 2>/dev/null || echo /x/x)")")" /usr/local/cuda; do
    [[ -n "$dir" && -x "$dir/bin/$name" ]] && { echo "$dir/bin/$name"; return; }
  done
  return 1
}

bin="$build_dir/scrawl"
[[ -x "$bin" ]] || die "$bin not found: build it with CUDA first (bash scripts/build.sh)"
[[ -f "$arch" ]] || die "$arch not found"
if [[ -z "$data" ]]; then
  data="$(bash scripts/fetch_mnist.sh | tail -n 1)"
fi
[[ -f "$data/train-images-idx3-ubyte" ]] || die "no MNIST in $data (run scripts/fetch_mnist.sh)"
nsys=""
ncu=""
((run_nsys)) && { nsys="$(find_tool nsys)" || die "nsys (Nsight Systems) not found; install it or put it on PATH"; }
((run_ncu)) && { ncu="$(find_tool ncu)" || die "ncu (Nsight Compute) not found; install it or put it on PATH"; }

out="${out:-$build_dir/nsight}"
mkdir -p "$out"
work="$(mktemp -d "${TMPDIR:-/tmp}/scrawl-nsight.XXXXXX")"
trap 'rm -rf "$work"' EXIT

name="train-$(basename "$arch" .json)-b$batch-$conv"
train_cmd=("$bin" train --data "$data" --arch "$arch" --epochs "$epochs" --batch "$batch"
  --device cuda --quiet --out "$work/model.scrawl")
# cuda_backend_create honours SCRAWL_CONV_ALGO when the CLI asks for "auto".
export SCRAWL_CONV_ALGO="$conv"

if ((run_nsys)); then
  log "nsys: ${train_cmd[*]}"
  # cuda,nvtx: our op ranges and every launch; cublas,cudnn: the library calls under them;
  # graph node tracing: replayed CUDA Graphs show their kernels instead of one opaque launch.
  "$nsys" profile --trace=cuda,nvtx,cublas,cudnn --cuda-graph-trace=node --sample=none \
    --cpuctxsw=none --force-overwrite=true --output "$out/$name" "${train_cmd[@]}"
  log "summary: $out/$name-stats.txt"
  "$nsys" stats --force-export=true \
    --report nvtx_sum,cuda_gpu_kern_sum,cuda_gpu_mem_time_sum,cuda_api_sum \
    "$out/$name.nsys-rep" >"$out/$name-stats.txt"
  sed -n '1,60p' "$out/$name-stats.txt"
fi

if ((run_ncu)); then
  log "ncu: kernels $ncu_skip..$((ncu_skip + ncu_count - 1)) of ${train_cmd[*]}"
  # Skip the first launches (auto-tuning, cuDNN plan warm-up) and profile a steady-state
  # window; --nvtx records the op range each kernel ran in.
  "$ncu" --set "$ncu_set" --nvtx --launch-skip "$ncu_skip" --launch-count "$ncu_count" \
    --force-overwrite --export "$out/$name" "${train_cmd[@]}"
  "$ncu" --import "$out/$name.ncu-rep" --print-summary per-kernel >"$out/$name-ncu.txt"
  log "summary: $out/$name-ncu.txt"
  sed -n '1,80p' "$out/$name-ncu.txt"
fi

log "reports in $out: open *.nsys-rep in nsys-ui and *.ncu-rep in ncu-ui (see profiling/NSIGHT.md)"
