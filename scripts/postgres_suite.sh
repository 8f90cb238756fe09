#!/usr/bin/env bash
# MLflow on PostgreSQL, the team deployment (issue 18), tested for real (called by .ci/run):
#
#   0. PostgreSQL from Debian's packages (installed if missing), a throw-away cluster in a temp
#      folder run by an unprivileged system user (obesity-pg), on 127.0.0.1 and a free port;
#      psycopg2-binary (pinned) added to the cached MLflow venv (scripts/mlflow_env.sh);
#      `mlflow server --backend-store-uri postgresql://... --serve-artifacts` on a free port;
#   a. the MlflowStore conformance suite against that server
#      (`cargo test -p obesity-registry --test it -- mlflow_client:: mlflow_server::`);
#   b. 8 processes (crates/obesity-registry/examples/concurrent_register.rs) register versions
#      of one model at the same instant: the union of the versions they got must be exactly
#      1..=8*N, no duplicates, and the server must list exactly those versions;
#   c. the main job (`--example train_and_register`) against the server registers a version.
#
# Everything is stopped by pid at the end (mlflow server and its uvicorn workers, then
# `pg_ctl stop -m fast`) and the temp folder removed (kept on failure). Exits 0 when all
# passed, 1 on a failure, 2 (after printing SKIPPED) when something needed cannot be set up.
#
# Environment: OBESITY_PG_CONCURRENT_PROCS (8), OBESITY_PG_CONCURRENT_COUNT (versions per
# process, 5), OBESITY_PG_MLFLOW_WORKERS (uvicorn workers, 2), OBESITY_KEEP_PG_TMP=1 keeps the
# temp folder, OBESITY_BUILD_TIMEOUT (seconds per cargo step, 1800).

set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# Never talk to a tracking server this script did not start.
unset MLFLOW_TRACKING_URI OBESITY_TRACKING_URI

LOG_PREFIX=postgres_suite
log() { printf 'postgres_suite: %s\n' "$*" >&2; }
die() {
    log "FAILED: $*"
    exit 1
}
skip() {
    log "SKIPPED: $*"
    echo "postgres_suite: SKIPPED: $*"
    exit 2
}

# shellcheck source=scripts/pg_lib.sh
source "$repo/scripts/pg_lib.sh"

procs="${OBESITY_PG_CONCURRENT_PROCS:-8}"
count="${OBESITY_PG_CONCURRENT_COUNT:-5}"
workers="${OBESITY_PG_MLFLOW_WORKERS:-2}"
build_timeout="${OBESITY_BUILD_TIMEOUT:-1800}"
suite_start=$(date +%s)

