#!/usr/bin/env bash
# Builds scrawl: installs missing Debian packages, configures with CMake + Ninja (CUDA when nvcc
# is found, unless told otherwise) and builds with every core.
#
# Usage: scripts/build.sh [--preset cpu|cuda|asan] [--build-dir DIR] [--jobs N] [--no-deps]
#                         [-- extra cmake configure arguments]
# Env:   SCRAWL_BUILD_DIR (default build), SCRAWL_PRESET, SCRAWL_BUILD_TYPE (default Release),
#        SCRAWL_CUDA (ON|OFF; default: CMake's detection), SCRAWL_CUDA_ARCHITECTURES (e.g. 90 or
#        native; default: CMakeLists.txt's list), SCRAWL_JOBS (default: nproc),
#        SCRAWL_SKIP_DEPS=1 (same as --no-deps)
# The last line of stdout is the build directory.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

log() { printf 'build: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

preset="${SCRAWL_PRESET:-}"
build_dir="${SCRAWL_BUILD_DIR:-}"
jobs="${SCRAWL_JOBS:-$(nproc 2>/dev/null || echo 2)}"
deps=1
[[ "${SCRAWL_SKIP_DEPS:-0}" == 1 ]] && deps=0
extra=()

while (($#)); do
  case "$1" in
    --preset) preset="${2:?--preset needs a name}"; shift 2 ;;
    --preset=*) preset="${1#*=}"; shift ;;
    --build-dir) build_dir="${2:?--build-dir needs a directory}"; shift 2 ;;
    --build-dir=*) build_dir="${1#*=}"; shift ;;
    -j | --jobs) jobs="${2:?--jobs needs a number}"; shift 2 ;;
    -j* | --jobs=*) jobs="${1#-j}"; jobs="${jobs#--jobs=}"; shift ;;
    --no-deps) deps=0; shift ;;
    --) shift; extra+=("$@"); break ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
      exit 0
      ;;
    *) die "unknown argument: $1 (try --help)" ;;
  esac
done

if ((deps)); then
  bash "$root/scripts/install_deps.sh" --build
fi

if [[ -n "$preset" ]]; then
  # Presets fix their own directory (build-<preset>) and options.
  [[ -z "$build_dir" ]] || log "note: --build-dir is ignored with a preset (it uses build-$preset)"
  build_dir="build-$preset"
  log "configure: cmake --preset $preset ${extra[*]}"
  cmake --preset "$preset" "${extra[@]}"
else
  build_dir="${build_dir:-build}"
  args=(-S . -B "$build_dir" -DCMAKE_BUILD_TYPE="${SCRAWL_BUILD_TYPE:-Release}")
  # A folder configured before keeps its generator; asking for another one is an error.
  [[ -f "$build_dir/CMakeCache.txt" ]] || args+=(-G Ninja)
  [[ -z "${SCRAWL_CUDA:-}" ]] || args+=(-DSCRAWL_CUDA="$SCRAWL_CUDA")
  [[ -z "${SCRAWL_CUDA_ARCHITECTURES:-}" ]] ||
    args+=(-DCMAKE_CUDA_ARCHITECTURES="$SCRAWL_CUDA_ARCHITECTURES")
  log "configure: cmake ${args[*]} ${extra[*]}"
  cmake "${args[@]}" "${extra[@]}"
fi

log "build: cmake --build $build_dir --parallel $jobs"
cmake --build "$build_dir" --parallel "$jobs"
log "built in $build_dir"
printf '%s\n' "$build_dir"
