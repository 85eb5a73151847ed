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

nsight_tag=nsight_train
# shellcheck source=profiling/nsight_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/nsight_common.sh"

epochs=1
batch=32
ncu_skip=2000
ncu_count=40

while (($#)); do
  case "$1" in
    --epochs) epochs="${2:?}"; shift 2 ;;
    --batch) batch="${2:?}"; shift 2 ;;
    *) nsight_option "$@"; shift "$nsight_shift" ;;
  esac
done

nsight_check_conv
nsight_need_scrawl
nsight_need_mnist
nsight_find_profilers
nsight_make_out
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
