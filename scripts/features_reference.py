"""Reference values for obesity-features, made with pandas and scikit-learn.

Writes crates/obesity-features/tests/reference/uci_get_dummies.json: the column names and
per-column statistics of `pandas.get_dummies` on the UCI table plus BMI (the matrix that
`FeatureConfig::standard()` must reproduce), and the mean_/scale_ of scikit-learn's
StandardScaler on the numeric columns and BMI. Only statistics are written, never rows of the
data set. The Rust test reads this file when OBESITY_UCI_CSV points at the same CSV.

Usage: /work/venvs/ref/bin/python scripts/features_reference.py [PATH_TO_UCI_CSV]
       (default: $OBESITY_UCI_CSV). CI does not run it.
"""

import hashlib
import json
import os
import sys

import numpy as np
import pandas as pd
from sklearn.preprocessing import StandardScaler

NUMERIC = ["Age", "Height", "Weight", "FCVC", "NCP", "CH2O", "FAF", "TUE", "BMI"]


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else os.environ["OBESITY_UCI_CSV"]
    raw = open(path, "rb").read()
    df = pd.read_csv(path)
    df = df.drop(columns=["NObeyesdad"])
    df["BMI"] = df["Weight"] / df["Height"] ** 2
    # prefix_sep="=" gives our names (CALC=Always) instead of pandas' CALC_Always.
    dummies = pd.get_dummies(df, prefix_sep="=", dtype=np.float64)
    weights = np.arange(1, len(dummies) + 1, dtype=np.float64)  # row index 1..n
    columns = []
    for name in dummies.columns:
        col = dummies[name].to_numpy(dtype=np.float64)
        columns.append(
            {
                "name": name,
                "sum": float(col.sum()),
                "sum_sq": float((col * col).sum()),
                # Weighted by row number: catches rows in the wrong order.
                "row_weighted_sum": float((col * weights).sum()),
            }
        )
    scaler = StandardScaler().fit(df[NUMERIC].to_numpy(dtype=np.float64))
    out = {
        "source": "pandas.get_dummies(df + BMI, prefix_sep='=') and sklearn StandardScaler",
        "pandas": pd.__version__,
        "csv_sha256": hashlib.sha256(raw).hexdigest(),
        "rows": int(len(dummies)),
        "columns": columns,
        "standard_scaler": {
            "columns": NUMERIC,
            "mean": [float(v) for v in scaler.mean_],
            "scale": [float(v) for v in scaler.scale_],
        },
    }
    target = os.path.join(
        os.path.dirname(__file__), "..", "crates", "obesity-features", "tests", "reference",
        "uci_get_dummies.json",
    )
    with open(target, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {len(columns)} columns x {len(dummies)} rows to {os.path.normpath(target)}")


if __name__ == "__main__":
    main()
