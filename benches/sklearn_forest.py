"""Times scikit-learn's RandomForestClassifier on the same data as benches/forest.rs.

Run:  OBESITY_UCI_CSV=/path/to/ObesityDataSet_raw_and_data_sinthetic.csv \
      /work/venvs/ref/bin/python benches/sklearn_forest.py [--fit-only | --predict-only]

Pipeline (the "standard" one of obesity-features): one-hot every categorical column with
pandas.get_dummies semantics (yes/no columns give two columns each), keep the 8 numeric
columns, add BMI = Weight / Height^2: 32 columns. Stratified 80/20 split, seed 42; 100 trees,
max_features="sqrt". The prediction batch is the test split repeated 50 times (21,150 rows).
Prints the median of repeated timings, so the figures sit beside criterion's.
"""

import os
import statistics
import sys
import time

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split

CATEGORICAL = ["Gender", "family_history_with_overweight", "FAVC", "CAEC", "SMOKE", "SCC",
               "CALC", "MTRANS"]


def load(path):
    df = pd.read_csv(path)
    y = df.pop("NObeyesdad")
    df["BMI"] = df["Weight"] / df["Height"] ** 2
    x = pd.get_dummies(df, columns=CATEGORICAL).astype(np.float32)
    return x.to_numpy(), y.to_numpy()


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def main():
    # `--fit-only`: just the two fit timings, to interleave with criterion's fit group when
    # the machine is noisy (a quick A/B of the pair, rather than two runs minutes apart).
    fit_only = "--fit-only" in sys.argv[1:]
    # `--predict-only`: just the batch predictions (repeated and shuffled), for
    # benches/predict_rounds.sh; the fits are not timed.
    predict_only = "--predict-only" in sys.argv[1:]
    path = os.environ.get("OBESITY_UCI_CSV")
    if not path:
        sys.exit("set OBESITY_UCI_CSV to the UCI CSV")
    x, y = load(path)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.2, stratify=y, random_state=42)
    print(f"train {xtr.shape}, test {xte.shape}")
    batch = np.tile(xte, (50, 1))
    row = xte[:1]
    for n_jobs in (1, 2):
        model = RandomForestClassifier(n_estimators=100, n_jobs=n_jobs, random_state=0)
        if predict_only:
            model.fit(xtr, ytr)
        else:
            med, best = timed(lambda: model.fit(xtr, ytr), 7)
            print(f"n_jobs={n_jobs} fit 100 trees {xtr.shape[0]}x{xtr.shape[1]}: "
                  f"median {med * 1e3:.1f} ms, best {best * 1e3:.1f} ms")
        if fit_only:
            continue
        med, best = timed(lambda: model.predict_proba(batch), 7)
        print(f"n_jobs={n_jobs} predict_proba {batch.shape[0]} rows: "
              f"median {med * 1e3:.1f} ms, best {best * 1e3:.1f} ms")
        # The same rows in a shuffled order: the repeated order lets the CPU's branch
        # predictor learn the 423-row pattern of every tree, which real traffic does not have.
        shuffled = batch[np.random.default_rng(0).permutation(len(batch))]
        med, best = timed(lambda: model.predict_proba(shuffled), 7)
        print(f"n_jobs={n_jobs} predict_proba {batch.shape[0]} rows, shuffled: "
              f"median {med * 1e3:.1f} ms, best {best * 1e3:.1f} ms")
        if predict_only:
            continue
        med, best = timed(lambda: model.predict_proba(row), 101)
        print(f"n_jobs={n_jobs} predict_proba 1 row: median {med * 1e6:.0f} us")
    if fit_only or predict_only:
        return
    model = RandomForestClassifier(n_estimators=100, random_state=0).fit(xtr, ytr)
    print(f"test accuracy {model.score(xte, yte):.4f}")
    depths = [e.get_depth() for e in model.estimators_]
    leaves = [e.get_n_leaves() for e in model.estimators_]
    nodes = [e.tree_.node_count for e in model.estimators_]
    path_len = np.mean([e.decision_path(batch[:len(xte)]).sum(axis=1).mean() - 1
                        for e in model.estimators_])
    print(f"trees: mean nodes {np.mean(nodes):.0f}, mean leaves {np.mean(leaves):.0f}, "
          f"mean max depth {np.mean(depths):.1f}, mean path length {path_len:.1f}")
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=42)
    scores = cross_val_score(RandomForestClassifier(n_estimators=100, random_state=0), x, y,
                             cv=cv)
    print(f"5-fold stratified CV accuracy mean {scores.mean():.4f} ({scores.round(4)})")


if __name__ == "__main__":
    main()
