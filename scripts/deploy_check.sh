#!/usr/bin/env bash
# Validates the deploy/ files as far as this machine allows (no container engine, no cluster):
#
#   1. yamllint on every YAML file under deploy/;
#   2. deploy/k8s: kubernetes-validate --strict (PyPI; ships the Kubernetes JSON schemas) for
#      each manifest; the KServe InferenceService's containers are checked as a core/v1 Pod
#      (KServe's CRD schema is not bundled); the Kustomization's resource list must name
#      existing files;
#   3. deploy/compose.yaml: the Compose spec's JSON schema (check-jsonschema's bundled
#      vendor.compose-spec) and `docker-compose config` (Debian's docker-compose 1.29.2, which
#      needs no engine for that);
#   4. deploy/Dockerfile, deploy/mlflow/Dockerfile: parsed by BuildKit's own parser (PyPI
#      `dockerfile`), then the rules of issue 18 checked on the parse (multi-stage, non-root
#      USER, HEALTHCHECK on /v2/health/ready, `obesity serve` entrypoint) and the pinned
#      versions compared with scripts/mlflow_env.sh and scripts/pg_lib.sh;
#   5. deploy/nginx/nginx.conf: `nginx -t` (Debian's nginx) on a copy with only the addresses
#      changed, then that nginx started on 127.0.0.1 in front of two stub upstreams: requests
#      are spread over both (round-robin); an upstream answering 503 is skipped for GETs and
#      predictions but a POST /feedback that reached it is not re-sent; with one upstream
#      killed every GET and POST still succeeds (proxy_next_upstream).
#
# Not run here, and said so at the end: hadolint (not on PyPI/crates.io/Debian 12), docker
# build / compose up (no engine), kubectl apply --dry-run=server (no cluster).
# The Python tools live in a cached venv outside the clone (pinned). Exits non-zero on any
# failure; prints SKIPPED and exits 2 if a tool cannot be installed.

set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
unset MLFLOW_TRACKING_URI OBESITY_TRACKING_URI

LOG_PREFIX=deploy_check
log() { printf 'deploy_check: %s\n' "$*" >&2; }
die() {
    log "FAILED: $*"
    exit 1
}
skip() {
    log "SKIPPED: $*"
    echo "deploy_check: SKIPPED: $*"
    exit 2
}

# shellcheck source=scripts/pg_lib.sh
source "$repo/scripts/pg_lib.sh"
# shellcheck source=scripts/lb_lib.sh
source "$repo/scripts/lb_lib.sh"

