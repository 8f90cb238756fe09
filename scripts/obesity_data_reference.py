#!/usr/bin/env python3
"""Reference values for obesity-data's tests, computed with pandas, scipy and scikit-learn.

Usage (from the repository root, with the reference venv):
    OBESITY_UCI_CSV=/path/to/ObesityDataSet_raw_and_data_sinthetic.csv \
        /work/venvs/ref/bin/python scripts/obesity_data_reference.py

Writes crates/obesity-data/tests/reference/data_reference.json. The Rust tests compare the
ValidationReport (describe(), IQR outliers, scipy.stats.normaltest, duplicated()) and
StratifiedKFold(shuffle=False) against it. The UCI section is written only when
OBESITY_UCI_CSV is set; only statistics are stored, never the data.
"""
import json
import os
import pathlib

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.model_selection import StratifiedKFold

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "crates/obesity-data/tests/reference/data_reference.json"
NUMERIC = ["Age", "Height", "Weight", "FCVC", "NCP", "CH2O", "FAF", "TUE"]
CLASSES = ["Insufficient_Weight", "Normal_Weight", "Overweight_Level_I", "Overweight_Level_II",
           "Obesity_Type_I", "Obesity_Type_II", "Obesity_Type_III"]


def describe(path):
    df = pd.read_csv(path)
    out = {"rows": int(len(df)), "columns": int(df.shape[1]),
           "duplicates": int(df.duplicated().sum()), "numeric": {}}
    for col in NUMERIC:
        v = df[col].to_numpy(dtype=float)
        q1, med, q3 = np.quantile(v, [0.25, 0.5, 0.75])
        lo, hi = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
        k2, p = stats.normaltest(v)
        out["numeric"][col] = {
            "mean": float(v.mean()), "std": float(v.std(ddof=1)), "min": float(v.min()),
            "q1": float(q1), "median": float(med), "q3": float(q3), "max": float(v.max()),
            "outliers": int(((v < lo) | (v > hi)).sum()),
            "k2": float(k2), "p_value": float(p),
            "skewness": float(stats.skew(v)), "excess_kurtosis": float(stats.kurtosis(v)),
        }
    out["class_counts"] = {c: int((df["NObeyesdad"] == c).sum()) for c in CLASSES}
    labels = np.array([CLASSES.index(c) for c in df["NObeyesdad"]])
    skf = StratifiedKFold(n_splits=5, shuffle=False)
    out["kfold5_test_folds"] = [test.tolist() for _, test in skf.split(np.zeros(len(labels)), labels)]
    return out


def main():
    ref = {"synthetic": describe(ROOT / "fixtures/obesity_synthetic.csv")}
    uci = os.environ.get("OBESITY_UCI_CSV")
    if uci:
        ref["uci"] = describe(uci)
        del ref["uci"]["kfold5_test_folds"]
    OUT.write_text(json.dumps(ref, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
