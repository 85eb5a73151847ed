#!/usr/bin/env bash
# Realistic test sets: generates photos, canvas drawings, rows of digits, photos on ruled and
# squared paper, on a desk, under a flash's glare, in dim light and folded, from the MNIST test
# set (once; cached by the generators' hash; plus the photos' digits as plain MNIST, for
# reference), and photos, canvas drawings and rows drawn another way by a second generator
# (make_alt_sets.py), reads them with `scrawl predict --json`, and scores them against
# tests/realistic/floors.json.
# CTest runs it as `realistic` (label data).
#
# Usage: tests/realistic/run.sh [MODEL]   (default: models/default.scrawl; floors are checked
#        only for that model, other models are reported)
# Env:   SCRAWL_BIN (the scrawl binary, required), SCRAWL_DATA (MNIST folder; unset: skipped),
#        SCRAWL_MODEL (instead of MODEL), SCRAWL_DEVICE (auto|cuda|cpu),
#        SCRAWL_REALISTIC_SETS (use this folder instead of the cache),
#        SCRAWL_REALISTIC_OUT (keep predictions, scores.json and failures.png here)
# Exit:  0 pass, 1 below a floor or a broken run, 77 skipped (no data, python or model).
set -euo pipefail

if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then
  sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
  exit 0
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
py=/usr/bin/python3  # Debian's interpreter: numpy and PIL come from python3-numpy, python3-pil
batch=400            # files per `scrawl predict` call: the model loads once per call

log() { printf 'realistic: %s\n' "$*" >&2; }
skip() {
  log "SKIPPED: $*"
  exit 77
}

[[ -n "${SCRAWL_DATA:-}" ]] || skip "SCRAWL_DATA is unset (scripts/test.sh sets it; or run scripts/fetch_mnist.sh)"
[[ -f "$SCRAWL_DATA/t10k-images-idx3-ubyte" ]] || skip "no MNIST test set in $SCRAWL_DATA"
[[ -x "$py" ]] || skip "$py not found (apt-get install python3-numpy python3-pil)"
"$py" -c 'import numpy, PIL' 2>/dev/null || skip "$py lacks numpy or PIL (apt-get install python3-numpy python3-pil)"
[[ -n "${SCRAWL_BIN:-}" && -x "${SCRAWL_BIN:-}" ]] || {
  log "error: set SCRAWL_BIN to the scrawl binary (got '${SCRAWL_BIN:-}')"
  exit 1
}

SCRAWL_BIN="$(cd "$(dirname "$SCRAWL_BIN")" && pwd)/$(basename "$SCRAWL_BIN")"  # we cd below

default_model="$root/models/default.scrawl"
model="${1:-${SCRAWL_MODEL:-$default_model}}"
[[ -f "$model" ]] || skip "no model at $model (train one, or pass MODEL)"
model="$(cd "$(dirname "$model")" && pwd)/$(basename "$model")"
floors=()
if [[ "$model" == "$default_model" && -f "$here/floors.json" ]]; then
  floors=(--floors "$here/floors.json")
elif [[ "$model" != "$default_model" ]]; then
  log "model $model is not the shipped one: floors not checked"
else
  log "no floors.json yet: report only"
fi

# ---- the sets, generated once per generator version ----
if [[ -n "${SCRAWL_REALISTIC_SETS:-}" ]]; then
  sets="$SCRAWL_REALISTIC_SETS"
else
  hash="$(cat "$here/make_sets.py" "$here/make_alt_sets.py" | sha256sum | cut -c1-12)"
  cache="${XDG_CACHE_HOME:-$HOME/.cache}/scrawl"
  sets="$cache/realistic-$hash"
  if [[ ! -f "$sets/.complete" ]]; then
    mkdir -p "$cache"
    exec 9>"$cache/.realistic.lock"
    command -v flock >/dev/null 2>&1 && flock 9
    if [[ ! -f "$sets/.complete" ]]; then
      log "generating sets into $sets"
      tmp="$sets.tmp-$$"
      rm -rf "$tmp"
      SCRAWL_DATA="$SCRAWL_DATA" "$py" "$here/make_sets.py" "$tmp" || {
        rm -rf "$tmp"
        log "error: make_sets.py failed"
        exit 1
      }
      SCRAWL_DATA="$SCRAWL_DATA" "$py" "$here/make_alt_sets.py" "$tmp" || {
        rm -rf "$tmp"
        log "error: make_alt_sets.py failed"
        exit 1
      }
      touch "$tmp/.complete"
      rm -rf "$sets"
      mv "$tmp" "$sets"
      # Sets from older generator versions are of no further use.
      for old in "$cache"/realistic-*; do
        [[ "$old" != "$sets" && -f "$old/.complete" ]] && rm -rf "$old"
      done
    fi
    exec 9>&-
  fi
fi
[[ -f "$sets/photos/labels.csv" ]] || {
  log "error: no sets in $sets"
  exit 1
}

# ---- predictions ----
if [[ -n "${SCRAWL_REALISTIC_OUT:-}" ]]; then
  out="$SCRAWL_REALISTIC_OUT"
  mkdir -p "$out"
else
  out="$(mktemp -d "${TMPDIR:-/tmp}/scrawl-realistic.XXXXXX")"
  trap 'rm -rf "$out"' EXIT
fi

device=()
[[ -n "${SCRAWL_DEVICE:-}" ]] && device=(--device "$SCRAWL_DEVICE")

predict_set() { # SET MODE: predictions for every file in SET's labels.csv -> $out/SET.jsonl
  local set="$1" mode="$2" files i rc t0=$SECONDS
  mapfile -t files < <(tail -n +2 "$sets/$set/labels.csv" | cut -d, -f1)
  : >"$out/$set.jsonl"
  for ((i = 0; i < ${#files[@]}; i += batch)); do
    rc=0
    (cd "$sets/$set" && "$SCRAWL_BIN" predict --model "$model" --mode "$mode" "${device[@]}" \
      --json "${files[@]:i:batch}") >>"$out/$set.jsonl" 2>>"$out/$set.log" || rc=$?
    # 2 means some files were rejected: they are scored as wrong, not a broken run.
    if ((rc != 0 && rc != 2)); then
      log "error: scrawl predict exited $rc on $set (files $i..); its stderr:"
      tail -n 20 "$out/$set.log" >&2
      exit 1
    fi
  done
  log "$set: ${#files[@]} files in $((SECONDS - t0))s"
}

predict_set photos digit
predict_set canvas digit
predict_set numbers number
predict_set mnist digit
predict_set lined digit
predict_set tilted number
predict_set underlined number
predict_set boxed number
predict_set mixed number
predict_set desk digit
predict_set glare digit
predict_set dim digit
predict_set fold digit
predict_set alt_photos digit
predict_set alt_canvas digit
predict_set alt_numbers number

sheet=()
[[ -n "${SCRAWL_REALISTIC_OUT:-}" ]] && sheet=(--sheet "$out/failures.png" --json "$out/scores.json")
printf 'realistic: model %s, sets %s\n' "$model" "$sets"
"$py" "$here/score.py" --sets "$sets" --preds "$out" "${floors[@]}" "${sheet[@]}"
