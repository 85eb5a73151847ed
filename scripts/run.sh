#!/usr/bin/env bash
# The main job: installs missing packages, builds, then serves the shipped model over HTTP
# (`scrawl serve`, in the foreground until Ctrl-C). A build without the server instead reads the
# sample digit in tests/fixtures/ with `scrawl predict`.
#
# Usage: scripts/run.sh [extra arguments for scrawl serve / predict, e.g. --port 9000]
# Env:   SCRAWL_BUILD_DIR (default build), SCRAWL_MODEL (default models/default.scrawl), and
#        those of scripts/build.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

log() { printf 'run: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

build_dir="${SCRAWL_BUILD_DIR:-build}"
model="${SCRAWL_MODEL:-models/default.scrawl}"
sample="tests/fixtures/seven.png"

bash scripts/install_deps.sh --build
bash scripts/build.sh --no-deps --build-dir "$build_dir" >&2

bin="$build_dir/scrawl"
[[ -x "$bin" ]] || die "$bin was not built"

# The caller's own --model wins over the default.
model_args=(--model "$model")
for arg in "$@"; do
  if [[ "$arg" == --model || "$arg" == --model=* ]]; then
    model_args=()
  fi
done
if ((${#model_args[@]})) && [[ ! -f "$model" ]]; then
  die "$model not found: train one with
  $bin train --data \"\$(bash scripts/fetch_mnist.sh | tail -n 1)\" --arch models/default.json --out $model"
fi

if "$bin" serve --help >/dev/null 2>&1; then
  log "starting: $bin serve ${model_args[*]} $*"
  exec "$bin" serve "${model_args[@]}" "$@"
fi

log "this build has no 'serve' subcommand; reading $sample instead"
log "running: $bin predict ${model_args[*]} $* $sample"
exec "$bin" predict "${model_args[@]}" "$@" "$sample"
