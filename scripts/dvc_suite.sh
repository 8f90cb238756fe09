#!/usr/bin/env bash
# The DVC pipeline (dvc.yaml) under the real DVC, in a temporary git repository:
#
#   1. `dvc repro` runs validate → featurize → train → evaluate → register, and the version
#      it registers records the train stage's hash from dvc.lock;
#   2. a second `dvc repro` runs nothing;
#   3. `dvc params diff` shows a changed forest.n_estimators, and `dvc repro` then reruns
#      exactly train, evaluate and register;
#   4. a changed promotion threshold reruns exactly register;
#   5. `dvc metrics show` lists the test and CV metrics, `dvc plots show` renders the plots.
#
# Any mismatch fails the suite (exit 1). It prints "SKIPPED:" only when it truly cannot run
# (no Python to create the virtual environment, or PyPI unreachable on the first install).
#
# DVC is installed from PyPI into ${OBESITY_CACHE:-$HOME/.cache/obesity-mlops}/venv-dvc-<version>
# once and reused (OBESITY_DVC_VERSION overrides the pin, OBESITY_PYTHON the interpreter).
# The CLI is built with cargo's default (dev) profile, which `cargo test` has usually built
# already; OBESITY_CLI_PROFILE=release builds the release one.
set -euo pipefail
cd "$(dirname "$0")/.."
repo_root="$(pwd)"

dvc_version="${OBESITY_DVC_VERSION:-3.67.1}"
cache="${OBESITY_CACHE:-$HOME/.cache/obesity-mlops}"
venv="$cache/venv-dvc-$dvc_version"
python="${OBESITY_PYTHON:-python3}"
marker="dvc==$dvc_version"

fail() {
    echo "FAILED: dvc suite: $*" >&2
    exit 1
}

# --- DVC in a cached venv -------------------------------------------------------------------
healthy() {
    [ -x "$venv/bin/dvc" ] && [ -f "$venv/.complete" ] && [ "$(cat "$venv/.complete")" = "$marker" ] &&
        "$venv/bin/dvc" --version >/dev/null 2>&1
}
if ! healthy; then
    if ! command -v "$python" >/dev/null 2>&1; then
        echo "SKIPPED: dvc suite: no Python interpreter '$python' to install DVC (set OBESITY_PYTHON)"
        exit 0
    fi
    echo "dvc_suite.sh: creating $venv ($marker)" >&2
    rm -rf "$venv"
    mkdir -p "$cache"
    "$python" -m venv "$venv" || fail "cannot create a virtual environment with $python"
    if ! "$venv/bin/python" -m pip install --quiet "$marker" >&2; then
        rm -rf "$venv"
        if ! "$python" -m pip download --no-deps --quiet -d "$(mktemp -d)" "$marker" >/dev/null 2>&1; then
            echo "SKIPPED: dvc suite: PyPI is unreachable, cannot install $marker"
            exit 0
        fi
        fail "pip install $marker failed"
    fi
    echo "$marker" >"$venv/.complete"
fi
dvc_bin="$venv/bin/dvc"
installed="$("$dvc_bin" --version)"
[ "$installed" = "$dvc_version" ] || fail "the venv has DVC $installed, expected $dvc_version"

# --- the CLI --------------------------------------------------------------------------------
profile="${OBESITY_CLI_PROFILE:-dev}"
profile_args=()
[ "$profile" = "dev" ] || profile_args=(--profile "$profile")
obesity_bin="$(cargo build -p obesity-cli --bin obesity "${profile_args[@]}" --message-format=json 2>/dev/null |
    "$python" -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "obesity":
        print(m["executable"])')" || true
if [ -z "$obesity_bin" ] || [ ! -x "$obesity_bin" ]; then
    cargo build -p obesity-cli --bin obesity "${profile_args[@]}" >&2 || true
    fail "cargo build -p obesity-cli did not produce the obesity binary"
fi
bin_dir="$(mktemp -d)"
ln -s "$obesity_bin" "$bin_dir/obesity"

# --- a temporary git repository with the pipeline ---------------------------------------------
work="$(mktemp -d)"
cleanup() { rm -rf "$work" "$bin_dir"; }
trap cleanup EXIT
cd "$work"
export PATH="$bin_dir:$venv/bin:$PATH"
export DVC_NO_ANALYTICS=1
unset OBESITY_TRACKING_URI MLFLOW_TRACKING_URI
git init --quiet
git config user.email dvc-suite@example.invalid
git config user.name "dvc suite"
mkdir -p fixtures
cp "$repo_root/fixtures/obesity_synthetic.csv" fixtures/
cp "$repo_root/dvc.yaml" "$repo_root/params.yaml" .
# The suite's store lives in the repository (and out of git).
sed -i 's|^  tracking_uri: null .*$|  tracking_uri: mlruns|' params.yaml
grep -q '^  tracking_uri: mlruns$' params.yaml || fail "could not set registry.tracking_uri in the copy of params.yaml"
printf 'mlruns/\ndvc_plots/\n' >.gitignore
"$dvc_bin" init --quiet
"$dvc_bin" config core.analytics false
"$dvc_bin" config core.check_update false 2>/dev/null || true
git add -A
git commit --quiet -m "pipeline"