work="$(mktemp -d "${TMPDIR:-/tmp}/obesity-pg-suite.XXXXXX")"
worker_pids=()
cleanup() {
    local rc=$?
    set +e
    for p in "${worker_pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
    mlflow_server_stop
    pg_cluster_stop
    if [ "${OBESITY_KEEP_PG_TMP:-0}" = "1" ] || [ "$rc" = 1 ]; then
        log "kept $work (mlflow-server.log, pg/postgres.log, *.log)"
    else
        rm -rf "$work"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# --- 0. services ----------------------------------------------------------------------------
pg_ensure_installed || skip "PostgreSQL is not installed and could not be installed"
# shellcheck source=scripts/mlflow_env.sh
source "$repo/scripts/mlflow_env.sh" || skip "could not set up the MLflow virtual environment"
command -v mlflow >/dev/null || skip "mlflow is not on PATH after sourcing mlflow_env.sh"
mlflow_ensure_psycopg2 || skip "could not install psycopg2-binary==$PG_PSYCOPG2_VERSION"
log "using $(mlflow --version 2>/dev/null), psycopg2 $(python -c 'import psycopg2; print(psycopg2.__version__.split()[0])')"

t=$(date +%s)
pg_cluster_start "$work" || die "could not start the throw-away PostgreSQL cluster"
log "cluster ready in $(($(date +%s) - t))s"
mlflow_pg_server_start "$work" "$workers"
server_started=$(date +%s)

# Build while MLflow imports and migrates the fresh database.
log "building the test binary and the examples (waits on the cargo lock if another build runs)"
t=$(date +%s)
timeout "$build_timeout" cargo test -p obesity-registry --test it --no-run --quiet ||
    die "the obesity-registry test binary does not build"
timeout "$build_timeout" cargo build --release --quiet -p obesity-registry --example concurrent_register ||
    die "the concurrent_register example does not build"
timeout "$build_timeout" cargo build --release --quiet --example train_and_register ||
    die "the train_and_register example does not build"
log "built in $(($(date +%s) - t))s"
target_dir="$(cargo metadata --format-version 1 --no-deps | python -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
register_bin="$target_dir/release/examples/concurrent_register"
job_bin="$target_dir/release/examples/train_and_register"
[ -x "$register_bin" ] && [ -x "$job_bin" ] || die "no $register_bin or $job_bin after the build"

mlflow_pg_server_wait $((240 - ($(date +%s) - server_started) > 30 ? 240 - ($(date +%s) - server_started) : 30)) ||
    die "mlflow server on PostgreSQL did not become healthy"
url="$MLFLOW_URL"
passed=0

# --- a. conformance suite -------------------------------------------------------------------
log "a. MlflowStore conformance suite against $url (PostgreSQL backend)"
t=$(date +%s)
out="$work/cargo-test.log"
if ! OBESITY_MLFLOW_TEST_URI="$url" MLFLOW_TRACKING_URI="" timeout 900 \
    cargo test -p obesity-registry --test it -- mlflow_client:: mlflow_server:: >"$out" 2>&1; then
    tail -n 80 "$out" >&2
    log "server log (last 40 lines):"
    tail -n 40 "$MLFLOW_LOG" >&2
    die "MlflowStore tests failed against MLflow on PostgreSQL"
fi
grep -E "^test result:" "$out" >&2 || true
grep -q "mlflow_server_conformance_suite ... ok" "$out" ||
    die "the server conformance test did not run (test filter or module wiring is wrong)"
log "a. passed in $(($(date +%s) - t))s"
passed=$((passed + 1))

# --- b. concurrent registration -------------------------------------------------------------
model="concurrent-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
log "b. $procs processes x $count versions of $model at the same instant"
t=$(date +%s)
start_at=$(($(date +%s%3N) + 4000))
for i in $(seq 1 "$procs"); do
    timeout 300 "$register_bin" --tracking-uri "$url" --model "$model" --count "$count" \
        --worker "$i" --start-at "$start_at" >"$work/register-$i.json" 2>"$work/register-$i.err" &
    worker_pids+=("$!")
done
failed=0
for i in "${!worker_pids[@]}"; do
    if ! wait "${worker_pids[$i]}"; then
        failed=$((failed + 1))
        log "worker $((i + 1)) failed:"
        cat "$work/register-$((i + 1)).err" >&2
    fi
done
worker_pids=()
[ "$failed" = 0 ] || die "$failed of $procs registering processes failed"
curl -fsS -m 30 -G "$url/api/2.0/mlflow/model-versions/search" \
    --data-urlencode "filter=name='$model'" --data-urlencode "max_results=1000" \
    >"$work/versions.json" || die "could not list the versions of $model on the server"
python - "$procs" "$count" "$work" <<'EOF' || die "concurrent registration gave duplicate or missing versions"
import json, sys
procs, count, work = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
got, interleaved = [], 0
for i in range(1, procs + 1):
    with open(f"{work}/register-{i}.json") as f:
        doc = json.loads(f.read().strip().splitlines()[-1])
    v = doc["versions"]
    if len(v) != count or v != sorted(v):
        sys.exit(f"worker {i}: expected {count} increasing versions, got {v}")
    got += v
    interleaved += v != list(range(v[0], v[0] + count))
want = list(range(1, procs * count + 1))
dups = sorted({x for x in got if got.count(x) > 1})
if sorted(got) != want:
    sys.exit(f"versions {sorted(got)} != 1..={procs * count}; duplicates {dups}")
with open(f"{work}/versions.json") as f:
    server = sorted(int(mv["version"]) for mv in json.load(f).get("model_versions", []))
if server != want:
    sys.exit(f"the server lists versions {server}, expected 1..={procs * count}")
print(f"postgres_suite: {procs * count} versions 1..={procs * count}, unique and gap-free; "
      f"{interleaved} of {procs} processes got interleaved numbers", file=sys.stderr)
EOF
log "b. passed in $(($(date +%s) - t))s"
passed=$((passed + 1))

# --- c. the main job --------------------------------------------------------------------------
log "c. the main job (train_and_register) against $url"
t=$(date +%s)
if ! timeout 900 "$job_bin" \
    --tracking-uri "$url" --out "$work/job-out" --json >"$work/job.log" 2>&1; then
    tail -n 40 "$work/job.log" >&2
    die "the main job failed against MLflow on PostgreSQL"
fi
job_model="$(tail -n 1 "$work/job.log" | python -c 'import json,sys; d=json.load(sys.stdin); m=d["model"]; assert int(m["version"]) >= 1; print(m["name"], m["version"])')" ||
    die "the main job printed no registered version (last line of $work/job.log)"
read -r name version <<<"$job_model"
curl -fsS -m 30 -G "$url/api/2.0/mlflow/model-versions/get" --data-urlencode "name=$name" \
    --data-urlencode "version=$version" >/dev/null ||
    die "the server does not know $name version $version"
log "c. passed in $(($(date +%s) - t))s: $name version $version registered on the server"
passed=$((passed + 1))

log "$passed passed, 0 failed in $(($(date +%s) - suite_start))s"
echo "postgres_suite: $passed passed, 0 failed"
