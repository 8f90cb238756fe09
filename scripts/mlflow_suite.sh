#!/usr/bin/env bash
# The obesity-registry tests that need the real MLflow (called by .ci/run):
#
#   1. starts `mlflow server` (SQLite backend, proxied artifacts, a free port, a temp dir),
#      waits for GET /health, runs the MlflowStore tests against it
#      (`cargo test -p obesity-registry --test it -- mlflow_client:: mlflow_server::`), then
#      stops it by pid;
#   1b. with the server still up, proves that a registered version is an MLflow Model
#      (issue 15): the main job (examples/train_and_register.rs) registers
#      obesity-classifier in a LocalStore folder and on the server, the registry example
#      `registered_predictions` writes Rust's predictions for the raw rows, and
#      scripts/mlflow_model_check.py has MLflow 3.17.2 load it (`mlflow.pyfunc.load_model`),
#      serve it (`mlflow models serve --env-manager local`, stopped by pid) and batch-score it
#      (`mlflow.pyfunc.spark_udf` on local[2]; pyspark pinned, cached in
#      ${OBESITY_CACHE}/pyspark-<version>) with the same classes, and reads the logged-model
#      and dataset records and, from the server, the version's REST answers and its MLmodel;
#   2. has the Rust test `mlflow_interop_write_local_store` write a LocalStore folder and
#      checks it with MLflow's own Python client (scripts/check_local_store_with_mlflow.py),
#      directly and after `mlflow migrate-filestore`;
#   3. has the Rust kill-loop test kill writers of a LocalStore at random points (SIGKILL,
#      OBESITY_KILL_LOOP_ITERATIONS times, default 60) and checks that MLflow's client reads
#      the store they left exactly as the Rust store does (`--kill-loop`).
#
# The tests reach the server only through OBESITY_MLFLOW_TEST_URI (never MLFLOW_TRACKING_URI,
# which names the user's own server). A test that finds no server prints `SKIPPED: ...`; this
# script fails if any of its tests did, or if fewer tests ran than its filters select.
#
# MLflow comes from the venv that scripts/mlflow_env.sh caches outside the clone (the first
# run installs it and takes minutes; later runs reuse it). Exits non-zero on any failure.
#
# Environment: OBESITY_MLFLOW_START_TIMEOUT (seconds from launch to a healthy server, default
# 180), OBESITY_MLFLOW_SERVER_ARGS (extra `mlflow server` arguments, e.g. `--app-name
# basic-auth`), OBESITY_KEEP_MLFLOW_TMP=1 keeps the temp dir (server log, store, database).

set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

log() { printf 'mlflow_suite: %s\n' "$*" >&2; }
die() {
    log "FAILED: $*"
    exit 1
}

suite_start=$(date +%s)
# shellcheck source=scripts/mlflow_env.sh
source "$repo/scripts/mlflow_env.sh" || die "could not set up the MLflow virtual environment"
command -v mlflow >/dev/null || die "mlflow is not on PATH after sourcing mlflow_env.sh"
log "using $(mlflow --version 2>/dev/null) from $OBESITY_MLFLOW_VENV"

# pyspark for the spark_udf check, pinned, installed once into its own cached folder (not
# the MLflow venv, which the other suites share) and put on PYTHONPATH for that check only.
spark_version="${OBESITY_PYSPARK_VERSION:-4.0.1}"
spark_site="${OBESITY_CACHE:-$HOME/.cache/obesity-mlops}/pyspark-$spark_version"
if [ "$(cat "$spark_site/.complete" 2>/dev/null)" != "pyspark==$spark_version" ]; then
    log "installing pyspark==$spark_version into $spark_site (once)"
    rm -rf "$spark_site"
    timeout 900 python -m pip install --quiet --target "$spark_site" "pyspark==$spark_version" >&2 ||
        die "pip install pyspark==$spark_version failed"
    printf 'pyspark==%s' "$spark_version" >"$spark_site/.complete"
fi
command -v java >/dev/null || die "no java on PATH: the spark_udf check needs a JVM (Java 17)"

work="$(mktemp -d "${TMPDIR:-/tmp}/obesity-mlflow-suite.XXXXXX")"
# Nothing of this suite may write MLflow's default store into the repository.
repo_db_before="$([ -e "$repo/mlflow.db" ] && echo yes || echo no)"
server_pid=""

# `mlflow server` runs uvicorn as a child process and passes SIGTERM on to it; the child's pid
# is noted first so that it is stopped too if the parent has to be killed hard.
stop_server() {
    [ -n "$server_pid" ] || return 0
    local children
    children="$(pgrep -P "$server_pid" 2>/dev/null || true)"
    if kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -9 "$server_pid" 2>/dev/null || true
    fi
    wait "$server_pid" 2>/dev/null || true
    for child in $children; do
        # Only if that pid is still the server's uvicorn (not a reused pid).
        if ps -p "$child" -o args= 2>/dev/null | grep -q "mlflow.server"; then
            kill -9 "$child" 2>/dev/null || true
        fi
    done
    server_pid=""
}

