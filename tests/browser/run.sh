#!/usr/bin/env bash
# Browser end-to-end test: starts `scrawl serve` on a free loopback port, drives Debian's
# Chromium through the page with playwright-core (tests/browser/page.test.mjs), stops the server.
# Usage: tests/browser/run.sh [path/to/scrawl]   (env: SCRAWL_MODEL, CHROMIUM). Screenshots: tests/browser/artifacts/
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

bin="${1:-${SCRAWL_BIN:-}}"
if [[ -z "$bin" ]]; then
  for candidate in "$root/build/scrawl" "$root"/build*/scrawl; do
    [[ -x "$candidate" ]] && { bin="$candidate"; break; }
  done
fi
[[ -x "$bin" ]] || { echo "run.sh: no scrawl binary found; build it or pass its path" >&2; exit 2; }
[[ -x "${CHROMIUM:-/usr/bin/chromium}" ]] || { echo "run.sh: ${CHROMIUM:-/usr/bin/chromium} not found (apt-get install chromium)" >&2; exit 2; }

if [[ ! -d "$here/node_modules/playwright-core" ]]; then
  (cd "$here" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi

model_args=()
[[ -n "${SCRAWL_MODEL:-}" ]] && model_args=(--model "$SCRAWL_MODEL")
log="$(mktemp)"
"$bin" serve --port 0 --device cpu "${model_args[@]}" >"$log" 2>&1 &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null; rm -f "$log"' EXIT

url=""
for _ in $(seq 1 200); do
  url="$(sed -n 's/^listening on \(http:[^ ]*\)$/\1/p' "$log" | head -n1)"
  [[ -n "$url" ]] && curl -fsS "$url/v2/health/ready" >/dev/null 2>&1 && break
  kill -0 $server 2>/dev/null || { cat "$log" >&2; echo "run.sh: scrawl serve exited" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$url" ]] || { cat "$log" >&2; echo "run.sh: the server never listened" >&2; exit 1; }
echo "run.sh: $bin serving at $url"

node "$here/page.test.mjs" "$url"
