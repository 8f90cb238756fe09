#!/usr/bin/env bash
# Create (once) and activate a Python virtual environment with MLflow, cached OUTSIDE the clone.
#
# Usage:   source scripts/mlflow_env.sh        (activates the venv in the calling shell)
#     or:  bash scripts/mlflow_env.sh          (only makes sure it exists; prints its path)
#
# The venv lives in ${OBESITY_CACHE:-$HOME/.cache/obesity-mlops}/venv-mlflow-<version> and is
# reused when it is present and healthy (its python imports mlflow at the pinned version).
# A broken or half-installed venv is removed and rebuilt. Override the version with
# OBESITY_MLFLOW_VERSION and the interpreter with OBESITY_PYTHON.

_obesity_mlflow_env() {
    local version="${OBESITY_MLFLOW_VERSION:-3.17.2}"
    local cache="${OBESITY_CACHE:-$HOME/.cache/obesity-mlops}"
    local venv="$cache/venv-mlflow-$version"
    local python="${OBESITY_PYTHON:-python3}"

    # Healthy: the install finished, the interpreter runs, and the installed distribution is
    # the pinned version with its `mlflow` command. (Reading the metadata takes milliseconds;
    # importing mlflow takes seconds, and the server start right after would catch a broken
    # import anyway.)
    _healthy() {
        [ -x "$venv/bin/python" ] && [ -f "$venv/.complete" ] && [ -x "$venv/bin/mlflow" ] &&
            "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(0 if m.version('mlflow') == '$version' else 1)" \
                >/dev/null 2>&1
    }

    if ! _healthy; then
        if ! command -v "$python" >/dev/null 2>&1; then
            echo "mlflow_env.sh: no Python interpreter '$python' on PATH (set OBESITY_PYTHON)" >&2
            return 1
        fi
        echo "mlflow_env.sh: creating $venv (mlflow==$version; the first install takes minutes)" >&2
        rm -rf "$venv"
        mkdir -p "$cache" || return 1
        "$python" -m venv "$venv" || { echo "mlflow_env.sh: python -m venv failed" >&2; return 1; }
        "$venv/bin/python" -m pip install --quiet --upgrade pip >&2 ||
            { echo "mlflow_env.sh: upgrading pip failed" >&2; return 1; }
        "$venv/bin/python" -m pip install --quiet "mlflow==$version" >&2 ||
            { echo "mlflow_env.sh: pip install mlflow==$version failed" >&2; rm -rf "$venv"; return 1; }
        touch "$venv/.complete"
        if ! _healthy; then
            echo "mlflow_env.sh: $venv was installed but does not import mlflow $version" >&2
            return 1
        fi
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
