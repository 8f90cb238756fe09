#!/usr/bin/env bash
# Helpers shared by scripts/postgres_suite.sh and scripts/lb_suite.sh; source it, don't run it.
#
#   pg_ensure_installed            Debian's postgresql (apt-get) if no initdb is found
#   pg_cluster_start DIR           a throw-away cluster in DIR, run by an unprivileged user,
#                                  on 127.0.0.1 and a free port, with a database `mlflow`;
#                                  sets PG_URI (postgresql+psycopg2://mlflow:<pw>@127.0.0.1:<port>/mlflow)
#   pg_cluster_stop                `pg_ctl stop -m fast` (then SIGKILL of that postmaster pid)
#   mlflow_ensure_psycopg2         psycopg2-binary (pinned) in the cached MLflow venv
#   mlflow_pg_server_start DIR     `mlflow server` on PG_URI with proxied artifacts in DIR;
#                                  sets MLFLOW_URL and MLFLOW_PID, waits for GET /health
#   mlflow_server_stop             stops that server and the uvicorn processes under it
#   tree_snapshot PID / tree_stop  stop a process and every descendant it had, by pid
#                                  (each pid checked against its start time: no reused pid is hit)
#   free_port, wait_http URL SECONDS PID LOG
#
# Everything is started by the calling script and stopped by pid; nothing here looks for or
# touches a process it did not start.

: "${PG_USER_NAME:=obesity-pg}"
: "${PG_PSYCOPG2_VERSION:=2.9.13}"

_lib_log() { printf '%s: %s\n' "${LOG_PREFIX:-pg_lib}" "$*" >&2; }

free_port() {
    python3 - <<'EOF'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF
}

# wait_http URL TIMEOUT_S PID LOG: until URL answers 2xx; fails early if PID exits.
wait_http() {
    local url="$1" timeout_s="$2" pid="$3" log="$4" started
    started=$(date +%s)
    until curl -fsS -m 5 "$url" >/dev/null 2>&1; do
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            _lib_log "process $pid exited before $url answered; last lines of $log:"
            tail -n 40 "$log" >&2 || true
            return 1
        fi
        if [ $(($(date +%s) - started)) -ge "$timeout_s" ]; then
            _lib_log "$url did not answer within ${timeout_s}s; last lines of $log:"
            tail -n 40 "$log" >&2 || true
            return 1
        fi
        sleep 0.5
    done
}

# --- stopping process trees by pid --------------------------------------------------------

_start_time() { awk '{print $22}' "/proc/$1/stat" 2>/dev/null || true; }

# tree_snapshot PID: prints "pid:starttime" for PID and all its descendants.
tree_snapshot() {
    local pid="$1" child
    [ -d "/proc/$pid" ] || return 0
    printf '%s:%s\n' "$pid" "$(_start_time "$pid")"
    for child in $(pgrep -P "$pid" 2>/dev/null || true); do
        tree_snapshot "$child"
    done
}

_still_same() { # pid:starttime
    local pid="${1%%:*}" st="${1#*:}"
    [ -d "/proc/$pid" ] && [ "$(_start_time "$pid")" = "$st" ]
}

# tree_stop PID [GRACE_S]: SIGTERM to PID, up to GRACE_S (10) for it to go, then SIGKILL to
# whatever is left of it and of the descendants it had when this was called.
tree_stop() {
    local pid="$1" grace="${2:-10}" snap entry i
    [ -n "$pid" ] || return 0
    snap="$(tree_snapshot "$pid")"
    [ -n "$snap" ] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 5; i++)); do
        local alive=0
        for entry in $snap; do
            if _still_same "$entry"; then
                # a zombie child of ours counts as gone
                [ "$(awk '{print $3}' "/proc/${entry%%:*}/stat" 2>/dev/null)" = "Z" ] || alive=1
            fi
        done
        [ "$alive" = 0 ] && break
        sleep 0.2
    done
    for entry in $snap; do
        if _still_same "$entry"; then kill -KILL "${entry%%:*}" 2>/dev/null || true; fi
    done
    wait "$pid" 2>/dev/null || true
}

# --- PostgreSQL ---------------------------------------------------------------------------

PG_BIN=""
pg_ensure_installed() {
    local initdb
    initdb="$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)"
    if [ -z "$initdb" ]; then
        if [ "$(id -u)" != 0 ]; then
            _lib_log "PostgreSQL is not installed and this user cannot apt-get install it"
            return 1
        fi
        _lib_log "installing Debian's postgresql (apt-get)"
        export DEBIAN_FRONTEND=noninteractive
        # The package's post-install would start its own `main` cluster as a system service;
        # a policy-rc.d that says "not now" (only if there is none) keeps the machine as it was.
        local policy=""
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            policy=/usr/sbin/policy-rc.d
            printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 0755 "$policy"
        fi
        local ok=0
        timeout 600 apt-get install -y -qq postgresql >/dev/null 2>&1 || {
            timeout 300 apt-get update -qq >/dev/null 2>&1 &&
                timeout 600 apt-get install -y -qq postgresql >/dev/null 2>&1
        } || ok=1
        [ -n "$policy" ] && rm -f "$policy"
        if [ "$ok" != 0 ]; then
            _lib_log "apt-get install postgresql failed"
            return 1
        fi
        initdb="$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)"
        [ -n "$initdb" ] || return 1
    fi
    PG_BIN="$(dirname "$initdb")"
}

# Runs a command as the unprivileged cluster owner (directly when we are not root).
_as_pg() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u "$PG_USER_NAME" -- "$@"
    else
        "$@"
    fi
}

_pg_user_setup() {
    [ "$(id -u)" = 0 ] || return 0
    id -u "$PG_USER_NAME" >/dev/null 2>&1 && return 0
    _lib_log "creating the unprivileged system user $PG_USER_NAME"
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin "$PG_USER_NAME"
}

