#!/usr/bin/env bash
# The dashboard in a real browser (issue 17):
#
#   1. makes sure Debian's chromium is installed (apt-get install -y chromium, as root) and a
#      venv with the `websockets` package is cached outside the clone
#      (${OBESITY_CACHE:-$HOME/.cache/obesity-mlops}/venv-dashboard-check);
#   2. builds the release binaries and registers two versions with the main job
#      (train_and_register, as scripts/serve_suite.sh does): v1 champion, v2 challenger;
#   3. starts `obesity serve` on a free port of 127.0.0.1 with both loaded, checks every
#      second and 2-second dashboard steps, and starts an A/B experiment between them;
#   4. sends traffic in waves whose population drifts (heavier people, everyone by car),
#      a few requests refused by validation, and late labels for a third of the rows;
#   5. loads /dashboard in headless chromium over the DevTools protocol
#      (scripts/dashboard_check.py): no console error, no request but the page itself, every
#      chart drawn with the numbers the server gives elsewhere (traffic = requests sent,
#      labels = labels sent, drift verdicts = /monitoring/status, open alerts = status);
#   6. saves a 1280x800 screenshot to ${OBESITY_ARTIFACTS:-$OBESITY_CACHE/artifacts}/dashboard.png
#      (never into the repository), and stops the server and the browser by pid.
#
# Exits 0 when everything passes, 1 on any failure (loudly, with the server log), and prints
# "SKIPPED:" and exits 3 only when it truly cannot run (no cargo/curl/python3, chromium not
# installable, no venv). OBESITY_SERVE_NO_BUILD=1 uses the release binaries already built.

set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
unset MLFLOW_TRACKING_URI OBESITY_TRACKING_URI

SERVE_NAME="dashboard_suite"
# shellcheck source=scripts/serve_lib.sh
source "$repo/scripts/serve_lib.sh"

for tool in cargo curl python3 pgrep; do
    command -v "$tool" >/dev/null 2>&1 || serve_skip "'$tool' is not installed"
done
data="${OBESITY_SERVE_DATA:-$repo/fixtures/obesity_synthetic.csv}"
[ -f "$data" ] || serve_skip "no training data at $data"

cache="${OBESITY_CACHE:-$HOME/.cache/obesity-mlops}"
artifacts="${OBESITY_ARTIFACTS:-$cache/artifacts}"
mkdir -p "$artifacts"

# --- chromium ---------------------------------------------------------------------------------
chromium_bin() {
    local b
    for b in chromium chromium-browser; do
        if command -v "$b" >/dev/null 2>&1; then
            command -v "$b"
            return 0
        fi
    done
    return 1
}
if ! chromium_bin >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        serve_log "chromium missing: apt-get install -y chromium (Debian's package)"
        export DEBIAN_FRONTEND=noninteractive
        if ! apt-get install -y --no-install-recommends chromium >&2; then
            apt-get update >&2 || true
            apt-get install -y --no-install-recommends chromium >&2 || true
        fi
    fi
fi
chrome="$(chromium_bin)" || serve_skip "chromium is not installed and could not be (apt-get install chromium needs root and Debian's archive)"
serve_log "using $("$chrome" --version 2>/dev/null | head -n1)"

# --- the venv with websockets -----------------------------------------------------------------
venv="$cache/venv-dashboard-check"
websockets_pin="websockets==15.0.1"
if ! "$venv/bin/python" -c 'import websockets' >/dev/null 2>&1; then
    serve_log "creating $venv ($websockets_pin)"
    python3 -m venv "$venv" >&2 || serve_skip "python3 -m venv failed (Debian: apt-get install python3-venv)"
    "$venv/bin/python" -m pip install --quiet "$websockets_pin" >&2 ||
        serve_skip "pip install $websockets_pin failed"
fi
"$venv/bin/python" -c 'import websockets' || serve_skip "websockets does not import from $venv"

