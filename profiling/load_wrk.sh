#!/usr/bin/env bash
# wrk against scrawl's JSON API: POST /api/v1/predict with a 28x28 PNG, keep-alive,
# 64 connections, 30 s, latency percentiles. Starts `scrawl serve` itself unless given a URL.
# Usage: profiling/load_wrk.sh [URL] [-- serve flags, e.g. --model FILE --max-batch 128]
#   env: SECONDS_RUN (30), CONNECTIONS (64), SCRAWL_BIN, IMAGES (1: a raw PNG per request; N > 1:
#   N copies as the image fields of one multipart request, and the predictions/s they make).
#   Prints wrk's report and a JSON line,
#   then the CPU seconds the server (when started here) and wrk itself used during the run: on a
#   small machine they share the cores, so the client's share is part of the figure.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/load_lib.sh"
trap load_stop_all EXIT
images="${IMAGES:-1}"
[[ "$images" =~ ^[1-9][0-9]*$ ]] || { echo "load_wrk: IMAGES must be a count, not '$images'" >&2; exit 2; }
mode=raw
((images > 1)) && mode=multi
url=""
if [[ $# -gt 0 && "$1" != "--" ]]; then url="$1"; shift; fi
[[ "${1:-}" == "--" ]] && shift
png="$(mktemp --suffix=.png)"
/usr/bin/python3 "$load_root/profiling/load_make_png.py" "$png"
if [[ -z "$url" ]]; then
  load_start_scrawl "$(load_free_port)" --device cpu "$@"
  url="$load_scrawl_url"
fi
# CPU seconds (user + system) a process has used so far, from /proc (fields after "(comm) ").
cpu_seconds() {
  [[ -n "$1" && -r "/proc/$1/stat" ]] || { echo 0; return; }
  sed 's/^.*) //' "/proc/$1/stat" | awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($12 + $13) / hz}'
}
server_pid="${load_pids[0]:-}"
server_cpu0="$(cpu_seconds "$server_pid")"
echo "wrk: POST $url/api/v1/predict, ${CONNECTIONS:-64} connections, ${SECONDS_RUN:-30} s" >&2
TIMEFORMAT='wrk CPU: %U s user + %S s system in %R s'
time LOAD_PNG="$png" LOAD_MODE="$mode" LOAD_IMAGES="$images" wrk -t2 -c"${CONNECTIONS:-64}" -d"${SECONDS_RUN:-30}"s --timeout 10s \
  --latency -s "$load_root/profiling/load_wrk.lua" "$url/api/v1/predict"
if [[ -n "$server_pid" ]]; then
  echo "server CPU: $(awk -v a="$server_cpu0" -v b="$(cpu_seconds "$server_pid")" \
    'BEGIN {printf "%.2f", b - a}') s during the run"
fi
curl -fsS "$url/metrics" | grep -E '^scrawl_batch_size_(sum|count) ' || true
rm -f "$png"
