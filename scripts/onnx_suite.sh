#!/usr/bin/env bash
# The ONNX export check with the real onnxruntime (for .ci/run):
#
#   1. `cargo run --release -p obesity-onnx --example export_check` trains the seeded models
#      (OBESITY_UCI_CSV, else the synthetic fixture), exports them as ONNX and writes the raw
#      rows and Rust's predictions into a temp dir;
#   2. scripts/onnx_check.py loads every model with onnxruntime and checks classes (all equal)
#      and probabilities (within 1e-6) on the UCI held-out rows and 10,000 synthetic rows,
#      then times onnxruntime beside our forest.
#
# onnxruntime, onnx, numpy and pandas come from the venv that scripts/onnx_env.sh caches
# outside the clone (the first run installs them; later runs reuse it). Exits non-zero on any
# failure. OBESITY_KEEP_ONNX_TMP=1 keeps the temp dir; OBESITY_ONNX_REPEATS sets the timing
# repeats (default 15).

set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

log() { printf 'onnx_suite: %s\n' "$*" >&2; }

# shellcheck source=scripts/onnx_env.sh
source "$repo/scripts/onnx_env.sh" || { log "FAILED: could not set up the onnxruntime venv"; exit 1; }
log "using $("$OBESITY_ONNX_VENV/bin/python" -c 'import onnxruntime; print("onnxruntime", onnxruntime.__version__)') from $OBESITY_ONNX_VENV"

work="$(mktemp -d "${TMPDIR:-/tmp}/obesity-onnx-suite.XXXXXX")"
cleanup() {
    local rc=$?
    if [ "${OBESITY_KEEP_ONNX_TMP:-0}" = "1" ] || [ "$rc" -ne 0 ]; then
        log "kept $work"
    else
        rm -rf "$work"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

repeats="${OBESITY_ONNX_REPEATS:-15}"
cargo run --release -p obesity-onnx --example export_check -- --out "$work" --repeats "$repeats"
"$OBESITY_ONNX_VENV/bin/python" "$repo/scripts/onnx_check.py" "$work" --repeats "$repeats" \
    --json "$work/results.json"
log "passed"
