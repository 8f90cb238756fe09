#!/usr/bin/env bash
# Create (once) and activate the Python environment of the serving suite and the load test:
# real third-party clients (tritonclient[http], requests, prometheus_client) and the peers
# (pandas, scikit-learn, FastAPI, uvicorn, `mlflow models serve`).
#
# Usage:   source scripts/serve_env.sh        (activates the venv in the calling shell)
#     or:  bash scripts/serve_env.sh          (only makes sure it exists; prints its path)
#
# It is the MLflow venv of scripts/mlflow_env.sh (cached OUTSIDE the clone, in
# ${OBESITY_CACHE:-$HOME/.cache/obesity-mlops}/venv-mlflow-<version>) with the pinned
# packages below installed into it: the peers need MLflow anyway, so a second venv would only
# install MLflow's few hundred megabytes twice. The install is recorded by a marker file named
# after a hash of the pin list, so changing a pin reinstalls, and the extras are reinstalled
# whenever mlflow_env.sh rebuilds its venv. Healthy means: the marker is there and every
# pinned distribution has its pinned version.

_obesity_serve_env() {
    local here
    here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
    # shellcheck source=scripts/mlflow_env.sh
    source "$here/mlflow_env.sh" || return 1
    local venv="$OBESITY_MLFLOW_VENV"
    # Pinned to the versions tested together with mlflow==3.17.2 (the MLflow venv already
    # holds compatible pandas, scikit-learn, FastAPI, uvicorn and requests; naming them here
    # keeps them from moving under the peers).
    local pins=(
        "mlflow==${OBESITY_MLFLOW_VERSION:-3.17.2}"
        "tritonclient[http]==2.73.0"
        "requests==2.34.2"
        "prometheus_client==0.26.0"
        "pandas==3.1.1"
        "scikit-learn==1.9.1"
        "fastapi==0.165.0"
        "uvicorn==0.55.0"
    )
    local hash
    hash="$(printf '%s\n' "${pins[@]}" | sha256sum | cut -c1-12)"
    local marker="$venv/.serve-extras-$hash"

    _serve_healthy() {
        [ -f "$marker" ] && "$venv/bin/python" - "${pins[@]}" >/dev/null 2>&1 <<'EOF'
import importlib.metadata as m, re, sys
for pin in sys.argv[1:]:
    name, version = re.sub(r"\[.*\]", "", pin).split("==")
    if m.version(name) != version:
        sys.exit(1)
EOF
    }

    if ! _serve_healthy; then
        echo "serve_env.sh: installing the serving suite's packages into $venv" >&2
        # One pip call with MLflow's own pin, so that the resolver keeps MLflow satisfied.
        "$venv/bin/python" -m pip install --quiet "${pins[@]}" >&2 ||
            { echo "serve_env.sh: pip install ${pins[*]} failed" >&2; return 1; }
        rm -f "$venv"/.serve-extras-*
        touch "$marker"
        if ! _serve_healthy; then
            echo "serve_env.sh: $venv does not have the pinned versions after the install" >&2
            return 1
        fi
    fi
    export OBESITY_SERVE_VENV="$venv"
}

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
    # Sourced: activate in the caller's shell, report failure through the return code.
    _obesity_serve_env
else
    set -euo pipefail
    _obesity_serve_env
    echo "$OBESITY_SERVE_VENV"
fi
