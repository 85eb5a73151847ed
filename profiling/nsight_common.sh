# shellcheck shell=bash disable=SC2034,SC2154  # variables shared with the sourcing script
# What profiling/nsight_train.sh and profiling/nsight_infer.sh share; not run on its own. Each
# sources it at its top level, right after `set -euo pipefail`, with nsight_tag set to the name
# its messages start with. Sourcing sets self (the script that sources this file) and root,
# moves to root, defines log and die, and sets the defaults of the options both scripts take
# (each sets its own --ncu-skip and --ncu-count defaults); the functions below do the rest.

self="$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)/$(basename "${BASH_SOURCE[1]}")"
root="$(dirname "$(dirname "$self")")"
cd "$root" || exit

log() { printf '%s: %s\n' "$nsight_tag" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

arch=models/seed.json
data="${SCRAWL_DATA:-}"
conv=auto
build_dir="${SCRAWL_BUILD_DIR:-build}"
out=""
run_nsys=1
run_ncu=0
ncu_set=full

# nsight_option ARG...: takes an option both scripts know from the front of ARG..., sets
# nsight_shift to the number of words it used up; prints the script's header for --help and
# dies on an option it does not know.
nsight_option() {
  case "$1" in
    --arch) arch="${2:?}"; nsight_shift=2 ;;
    --data) data="${2:?}"; nsight_shift=2 ;;
    --conv) conv="${2:?}"; nsight_shift=2 ;;
    --build-dir) build_dir="${2:?}"; nsight_shift=2 ;;
    --out) out="${2:?}"; nsight_shift=2 ;;
    --ncu) run_ncu=1; nsight_shift=1 ;;
    --ncu-skip) ncu_skip="${2:?}"; nsight_shift=2 ;;
    --ncu-count) ncu_count="${2:?}"; nsight_shift=2 ;;
    --ncu-set) ncu_set="${2:?}"; nsight_shift=2 ;;
    --no-nsys) run_nsys=0; nsight_shift=1 ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$self" | sed -e '$d' -e 's/^# \{0,1\}//'
      exit 0
      ;;
    *) die "unknown argument: $1 (try --help)" ;;
  esac
}

nsight_check_conv() {
  case "$conv" in auto | custom | cudnn) ;; *) die "--conv must be auto, custom or cudnn" ;; esac
}

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

# Sets bin, the scrawl binary in the build folder.
nsight_need_scrawl() {
  bin="$build_dir/scrawl"
  [[ -x "$bin" ]] || die "$bin not found: build it with CUDA first (bash scripts/build.sh)"
}

# Checks --arch and sets data to the MNIST folder, fetching it unless --data or SCRAWL_DATA named one.
nsight_need_mnist() {
  [[ -f "$arch" ]] || die "$arch not found"
  if [[ -z "$data" ]]; then
    data="$(bash scripts/fetch_mnist.sh | tail -n 1)"
  fi
  [[ -f "$data/train-images-idx3-ubyte" ]] || die "no MNIST in $data (run scripts/fetch_mnist.sh)"
}

# Sets nsys and ncu to the profilers the options ask for (empty when not asked for).
nsight_find_profilers() {
  nsys=""
  ncu=""
  if ((run_nsys)); then
    nsys="$(find_tool nsys)" || die "nsys (Nsight Systems) not found; install it or put it on PATH"
  fi
  if ((run_ncu)); then
    ncu="$(find_tool ncu)" || die "ncu (Nsight Compute) not found; install it or put it on PATH"
  fi
}

# Sets out (default <build-dir>/nsight) and creates it.
nsight_make_out() {
  out="${out:-$build_dir/nsight}"
  mkdir -p "$out"
}
