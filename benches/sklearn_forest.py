"""Times scikit-learn's RandomForestClassifier on the same data as benches/forest.rs.

Run:  OBESITY_UCI_CSV=/path/to/ObesityDataSet_raw_and_data_sinthetic.csv \
      python benches/sklearn_forest.py [--fit-only | --predict-only | --accuracy-only]

Data: the project's own split and features, not scikit-learn's. The row indices of
obesity-data's `stratified_split(labels, 0.2, 42)` (1,688 train / 423 test rows), the class
of every row and the names and column sums of obesity-features' standard pipeline (32
columns: the 8 numeric ones, BMI = Weight / Height^2, every categorical column one-hot, yes/no
columns as two columns each) are read from crates/obesity-eval/tests/data/uci_split_seed42.json,
which obesity-eval's test `sklearn_comparison_used_its_own_split_not_the_projects` keeps equal
to the project's split (OBESITY_WRITE_SPLIT=1 rewrites it). The features are rebuilt here
with pandas.get_dummies, renamed and put in the project's column order, and checked against
the project's column sums before anything is timed. 100 trees, max_features="sqrt". The
prediction batch is the test split repeated 50 times (21,150 rows). Prints the median of
repeated timings, so the figures sit beside criterion's.

`--accuracy-only`: test accuracy for random_state 0-9 on the project's split, and for the
record on scikit-learn's own split of the same rows (`train_test_split`, stratified, seed 42).
"""

import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.model_selection import train_test_split as sklearn_split

CATEGORICAL = ["Gender", "family_history_with_overweight", "FAVC", "CAEC", "SMOKE", "SCC",
               "CALC", "MTRANS"]


SPLIT = (Path(__file__).resolve().parent.parent / "crates" / "obesity-eval" / "tests" / "data"
         / "uci_split_seed42.json")


def load(path):
    """The project's 32 features (its names and column order) and labels, and its split."""
    split = json.loads(SPLIT.read_text())
    df = pd.read_csv(path)
    y = df.pop("NObeyesdad").to_numpy()
    if len(df) != split["n_rows"]:
        sys.exit(f"{path} has {len(df)} rows, the project's split {split['n_rows']}")
    names = np.asarray(split["class_names"])[split["labels"]]
    if not (names == y).all():
        sys.exit(f"{path}: labels differ from the ones the project's split was drawn on")
    df["BMI"] = df["Weight"] / df["Height"] ** 2
    x = pd.get_dummies(df, columns=CATEGORICAL, prefix_sep="=").astype(np.float32)
    x = x[split["feature_names"]]  # the project's order; a missing column raises here
    sums = x.to_numpy(dtype=np.float64).sum(axis=0)
    if not np.allclose(sums, split["feature_sums"], rtol=1e-9, atol=1e-6):
        sys.exit("features differ from the project's standard pipeline")
    return x.to_numpy(), y, np.asarray(split["train"]), np.asarray(split["test"])


def accuracies(x, y, train, test):
    """Test accuracy of the default 100-tree forest for random_state 0-9."""
    out = []
    for seed in range(10):
        model = RandomForestClassifier(n_estimators=100, random_state=seed, n_jobs=2)
        out.append(model.fit(x[train], y[train]).score(x[test], y[test]))
    return out


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
    x, y, train, test = load(path)
    if "--accuracy-only" in sys.argv[1:]:
        ours = accuracies(x, y, train, test)
        print("project's split, random_state 0-9: " + " ".join(f"{a:.4f}" for a in ours)
              + f" (min {min(ours):.4f}, max {max(ours):.4f})")
        idx = np.arange(len(y))
        own_tr, own_te = sklearn_split(idx, test_size=0.2, stratify=y, random_state=42)
        own = accuracies(x, y, own_tr, own_te)
        print("scikit-learn's own split, random_state 0-9: "
              + " ".join(f"{a:.4f}" for a in own) + f" (min {min(own):.4f}, max {max(own):.4f})")
        return
    xtr, xte, ytr, yte = x[train], x[test], y[train], y[test]
    print(f"train {xtr.shape}, test {xte.shape} (the project's split)")
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
