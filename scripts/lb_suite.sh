#!/usr/bin/env bash
# Stateless replicas behind a load balancer (issue 18), tested for real on 127.0.0.1:
#
#   PostgreSQL (throw-away cluster, unprivileged user) -> `mlflow server` on it (proxied
#   artifacts) -> the main job registers version 1 as @champion -> two `obesity serve` replicas
#   (--poll-interval 2) -> nginx (Debian's package, deploy/nginx/nginx.conf with only the
#   addresses changed, foreground, own prefix and pid file in the temp dir). Then, with wrk
#   POSTing one row to /predict:
#
#   1. throughput through nginx next to one replica alone (recorded; 2 cores are shared by
#      wrk, nginx and both replicas, so this is not a scaling measurement);
#   2. under load through nginx, version 2 is registered and the champion alias moved to it:
#      zero failed requests, and each replica's own /health reports version 2 within the poll
#      interval (+2 s for the load and the reload);
#   3. under load through nginx, one replica is killed (SIGKILL): failed requests are counted
#      and reported and must be zero (nginx re-sends a prediction that met the dying replica
#      to the other one), and every request after the kill succeeds.
#
# Version 2 is a copy of version 1 (same artifacts, made through MLflow's REST API), so the
# test is about the alias moving, not about training. Everything is stopped by pid at the end.
# Exits 0 when all passed, 1 on a failure, 2 (after printing SKIPPED) when something needed
# cannot be set up, e.g. no `obesity serve` yet.
#
# Environment: OBESITY_LB_DURATION (seconds per measurement, 10), OBESITY_LB_CONNECTIONS (32),
# OBESITY_LB_POLL_INTERVAL (2), OBESITY_KEEP_LB_TMP=1, OBESITY_BUILD_TIMEOUT (1800),
# OBESITY_LB_NO_BUILD=1 (use the release binaries already built).

set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
unset MLFLOW_TRACKING_URI OBESITY_TRACKING_URI

LOG_PREFIX=lb_suite
log() { printf 'lb_suite: %s\n' "$*" >&2; }
die() {
    log "FAILED: $*"
    exit 1
}
skip() {
    log "SKIPPED: $*"
    echo "lb_suite: SKIPPED: $*"
    exit 2
}

# shellcheck source=scripts/pg_lib.sh
source "$repo/scripts/pg_lib.sh"
# shellcheck source=scripts/lb_lib.sh
source "$repo/scripts/lb_lib.sh"

dur="${OBESITY_LB_DURATION:-10}"
conns="${OBESITY_LB_CONNECTIONS:-32}"
poll="${OBESITY_LB_POLL_INTERVAL:-2}"
build_timeout="${OBESITY_BUILD_TIMEOUT:-1800}"
suite_start=$(date +%s)

