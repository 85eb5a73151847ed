#!/usr/bin/env bash
# wrk against scrawl's JSON API: POST /api/v1/predict with a 28x28 PNG, keep-alive,
# 64 connections, 30 s, latency percentiles. Starts `scrawl serve` itself unless given a URL.
# Usage: profiling/load_wrk.sh [URL] [-- serve flags, e.g. --model FILE --max-batch 128]
#   env: SECONDS_RUN (30), CONNECTIONS (64), SCRAWL_BIN. Prints wrk's report and a JSON line.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/load_lib.sh"
trap load_stop_all EXIT
url=""
if [[ $# -gt 0 && "$1" != "--" ]]; then url="$1"; shift; fi
[[ "${1:-}" == "--" ]] && shift
png="$(mktemp --suffix=.png)"
/usr/bin/python3 "$load_root/profiling/load_make_png.py" "$png"
if [[ -z "$url" ]]; then
  load_start_scrawl "$(load_free_port)" --device cpu "$@"
  url="$load_scrawl_url"
fi
echo "wrk: POST $url/api/v1/predict, ${CONNECTIONS:-64} connections, ${SECONDS_RUN:-30} s" >&2
LOAD_PNG="$png" LOAD_MODE=raw wrk -t2 -c"${CONNECTIONS:-64}" -d"${SECONDS_RUN:-30}"s --timeout 10s --latency \
  -s "$load_root/profiling/load_wrk.lua" "$url/api/v1/predict"
curl -fsS "$url/metrics" | grep -E '^scrawl_batch_size_(sum|count) ' || true
rm -f "$png"
