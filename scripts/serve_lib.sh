#!/usr/bin/env bash
# Shared by scripts/serve_suite.sh and scripts/loadtest.sh (source it; it defines functions
# only). Servers are started in the background with `exec`, so that $! is the server itself;
# each one's pid goes into SERVE_PIDS and `serve_stop_all` (called from the callers' EXIT
# trap) stops exactly those, and their children, by pid.

SERVE_PIDS=()
SERVE_PID=""
SERVE_STATUS=0
SERVE_NAME="${SERVE_NAME:-serve}"
SERVE_TARGET="${SERVE_TARGET:-}"

serve_log() { printf '%s: %s\n' "$SERVE_NAME" "$*" >&2; }
serve_die() {
    serve_log "FAILED: $*"
    exit 1
}
# Something the script needs is missing: say SKIPPED (CI must not mistake it for a pass).
serve_skip() {
    printf '%s: SKIPPED: %s\n' "$SERVE_NAME" "$*" >&2
    exit 3
}

# A free TCP port on 127.0.0.1 (bound then released; the server binds it right after).
serve_free_port() {
    python3 - <<'EOF'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF
}

# The cargo target directory (honours CARGO_TARGET_DIR and .cargo/config); callers keep it
# in SERVE_TARGET.
serve_target_dir() {
    cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])'
}

# The release binaries both scripts need: `obesity` (with `serve`), the obesity-serve examples
# and the main job. These are the only two builds the scripts run.
# OBESITY_SERVE_NO_BUILD=1 uses the binaries already in the target dir (for a shared work
# tree that does not build at the moment; CI always builds).
serve_build() {
    if [ "${OBESITY_SERVE_NO_BUILD:-0}" = "1" ]; then
        local b
        for b in obesity examples/ceiling examples/expected_predictions \
            examples/train_and_register; do
            [ -x "$SERVE_TARGET/release/$b" ] ||
                serve_die "OBESITY_SERVE_NO_BUILD=1 but $SERVE_TARGET/release/$b is missing"
        done
        serve_log "OBESITY_SERVE_NO_BUILD=1: using the binaries in $SERVE_TARGET/release"
        return 0
    fi
    serve_log "building release binaries (obesity-cli, obesity-serve examples, train_and_register)"
    # --bins as well: `--examples` alone would leave out the `obesity` binary.
    cargo build --release -p obesity-cli -p obesity-serve --bins --examples ||
        serve_die "cargo build --release -p obesity-cli -p obesity-serve --bins --examples failed"
    cargo build --release --example train_and_register ||
        serve_die "cargo build --release --example train_and_register failed"
}

# serve_register STORE OUT DATA: runs the main job into a fresh store; makes sure the version
# carries the champion alias (the promotion policy decides that, and a weak first model on a
# small data set might not get it), and prints the version number.
serve_register() {
    local store="$1" out="$2" data="$3" json version
    serve_log "registering a model: train_and_register --data $data --tracking-uri $store"
    # The binary serve_build just built (what `cargo run --release --example
    # train_and_register` runs), called directly so that nothing is rebuilt in between.
    json="$("$SERVE_TARGET/release/examples/train_and_register" \
        --data "$data" --tracking-uri "$store" --out "$out" --json 2>"$out.log" | tail -n 1)" ||
        { cat "$out.log" >&2; serve_die "train_and_register failed"; }
    version="$(printf '%s' "$json" | python3 -c 'import json, sys; print(json.load(sys.stdin)["model"]["version"])')" ||
        serve_die "train_and_register printed no JSON outcome: $json"
    if ! printf '%s' "$json" | grep -q '"champion"'; then
        serve_log "version $version did not get the champion alias; setting it"
        "$SERVE_TARGET/release/obesity" registry alias obesity-classifier champion "$version" \
            --tracking-uri "$store" >/dev/null || serve_die "could not set the champion alias"
    fi
    echo "$version"
}

# serve_start LOG CMD ARGS...: starts a server in the background and sets SERVE_PID to its
# pid (a simple command run with `&` is exec'd in the forked child, so $! is the server).
# Not to be called in $( ): the server must stay this shell's child.
serve_start() {
    local log="$1"
    shift
    "$@" >"$log" 2>&1 &
    SERVE_PID=$!
    SERVE_PIDS+=("$SERVE_PID")
}

# serve_wait URL PID TIMEOUT_S LOG: waits for URL to answer 2xx while PID lives.
serve_wait() {
    local url="$1" pid="$2" timeout_s="$3" log="$4" started
    started=$(date +%s)
    until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
        if ! kill -0 "$pid" 2>/dev/null; then
            serve_log "server log ($log):"
            tail -n 40 "$log" >&2
            serve_die "the server (pid $pid) exited before answering GET $url"
        fi
        if [ $(($(date +%s) - started)) -ge "$timeout_s" ]; then
            serve_log "server log ($log):"
            tail -n 40 "$log" >&2
            serve_die "GET $url did not answer within ${timeout_s}s"
        fi
        sleep 0.2
    done
    serve_log "$url answered after $(($(date +%s) - started))s (pid $pid)"
}

# The pid and all its descendants, one per line (children before the parent is reaped).
serve_tree() {
    local pid="$1" child
    echo "$pid"
    for child in $(pgrep -P "$pid" 2>/dev/null || true); do
        serve_tree "$child"
    done
}

# Sum of utime + stime (clock ticks) of the given pids, from /proc/<pid>/stat (fields 14 and
# 15, counted after the parenthesised command name, which may contain spaces).
serve_cpu_ticks() {
    local total=0 pid ticks
    for pid in "$@"; do
        ticks="$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat" 2>/dev/null || true)"
        total=$((total + ${ticks:-0}))
    done
    echo "$total"
}

# Sum of VmRSS (KiB) of the given pids.
serve_rss_kib() {
    local total=0 pid kb
    for pid in "$@"; do
        kb="$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)"
        total=$((total + ${kb:-0}))
    done
    echo "$total"
}

# serve_stop PID: SIGTERM to the server, up to 15 s to exit, then SIGKILL; children it left
# behind (uvicorn workers) are killed by pid if they still run. Sets SERVE_STATUS to the
# server's exit status. Not to be called in $( ) (it must `wait` for its own child).
serve_stop() {
    local pid="$1" tree child p kept=()
    SERVE_STATUS=0
    tree="$(serve_tree "$pid" | tail -n +2)"
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 75); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        if kill -0 "$pid" 2>/dev/null; then
            serve_log "pid $pid ignored SIGTERM for 15 s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    # shellcheck disable=SC2034 # read by the callers
    wait "$pid" 2>/dev/null || SERVE_STATUS=$?
    for child in $tree; do
        if kill -0 "$child" 2>/dev/null; then
            kill -KILL "$child" 2>/dev/null || true
        fi
    done
    for p in "${SERVE_PIDS[@]}"; do
        if [ "$p" != "$pid" ]; then
            kept+=("$p")
        fi
    done
    SERVE_PIDS=("${kept[@]}")
}

serve_stop_all() {
    local pid
    for pid in "${SERVE_PIDS[@]}"; do
        serve_stop "$pid"
    done
}
