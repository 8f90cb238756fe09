"""Times scikit-learn's GridSearchCV on the seeds' random-forest grid, the same search as
examples/grid_search.rs.

Run:  OBESITY_UCI_CSV=/path/to/ObesityDataSet_raw_and_data_sinthetic.csv \
      /work/venvs/ref/bin/python benches/sklearn_grid.py [--n-jobs 2] [--quick]

Data as benches/sklearn_forest.py (the "standard" pipeline of obesity-features: pandas
get_dummies on every categorical column plus BMI, 32 columns), stratified 80/20 split with
seed 42, then GridSearchCV(RandomForestClassifier(random_state=42), grid, cv=StratifiedKFold(5,
shuffle=True, random_state=42), scoring="f1_macro", n_jobs=2, refit=True) on the training
split: 216 candidates x 5 folds = 1080 fits. Prints the wall time (search + refit) and the
best parameters. --quick runs only the first 12 candidates (n_estimators=100, max_depth=10)
and extrapolates, for a machine where the full run would take too long.
"""

import argparse
import os
import sys
import time

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split

CATEGORICAL = ["Gender", "family_history_with_overweight", "FAVC", "CAEC", "SMOKE", "SCC",
               "CALC", "MTRANS"]

GRID = {
    "n_estimators": [100, 200, 300],
    "max_depth": [10, 15, 20, None],
    "min_samples_split": [2, 5, 10],
    "min_samples_leaf": [1, 2, 4],
    "max_features": ["sqrt", "log2"],
}


def load(path):
    df = pd.read_csv(path)
    y = df.pop("NObeyesdad")
    df["BMI"] = df["Weight"] / df["Height"] ** 2
    x = pd.get_dummies(df, columns=CATEGORICAL).astype(np.float32)
    return x.to_numpy(), y.to_numpy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    path = os.environ.get("OBESITY_UCI_CSV")
    if not path:
        sys.exit("set OBESITY_UCI_CSV to the UCI CSV")
    x, y = load(path)
    xtr, _, ytr, _ = train_test_split(x, y, test_size=0.2, stratify=y, random_state=42)
    grid = dict(GRID)
    if args.quick:
        grid["n_estimators"] = [100]
        grid["max_depth"] = [10]
    n_candidates = int(np.prod([len(v) for v in grid.values()]))
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=42)
    search = GridSearchCV(RandomForestClassifier(random_state=42), grid, cv=cv,
                          scoring="f1_macro", n_jobs=args.n_jobs, refit=True)
    print(f"GridSearchCV: {n_candidates} candidates x 5 folds on {xtr.shape}, "
          f"n_jobs={args.n_jobs}")
    t0 = time.perf_counter()
    search.fit(xtr, ytr)
    elapsed = time.perf_counter() - t0
    print(f"wall time {elapsed:.1f} s (search + refit)")
    if args.quick:
        # Fit cost grows ~linearly with n_estimators; mean over the full grid is 2x n=100.
        print(f"extrapolated full grid (216 candidates, mean 200 trees): "
              f"~{elapsed * 216 / n_candidates * 2:.0f} s")
    print(f"best f1_macro {search.best_score_:.4f} with {search.best_params_}")
    res = search.cv_results_
    print(f"mean fit time per fold {np.mean(res['mean_fit_time']):.3f} s")


if __name__ == "__main__":
    main()
