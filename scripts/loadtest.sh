#!/usr/bin/env bash
# Release-build load test of obesity-serve against its peers and a ceiling, all in one sitting
# on this machine, all on 127.0.0.1 (issue 14):
#
#   (a) ceiling    the fixed-response axum endpoint (crates/obesity-serve/examples/ceiling.rs,
#                  a 200-byte JSON, no model): the most any server can do here with wrk
#                  sharing the cores
#   (b) /predict   `obesity serve`, one row of raw named features, monitor on
#   (c) /predict/batch   the same server, 100 rows per request
#   (m) /predict and (n) /predict/batch with `--monitor-queue 1`: the monitor gets almost
#                  nothing (a full queue drops and counts), so (b) - (m) and (c) - (n) are
#                  what the monitor costs
#   (d) FastAPI    the seeds' service (benches/peers/fastapi_service.py): uvicorn, 2 workers,
#                  pydantic + pandas one-hot + BMI + a scikit-learn RandomForest (100 trees)
#   (e) mlflow     `mlflow models serve --env-manager local -w 2` of a scikit-learn forest
#                  pipeline logged with mlflow.sklearn (benches/peers/mlflow_peer.py),
#                  `dataframe_records` of one row
#
# Every target runs alone, after a 3 s warm-up, with the same command:
#   wrk -t2 -c64 -d15s --timeout 5s -s benches/peers/wrk_post.lua URL -- BODY
# Every model is trained on the same CSV and every single-row body holds the same row.
# Server CPU time per request is read from /proc/<pid>/stat (utime + stime of the server and
# its children) before and after the timed run; RSS is the sum of VmRSS after it.
#
# Usage: scripts/loadtest.sh [RESULT.md]   (the markdown table goes to stdout and RESULT.md)
#
# Environment: OBESITY_LOADTEST_DATA (CSV; default $OBESITY_UCI_CSV, else the fixture),
# OBESITY_LOADTEST_DURATION (default 15s), OBESITY_LOADTEST_ONLY (comma list of a,b,c,m,n,d,e),
# OBESITY_LOADTEST_PROFILE (cargo profile of the servers under test, the ceiling included:
# release-lto by default, the profile for shipped binaries; `release` measures a plain
# `--release` build), OBESITY_KEEP_LOADTEST_TMP=1 keeps the temp dir. wrk comes from Debian's package (installed
# with apt-get when missing and running as root). Exits non-zero if a step fails or if our
# server answered any request with an error or a non-2xx status; prints "SKIPPED" and exits 3
# when a tool it needs is missing.

set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
unset MLFLOW_TRACKING_URI OBESITY_TRACKING_URI

SERVE_NAME="loadtest"
# shellcheck source=scripts/serve_lib.sh
source "$repo/scripts/serve_lib.sh"

result_file="${1:-}"
duration="${OBESITY_LOADTEST_DURATION:-15s}"
only="${OBESITY_LOADTEST_ONLY:-a,b,c,m,n,d,e}"
wrk_args=(-t2 -c64 "-d$duration" --timeout 5s)
lua="$repo/benches/peers/wrk_post.lua"

for tool in cargo curl python3 pgrep; do
    command -v "$tool" >/dev/null 2>&1 || serve_skip "'$tool' is not installed"
done
if ! command -v wrk >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        serve_log "installing wrk from Debian's packages"
        { apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }; } \
            >/dev/null 2>&1 || serve_skip "apt-get install -y wrk failed"
    fi
    command -v wrk >/dev/null 2>&1 || serve_skip "wrk is not installed (apt-get install wrk)"
fi
data="${OBESITY_LOADTEST_DATA:-${OBESITY_UCI_CSV:-$repo/fixtures/obesity_synthetic.csv}}"
[ -f "$data" ] || serve_skip "no training data at $data"
# shellcheck source=scripts/serve_env.sh
source "$repo/scripts/serve_env.sh" || serve_skip "could not set up the Python environment"