cleanup() {
    local rc=$?
    stop_server
    if [ "${OBESITY_KEEP_MLFLOW_TMP:-0}" = "1" ] || [ "$rc" -ne 0 ]; then
        log "kept $work (server.log, interop/)"
    else
        rm -rf "$work"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port="$(python - <<'EOF'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF
)"
url="http://127.0.0.1:$port"

# An empty, fully migrated database, made once per cached venv: a fresh SQLite backend spends
# ~10 s in schema migrations at every server start, a copy of this template none.
template="$OBESITY_MLFLOW_VENV/empty-mlflow.db"
if [ ! -s "$template" ]; then
    log "creating the migrated database template $template (once)"
    rm -f "$template.tmp"
    if mlflow db upgrade "sqlite:///$template.tmp" >"$work/db-upgrade.log" 2>&1; then
        mv "$template.tmp" "$template"
    else
        log "mlflow db upgrade failed (see $work/db-upgrade.log); the server will migrate"
    fi
fi
[ -s "$template" ] && cp "$template" "$work/mlflow.db"

log "starting mlflow server on $url (backend sqlite:///$work/mlflow.db)"
(
    cd "$work"
    # `exec` so that $! is the server itself and stopping it by pid stops it.
    # shellcheck disable=SC2086 # extra args are meant to be split
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false exec mlflow server \
        --backend-store-uri "sqlite:///$work/mlflow.db" \
        --artifacts-destination "$work/artifacts" \
        --host 127.0.0.1 --port "$port" --workers 1 ${OBESITY_MLFLOW_SERVER_ARGS:-}
) >"$work/server.log" 2>&1 &
server_pid=$!
started=$(date +%s)

# Build the test binary while the server starts (MLflow takes ~10 s to import and boot).
log "building the obesity-registry test binary"
t=$(date +%s)
cargo test -p obesity-registry --test it --no-run --quiet || die "the test binary does not build"
log "built in $(($(date +%s) - t))s"

timeout_s="${OBESITY_MLFLOW_START_TIMEOUT:-180}"
until curl -fsS "$url/health" >/dev/null 2>&1; do
    if ! kill -0 "$server_pid" 2>/dev/null; then
        log "server log:"
        cat "$work/server.log" >&2
        die "mlflow server exited before answering GET $url/health"
    fi
    if [ $(($(date +%s) - started)) -ge "$timeout_s" ]; then
        log "server log:"
        cat "$work/server.log" >&2
        die "mlflow server did not answer GET $url/health within ${timeout_s}s"
    fi
    sleep 0.5
done
log "server healthy after $(($(date +%s) - started))s (pid $server_pid)"

# Fails when a test said it was skipped, or when fewer tests passed than the filters select
# (a filter that matches nothing also "passes").
check_ran() { # <log> <expected count> <what>
    if grep -q "SKIPPED" "$1"; then
        grep "SKIPPED" "$1" >&2
        die "$3: tests were skipped (see above)"
    fi
    local passed
    passed="$(sed -n 's/^test result: ok\. \([0-9]*\) passed.*/\1/p' "$1" | tail -n 1)"
    [ "${passed:-0}" -eq "$2" ] || die "$3: ${passed:-0} tests passed, expected $2"
}
count_tests() { # <test filters...>: how many tests of the `it` binary they select
    cargo test -p obesity-registry --test it --quiet -- --list "$@" 2>/dev/null |
        grep -c ': test$'
}

filters=(mlflow_client:: mlflow_server::)
expected_tests="$(count_tests "${filters[@]}")"
[ "$expected_tests" -gt 0 ] || die "no test matches ${filters[*]}"
log "running the $expected_tests MlflowStore tests against $url"
t=$(date +%s)
out="$work/cargo-test.log"
# MLFLOW_TRACKING_URI points at a closed port: a test that read it would fail, not skip.
if ! OBESITY_MLFLOW_TEST_URI="$url" MLFLOW_TRACKING_URI="http://127.0.0.1:9" \
    cargo test -p obesity-registry --test it -- "${filters[@]}" --show-output 2>&1 |
    tee "$out"; then
    log "server log (last 60 lines):"
    tail -n 60 "$work/server.log" >&2
    die "MlflowStore tests failed against the real server"
fi
check_ran "$out" "$expected_tests" "MlflowStore tests"
grep -q "mlflow_server_conformance_suite ... ok" "$out" ||
    die "the server conformance test did not run (test filter or module wiring is wrong)"
log "MlflowStore tests passed in $(($(date +%s) - t))s"

# --- The registered version is an MLflow Model (issue 15) ------------------------------------
# The main job registers obesity-classifier (champion) in a LocalStore folder and on the
# server; registered_predictions writes what Rust predicts for the raw rows with the
# version's native files; scripts/mlflow_model_check.py makes MLflow load, serve and
# batch-score the same version and compares.
log "building the main job and registered_predictions (release)"
t=$(date +%s)
cargo build --release --quiet --example train_and_register ||
    die "the train_and_register example does not build"
cargo build --release --quiet -p obesity-registry --example registered_predictions ||
    die "the registered_predictions example does not build"
