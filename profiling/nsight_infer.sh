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

self="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
root="$(dirname "$(dirname "$self")")"
cd "$root"

log() { printf 'nsight_infer: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

mode=predict
model=""
repeat=64
arch=models/seed.json
data="${SCRAWL_DATA:-}"
build_dir="${SCRAWL_BUILD_DIR:-build}"
conv=auto
out=""
run_nsys=1
run_ncu=0
ncu_count=30
ncu_skip=0
ncu_set=full
images=()

while (($#)); do
  case "$1" in
    --mode) mode="${2:?}"; shift 2 ;;
    --model) model="${2:?}"; shift 2 ;;
    --repeat) repeat="${2:?}"; shift 2 ;;
    --arch) arch="${2:?}"; shift 2 ;;
    --data) data="${2:?}"; shift 2 ;;
    --build-dir) build_dir="${2:?}"; shift 2 ;;
    --conv) conv="${2:?}"; shift 2 ;;
    --out) out="${2:?}"; shift 2 ;;
    --ncu) run_ncu=1; shift ;;
    --ncu-count) ncu_count="${2:?}"; shift 2 ;;
    --ncu-skip) ncu_skip="${2:?}"; shift 2 ;;
    --ncu-set) ncu_set="${2:?}"; shift 2 ;;
    --no-nsys) run_nsys=0; shift ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$self" | sed -e '$d' -e 's/^# \{0,1\}//'
      exit 0
      ;;
    -*) die "unknown argument: $1 (try --help)" ;;
    *) images+=("$1"); shift ;;
  esac
done

case "$mode" in predict | bench) ;; *) die "--mode must be predict or bench" ;; esac
case "$conv" in auto | custom | cudnn) ;; *) die "--conv must be auto, custom or cudnn" ;; esac

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
nsys=""
ncu=""
((run_nsys)) && { nsys="$(find_tool nsys)" || die "nsys (Nsight Systems) not found; install it or put it on PATH"; }
((run_ncu)) && { ncu="$(find_tool ncu)" || die "ncu (Nsight Compute) not found; install it or put it on PATH"; }

out="${out:-$build_dir/nsight}"
mkdir -p "$out"
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
  [[ -f "$arch" ]] || die "$arch not found"
  if [[ -z "$data" ]]; then
    data="$(bash scripts/fetch_mnist.sh | tail -n 1)"
  fi
  [[ -f "$data/train-images-idx3-ubyte" ]] || die "no MNIST in $data (run scripts/fetch_mnist.sh)"
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
