#!/usr/bin/env bash
# Profiles inference on the GPU with Nsight Systems and, with --ncu, Nsight Compute:
#   --mode predict (default): `scrawl predict --device cuda` over image files, the path a
#                             request takes (decode, preprocess, one small forward per image);
#   --mode bench:             `scrawl bench --device cuda`, whose inference part runs batches
#                             of 1 and 256 (it trains one epoch first: look after the last
#                             adam_update range in the timeline).
# Reports and text summaries go to <build-dir>/nsight/ (ignored by git). Reading them:
# profiling/NSIGHT.md.
#
# Usage: profiling/nsight_infer.sh [--mode predict|bench] [--model FILE] [--repeat 64]
#                                  [--arch models/seed.json] [--data DIR] [--build-dir build]
#                                  [--conv auto|custom|cudnn] [--out DIR] [--ncu]
#                                  [--ncu-skip 0] [--ncu-count 30] [--ncu-set basic|full]
#                                  [--no-nsys] [IMAGE...]
# IMAGE defaults to tests/fixtures/*.png; each is passed --repeat times.
set -euo pipefail

nsight_tag=nsight_infer
# shellcheck source=profiling/nsight_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/nsight_common.sh"

mode=predict
model=""
repeat=64
ncu_count=30
ncu_skip=0
images=()

while (($#)); do
  case "$1" in
    --mode) mode="${2:?}"; shift 2 ;;
    --model) model="${2:?}"; shift 2 ;;
    --repeat) repeat="${2:?}"; shift 2 ;;
    -*) nsight_option "$@"; shift "$nsight_shift" ;;
    *) images+=("$1"); shift ;;
  esac
done

case "$mode" in predict | bench) ;; *) die "--mode must be predict or bench" ;; esac
nsight_check_conv
nsight_need_scrawl
nsight_find_profilers
nsight_make_out
export SCRAWL_CONV_ALGO="$conv"

if [[ "$mode" == predict ]]; then
  if ((${#images[@]} == 0)); then
    shopt -s nullglob
    images=(tests/fixtures/*.png)
    shopt -u nullglob
  fi
  ((${#images[@]})) || die "no images given and none in tests/fixtures"
  files=()
  for ((i = 0; i < repeat; ++i)); do files+=("${images[@]}"); done
  cmd=("$bin" predict --device cuda --json)
  [[ -n "$model" ]] && cmd+=(--model "$model")
  cmd+=("${files[@]}")
  name="infer-predict-$conv"
else
  nsight_need_mnist
  cmd=("$bin" bench --arch "$arch" --data "$data" --device cuda --json)
  name="infer-bench-$(basename "$arch" .json)-$conv"
fi

if ((run_nsys)); then
  log "nsys: ${cmd[*]:0:6} ..."
  "$nsys" profile --trace=cuda,nvtx,cublas,cudnn,osrt --cuda-graph-trace=node --sample=cpu \
    --force-overwrite=true --output "$out/$name" "${cmd[@]}" >"$out/$name-stdout.txt"
  "$nsys" stats --force-export=true \
    --report nvtx_sum,cuda_gpu_kern_sum,cuda_gpu_mem_time_sum,cuda_api_sum \
    "$out/$name.nsys-rep" >"$out/$name-stats.txt"
  log "summary: $out/$name-stats.txt"
  sed -n '1,60p' "$out/$name-stats.txt"
fi

if ((run_ncu)); then
  # Forward kernels only, by their NVTX op ranges. In predict mode that is all of inference;
  # in bench mode the training epoch's forward kernels come first: raise --ncu-skip past them.
  log "ncu: forward kernels $ncu_skip..$((ncu_skip + ncu_count - 1))"
  "$ncu" --set "$ncu_set" --nvtx \
    --nvtx-include "conv2d_forward/" --nvtx-include "conv2d_forward_relu/" \
    --nvtx-include "dense_forward/" --nvtx-include "dense_forward_relu/" \
    --nvtx-include "maxpool_forward/" --nvtx-include "relu_forward/" \
    --nvtx-include "softmax_forward/" \
    --launch-skip "$ncu_skip" --launch-count "$ncu_count" --force-overwrite --export "$out/$name" "${cmd[@]}" >/dev/null
  "$ncu" --import "$out/$name.ncu-rep" --print-summary per-kernel >"$out/$name-ncu.txt"
  log "summary: $out/$name-ncu.txt"
  sed -n '1,80p' "$out/$name-ncu.txt"
fi

log "reports in $out: open *.nsys-rep in nsys-ui and *.ncu-rep in ncu-ui (see profiling/NSIGHT.md)"
