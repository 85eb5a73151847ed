#!/usr/bin/env bash
# HTTP load figures, scrawl against the report's app shape side by side: wrk on scrawl's JSON API
# (/api/v1/predict, raw 28x28 PNG), wrk on the form route /predict of both (the same multipart
# request), and the user scenario (GET / + POST /predict, profiling/load_scenario.mjs) on both.
# Prints a table with ratios and writes it to profiling/results/DATE-http-load.md (DATE-http-load-2.md
# and so on when that exists).
# Usage: profiling/load_compare.sh [serve flags, e.g. --model FILE --max-batch 64]
#   env: SECONDS_RUN (30), CONNECTIONS (64), USERS (32), SCRAWL_BIN.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/load_lib.sh"
trap load_stop_all EXIT
secs="${SECONDS_RUN:-30}" conns="${CONNECTIONS:-64}" users="${USERS:-32}"
png="$(mktemp --suffix=.png)"
/usr/bin/python3 "$load_root/profiling/load_make_png.py" "$png"

load_start_scrawl "$(load_free_port)" --device cpu "$@"
load_start_flask "$(load_free_port)"
echo "scrawl at $load_scrawl_url, Flask at $load_flask_url; $secs s per run, $conns connections, $users users" >&2

echo "1/5 wrk scrawl POST /api/v1/predict (raw PNG)" >&2
api="$(load_wrk "$load_scrawl_url/api/v1/predict" raw "$png" "$secs" "$conns")"
echo "2/5 wrk scrawl POST /predict (form, HTML answer)" >&2
form_s="$(load_wrk "$load_scrawl_url/predict" form "$png" "$secs" "$conns" text/html)"
echo "3/5 wrk Flask POST /predict (form, HTML answer)" >&2
form_f="$(load_wrk "$load_flask_url/predict" form "$png" "$secs" "$conns" text/html)"
echo "4/5 scenario scrawl" >&2
scen_s="$(node "$load_root/profiling/load_scenario.mjs" "$load_scrawl_url" "$png" --users "$users" --seconds "$secs" | sed -n 's/^JSON //p')"
echo "5/5 scenario Flask" >&2
scen_f="$(node "$load_root/profiling/load_scenario.mjs" "$load_flask_url" "$png" --users "$users" --seconds "$secs" | sed -n 's/^JSON //p')"
batches="$(curl -fsS "$load_scrawl_url/metrics" | grep -E '^scrawl_batch_size_(sum|count) ' | tr '\n' ' ')"
rm -f "$png"

mkdir -p "$load_root/profiling/results"
# A new file per run: an earlier run's figures of the same day are kept, never overwritten.
out="$load_root/profiling/results/$(date +%Y-%m-%d)-http-load.md"
for ((k = 2; k < 100; ++k)); do
  [[ -e "$out" ]] || break
  out="$load_root/profiling/results/$(date +%Y-%m-%d)-http-load-$k.md"
done
API="$api" FORM_S="$form_s" FORM_F="$form_f" SCEN_S="$scen_s" SCEN_F="$scen_f" BATCHES="$batches" \
SECS="$secs" CONNS="$conns" USERS="$users" FLAGS="$*" OUT="$out" /usr/bin/python3 - <<'PY'
import json, os, platform, subprocess
e = os.environ
api, fs, ff = (json.loads(e[k]) for k in ("API", "FORM_S", "FORM_F"))
ss, sf = json.loads(e["SCEN_S"]), json.loads(e["SCEN_F"])
# Paths in the flags are shown by their file name only: a results file names no folder of the
# machine it was measured on.
flags = " ".join(os.path.basename(a) if os.path.sep in a and os.path.exists(a) else a
                 for a in e["FLAGS"].split())
ratio = lambda a, b: "%.1fx" % (a / b) if b else "n/a"
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
lines = [
    "# HTTP load: scrawl vs the report's app shape",
    "",
    "Machine: %s, %d cores (%s). Each run %s s; wrk -t2 -c%s; scenario %s users. scrawl flags: `%s`." % (
        cpu, os.cpu_count(), platform.platform(), e["SECS"], e["CONNS"], e["USERS"], flags or "(defaults)"),
    "Client and servers share the same cores. Flask: profiling/flask_app.py (threaded=False, seed network in PyTorch).",
    "",
    "| run | requests/s | p50 ms | p99 ms | errors + non-2xx |",
    "| --- | ---: | ---: | ---: | ---: |",
    "| scrawl POST /api/v1/predict (raw PNG) | %.0f | %.2f | %.2f | %d |" % (api["rps"], api["p50_ms"], api["p99_ms"], api["errors"] + api["non2xx"]),
    "| scrawl POST /predict (form) | %.0f | %.2f | %.2f | %d |" % (fs["rps"], fs["p50_ms"], fs["p99_ms"], fs["errors"] + fs["non2xx"]),
    "| Flask POST /predict (form) | %.0f | %.2f | %.2f | %d |" % (ff["rps"], ff["p50_ms"], ff["p99_ms"], ff["errors"] + ff["non2xx"]),
    "| scrawl scenario (GET / + POST /predict) | %.0f | %s | %s | %d |" % (ss["total_rps"], ss["predict"]["p50_ms"], ss["predict"]["p99_ms"], ss["failures"]),
    "| Flask scenario (GET / + POST /predict) | %.0f | %s | %s | %d |" % (sf["total_rps"], sf["predict"]["p50_ms"], sf["predict"]["p99_ms"], sf["failures"]),
    "",
    "Ratios scrawl / Flask: form route %s requests/s (p99 %s lower); scenario %s requests/s." % (
        ratio(fs["rps"], ff["rps"]), ratio(ff["p99_ms"], fs["p99_ms"]), ratio(ss["total_rps"], sf["total_rps"])),
    "scrawl batches: %s" % e["BATCHES"],
    "",
    "Raw JSON: api %s; form scrawl %s; form Flask %s; scenario scrawl %s; scenario Flask %s" % (
        e["API"], e["FORM_S"], e["FORM_F"], e["SCEN_S"], e["SCEN_F"]),
]
text = "\n".join(lines) + "\n"
print(text)
# Written next to its place and renamed into it: an interrupted run leaves no half file.
tmp = e["OUT"] + ".tmp"
with open(tmp, "w") as f:
    f.write(text)
os.replace(tmp, e["OUT"])
print("written to", e["OUT"])
PY
