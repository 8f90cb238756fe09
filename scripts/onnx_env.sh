#!/usr/bin/env bash
# Create (once) and activate a Python virtual environment with onnxruntime, onnx, numpy and
# pandas, cached OUTSIDE the clone, for the ONNX export checks (scripts/onnx_suite.sh).
#
# Usage:   source scripts/onnx_env.sh        (activates the venv in the calling shell)
#     or:  bash scripts/onnx_env.sh          (only makes sure it exists; prints its path)
#
# The venv lives in ${OBESITY_CACHE:-$HOME/.cache/obesity-mlops}/venv-onnx-<ort version> and
# is reused when it is present and healthy (its python has the pinned versions installed).
# A broken or half-installed venv is removed and rebuilt. Override the pins with
# OBESITY_ORT_VERSION / OBESITY_ONNX_VERSION / OBESITY_NUMPY_VERSION /
# OBESITY_PANDAS_VERSION, the interpreter with
# OBESITY_PYTHON. `onnx` is there for `onnx.checker` (and ships the onnx.proto the Rust
# message types in crates/obesity-onnx/src/proto.rs were written from).

_obesity_onnx_env() {
    local ort="${OBESITY_ORT_VERSION:-1.32.0}"
    local onnx="${OBESITY_ONNX_VERSION:-1.23.2}"
    local numpy="${OBESITY_NUMPY_VERSION:-2.4.6}"
    local pandas="${OBESITY_PANDAS_VERSION:-3.1.1}"
    local cache="${OBESITY_CACHE:-$HOME/.cache/obesity-mlops}"
    local venv="$cache/venv-onnx-$ort"
    local python="${OBESITY_PYTHON:-python3}"

    _healthy() {
        [ -x "$venv/bin/python" ] && [ -f "$venv/.complete" ] &&
            "$venv/bin/python" -c "
import importlib.metadata as m, sys
want = {'onnxruntime': '$ort', 'onnx': '$onnx', 'numpy': '$numpy', 'pandas': '$pandas'}
sys.exit(0 if all(m.version(k) == v for k, v in want.items()) else 1)" >/dev/null 2>&1
    }

    if ! _healthy; then
        if ! command -v "$python" >/dev/null 2>&1; then
            echo "onnx_env.sh: no Python interpreter '$python' on PATH (set OBESITY_PYTHON)" >&2
            return 1
        fi
        echo "onnx_env.sh: creating $venv (onnxruntime==$ort onnx==$onnx numpy==$numpy pandas==$pandas)" >&2
        rm -rf "$venv"
        mkdir -p "$cache" || return 1
        "$python" -m venv "$venv" || { echo "onnx_env.sh: python -m venv failed" >&2; return 1; }
        "$venv/bin/python" -m pip install --quiet --upgrade pip >&2 ||
            { echo "onnx_env.sh: upgrading pip failed" >&2; rm -rf "$venv"; return 1; }
        "$venv/bin/python" -m pip install --quiet "onnxruntime==$ort" "onnx==$onnx" "numpy==$numpy" "pandas==$pandas" >&2 ||
            { echo "onnx_env.sh: pip install failed" >&2; rm -rf "$venv"; return 1; }
        touch "$venv/.complete"
        if ! _healthy; then
            echo "onnx_env.sh: $venv was installed but does not have the pinned versions" >&2
            return 1
        fi
    fi
    export OBESITY_ONNX_VENV="$venv"
    export PATH="$venv/bin:$PATH"
    export VIRTUAL_ENV="$venv"
}

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
    _obesity_onnx_env
else
    set -euo pipefail
    _obesity_onnx_env
    echo "$OBESITY_ONNX_VENV"
fi
