# Shared helpers for the HTTP load scripts (sourced by load_wrk.sh and load_compare.sh):
# find the scrawl binary, start `scrawl serve` or the Flask app on a free loopback port and wait
# until it answers, stop what was started.
load_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
load_pids=()

load_find_bin() {
  local bin="${SCRAWL_BIN:-}"
  if [[ -z "$bin" ]]; then
    for c in "$load_root/build/scrawl" "$load_root"/build*/scrawl; do
      [[ -x "$c" ]] && { bin="$c"; break; }
    done
  fi
  [[ -x "$bin" ]] || { echo "load: no scrawl binary; build it or set SCRAWL_BIN" >&2; return 1; }
  echo "$bin"
}

load_free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# load_wait URL PID LOG: until URL answers 200 (or the process dies).
load_wait() {
  for _ in $(seq 1 300); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || { cat "$3" >&2; return 1; }
    sleep 0.1
  done
  cat "$3" >&2
  return 1
}

# load_start_scrawl PORT [serve flags...]: starts scrawl serve; sets load_scrawl_url.
load_start_scrawl() {
  local port=$1; shift
  local bin; bin="$(load_find_bin)" || return 1
  local log; log="$(mktemp)"
  "$bin" serve --host 127.0.0.1 --port "$port" "$@" >"$log" 2>&1 &
  load_pids+=($!)
  load_scrawl_url="http://127.0.0.1:$port"
  load_wait "$load_scrawl_url/v2/health/ready" $! "$log"
  sed -n 's/^scrawl: //p' "$log" >&2
}

# load_start_flask PORT: the report's app shape (profiling/flask_app.py); sets load_flask_url.
load_start_flask() {
  local port=$1
  local log; log="$(mktemp)"
  /usr/bin/python3 "$load_root/profiling/flask_app.py" --port "$port" >"$log" 2>&1 &
  load_pids+=($!)
  load_flask_url="http://127.0.0.1:$port"
  load_wait "$load_flask_url/" $! "$log"
}

load_stop_all() {
  for p in "${load_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${load_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  load_pids=()
}

# load_wrk URL MODE PNG SECONDS CONNECTIONS [ACCEPT]: prints wrk's JSON summary line.
load_wrk() {
  LOAD_PNG="$3" LOAD_MODE="$2" LOAD_ACCEPT="${6:-application/json}" \
    wrk -t2 -c"$5" -d"$4"s --timeout 10s --latency -s "$load_root/profiling/load_wrk.lua" "$1" |
    sed -n 's/^JSON //p'
}
