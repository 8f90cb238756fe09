#!/usr/bin/env bash
# Checks the Prometheus rules and the Grafana dashboard shipped for obesity-serve:
#
#   1. promtool check rules deploy/prometheus/alerts.yml
#   2. promtool test rules deploy/prometheus/alerts_test.yml (the rules' unit tests)
#   3. deploy/grafana/obesity-serving.json parses (python3 -m json.tool), and every PromQL
#      query in it parses (promtool check rules on a scratch file holding them, with the
#      dashboard's variables substituted);
#   4. every obesity_* metric the rules and the dashboard read is registered in
#      crates/obesity-serve/src/metrics.rs, or is on the list of metrics proposed to the
#      serving crate (printed, so nobody forgets them).
#
# promtool comes from Debian's `prometheus` package, installed with apt-get when missing
# (needs root). Exits 0 when everything passes, 1 on a failure, and prints SKIPPED and exits
# 2 when promtool cannot be had.

set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

rules=deploy/prometheus/alerts.yml
tests=deploy/prometheus/alerts_test.yml
dashboard=deploy/grafana/obesity-serving.json
serve_metrics=crates/obesity-serve/src/metrics.rs
# Read by the rules and the dashboard, not exported by obesity-serve yet.
proposed=()

log() { printf 'prometheus_check: %s\n' "$*" >&2; }
die() {
    log "FAILED: $*"
    exit 1
}

# --- promtool ---------------------------------------------------------------------------------
if ! command -v promtool >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        log "promtool missing: apt-get install prometheus (Debian's package; ~100 MB)"
        export DEBIAN_FRONTEND=noninteractive
        if ! apt-get install -y --no-install-recommends prometheus >&2; then
            apt-get update >&2 || true
            apt-get install -y --no-install-recommends prometheus >&2 || true
        fi
    fi
fi
if ! command -v promtool >/dev/null 2>&1; then
    log "SKIPPED: promtool is not installed and could not be (apt-get install prometheus needs root and Debian's archive)"
    echo "prometheus_check: SKIPPED: no promtool"
    exit 2
fi
log "using $(promtool --version 2>&1 | head -n1)"

# --- 1, 2: the rules and their unit tests -----------------------------------------------------
promtool check rules "$rules" >&2 || die "promtool check rules $rules"
promtool test rules "$tests" >&2 || die "promtool test rules $tests"

# --- 3: the dashboard -------------------------------------------------------------------------
python3 -m json.tool "$dashboard" >/dev/null || die "$dashboard is not valid JSON"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

python3 - "$dashboard" "$scratch/dashboard_queries.yml" <<'EOF' || die "$dashboard: structure"
import json, sys

with open(sys.argv[1]) as f:
    d = json.load(f)
problems = []
exprs = []
ids = set()

def panels(ps):
    for p in ps:
        yield p
        yield from panels(p.get("panels", []))

for p in panels(d.get("panels", [])):
    if p.get("id") in ids:
        problems.append(f"panel id {p.get('id')} is used twice")
    ids.add(p.get("id"))
    if p.get("type") == "row":
        continue
    targets = p.get("targets") or []
    if not targets:
        problems.append(f"panel {p.get('title')!r} has no query")
    for t in targets:
        if not t.get("expr"):
            problems.append(f"panel {p.get('title')!r}, query {t.get('refId')}: empty")
            continue
        exprs.append((p.get("title"), t["expr"]))
for v in d.get("templating", {}).get("list", []):
    q = v.get("query")
    if isinstance(q, dict) and q.get("query", "").startswith("label_values("):
        # label_values(metric, label) is Grafana's, not PromQL: check the selector.
        inner = q["query"][len("label_values("):].rsplit(",", 1)[0]
        exprs.append((f"variable {v.get('name')}", inner))
if d.get("uid") != "obesity-serving":
    problems.append("dashboard uid must stay obesity-serving (links and provisioning use it)")
if problems:
    sys.exit("\n".join(problems))

subst = {"$__rate_interval": "5m", "$__interval": "1m", "$job": ".*", "$version": ".*"}
with open(sys.argv[2], "w") as out:
    out.write("groups:\n  - name: dashboard\n    rules:\n")
    for i, (title, e) in enumerate(exprs):
        for k, v in subst.items():
            e = e.replace(k, v)
        out.write(f"      - record: dashboard_query_{i}\n        expr: {json.dumps(e)}\n")
print(f"{len(exprs)} queries in {len(ids)} panels", file=sys.stderr)
EOF
promtool check rules "$scratch/dashboard_queries.yml" >&2 || die "a query of $dashboard does not parse"

# --- 4: metric names against obesity-serve ----------------------------------------------------
if [ -f "$serve_metrics" ]; then
    python3 - "$serve_metrics" "$rules" "$dashboard" "${proposed[@]}" <<'EOF' || die "metric names"
import re, sys

src = open(sys.argv[1]).read()
prefix = re.search(r'Registry::with_prefix\("([a-z_]+)"\)', src)
prefix = prefix.group(1) + "_" if prefix else ""
exported = {prefix + n for n in re.findall(r'register\(\s*"([a-z_0-9]+)"', src)}
proposed = set(sys.argv[4:])
used = {}
for path in sys.argv[2:4]:
    for name in re.findall(r'(?<![\w:])(obesity_[a-z_0-9]+)', open(path).read()):
        used.setdefault(name, set()).add(path)

def known(name):
    if name in proposed:
        return True
    for suffix in ("", "_total", "_bucket", "_sum", "_count", "_created"):
        if name.endswith(suffix) and name[: len(name) - len(suffix)] in exported:
            return True
    return False

unknown = {n: p for n, p in used.items() if not known(n)}
if not exported:
    sys.exit(f"no metric registrations found in {sys.argv[1]}")
if unknown:
    sys.exit("\n".join(f"{n} (in {', '.join(sorted(p))}) is neither exported by obesity-serve "
                       "nor on the proposed list" for n, p in sorted(unknown.items())))
missing = sorted(n for n in used if n in proposed)
print(f"{len(used)} metric names checked against {sys.argv[1]}", file=sys.stderr)
if missing:
    print("proposed to obesity-serve, not exported yet: " + ", ".join(missing), file=sys.stderr)
EOF
else
    log "note: $serve_metrics not found; metric names not cross-checked"
fi

log "ok: rules, rule tests, dashboard"