work="$(mktemp -d "${TMPDIR:-/tmp}/obesity-loadtest.XXXXXX")"
cleanup() {
    local rc=$?
    serve_stop_all
    if [ "${OBESITY_KEEP_LOADTEST_TMP:-0}" = "1" ] || [ "$rc" -ne 0 ]; then
        serve_log "kept $work (server logs, wrk output, bodies)"
    else
        rm -rf "$work"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wants() { [[ ",$only," == *",$1,"* ]]; }

# --- binaries, model, bodies, peers ---------------------------------------------------------
SERVE_TARGET="$(serve_target_dir)"
serve_build
profile="${OBESITY_LOADTEST_PROFILE:-release-lto}"
if [ "$profile" != "release" ] && [ "${OBESITY_SERVE_NO_BUILD:-0}" != "1" ]; then
    serve_log "building the servers under test with --profile $profile"
    cargo build --profile "$profile" -p obesity-cli -p obesity-serve --bin obesity \
        --example ceiling || serve_die "cargo build --profile $profile failed"
fi
obesity="$SERVE_TARGET/$profile/obesity"
ceiling="$SERVE_TARGET/$profile/examples/ceiling"
for b in "$obesity" "$ceiling"; do
    [ -x "$b" ] || serve_die "$b is missing (build it with --profile $profile)"
done
version="$(serve_register "$work/mlruns" "$work/out" "$data")"
model="models:/obesity-classifier@champion"
"$SERVE_TARGET/release/examples/expected_predictions" --tracking-uri "$work/mlruns" \
    --model "$model" --data "$data" --rows 100 --out "$work/rows.json" ||
    serve_die "expected_predictions failed"
python3 - "$work" <<'EOF'
import json, sys
work = sys.argv[1]
doc = json.load(open(f"{work}/rows.json"))
rows = doc["rows"]
assert len(rows) == 100, len(rows)
bodies = {
    "single.json": {"features": rows[0]},
    "batch.json": {"batch_features": rows},
    "mlflow.json": {"dataframe_records": [rows[0]]},
}
for name, body in bodies.items():
    with open(f"{work}/{name}", "w") as f:
        json.dump(body, f, separators=(",", ":"))
EOF

if wants d; then
    serve_log "training the FastAPI peer's forest"
    python "$repo/benches/peers/fastapi_service.py" train --data "$data" \
        --out "$work/fastapi-model.joblib" >&2 || serve_die "training the FastAPI peer failed"
fi
if wants e; then
    serve_log "logging the MLflow peer's forest with mlflow.sklearn (a temp sqlite store)"
    mlflow_model="$(python "$repo/benches/peers/mlflow_peer.py" --data "$data" \
        --store "$work/mlflow-peer" 2>"$work/mlflow-peer.log" | tail -n 1)" ||
        { tail -n 20 "$work/mlflow-peer.log" >&2; serve_die "logging the MLflow peer failed"; }
fi

# --- one measurement --------------------------------------------------------------------------
clk_tck="$(getconf CLK_TCK)"
results="$work/results.tsv"
: >"$results"

# measure LABEL URL BODY PID ROWS_PER_REQUEST
measure() {
    local label="$1" url="$2" body="$3" pid="$4" rows="$5" tree cpu0 cpu1 rss log
    log="$work/wrk-${label%% *}.log"
    serve_log "$label: warm-up, then wrk ${wrk_args[*]} $url"
    timeout 60 wrk -t2 -c64 -d3s --timeout 5s -s "$lua" "$url" -- "$body" >/dev/null ||
        serve_die "$label: the warm-up run of wrk failed"
    # shellcheck disable=SC2207 # pids are words
    tree=($(serve_tree "$pid"))
    cpu0="$(serve_cpu_ticks "${tree[@]}")"
    timeout 120 wrk "${wrk_args[@]}" -s "$lua" "$url" -- "$body" >"$log" 2>&1 ||
        { cat "$log" >&2; serve_die "$label: wrk failed"; }
    # shellcheck disable=SC2207
    tree=($(serve_tree "$pid"))
    cpu1="$(serve_cpu_ticks "${tree[@]}")"
    rss="$(serve_rss_kib "${tree[@]}")"
    kill -0 "$pid" 2>/dev/null || serve_die "$label: the server died under load"
    grep -q '^WRK_JSON ' "$log" || { cat "$log" >&2; serve_die "$label: no summary from wrk"; }
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$rows" "$((cpu1 - cpu0))" "$rss" \
        "${#tree[@]}" "$(sed -n 's/^WRK_JSON //p' "$log")" >>"$results"
    sed -n 's/^WRK_JSON //p' "$log" >&2
}

# --- the targets, one at a time -----------------------------------------------------------------
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
if wants a; then
    port="$(serve_free_port)"
    serve_start "$work/ceiling.log" "$ceiling" \
        --host 127.0.0.1 --port "$port"
    pid="$SERVE_PID"
    serve_wait "http://127.0.0.1:$port/health" "$pid" 30 "$work/ceiling.log"
    measure "(a) ceiling: fixed 200-byte JSON (axum)" "http://127.0.0.1:$port/predict" \
        "$work/single.json" "$pid" 1
    serve_stop "$pid"
fi

if wants b || wants c; then
    port="$(serve_free_port)"
    # A fresh state dir per server: a restart replays the prediction log it finds there.
    serve_start "$work/obesity-serve.log" "$obesity" serve --tracking-uri "$work/mlruns" \
        --model "$model" --host 127.0.0.1 --port "$port" --state-dir "$work/state-bc"
    pid="$SERVE_PID"
    serve_wait "http://127.0.0.1:$port/v2/health/ready" "$pid" 60 "$work/obesity-serve.log"
    idle_rss="$(serve_rss_kib "$pid")"
    echo "$idle_rss" >"$work/idle-rss-kib"
    serve_log "obesity serve: RSS $((idle_rss / 1024)) MiB idle with version $version loaded"
    if wants b; then
        measure "(b) obesity serve /predict, 1 row, monitor on" \
            "http://127.0.0.1:$port/predict" "$work/single.json" "$pid" 1
    fi
    if wants c; then
        measure "(c) obesity serve /predict/batch, 100 rows" \
            "http://127.0.0.1:$port/predict/batch" "$work/batch.json" "$pid" 100
    fi
    serve_stop "$pid"
    [ "$SERVE_STATUS" -eq 0 ] || serve_log "warning: obesity serve exited with $SERVE_STATUS"
fi

if wants m || wants n; then
    port="$(serve_free_port)"
    serve_start "$work/obesity-serve-m.log" "$obesity" serve --tracking-uri "$work/mlruns" \
        --model "$model" --host 127.0.0.1 --port "$port" --monitor-queue 1 \
        --state-dir "$work/state-m"
    pid="$SERVE_PID"
    serve_wait "http://127.0.0.1:$port/v2/health/ready" "$pid" 60 "$work/obesity-serve-m.log"
    if wants m; then
        measure "(m) obesity serve /predict, 1 row, monitor queue 1 (drops)" \
            "http://127.0.0.1:$port/predict" "$work/single.json" "$pid" 1
    fi
    if wants n; then
        measure "(n) obesity serve /predict/batch, 100 rows, monitor queue 1 (drops)" \
            "http://127.0.0.1:$port/predict/batch" "$work/batch.json" "$pid" 100
    fi
    serve_stop "$pid"
fi

if wants d; then
    port="$(serve_free_port)"
    # --no-access-log: one log line per request would cost the peer more than it costs us.
    serve_start "$work/fastapi.log" env OBESITY_PEER_MODEL="$work/fastapi-model.joblib" \
        uvicorn fastapi_service:app --app-dir "$repo/benches/peers" --workers 2 \
        --host 127.0.0.1 --port "$port" --no-access-log
    pid="$SERVE_PID"
    serve_wait "http://127.0.0.1:$port/health" "$pid" 120 "$work/fastapi.log"
    measure "(d) FastAPI + uvicorn 2 workers, sklearn forest, 1 row" \
        "http://127.0.0.1:$port/predict" "$work/single.json" "$pid" 1
    serve_stop "$pid"
fi

if wants e; then
    port="$(serve_free_port)"
    serve_start "$work/mlflow-serve.log" mlflow models serve -m "$mlflow_model" \
        --env-manager local -w 2 -h 127.0.0.1 -p "$port"
    pid="$SERVE_PID"
    serve_wait "http://127.0.0.1:$port/ping" "$pid" 180 "$work/mlflow-serve.log"
    measure "(e) mlflow models serve -w 2, sklearn forest, 1 row" \
        "http://127.0.0.1:$port/invocations" "$work/mlflow.json" "$pid" 1
    serve_stop "$pid"
fi

# --- the table --------------------------------------------------------------------------------
table="$work/table.md"
idle_rss_kib="$(cat "$work/idle-rss-kib" 2>/dev/null || echo 0)"
python3 - "$results" "$clk_tck" "$duration" "$data" "$profile" "$(nproc)" \
    "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" \
    "$load_before" "$(cut -d' ' -f1-3 /proc/loadavg)" "$idle_rss_kib" >"$table" <<'EOF'
import json, sys
results, clk_tck, duration, data, profile, ncpu, cpu, load0, load1, idle_rss = sys.argv[1:]
clk_tck = int(clk_tck)
rows = []
for line in open(results):
    label, per_req, ticks, rss, nproc, wrk = line.rstrip("\n").split("\t")
    w = json.loads(wrk)
    secs = w["duration_us"] / 1e6
    n = w["requests"]
    rows.append({
        "label": label, "rows": int(per_req), "rps": n / secs, "n": n,
        "p50": w["p50_us"] / 1e3, "p99": w["p99_us"] / 1e3,
        "errors": w["connect"] + w["read"] + w["write"] + w["timeout"],
        "non2xx": w["status"],
        "cpu_ms": (int(ticks) / clk_tck * 1e3 / n) if n else float("nan"),
        "rss": int(rss) / 1024, "procs": int(nproc),
    })
print(f"Command: `wrk -t2 -c64 -d{duration} --timeout 5s -s benches/peers/wrk_post.lua URL -- BODY` "
      f"(after a 3 s warm-up), one target at a time, all on 127.0.0.1; {ncpu} cores ({cpu}); "
      f"servers built with `--profile {profile}`; "
      f"models trained on `{data.rsplit('/', 1)[-1]}`; load average {load0} before, "
      f"{load1} after (other work on the host lowers every row, the ceiling too).")
print()
print("| target | req/s | rows/s | p50 ms | p99 ms | errors | non-2xx | server CPU ms/req | server RSS MiB |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    print(f"| {r['label']} | {r['rps']:,.0f} | {r['rps'] * r['rows']:,.0f} | {r['p50']:.2f} | "
          f"{r['p99']:.2f} | {r['errors']} | {r['non2xx']} | {r['cpu_ms']:.3f} | "
          f"{r['rss']:.0f}" + (f" ({r['procs']} processes)" if r['procs'] > 1 else "") + " |")
by = {r["label"][:3]: r for r in rows}
notes = []
if "(a)" in by and "(b)" in by:
    share = by["(b)"]["rps"] / by["(a)"]["rps"]
    notes.append(f"/predict reaches {share:.0%} of the ceiling (target >= 40%); p99 "
                 f"{by['(b)']['p99']:.2f} ms (target <= 5 ms)")
if int(idle_rss):
    notes.append(f"obesity serve with one version loaded, idle: RSS {int(idle_rss) / 1024:.0f} MiB")
if "(b)" in by and "(m)" in by:
    b, m = by["(b)"], by["(m)"]
    notes.append(f"the monitor costs {b['cpu_ms'] - m['cpu_ms']:+.3f} ms CPU per single-row "
                 f"request and {b['rps'] / m['rps'] - 1:+.0%} req/s ((b) against (m))")
if "(c)" in by and "(n)" in by:
    c, n = by["(c)"], by["(n)"]
    notes.append(f"the monitor costs {c['cpu_ms'] - n['cpu_ms']:+.3f} ms CPU per 100-row "
                 f"request and {c['rps'] / n['rps'] - 1:+.0%} req/s ((c) against (n))")
if "(c)" in by:
    notes.append(f"/predict/batch: {by['(c)']['rps']:,.0f} req/s = "
                 f"{by['(c)']['rps'] * 100:,.0f} rows/s (target >= 5,000 req/s)")
for peer in ("(d)", "(e)"):
    if "(b)" in by and peer in by and by[peer]["rps"]:
        notes.append(f"/predict is {by['(b)']['rps'] / by[peer]['rps']:,.0f}x {peer} in req/s "
                     f"and uses {by[peer]['cpu_ms'] / by['(b)']['cpu_ms']:,.0f}x less CPU per request")
if notes:
    print()
    for n in notes:
        print(f"- {n}")
EOF
cat "$table"
if [ -n "$result_file" ]; then
    cp "$table" "$result_file"
    serve_log "wrote $result_file"
fi

# Our server must answer every request, and answer it 2xx.
bad="$(awk -F'\t' '$1 ~ /^\((b|c|m|n)\)/' "$results" | python3 -c '
import json, sys
for line in sys.stdin:
    label, *_, wrk = line.rstrip("\n").split("\t")
    w = json.loads(wrk)
    if w["connect"] + w["read"] + w["write"] + w["timeout"] + w["status"]:
        print(label)
')"
[ -z "$bad" ] || serve_die "errors or non-2xx answers from obesity serve: $bad"