PG_DIR="" PG_PORT="" PG_PID="" PG_URI="" PG_PASSWORD=""
pg_cluster_start() {
    local dir="$1"
    _pg_user_setup || return 1
    PG_DIR="$dir/pg"
    mkdir -p "$PG_DIR/sock"
    # The cluster owner must be able to reach its folder inside our private temp dir.
    chmod 0711 "$dir"
    PG_PASSWORD="$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    printf '%s\n' "$PG_PASSWORD" >"$PG_DIR/pwfile"
    if [ "$(id -u)" = 0 ]; then chown -R "$PG_USER_NAME:" "$PG_DIR"; fi
    chmod 0700 "$PG_DIR"
    if ! _as_pg timeout 120 "$PG_BIN/initdb" -D "$PG_DIR/data" -U mlflow \
        --pwfile="$PG_DIR/pwfile" --auth-local=scram-sha-256 --auth-host=scram-sha-256 \
        --no-locale -E UTF8 --no-sync >"$dir/initdb.log" 2>&1; then
        _lib_log "initdb failed:"
        cat "$dir/initdb.log" >&2
        return 1
    fi
    rm -f "$PG_DIR/pwfile"
    PG_PORT="$(free_port)"
    if ! _as_pg timeout 90 "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories=$PG_DIR/sock -c fsync=off -c max_connections=200" \
        start >"$dir/pg_ctl.log" 2>&1; then
        _lib_log "pg_ctl start failed:"
        cat "$dir/pg_ctl.log" "$PG_DIR/postgres.log" >&2 2>/dev/null || true
        PG_PID="$(head -n 1 "$PG_DIR/data/postmaster.pid" 2>/dev/null || true)"
        return 1
    fi
    PG_PID="$(head -n 1 "$PG_DIR/data/postmaster.pid")"
    if ! PGPASSWORD="$PG_PASSWORD" timeout 30 "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" \
        -U mlflow mlflow >"$dir/createdb.log" 2>&1; then
        _lib_log "createdb failed:"
        cat "$dir/createdb.log" >&2
        return 1
    fi
    # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3; name the driver MLflow documents.
    PG_URI="postgresql+psycopg2://mlflow:$PG_PASSWORD@127.0.0.1:$PG_PORT/mlflow"
    _lib_log "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') up on 127.0.0.1:$PG_PORT (pid $PG_PID, owner $(_as_pg id -un))"
}

# Running and not a zombie (a stopped postmaster is re-parented to pid 1 and reaped later).
_alive() {
    local state
    state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true)"
    [ -n "$state" ] && [ "$state" != Z ]
}

pg_cluster_stop() {
    [ -n "$PG_DIR" ] && [ -d "$PG_DIR/data" ] || return 0
    local i
    if [ -n "$PG_PID" ] && _alive "$PG_PID"; then
        _as_pg timeout 60 "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
        for ((i = 0; i < 50; i++)); do
            _alive "$PG_PID" || break
            sleep 0.1
        done
        if _alive "$PG_PID" && [ "$(ps -p "$PG_PID" -o comm= 2>/dev/null)" = "postgres" ]; then
            _lib_log "pg_ctl stop did not stop postmaster $PG_PID; killing it"
            kill -KILL "$PG_PID" 2>/dev/null || true
        fi
    fi
    PG_PID=""
}

# --- MLflow on PostgreSQL -----------------------------------------------------------------

mlflow_ensure_psycopg2() {
    if python -c "import importlib.metadata as m, sys; sys.exit(0 if m.version('psycopg2-binary') == '$PG_PSYCOPG2_VERSION' else 1)" >/dev/null 2>&1 &&
        python -c "import psycopg2" >/dev/null 2>&1; then
        return 0
    fi
    _lib_log "installing psycopg2-binary==$PG_PSYCOPG2_VERSION into $OBESITY_MLFLOW_VENV"
    timeout 600 python -m pip install --quiet "psycopg2-binary==$PG_PSYCOPG2_VERSION" >&2 &&
        python -c "import psycopg2" >/dev/null 2>&1
}

MLFLOW_URL="" MLFLOW_PID="" MLFLOW_LOG=""
# mlflow_pg_server_start DIR [WORKERS]
mlflow_pg_server_start() {
    local dir="$1" workers="${2:-2}" port
    port="$(free_port)"
    MLFLOW_URL="http://127.0.0.1:$port"
    MLFLOW_LOG="$dir/mlflow-server.log"
    mkdir -p "$dir/artifacts"
    _lib_log "starting mlflow server on $MLFLOW_URL (backend postgresql://127.0.0.1:$PG_PORT/mlflow, $workers workers)"
    (
        cd "$dir" || exit 1
        unset MLFLOW_TRACKING_URI OBESITY_TRACKING_URI
        # `exec` so that $! is the server itself.
        MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false exec mlflow server \
            --backend-store-uri "$PG_URI" \
            --serve-artifacts --artifacts-destination "$dir/artifacts" \
            --host 127.0.0.1 --port "$port" --workers "$workers"
    ) >"$MLFLOW_LOG" 2>&1 &
    MLFLOW_PID=$!
}

mlflow_pg_server_wait() {
    local t
    t=$(date +%s)
    wait_http "$MLFLOW_URL/health" "${1:-240}" "$MLFLOW_PID" "$MLFLOW_LOG" || return 1
    _lib_log "mlflow server healthy after $(($(date +%s) - t))s more (pid $MLFLOW_PID)"
}

mlflow_server_stop() {
    [ -n "$MLFLOW_PID" ] || return 0
    tree_stop "$MLFLOW_PID" 15
    MLFLOW_PID=""
}