k8s_version="${OBESITY_K8S_VERSION:-1.33.0}"
start=$(date +%s)
work="$(mktemp -d "${TMPDIR:-/tmp}/obesity-deploy-check.XXXXXX")"
stub_pids=()
cleanup() {
    local rc=$?
    set +e
    nginx_stop
    for p in "${stub_pids[@]}"; do tree_stop "$p" 2; done
    if [ "$rc" = 1 ]; then log "kept $work"; else rm -rf "$work"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

passed=0
ok() {
    passed=$((passed + 1))
    log "ok: $*"
}

# --- tools ------------------------------------------------------------------------------------
cache="${OBESITY_CACHE:-$HOME/.cache/obesity-mlops}"
venv="$cache/venv-deploy-check"
tools=(kubernetes-validate==1.37.0 check-jsonschema==0.39.0 yamllint==1.38.0 dockerfile==3.4.0)
if ! [ -f "$venv/.complete" ] || [ "$(cat "$venv/.complete")" != "${tools[*]}" ]; then
    log "creating $venv (${tools[*]})"
    rm -rf "$venv"
    mkdir -p "$cache"
    python3 -m venv "$venv" || skip "python3 -m venv failed"
    timeout 600 "$venv/bin/python" -m pip install --quiet "${tools[@]}" >&2 ||
        skip "pip install ${tools[*]} failed"
    echo "${tools[*]}" >"$venv/.complete"
fi
py="$venv/bin/python"

# --- 1. YAML lint -----------------------------------------------------------------------------
mapfile -t yamls < <(find deploy -name '*.yaml' | sort)
"$venv/bin/yamllint" -s -d '{extends: default, rules: {line-length: {max: 130}, document-start: disable, truthy: {check-keys: false}, comments: {min-spaces-from-content: 1}}}' \
    "${yamls[@]}" || die "yamllint"
ok "yamllint on ${#yamls[@]} files"

# --- 2. Kubernetes ----------------------------------------------------------------------------
k8s_core=(deploy/k8s/configmap.yaml deploy/k8s/deployment.yaml deploy/k8s/service.yaml
    deploy/k8s/hpa.yaml deploy/k8s/pdb.yaml)
"$venv/bin/kubernetes-validate" --strict --quiet -k "$k8s_version" "${k8s_core[@]}" ||
    die "kubernetes-validate --strict -k $k8s_version"
ok "kubernetes-validate --strict (Kubernetes $k8s_version): ${k8s_core[*]##*/}"

"$py" - "$work/isvc-pod.yaml" <<'EOF' || die "the InferenceService is malformed"
import sys, yaml
doc = yaml.safe_load(open("deploy/k8s/kserve-inferenceservice.yaml"))
assert doc["apiVersion"] == "serving.kserve.io/v1beta1" and doc["kind"] == "InferenceService", doc.get("kind")
pred = doc["spec"]["predictor"]
cs = pred["containers"]
assert [c["name"] for c in cs] == ["kserve-container"], "KServe wants one container named kserve-container"
c = cs[0]
assert c["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
assert c["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
assert c["ports"][0]["containerPort"] == 8080 and "8080" in c["args"], "KServe routes to 8080"
# The predictor is a PodSpec plus KServe's fields: check the pod part against core/v1.
pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "isvc-predictor"},
       "spec": {"containers": cs, "terminationGracePeriodSeconds": pred["terminationGracePeriodSeconds"]}}
yaml.safe_dump(pod, open(sys.argv[1], "w"))
EOF
"$venv/bin/kubernetes-validate" --strict --quiet -k "$k8s_version" "$work/isvc-pod.yaml" ||
    die "the InferenceService's container is not a valid core/v1 container"
ok "KServe InferenceService: v2 probes, port 8080, container valid as core/v1 (CRD schema not bundled)"

"$py" - "${k8s_core[@]}" <<'EOF' || die "deploy/k8s: kustomization or cross-references"
import os, sys, yaml
k = yaml.safe_load(open("deploy/k8s/kustomization.yaml"))
listed = ["deploy/k8s/" + r for r in k["resources"]]
assert sorted(listed) == sorted(sys.argv[1:]), (listed, sys.argv[1:])
docs = {yaml.safe_load(open(f))["kind"]: yaml.safe_load(open(f)) for f in listed}
dep, cm, svc, hpa = docs["Deployment"], docs["ConfigMap"], docs["Service"], docs["HorizontalPodAutoscaler"]
pod = dep["spec"]["template"]["spec"]
c = pod["containers"][0]
assert c["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
assert c["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
assert c["resources"]["requests"] and c["resources"]["limits"]
pre = c["lifecycle"]["preStop"]["exec"]["command"]
assert pod["terminationGracePeriodSeconds"] > int(pre[-1]) + 10, "grace must cover preStop + request timeout"
assert svc["spec"]["selector"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()
assert hpa["spec"]["scaleTargetRef"]["name"] == dep["metadata"]["name"]
assert c["envFrom"][0]["configMapRef"]["name"] == cm["metadata"]["name"]
assert "params.yaml" in cm["data"]; yaml.safe_load(cm["data"]["params.yaml"])
for a in c["args"]:
    if a.startswith("$("):
        assert a[2:-1] in cm["data"], f"{a} is not in the ConfigMap"
EOF
ok "deploy/k8s cross-references (kustomization, selectors, HPA target, ConfigMap keys, grace period)"

# --- 3. Compose -------------------------------------------------------------------------------
"$venv/bin/check-jsonschema" --builtin-schema vendor.compose-spec deploy/compose.yaml >&2 ||
    die "deploy/compose.yaml against the Compose spec schema"
ok "deploy/compose.yaml valid against the Compose spec JSON schema"
if ! command -v docker-compose >/dev/null && [ "$(id -u)" = 0 ]; then
    log "installing Debian's docker-compose (apt-get)"
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq docker-compose >/dev/null 2>&1 || true
fi
if command -v docker-compose >/dev/null; then
    (cd deploy && POSTGRES_PASSWORD=check-only timeout 60 docker-compose -f compose.yaml config -q) ||
        die "docker-compose config"
    services="$(cd deploy && POSTGRES_PASSWORD=check-only docker-compose -f compose.yaml config --services | sort | tr '\n' ' ')"
    [ "$services" = "mlflow nginx postgres serve-a serve-b " ] || die "compose services are: $services"
    ok "docker-compose $(docker-compose version --short 2>/dev/null) config: $services"
else
    log "NOT RUN: docker-compose config (Debian's docker-compose could not be installed)"
fi

# --- 4. Dockerfiles ---------------------------------------------------------------------------
"$py" - <<'EOF' || die "Dockerfile checks"
import re, dockerfile
def parse(path):
    return [(c.cmd.upper(), c.value, c.flags) for c in dockerfile.parse_file(path)]
cmds = parse("deploy/Dockerfile")
froms = [v for c, v, _ in cmds if c == "FROM"]
assert len(froms) >= 2, "multi-stage"
last = max(i for i, (c, _, _) in enumerate(cmds) if c == "FROM")
final = cmds[last:]
assert any("slim" in v[0] or "distroless" in v[0] for c, v, _ in final[:1]), final[0]
users = [v[0] for c, v, _ in final if c == "USER"]
assert users and users[-1].split(":")[0] not in ("root", "0"), "final stage runs as non-root"
hc = " ".join(" ".join(v) for c, v, _ in final if c == "HEALTHCHECK")
assert "/v2/health/ready" in hc, hc
entry = [v for c, v, _ in final if c == "ENTRYPOINT"][-1]
assert list(entry[:2]) == ["obesity", "serve"], entry
cmd = [v for c, v, _ in final if c == "CMD"][-1]
assert "--model" in cmd, cmd
assert any(c == "COPY" and any(f.startswith("--from=") for f in fl) for c, _, fl in final), "copies from the build stage"
# A global ARG (before the first FROM) is visible inside a stage only if the stage declares it.
def stage_arg_leaks(cmds):
    first = next(i for i, (c, _, _) in enumerate(cmds) if c == "FROM")
    globals_ = {v[0].split("=")[0] for c, v, _ in cmds[:first] if c == "ARG"}
    declared = set()
    for c, v, _ in cmds[first:]:
        if c == "FROM":
            declared = set()
        elif c == "ARG":
            declared.add(v[0].split("=")[0])
        else:
            for name in globals_ - declared:
                if re.search(r"\$\{?" + name + r"\b", " ".join(v)):
                    yield f"{c} uses global ARG {name} without re-declaring it in its stage"
for path in ("deploy/Dockerfile", "deploy/mlflow/Dockerfile"):
    leaks = list(stage_arg_leaks(parse(path)))
    assert not leaks, (path, leaks)
build = " ".join(" ".join(v) for c, v, _ in cmds[:last] if c == "RUN")
assert "-p obesity-cli" in build and "--locked" in build, build
m = parse("deploy/mlflow/Dockerfile")
args = {v[0].split("=")[0]: v[0].split("=")[1] for c, v, _ in m if c == "ARG" and "=" in v[0]}
env_sh = open("scripts/mlflow_env.sh").read()
pg_lib = open("scripts/pg_lib.sh").read()
assert f'OBESITY_MLFLOW_VERSION:-{args["MLFLOW_VERSION"]}' in env_sh, "MLflow pin differs from mlflow_env.sh"
assert f'PG_PSYCOPG2_VERSION:={args["PSYCOPG2_VERSION"]}' in pg_lib, "psycopg2 pin differs from pg_lib.sh"
print(f"deploy_check: Dockerfile: {len(froms)} stages, final FROM {final[0][1][0]}, USER {users[-1]}, "
      f"mlflow image pins mlflow {args['MLFLOW_VERSION']} + psycopg2-binary {args['PSYCOPG2_VERSION']}",
      file=__import__("sys").stderr)
EOF
ok "deploy/Dockerfile and deploy/mlflow/Dockerfile parse (BuildKit parser) and follow the rules"

# --- 5. nginx ---------------------------------------------------------------------------------
nginx_ensure_installed || skip "nginx is not installed and could not be installed"
pa="$(free_port)"
pb="$(free_port)"
pn="$(free_port)"
nginx_local_conf "$work/nginx" "$pn" "127.0.0.1:$pa" "127.0.0.1:$pb" || die "rewriting nginx.conf"
nginx_test_conf "$work/nginx" || die "nginx -t"
ok "nginx -t ($("$NGINX_BIN" -v 2>&1 | sed 's|.*/||'))"

stub() { # name port status
    "$py" - "$1" "$2" "$3" <<'EOF'
import http.server, json, sys
name, port, status = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def answer(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"replica": name}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = do_POST = answer
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
EOF
}
stub a "$pa" 200 >"$work/stub-a.log" 2>&1 &
stub_pids+=("$!")
stub_a=$!
stub b "$pb" 200 >"$work/stub-b.log" 2>&1 &
stub_pids+=("$!")
stub_b=$!
wait_http "http://127.0.0.1:$pa/" 20 "$stub_a" "$work/stub-a.log" || die "stub upstream a"
wait_http "http://127.0.0.1:$pb/" 20 "$stub_b" "$work/stub-b.log" || die "stub upstream b"
nginx_start "$work/nginx" || die "nginx did not start"
wait_http "http://127.0.0.1:$pn/nginx-health" 20 "$NGINX_PID" "$work/nginx/error.log" || die "nginx /nginx-health"

spread() { # n method path [body] -> "a=<count> b=<count> fail=<count>"
    local n="$1" method="$2" path="$3" body="${4:-}" a=0 b=0 fail=0 out i
    for ((i = 0; i < n; i++)); do
        if out="$(curl -fsS -m 5 -X "$method" -H 'Content-Type: application/json' \
            ${body:+--data "$body"} "http://127.0.0.1:$pn$path" 2>/dev/null)"; then
            case "$out" in
            *'"a"'*) a=$((a + 1)) ;;
            *'"b"'*) b=$((b + 1)) ;;
            *) fail=$((fail + 1)) ;;
            esac
        else
            fail=$((fail + 1))
        fi
    done
    echo "a=$a b=$b fail=$fail"
}
r="$(spread 20 GET /v2/health/ready)"
log "20 GETs through nginx, both upstreams up: $r"
[[ "$r" =~ ^a=([0-9]+)\ b=([0-9]+)\ fail=0$ ]] && [ "${BASH_REMATCH[1]}" -ge 8 ] && [ "${BASH_REMATCH[2]}" -ge 8 ] ||
    die "nginx does not spread requests over both upstreams ($r)"
ok "round-robin over two upstreams ($r)"

# A replica that answers 503 (overloaded or draining).
tree_stop "$stub_b" 2
stub b "$pb" 503 >"$work/stub-b503.log" 2>&1 &
stub_pids+=("$!")
stub_b=$!
for _ in $(seq 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' -m 2 "http://127.0.0.1:$pb/" || true)" = 503 ] && break
    sleep 0.1
done
# A state-changing POST that reached it is not re-sent: its 503 reaches the client (once: the
# replica is then left out for fail_timeout).
r="$(spread 4 POST /feedback '{"x":1}')"
log "upstream b answers 503; 4 POSTs to /feedback: $r"
[[ "$r" =~ fail=([0-9]+)$ ]] && [ "${BASH_REMATCH[1]}" -ge 1 ] ||
    die "a POST /feedback that reached the 503 upstream was re-sent ($r): it must not be"
sleep 5.5 # fail_timeout: b is tried again from now on
r="$(spread 20 POST /predict '{"x":1}')"
r2="$(spread 10 POST /v2/models/m/infer '{"x":1}')"
r3="$(spread 20 GET /v2/health/ready)"
log "upstream b answers 503; 20 POSTs /predict: $r; 10 POSTs /v2/models/m/infer: $r2; 20 GETs: $r3"
[ "$r" = "a=20 b=0 fail=0" ] && [ "$r2" = "a=10 b=0 fail=0" ] && [ "$r3" = "a=20 b=0 fail=0" ] ||
    die "nginx did not pass predictions and GETs on from a 503 upstream"
ok "a 503 upstream is skipped for predictions (POST $r) and GETs ($r3), not for /feedback"
sleep 5.5
# A dead replica (connection refused): everything goes to the live one.
tree_stop "$stub_b" 2
r="$(spread 20 GET /v2/health/ready)"
r2="$(spread 20 POST /feedback '{"x":1}')"
r3="$(spread 20 POST /predict '{"x":1}')"
log "upstream b killed; 20 GETs: $r; 20 POSTs /feedback: $r2; 20 POSTs /predict: $r3"
[ "$r" = "a=20 b=0 fail=0" ] && [ "$r2" = "a=20 b=0 fail=0" ] && [ "$r3" = "a=20 b=0 fail=0" ] ||
    die "nginx did not fail over to the live upstream"
ok "passive failover with one upstream dead (GET $r; POST $r2)"
nginx_stop

log "NOT RUN here: hadolint (not packaged on PyPI, crates.io or Debian 12), docker build and"
log "  docker compose up (no container engine), kubectl apply --dry-run=server and KServe (no cluster)"
log "$passed passed, 0 failed in $(($(date +%s) - start))s"
echo "deploy_check: $passed passed, 0 failed"