work="$(mktemp -d "${TMPDIR:-/tmp}/obesity-lb-suite.XXXXXX")"
replica_a="" replica_b="" wrk_pid=""
cleanup() {
    local rc=$?
    set +e
    [ -n "$wrk_pid" ] && tree_stop "$wrk_pid" 1
    nginx_stop
    [ -n "$replica_a" ] && tree_stop "$replica_a" 15
    [ -n "$replica_b" ] && tree_stop "$replica_b" 15
    mlflow_server_stop
    pg_cluster_stop
    if [ "${OBESITY_KEEP_LB_TMP:-0}" = "1" ] || [ "$rc" = 1 ]; then
        log "kept $work (replica-*.log, nginx/, mlflow-server.log, wrk-*.log)"
    else
        rm -rf "$work"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# --- tools and binaries -------------------------------------------------------------------------
if ! command -v wrk >/dev/null; then
    [ "$(id -u)" = 0 ] || skip "wrk is not installed"
    log "installing Debian's wrk (apt-get)"
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq wrk >/dev/null 2>&1 ||
        { timeout 300 apt-get update -qq >/dev/null 2>&1 &&
            DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq wrk >/dev/null 2>&1; } ||
        skip "apt-get install wrk failed"
fi
nginx_ensure_installed || skip "nginx is not installed and could not be installed"
pg_ensure_installed || skip "PostgreSQL is not installed and could not be installed"
# shellcheck source=scripts/mlflow_env.sh
source "$repo/scripts/mlflow_env.sh" || skip "could not set up the MLflow virtual environment"
mlflow_ensure_psycopg2 || skip "could not install psycopg2-binary==$PG_PSYCOPG2_VERSION"

pg_cluster_start "$work" || die "could not start the throw-away PostgreSQL cluster"
mlflow_pg_server_start "$work" 2
server_started=$(date +%s)

if [ "${OBESITY_LB_NO_BUILD:-0}" = 1 ]; then
    log "OBESITY_LB_NO_BUILD=1: using the release binaries already in the target dir"
else
    log "building obesity (obesity-cli) and train_and_register (waits on the cargo lock if needed)"
    t=$(date +%s)
    timeout "$build_timeout" cargo build --release --quiet -p obesity-cli --bin obesity ||
        die "cargo build --release -p obesity-cli failed"
    timeout "$build_timeout" cargo build --release --quiet --example train_and_register ||
        die "cargo build --release --example train_and_register failed"
    log "built in $(($(date +%s) - t))s"
fi
target_dir="$(cargo metadata --format-version 1 --no-deps | python -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
obesity="$target_dir/release/obesity"
job_bin="$target_dir/release/examples/train_and_register"
[ -x "$obesity" ] && [ -x "$job_bin" ] || skip "no $obesity or $job_bin (build them first)"
"$obesity" serve --help >/dev/null 2>&1 || skip "this obesity binary has no \`serve\` subcommand yet"

left=$((240 - ($(date +%s) - server_started)))
mlflow_pg_server_wait $((left > 30 ? left : 30)) || die "mlflow server on PostgreSQL did not become healthy"
url="$MLFLOW_URL"

# --- version 1 as champion ----------------------------------------------------------------------
log "registering version 1 with the main job"
t=$(date +%s)
timeout 900 "$job_bin" --tracking-uri "$url" --out "$work/job" --json >"$work/job.log" 2>&1 ||
    { tail -n 40 "$work/job.log" >&2; die "the main job failed"; }
model="$(tail -n 1 "$work/job.log" | python -c 'import json,sys; print(json.load(sys.stdin)["model"]["name"])')" ||
    die "the main job printed no JSON outcome"
log "main job done in $(($(date +%s) - t))s"

# mlflow_rest METHOD PATH JSON: MLflow's REST API through urllib (no extra client).
mlflow_rest() {
    python - "$url" "$1" "$2" "${3:-}" <<'EOF'
import json, sys, urllib.request, urllib.parse
base, method, path, body = sys.argv[1:5]
if method == "GET":
    req = urllib.request.Request(f"{base}/api/2.0/mlflow/{path}?{urllib.parse.urlencode(json.loads(body))}")
else:
    req = urllib.request.Request(f"{base}/api/2.0/mlflow/{path}", data=body.encode(), method=method,
                                 headers={"Content-Type": "application/json"})
print(urllib.request.urlopen(req, timeout=30).read().decode())
EOF
}
set_champion() { # version
    mlflow_rest POST registered-models/alias \
        "{\"name\": \"$model\", \"alias\": \"champion\", \"version\": \"$1\"}" >/dev/null
}
set_champion 1 || die "could not point champion at version 1"

# --- replicas and nginx -------------------------------------------------------------------------
pa="$(free_port)"
pb="$(free_port)"
pn="$(free_port)"
start_replica() { # port log
    "$obesity" serve --tracking-uri "$url" --model "models:/$model@champion" \
        --host 127.0.0.1 --port "$1" --poll-interval "$poll" >"$2" 2>&1 &
}
start_replica "$pa" "$work/replica-a.log"
replica_a=$!
start_replica "$pb" "$work/replica-b.log"
replica_b=$!
wait_http "http://127.0.0.1:$pa/v2/health/ready" 120 "$replica_a" "$work/replica-a.log" || die "replica a not ready"
wait_http "http://127.0.0.1:$pb/v2/health/ready" 120 "$replica_b" "$work/replica-b.log" || die "replica b not ready"
nginx_local_conf "$work/nginx" "$pn" "127.0.0.1:$pa" "127.0.0.1:$pb" || die "rewriting nginx.conf"
nginx_test_conf "$work/nginx" || die "nginx -t"
nginx_start "$work/nginx" || die "nginx did not start"
wait_http "http://127.0.0.1:$pn/v2/health/ready" 20 "$NGINX_PID" "$work/nginx/error.log" || die "nginx -> replicas"
log "replicas on :$pa (pid $replica_a) and :$pb (pid $replica_b), nginx on :$pn (pid $NGINX_PID)"

# One row of raw named features, from the shipped fixture.
python - "$work/body.json" <<'EOF'
import csv, json, sys
row = next(csv.DictReader(open("fixtures/obesity_synthetic.csv")))
row.pop("NObeyesdad")
def value(v):
    try:
        return float(v) if "." in v else int(v)
    except ValueError:
        return v
json.dump({"features": {k: value(v) for k, v in row.items()}}, open(sys.argv[1], "w"))
EOF
code="$(curl -s -o "$work/predict.json" -w '%{http_code}' -m 10 -H 'Content-Type: application/json' \
    --data @"$work/body.json" "http://127.0.0.1:$pn/predict")"
[ "$code" = 200 ] || die "POST /predict through nginx answered $code: $(cat "$work/predict.json")"

health_version() { # port
    curl -fsS -m 2 "http://127.0.0.1:$1/health" 2>/dev/null |
        python -c 'import json,sys; print(json.load(sys.stdin)["model_version"])' 2>/dev/null || echo "?"
}
[ "$(health_version "$pa")" = 1 ] && [ "$(health_version "$pb")" = 1 ] ||
    die "the replicas do not serve version 1 (a: $(health_version "$pa"), b: $(health_version "$pb"))"

lua="$repo/scripts/lb_wrk.lua"
# run_wrk NAME URL SECONDS: runs wrk in the background (sets wrk_pid); wrk_result NAME reads it.
run_wrk() {
    timeout $(($3 + 30)) wrk -t2 -c"$conns" -d"$3s" --timeout 5s -s "$lua" "$2" -- "$work/body.json" \
        >"$work/wrk-$1.log" 2>&1 &
    wrk_pid=$!
}
# wrk_wait NAME: waits for it (not in $( ): it must be this shell's child), sets WRK.
WRK=""
wrk_wait() {
    wait "$wrk_pid" || { cat "$work/wrk-$1.log" >&2; die "wrk ($1) failed"; }
    wrk_pid=""
    WRK="$(grep '^LB_WRK ' "$work/wrk-$1.log" | sed 's/^LB_WRK //')" || die "no summary from wrk ($1)"
}
field() { python -c "import json,sys; d=json.loads(sys.argv[1]); print($2)" "$1"; }

passed=0
# --- 1. throughput ------------------------------------------------------------------------------
run_wrk warmup "http://127.0.0.1:$pn/predict" 3
wrk_wait warmup
run_wrk one "http://127.0.0.1:$pa/predict" "$dur"
wrk_wait one
one="$WRK"
run_wrk lb "http://127.0.0.1:$pn/predict" "$dur"
wrk_wait lb
lb="$WRK"
rps() { field "$1" 'round(d["requests"] / d["duration_us"] * 1e6)'; }
errs() { field "$1" 'd["non2xx"] + d["connect"] + d["read"] + d["write"] + d["timeout"]'; }
breakdown() { field "$1" '", ".join(f"{d[k]} {k}" for k in ("non2xx", "connect", "read", "write", "timeout"))'; }
log "1. throughput, POST /predict, wrk -t2 -c$conns -d${dur}s: one replica $(rps "$one") req/s (p99 $(field "$one" 'd["p99_us"]') us), through nginx to two $(rps "$lb") req/s (p99 $(field "$lb" 'd["p99_us"]') us)"
[ "$(errs "$one")" = 0 ] && [ "$(errs "$lb")" = 0 ] || die "errors in the throughput runs: one $one; lb $lb"
passed=$((passed + 1))

# --- 2. the alias moves under load --------------------------------------------------------------
span=$((poll * 3 + 10))
run_wrk alias "http://127.0.0.1:$pn/predict" "$span"
sleep 3
v1="$(mlflow_rest GET model-versions/get "{\"name\": \"$model\", \"version\": \"1\"}")" ||
    die "could not read version 1"
body="$(python -c '
import json, sys
mv = json.loads(sys.argv[1])["model_version"]
print(json.dumps({"name": mv["name"], "source": mv["source"], "run_id": mv.get("run_id", ""),
                  "tags": mv.get("tags", []), "description": "lb_suite: a copy of version 1"}))' "$v1")"
v2="$(mlflow_rest POST model-versions/create "$body" | python -c 'import json,sys; print(json.load(sys.stdin)["model_version"]["version"])')" ||
    die "could not create version 2"
[ "$v2" = 2 ] || die "the new version is $v2, expected 2"
set_champion 2 || die "could not move champion to version 2"
moved=$(date +%s%3N)
seen_a="" seen_b=""
deadline=$((moved + (poll + 2) * 1000))
while [ -z "$seen_a" ] || [ -z "$seen_b" ]; do
    now=$(date +%s%3N)
    [ -z "$seen_a" ] && [ "$(health_version "$pa")" = 2 ] && seen_a=$(($(date +%s%3N) - moved))
    [ -z "$seen_b" ] && [ "$(health_version "$pb")" = 2 ] && seen_b=$(($(date +%s%3N) - moved))
    [ "$now" -gt "$deadline" ] && break
    sleep 0.1
done
wrk_wait alias
res="$WRK"
log "2. alias moved to version 2 under load: replica a serves it after ${seen_a:-never} ms, b after ${seen_b:-never} ms (poll ${poll}s); $(field "$res" 'd["requests"]') requests, $(errs "$res") failed"
[ -n "$seen_a" ] && [ -n "$seen_b" ] || die "a replica did not serve version 2 within $((poll + 2))s"
[ "$(errs "$res")" = 0 ] || die "requests failed while the alias moved: $res"
passed=$((passed + 1))

# --- 3. one replica killed under load -----------------------------------------------------------
run_wrk kill "http://127.0.0.1:$pn/predict" "$dur"
sleep $((dur / 3))
kill -KILL "$replica_b"
wait "$replica_b" 2>/dev/null || true
replica_b=""
wrk_wait kill
res="$WRK"
after_ok=0
for _ in $(seq 20); do
    c="$(curl -s -o /dev/null -w '%{http_code}' -m 5 -H 'Content-Type: application/json' \
        --data @"$work/body.json" "http://127.0.0.1:$pn/predict" || true)"
    [ "$c" = 200 ] && after_ok=$((after_ok + 1))
done
log "3. replica b killed (SIGKILL) $((dur / 3))s into a ${dur}s run: $(field "$res" 'd["requests"]') requests, $(errs "$res") failed ($(breakdown "$res")); afterwards $after_ok/20 POSTs through nginx succeeded"
[ "$after_ok" = 20 ] || die "nginx did not fail over to the live replica ($after_ok/20)"
# deploy/nginx/nginx.conf re-sends a prediction that met the dying replica (non_idempotent on
# the prediction paths), so none may fail.
[ "$(errs "$res")" = 0 ] || die "predictions failed when a replica died: $(breakdown "$res")"
passed=$((passed + 1))

log "$passed passed, 0 failed in $(($(date +%s) - suite_start))s"
echo "lb_suite: $passed passed, 0 failed"