work="$(mktemp -d "${TMPDIR:-/tmp}/obesity-dashboard-suite.XXXXXX")"
cleanup() {
    local rc=$?
    serve_stop_all
    if [ "${OBESITY_KEEP_SERVE_TMP:-0}" = "1" ] || [ "$rc" -ne 0 ]; then
        serve_log "kept $work (server.log, chromium.log, traffic.json, mlruns/)"
        if [ "$rc" -ne 0 ] && [ -f "$work/server.log" ]; then
            serve_log "server log (last 30 lines):"
            tail -n 30 "$work/server.log" >&2
        fi
    else
        rm -rf "$work"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- build, two versions ----------------------------------------------------------------------
SERVE_TARGET="$(serve_target_dir)"
serve_build
bin="$SERVE_TARGET/release/obesity"
[ -x "$bin" ] || serve_die "no $bin after the build"
"$bin" serve --help 2>/dev/null | grep -q -- '--timeline-step' ||
    serve_die "$bin serve has no --timeline-step: the binary predates the dashboard (rebuild it)"

v1="$(serve_register "$work/mlruns" "$work/out1" "$data")"
v2="$(serve_register "$work/mlruns" "$work/out2" "$data")"
[ "$v1" != "$v2" ] || serve_die "the second registration did not make a new version"
"$bin" registry alias obesity-classifier champion "$v1" --tracking-uri "$work/mlruns" >/dev/null ||
    serve_die "could not point champion at version $v1"
"$bin" registry alias obesity-classifier challenger "$v2" --tracking-uri "$work/mlruns" >/dev/null ||
    serve_die "could not point challenger at version $v2"
serve_log "versions: champion $v1, challenger $v2"

# --- the server -------------------------------------------------------------------------------
port="$(serve_free_port)"
url="http://127.0.0.1:$port"
serve_start "$work/server.log" "$bin" serve --tracking-uri "$work/mlruns" \
    --model models:/obesity-classifier@champion \
    --also-load models:/obesity-classifier@challenger \
    --port "$port" --poll-interval 0 --check-interval 1 --timeline-step 2
serve_wait "$url/v2/health/ready" "$SERVE_PID" "${OBESITY_SERVE_START_TIMEOUT:-60}" "$work/server.log"

curl -fsS -X POST -H 'content-type: application/json' \
    -d "{\"name\": \"champion-vs-challenger\", \"treatment_version\": \"$v2\", \"min_samples_per_variant\": 20}" \
    "$url/experiments" >/dev/null || serve_die "POST /experiments failed"

# --- traffic whose population drifts, refused rows, late labels -------------------------------
"$venv/bin/python" - "$url" "$data" "$work/traffic.json" <<'EOF' || serve_die "sending traffic failed"
import csv, json, random, sys, time, urllib.error, urllib.request

url, data, out = sys.argv[1:4]
rng = random.Random(17)

def call(path, body=None):
    req = urllib.request.Request(url + path, method="POST" if body is not None else "GET",
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)

_, info = call("/model/info")
ranges = {f["name"]: (f.get("min"), f.get("max")) for f in info["inputs"] if f["type"] == "number"}
rows = list(csv.DictReader(open(data)))
rng.shuffle(rows)
sent = refused = labels = 0
for wave in range(4):
    for i in range(75):
        r = dict(rows[(wave * 75 + i) % len(rows)])
        label = r.pop("NObeyesdad")
        features = {k: (float(v) if k in ranges else v) for k, v in r.items()}
        # Drift: later waves are heavier and drive.
        if wave >= 1:
            lo, hi = ranges["Weight"]
            features["Weight"] = min(hi, features["Weight"] * 1.35)
            features["MTRANS"] = "Automobile"
        status, answer = call("/predict", {"features": features, "user_id": f"user-{wave}-{i}"})
        sent += 1
        if status != 200:
            sys.exit(f"/predict answered {status}: {answer}")
        if i % 3 == 0:
            status, fb = call("/feedback", {"request_id": answer["request_id"], "label": label})
            if status != 200:
                sys.exit(f"/feedback answered {status}: {fb}")
            labels += 1
    for _ in range(3):
        bad = {k: (float(v) if k in ranges else v) for k, v in rows[0].items() if k != "NObeyesdad"}
        bad["Age"] = 230
        status, _ = call("/predict", {"features": bad})
        sent += 1
        refused += 1
        if status != 422:
            sys.exit(f"a row with Age 230 answered {status}, not 422")
    time.sleep(2.2)
json.dump({"requests": sent, "refused": refused, "labels": labels}, open(out, "w"))
print(f"sent {sent} requests ({refused} refused), {labels} labels", file=sys.stderr)
EOF

# The monitor checks every second: wait for the drift report and an open alert.
for _ in $(seq 60); do
    if curl -fsS "$url/monitoring/status" | python3 -c '
import json, sys
s = json.load(sys.stdin)
sys.exit(0 if isinstance(s.get("drift"), dict) and "report" in s["drift"] and s.get("alerts") else 1)'; then
        break
    fi
    sleep 0.5
done

# --- the browser ------------------------------------------------------------------------------
devtools="$(serve_free_port)"
serve_start "$work/chromium.log" "$chrome" --headless=new --no-sandbox --disable-gpu \
    --disable-dev-shm-usage --no-first-run --no-default-browser-check \
    --disable-background-networking --disable-component-update --disable-sync \
    --remote-debugging-address=127.0.0.1 --remote-debugging-port="$devtools" \
    --user-data-dir="$work/chrome-profile" --window-size=1280,800 about:blank
chrome_pid="$SERVE_PID"
serve_wait "http://127.0.0.1:$devtools/json/version" "$chrome_pid" 60 "$work/chromium.log"

read -r requests refused labels < <(python3 -c '
import json, sys
t = json.load(open(sys.argv[1]))
print(t["requests"], t["refused"], t["labels"])' "$work/traffic.json")
shot="$artifacts/dashboard.png"
"$venv/bin/python" "$repo/scripts/dashboard_check.py" --server "$url" --devtools-port "$devtools" \
    --screenshot "$shot" --requests "$requests" --refused "$refused" --labels "$labels" ||
    serve_die "the dashboard check failed (see above)"
python3 - "$shot" <<'EOF' || serve_die "the screenshot is not a 1280x800 PNG"
import struct, sys
head = open(sys.argv[1], "rb").read(24)
assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
w, h = struct.unpack(">II", head[16:24])
assert (w, h) == (1280, 800), (w, h)
EOF
serve_log "screenshot: $shot"

serve_stop "$chrome_pid"
serve_stop "${SERVE_PIDS[0]}"
[ "$SERVE_STATUS" = 0 ] || serve_die "obesity serve exited with status $SERVE_STATUS after SIGTERM"
echo "dashboard_suite: ok ($requests requests, $labels labels; screenshot $shot)"
