#!/usr/bin/env bash
# The one test command: installs missing packages, fetches MNIST, builds, runs every CTest suite
# (unit, gpu, data, server) with SCRAWL_DATA pointing at MNIST, then the browser end-to-end test
# when tests/browser/run.sh exists (it gets SCRAWL_BIN, SCRAWL_BUILD_DIR and SCRAWL_DATA in its
# environment). Exits non-zero when any step fails; the last line is a one-line summary.
#
# Usage: scripts/test.sh [extra ctest arguments, e.g. -L unit or -R server]
# Env:   SCRAWL_BUILD_DIR (default build), SCRAWL_CUDA (ON|OFF), SCRAWL_JOBS, SCRAWL_SKIP_DEPS=1,
#        SCRAWL_DATA (MNIST directory), SCRAWL_TEST_TIMEOUT (seconds per suite, default 900),
#        SCRAWL_SKIP_BROWSER=1
set -euo pipefail

if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then
  sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
  exit 0
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

log() { printf '\ntest: %s\n' "$*" >&2; }
start=$SECONDS
results=()
failed=0

# shellcheck disable=SC2317  # called from the EXIT trap
summary() {
  local rc="$1" verdict=PASS joined="" r
  ((failed || rc)) && verdict=FAIL
  for r in "${results[@]}"; do joined+="${joined:+, }$r"; done
  printf '\ntest.sh: %s (%s) in %ds\n' "$verdict" "${joined:-nothing ran}" $((SECONDS - start))
}
trap 'summary $?' EXIT

step() { # NAME COMMAND...: runs a step, records its outcome, never stops the script
  local name="$1" t0=$SECONDS
  shift
  log "== $name"
  if "$@"; then
    results+=("$name ok")
  else
    results+=("$name FAILED")
    failed=1
  fi
  log "== $name: $((SECONDS - t0))s"
}

if [[ "${SCRAWL_SKIP_DEPS:-0}" != 1 ]]; then
  step deps bash scripts/install_deps.sh --all
  ((failed)) && exit 1
fi

log "== mnist"
if ! SCRAWL_DATA="$(bash scripts/fetch_mnist.sh | tail -n 1)" || [[ -z "$SCRAWL_DATA" ]]; then
  results+=("mnist FAILED")
  failed=1
  exit 1
fi
export SCRAWL_DATA
results+=("mnist ok")
log "MNIST in $SCRAWL_DATA"

build_dir="${SCRAWL_BUILD_DIR:-build}"
step build bash scripts/build.sh --no-deps --build-dir "$build_dir"
((failed)) && exit 1

step ctest ctest --test-dir "$build_dir" --output-on-failure --no-tests=error \
  --timeout "${SCRAWL_TEST_TIMEOUT:-900}" "$@"

if [[ "${SCRAWL_SKIP_BROWSER:-0}" == 1 ]]; then
  results+=("browser skipped")
elif [[ -f tests/browser/run.sh ]]; then
  abs_build="$(cd "$build_dir" && pwd)"
  SCRAWL_BIN="$abs_build/scrawl" SCRAWL_BUILD_DIR="$abs_build" step browser bash tests/browser/run.sh
else
  results+=("browser absent")
fi

exit "$failed"
