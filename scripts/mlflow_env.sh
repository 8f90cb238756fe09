#!/usr/bin/env bash
# Create (once) and activate a Python virtual environment with MLflow, cached OUTSIDE the clone.
#
# Usage:   source scripts/mlflow_env.sh        (activates the venv in the calling shell)
#     or:  bash scripts/mlflow_env.sh          (only makes sure it exists; prints its path)
#
# The venv lives in ${OBESITY_CACHE:-$HOME/.cache/obesity-mlops}/venv-mlflow-<version> and is
# reused when it is present and healthy: its install finished (the `.complete` marker names
# the current package set), and it has the pinned mlflow, onnx and onnxruntime (the MLflow
# Model checks load the registered `model.onnx` through `mlflow.onnx`; the same pins as
# scripts/onnx_env.sh). A venv made before the package set changed (an older marker) is
# topped up in place with the missing packages; a broken or half-installed one is removed
# and rebuilt. Override the versions with OBESITY_MLFLOW_VERSION, OBESITY_ONNX_VERSION and
# OBESITY_ORT_VERSION, the interpreter with OBESITY_PYTHON.

_obesity_mlflow_env() {
    local version="${OBESITY_MLFLOW_VERSION:-3.17.2}"
    local onnx="${OBESITY_ONNX_VERSION:-1.23.2}"
    local ort="${OBESITY_ORT_VERSION:-1.32.0}"
    local cache="${OBESITY_CACHE:-$HOME/.cache/obesity-mlops}"
    local venv="$cache/venv-mlflow-$version"
    local python="${OBESITY_PYTHON:-python3}"
    # Bump when the package set changes: cached venvs with another marker get topped up.
    local marker="packages-v2 mlflow==$version onnx==$onnx onnxruntime==$ort"

    # The pinned distributions are installed (reading the metadata takes milliseconds;
    # importing mlflow takes seconds, and the server start right after would catch a broken
    # import anyway).
    _pinned() { # <name==version>...
        "$venv/bin/python" - "$@" >/dev/null 2>&1 <<'PY'
import importlib.metadata as m, sys
sys.exit(0 if all(m.version(p.split("==")[0]) == p.split("==")[1] for p in sys.argv[1:]) else 1)
PY
    }
    # MLflow itself is usable: the interpreter runs, the pinned mlflow and its command exist.
    _mlflow_ok() {
        [ -x "$venv/bin/python" ] && [ -x "$venv/bin/mlflow" ] && _pinned "mlflow==$version"
    }
    # Healthy: the install of the current package set finished and every pin is there.
    _healthy() {
        _mlflow_ok && [ -f "$venv/.complete" ] && [ "$(cat "$venv/.complete")" = "$marker" ] &&
            _pinned "onnx==$onnx" "onnxruntime==$ort"
    }

    if ! _healthy; then
        if ! command -v "$python" >/dev/null 2>&1 && ! _mlflow_ok; then
            echo "mlflow_env.sh: no Python interpreter '$python' on PATH (set OBESITY_PYTHON)" >&2
            return 1
        fi
        if [ -f "$venv/.complete" ] && _mlflow_ok; then
            # A finished install of an older package set: add what is missing, in place
            # (other suites may be using this venv right now; it is never removed for this).
            # The old marker stays until the new set is checked, so an interrupted top-up is
            # simply redone by the next call.
            echo "mlflow_env.sh: adding onnx==$onnx onnxruntime==$ort to $venv" >&2
            "$venv/bin/python" -m pip install --quiet "onnx==$onnx" "onnxruntime==$ort" >&2 ||
                { echo "mlflow_env.sh: pip install onnx==$onnx onnxruntime==$ort failed" >&2; return 1; }
        else
            echo "mlflow_env.sh: creating $venv (mlflow==$version onnx==$onnx onnxruntime==$ort; the first install takes minutes)" >&2
            rm -rf "$venv"
            mkdir -p "$cache" || return 1
            "$python" -m venv "$venv" || { echo "mlflow_env.sh: python -m venv failed" >&2; return 1; }
            "$venv/bin/python" -m pip install --quiet --upgrade pip >&2 ||
                { echo "mlflow_env.sh: upgrading pip failed" >&2; return 1; }
            "$venv/bin/python" -m pip install --quiet "mlflow==$version" "onnx==$onnx" "onnxruntime==$ort" >&2 ||
                { echo "mlflow_env.sh: pip install mlflow==$version onnx==$onnx onnxruntime==$ort failed" >&2; rm -rf "$venv"; return 1; }
        fi
        # Only the checks below may write the marker: a killed install leaves none.
        if ! _mlflow_ok || ! _pinned "onnx==$onnx" "onnxruntime==$ort"; then
            echo "mlflow_env.sh: $venv was installed but does not have mlflow $version, onnx $onnx and onnxruntime $ort" >&2
            return 1
        fi
        printf '%s' "$marker" >"$venv/.complete"
    fi
    export OBESITY_MLFLOW_VENV="$venv"
    export PATH="$venv/bin:$PATH"
    export VIRTUAL_ENV="$venv"
}

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
    # Sourced: activate in the caller's shell, report failure through the return code.
    _obesity_mlflow_env
else
    set -euo pipefail
    _obesity_mlflow_env
    echo "$OBESITY_MLFLOW_VENV"
fi
