#!/usr/bin/env bash
# The serving suite with real clients nobody here wrote (issue 14; called by .ci/run):
#
#   1. builds the release binaries (`obesity`, the obesity-serve examples, the main job);
#   2. registers a model by running the main job (`train_and_register`) into a temp store;
#   3. writes the library's own predictions for 40 rows of the data
#      (`--example expected_predictions`, no server involved);
#   4. starts `obesity serve --model models:/obesity-classifier@champion` on a free port of
#      127.0.0.1 and waits for GET /v2/health/ready;
#   5. runs scripts/serve_clients.py: tritonclient.http (health, metadata, infer with
#      binary_data=False), MLflow's scoring client and `requests` with every MLflow input
#      format (+ 415), prometheus_client's parser on /metrics, and the seeds' /predict shapes;
#      every prediction must equal the library's;
#   6. stops the server with SIGTERM (by pid) and checks that it exits cleanly (status 0)
#      within 15 s.
#
# The Python packages come from scripts/serve_env.sh (a venv cached outside the clone).
# Exits non-zero on any failure; prints "SKIPPED" and exits 3 when something it needs is
# missing (cargo, curl, python3, the venv).
#
# Environment: OBESITY_SERVE_DATA (CSV to train on; default: the fixture),
# OBESITY_SERVE_START_TIMEOUT (seconds, default 60), OBESITY_KEEP_SERVE_TMP=1 keeps the temp
# dir (it is always kept on failure), OBESITY_SERVE_CLIENT_ARGS (extra serve_clients.py
# arguments, e.g. `--only mlflow`). The clients also post a 16 MiB body and expect 413.

set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# Never talk to a tracking server this script did not start.
unset MLFLOW_TRACKING_URI OBESITY_TRACKING_URI

SERVE_NAME="serve_suite"
# shellcheck source=scripts/serve_lib.sh
source "$repo/scripts/serve_lib.sh"

for tool in cargo curl python3 pgrep; do
    command -v "$tool" >/dev/null 2>&1 || serve_skip "'$tool' is not installed"
done
data="${OBESITY_SERVE_DATA:-$repo/fixtures/obesity_synthetic.csv}"
[ -f "$data" ] || serve_skip "no training data at $data"

suite_start=$(date +%s)
# shellcheck source=scripts/serve_env.sh
source "$repo/scripts/serve_env.sh" || serve_skip "could not set up the Python environment"
python -c 'import tritonclient.http, requests, prometheus_client, pandas, mlflow' 2>/dev/null ||
    serve_skip "the client packages do not import from $OBESITY_SERVE_VENV"

work="$(mktemp -d "${TMPDIR:-/tmp}/obesity-serve-suite.XXXXXX")"
cleanup() {
    local rc=$?
    serve_stop_all
    if [ "${OBESITY_KEEP_SERVE_TMP:-0}" = "1" ] || [ "$rc" -ne 0 ]; then
        serve_log "kept $work (server.log, clients.log, expected.json, mlruns/)"
    else
        rm -rf "$work"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

SERVE_TARGET="$(serve_target_dir)"
serve_build
bin="$SERVE_TARGET/release/obesity"
[ -x "$bin" ] || serve_die "no $bin after the build"
"$bin" serve --help >/dev/null 2>&1 || serve_die "'obesity serve' does not exist in $bin"

version="$(serve_register "$work/mlruns" "$work/out" "$data")"
model="models:/obesity-classifier@champion"
serve_log "registered obesity-classifier version $version"

"$SERVE_TARGET/release/examples/expected_predictions" --tracking-uri "$work/mlruns" \
    --model "$model" --data "$data" --rows 40 --out "$work/expected.json" ||
    serve_die "expected_predictions could not compute the library's predictions"

port="$(serve_free_port)"
url="http://127.0.0.1:$port"
serve_log "starting obesity serve on $url"
serve_start "$work/server.log" "$bin" serve --tracking-uri "$work/mlruns" --model "$model" \
    --host 127.0.0.1 --port "$port"
server_pid="$SERVE_PID"
serve_wait "$url/v2/health/ready" "$server_pid" "${OBESITY_SERVE_START_TIMEOUT:-60}" \
    "$work/server.log"

serve_log "running the real clients (scripts/serve_clients.py)"
# shellcheck disable=SC2086 # extra args are meant to be split
if ! python "$repo/scripts/serve_clients.py" --url "$url" --expected "$work/expected.json" \
    --big-body-mb 16 ${OBESITY_SERVE_CLIENT_ARGS:-} 2>&1 | tee "$work/clients.log"; then
    serve_log "server log (last 40 lines):"
    tail -n 40 "$work/server.log" >&2
    serve_die "the real clients found problems (see above)"
fi
kill -0 "$server_pid" 2>/dev/null || serve_die "the server died during the client checks"

serve_log "stopping the server with SIGTERM (graceful shutdown)"
t=$(date +%s)
serve_stop "$server_pid"
[ "$SERVE_STATUS" -eq 0 ] ||
    serve_die "the server exited with status $SERVE_STATUS after SIGTERM (see $work/server.log)"
serve_log "the server exited cleanly after $(($(date +%s) - t))s"
if grep -q "panicked" "$work/server.log"; then
    serve_die "the server log has a panic (see $work/server.log)"
fi

serve_log "all serving checks passed in $(($(date +%s) - suite_start))s"