ran_stages() { # the stages a `dvc repro` log ran, sorted, space-separated
    { grep -o "Running stage '[a-z_]*'" "$1" || true; } | sed "s/Running stage '\(.*\)'/\1/" | sort | tr '\n' ' ' | sed 's/ $//'
}
repro() { # <log>
    if ! "$dvc_bin" repro >"$1" 2>&1; then
        cat "$1" >&2
        fail "dvc repro failed"
    fi
}
expect_ran() { # <log> <expected stages, sorted, space-separated> <what>
    local got
    got="$(ran_stages "$1")"
    if [ "$got" != "$2" ]; then
        cat "$1" >&2
        fail "$3: dvc repro ran [$got], expected [$2]"
    fi
    echo "ok: $3: ran [${2:-nothing}]"
}
set_param() { # <yaml key under its section> <section> <new value>
    "$python" - "$1" "$2" "$3" <<'PY'
import re, sys
key, section, value = sys.argv[1:]
text = open("params.yaml").read()
pattern = re.compile(r"(^%s:[^\n]*\n(?:  .*\n|\s*#.*\n)*?  %s: )([^#\n]*?)(\s*(#.*)?)$" % (section, key), re.M)
new, n = pattern.subn(lambda m: m.group(1) + value + m.group(3), text, count=1)
if n != 1:
    sys.exit("no %s.%s in params.yaml" % (section, key))
open("params.yaml", "w").write(new)
PY
}

# 1. The whole pipeline.
log="$work/repro1.log"
repro "$log"
expect_ran "$log" "evaluate featurize register train validate" "first dvc repro"
[ -f dvc.lock ] || fail "dvc repro wrote no dvc.lock"
for f in build/validation.json build/features/split.json build/features/pipeline.json \
    build/model/model.bin build/metrics.json build/cv_metrics.json build/plots/confusion.csv \
    build/plots/cv_folds.csv build/registered.json build/reports/confusion_matrix.svg; do
    [ -s "$f" ] || fail "$f missing or empty after dvc repro"
done
lock_md5="$("$venv/bin/python" - <<'PY'
from ruamel.yaml import YAML  # DVC's own YAML library
lock = YAML(typ="safe").load(open("dvc.lock"))
print(next(o["md5"] for o in lock["stages"]["train"]["outs"] if o["path"].rstrip("/") == "build/model"))
PY
)" || fail "no md5 for build/model in dvc.lock"
"$python" - "$lock_md5" <<'PY' || fail "the registered version does not record the train stage's lock hash"
import json, sys
reg = json.load(open("build/registered.json"))
assert reg["version"] == 1, reg
assert reg["dvc_lock_md5"] == sys.argv[1], (reg, sys.argv[1])
assert len(reg["data_fingerprint"]) == 64, reg
PY
obesity registry versions obesity-classifier --json >"$work/versions.json" || fail "obesity registry versions failed"
"$python" - "$lock_md5" "$work/versions.json" <<'PY' || fail "version 1 has no dvc.lock_md5 tag equal to dvc.lock"
import json, sys
v = json.load(open(sys.argv[2]))[0]
assert v["tags"].get("dvc.lock_md5") == sys.argv[1], v["tags"]
PY
echo "ok: version 1 records dvc.lock_md5 $lock_md5"
git add -A
git commit --quiet -m "first run"

# 2. Nothing changed: nothing runs.
log="$work/repro2.log"
repro "$log"
expect_ran "$log" "" "second dvc repro"
grep -q "up to date" "$log" || { cat "$log" >&2; fail "second dvc repro did not say the pipeline is up to date"; }

# 3. One forest param: params diff shows it, and only train → evaluate → register rerun.
set_param n_estimators forest 40
"$dvc_bin" params diff >"$work/pdiff.log" 2>&1 || { cat "$work/pdiff.log" >&2; fail "dvc params diff failed"; }
grep -q "forest.n_estimators.*100.*40" "$work/pdiff.log" || { cat "$work/pdiff.log" >&2; fail "dvc params diff does not show forest.n_estimators 100 → 40"; }
if grep -q "data\.\|promotion\." "$work/pdiff.log"; then
    cat "$work/pdiff.log" >&2
    fail "dvc params diff shows params that did not change"
fi
echo "ok: dvc params diff shows forest.n_estimators 100 → 40"
log="$work/repro3.log"
repro "$log"
expect_ran "$log" "evaluate register train" "forest.n_estimators changed"
"$python" -c 'import json,sys; r=json.load(open("build/registered.json")); sys.exit(0 if r["version"]==2 else "version %s, expected 2" % r["version"])' ||
    fail "the rerun did not register version 2"

# 4. A promotion threshold: only register reruns.
set_param staging_threshold promotion 0.8
log="$work/repro4.log"
repro "$log"
expect_ran "$log" "register" "promotion.staging_threshold changed"

# 5. Metrics and plots.
"$dvc_bin" metrics show >"$work/metrics.log" 2>&1 || { cat "$work/metrics.log" >&2; fail "dvc metrics show failed"; }
for m in accuracy f1_macro cv_accuracy_mean; do
    grep -q "$m" "$work/metrics.log" || { cat "$work/metrics.log" >&2; fail "dvc metrics show lacks $m"; }
done
echo "ok: dvc metrics show lists accuracy, f1_macro, cv_accuracy_mean"
"$dvc_bin" metrics diff >"$work/mdiff.log" 2>&1 || { cat "$work/mdiff.log" >&2; fail "dvc metrics diff failed"; }
"$dvc_bin" plots show >"$work/plots.log" 2>&1 || { cat "$work/plots.log" >&2; fail "dvc plots show failed"; }
[ -s dvc_plots/index.html ] || fail "dvc plots show wrote no dvc_plots/index.html"
for p in confusion.csv cv_folds.csv; do
    grep -q "$p" dvc_plots/index.html || fail "dvc_plots/index.html lacks $p"
done
echo "ok: dvc plots show renders build/plots/confusion.csv and build/plots/cv_folds.csv"
echo "dvc suite: all checks passed (DVC $installed)"