target_dir="$(cargo metadata --format-version 1 --no-deps | python -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
job_bin="$target_dir/release/examples/train_and_register"
pred_bin="$target_dir/release/examples/registered_predictions"
[ -x "$job_bin" ] && [ -x "$pred_bin" ] || die "no $job_bin or $pred_bin after the build"
log "built in $(($(date +%s) - t))s"
data="${OBESITY_UCI_CSV:-$repo/fixtures/obesity_synthetic.csv}"
mm="$work/mlmodel"
mkdir -p "$mm"
champion="models:/obesity-classifier@champion"

log "MLflow Model checks on a LocalStore folder written by the main job ($data)"
t=$(date +%s)
"$job_bin" --data "$data" --tracking-uri "$mm/mlruns" --out "$mm/out-local" --json \
    >"$mm/job-local.log" 2>&1 || { cat "$mm/job-local.log" >&2; die "the main job failed on the LocalStore"; }
"$pred_bin" --tracking-uri "$mm/mlruns" --model "$champion" --data "$data" \
    --out "$mm/predictions.json" || die "registered_predictions failed on the LocalStore"
# From inside the temp dir: a subprocess that falls back to MLflow's default store
# (sqlite:///mlflow.db in the working directory) must not write into the repository.
(cd "$mm" && MLFLOW_ALLOW_FILE_STORE=true PYTHONPATH="$spark_site${PYTHONPATH:+:$PYTHONPATH}" \
    timeout "${OBESITY_MLMODEL_CHECK_TIMEOUT:-900}" \
    python "$repo/scripts/mlflow_model_check.py" local "$mm" --spark) ||
    die "MLflow does not load, serve or batch-score the Rust-registered version as Rust predicts"
log "LocalStore MLflow Model checks passed in $(($(date +%s) - t))s"

log "MLflow Model checks on the server: the version's REST answers and pyfunc through it"
t=$(date +%s)
"$job_bin" --data "$data" --tracking-uri "$url" --out "$mm/out-server" --json \
    >"$mm/job-server.log" 2>&1 || { cat "$mm/job-server.log" >&2; die "the main job failed on the server"; }
"$pred_bin" --tracking-uri "$url" --model "$champion" --data "$data" --rows 500 \
    --out "$mm/server_predictions.json" || die "registered_predictions failed on the server"
(cd "$mm" && timeout "${OBESITY_MLMODEL_CHECK_TIMEOUT:-900}" \
    python "$repo/scripts/mlflow_model_check.py" server "$url" "$mm") ||
    die "the server's answers for the registered version lack its MLflow Model (see above)"
log "server MLflow Model checks passed in $(($(date +%s) - t))s"

# The server is not needed any more.
stop_server

log "writing a LocalStore folder from Rust and reading it with MLflow's Python client"
t=$(date +%s)
mkdir -p "$work/interop"
if ! OBESITY_INTEROP_DIR="$work/interop" cargo test -p obesity-registry --test it \
    mlflow_interop::mlflow_interop_write_local_store -- --exact --show-output \
    >"$work/interop.log" 2>&1; then
    cat "$work/interop.log" >&2
    die "the Rust side could not write the LocalStore folder"
fi
check_ran "$work/interop.log" 1 "the interop writer"
[ -f "$work/interop/expected.json" ] || die "the Rust side wrote no $work/interop/expected.json"
(cd "$work" && MLFLOW_ALLOW_FILE_STORE=true python "$repo/scripts/check_local_store_with_mlflow.py" \
    "$work/interop") || die "MLflow's client disagrees with the Rust LocalStore (see above)"
log "interop check passed in $(($(date +%s) - t))s"

kill_test="processes::issue12_3_writers_killed_at_random_points_leave_nothing_mlflow_reads_and_reopen_cleans_up"
log "killing LocalStore writers at random points and reading what they left with MLflow"
t=$(date +%s)
mkdir -p "$work/killed"
if ! OBESITY_KILL_LOOP_DIR="$work/killed" \
    OBESITY_KILL_LOOP_ITERATIONS="${OBESITY_KILL_LOOP_ITERATIONS:-60}" \
    cargo test -p obesity-registry --test it "$kill_test" -- --exact --show-output \
    >"$work/kill-loop.log" 2>&1; then
    cat "$work/kill-loop.log" >&2
    die "the kill loop failed on the Rust side"
fi
check_ran "$work/kill-loop.log" 1 "the kill loop"
grep "^kill loop:" "$work/kill-loop.log" >&2 || true
(cd "$work" && MLFLOW_ALLOW_FILE_STORE=true python "$repo/scripts/check_local_store_with_mlflow.py" \
    --kill-loop "$work/killed") ||
    die "MLflow's client does not read the store killed writers left as the Rust store does"
log "kill-loop check passed in $(($(date +%s) - t))s"

if [ "$repo_db_before" = no ] && [ -e "$repo/mlflow.db" ]; then
    die "something in this suite wrote MLflow's default store $repo/mlflow.db"
fi
log "all MLflow checks passed in $(($(date +%s) - suite_start))s"
