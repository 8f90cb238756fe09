"""The `mlflow models serve` peer of scripts/loadtest.sh: a scikit-learn Pipeline (one-hot +
BMI as peer_features does it, then a RandomForest of 100 trees) trained on the same CSV,
logged with mlflow.sklearn to a temp tracking store, so that

    mlflow models serve -m <printed model path> --env-manager local

serves raw named features (`dataframe_records`) in, class labels out, as MLflow users
deploy a forest.

    python benches/peers/mlflow_peer.py --data CSV --store DIR

prints the local path of the logged model (its MLmodel folder) as the last line.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--store", required=True, help="folder for the tracking database and "
                                                   "artifacts (created)")
    a = ap.parse_args()

    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    import peer_features

    store = Path(a.store).resolve()
    store.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(f"sqlite:///{store / 'mlflow.db'}")
    exp = mlflow.set_experiment("loadtest-peer")
    del exp

    raw, y = peer_features.load_training_frame(a.data)
    columns = list(peer_features.featurize(raw).columns)
    pipe = Pipeline([
        ("features", FunctionTransformer(peer_features.featurize,
                                         kw_args={"columns": columns})),
        ("forest", RandomForestClassifier(n_estimators=100, random_state=42)),
    ])
    pipe.fit(raw, y)
    example = raw.head(3)
    signature = infer_signature(example, pipe.predict(example))
    with mlflow.start_run(run_name="sklearn-forest-peer"):
        info = mlflow.sklearn.log_model(
            pipe, name="model", signature=signature, input_example=example,
            code_paths=[str(HERE / "peer_features.py")],
            # MLflow 3 stores scikit-learn models with skops, which loads only the types it
            # is told to trust: the forest's trees and our feature function.
            skops_trusted_types=["peer_features.featurize", "sklearn.tree._tree.Tree"],
        )
    local = mlflow.artifacts.download_artifacts(artifact_uri=info.model_uri,
                                                dst_path=str(store / "served"))
    print(f"mlflow peer: logged {info.model_uri}, trained on {len(raw)} rows",
          file=sys.stderr)
    print(os.path.abspath(local))


if __name__ == "__main__":
    main()
