"""Python peers for benches/drift.rs (docs/benchmarks.md, "Drift").

scipy's ks_2samp on the bench's sizes, and Evidently's DataDriftPreset (legacy Report) on a
2,111-row reference against a 2,111-row batch with the 16 obesity features.
Run: /work/venvs/evidently/bin/python scripts/drift_python_timing.py [CSV]
(default CSV: fixtures/obesity_synthetic.csv; the batch is the same rows shuffled).
"""

import sys
import timeit
import warnings

import numpy as np
from scipy import stats

warnings.filterwarnings("ignore")


def best_of(fn, repeat=5):
    t = timeit.Timer(fn)
    reps, _ = t.autorange()
    return min(t.repeat(repeat, reps)) / reps


def main():
    g = np.random.default_rng(1)
    for n, method in [(12_000, "auto"), (12_000, "exact"), (2_111, "auto")]:
        a, b = g.normal(0, 1, n), g.normal(0.02, 1, n)
        s = best_of(lambda: stats.ks_2samp(a, b, method=method))
        print(f"scipy ks_2samp n={n} method={method}: {s * 1e3:.3f} ms")
    try:
        import pandas as pd
        from evidently.legacy.metric_preset import DataDriftPreset
        from evidently.legacy.pipeline.column_mapping import ColumnMapping
        from evidently.legacy.report import Report
    except ImportError:
        print("evidently not installed: DataDriftPreset timing skipped")
        return
    path = sys.argv[1] if len(sys.argv) > 1 else "fixtures/obesity_synthetic.csv"
    df = pd.read_csv(path).drop(columns=["NObeyesdad"])
    cur = df.sample(frac=1.0, random_state=0).reset_index(drop=True)
    numeric = ["Age", "Height", "Weight", "FCVC", "NCP", "CH2O", "FAF", "TUE"]
    for c in numeric:
        df[c] = df[c].astype(float)
        cur[c] = cur[c].astype(float)
    mapping = ColumnMapping(numerical_features=numeric,
                            categorical_features=[c for c in df.columns if c not in numeric])

    def run():
        r = Report(metrics=[DataDriftPreset()])
        r.run(reference_data=df, current_data=cur, column_mapping=mapping)
        return r.as_dict()

    s = best_of(run, repeat=3)
    print(f"evidently DataDriftPreset {len(df)} vs {len(cur)} rows, {df.shape[1]} columns: {s * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
