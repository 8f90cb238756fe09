#!/usr/bin/env python3
"""Reference values for obesity-eval's metrics and statistical tests.

Run with the reference venv (numpy, scipy, scikit-learn):

    /work/venvs/ref/bin/python scripts/sklearn_metrics_vectors.py

Writes crates/obesity-eval/tests/data/sklearn_metrics.json (metrics, from scikit-learn) and
crates/obesity-eval/tests/data/compare_reference.json (McNemar, corrected resampled t-test,
two-proportion z-test, chi-square; from scipy with statsmodels' formulas written out).
NaN is written as the string "nan" because JSON has no NaN.
CI does not run this script; its output is committed.
"""
import json
import math
import os
import warnings

import numpy as np
import scipy
import sklearn
from scipy import stats
from sklearn import metrics as M

warnings.simplefilter("ignore")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "crates", "obesity-eval", "tests", "data")


def clean(x):
    if isinstance(x, dict):
        return {k: clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean(v) for v in x]
    if isinstance(x, np.ndarray):
        return clean(x.tolist())
    if isinstance(x, (np.floating, float)):
        x = float(x)
        return "nan" if math.isnan(x) else x
    if isinstance(x, (np.integer,)):
        return int(x)
    return x


def quantized_proba(rng, n, k, steps=20, y=None, peak=0.0):
    """Rows of k probabilities that are multiples of 1/steps: many exact ties."""
    rows = []
    for i in range(n):
        w = rng.dirichlet(np.ones(k))
        if y is not None:
            w = (1 - peak) * w
            w[y[i]] += peak
        counts = np.floor(w * steps).astype(int)
        counts[np.argmax(w)] += steps - counts.sum()
        rows.append(counts / steps)
    return np.array(rows, dtype=np.float64)


def case(name, y_true, y_pred, proba, n_classes, class_names=None):
    labels = list(range(n_classes))
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    out = {
        "name": name,
        "n_classes": n_classes,
        "y_true": y_true.tolist(),
        "y_pred": y_pred.tolist(),
        "proba": proba.tolist() if proba is not None else None,
        "accuracy": M.accuracy_score(y_true, y_pred),
        "balanced_accuracy": M.balanced_accuracy_score(y_true, y_pred),
        "cohen_kappa": M.cohen_kappa_score(y_true, y_pred, labels=labels),
        "matthews": M.matthews_corrcoef(y_true, y_pred),
        "confusion": M.confusion_matrix(y_true, y_pred, labels=labels),
        "confusion_true": M.confusion_matrix(y_true, y_pred, labels=labels, normalize="true"),
    }
    prf = {}
    for zd_name, zd in [("zero", 0.0), ("one", 1.0), ("nan", np.nan), ("warn", "warn")]:
        for lab_name, lab in [("present", None), ("all", labels)]:
            entry = {}
            p, r, f, s = M.precision_recall_fscore_support(
                y_true, y_pred, labels=labels, average=None, zero_division=zd
            )
            entry["per_class"] = {"precision": p, "recall": r, "f1": f, "support": s}
            for avg in ["macro", "weighted", "micro"]:
                p, r, f, _ = M.precision_recall_fscore_support(
                    y_true, y_pred, labels=lab, average=avg, zero_division=zd
                )
                entry[avg] = {"precision": p, "recall": r, "f1": f}
            prf[f"{zd_name}/{lab_name}"] = entry
    out["prf"] = prf
    if proba is not None:
        out["log_loss"] = M.log_loss(y_true, proba, labels=labels)
        out["brier"] = M.brier_score_loss(y_true, proba, labels=labels)
        if n_classes == 2:
            if len(np.unique(y_true)) == 2:
                auc = M.roc_auc_score(y_true, proba[:, 1])
            else:
                auc = float("nan")
            out["roc_auc_ovr_macro"] = auc
            out["roc_auc_ovr_weighted"] = auc
        else:
            out["roc_auc_ovr_macro"] = M.roc_auc_score(
                y_true, proba, multi_class="ovr", average="macro", labels=labels
            )
            out["roc_auc_ovr_weighted"] = M.roc_auc_score(
                y_true, proba, multi_class="ovr", average="weighted", labels=labels
            )
    if class_names is not None:
        out["class_names"] = class_names
        out["report_text"] = M.classification_report(
            y_true, y_pred, labels=labels, target_names=class_names, digits=2, zero_division=0
        )
        out["report_text_nan"] = M.classification_report(
            y_true, y_pred, labels=labels, target_names=class_names, digits=3,
            zero_division=np.nan
        )
        out["report_text_4"] = M.classification_report(
            y_true, y_pred, labels=labels, target_names=class_names, digits=4, zero_division=0
        )
    return out


def metric_cases():
    rng = np.random.default_rng(20261123)
    cases = []

    # 1. seven classes, mostly right, quantized probabilities (ties) consistent with y_pred
    n, k = 240, 7
    y = rng.integers(0, k, n)
    proba = quantized_proba(rng, n, k, steps=20, y=y, peak=0.12)
    pred = proba.argmax(axis=1)
    names = [
        "Insufficient_Weight", "Normal_Weight", "Overweight_Level_I", "Overweight_Level_II",
        "Obesity_Type_I", "Obesity_Type_II", "Obesity_Type_III",
    ]
    cases.append(case("seven_classes_ties", y, pred, proba, k, names))

    # 2. a class never predicted (class 2), with probabilities
    n, k = 150, 4
    y = rng.integers(0, k, n)
    proba = quantized_proba(rng, n, k, steps=10, y=y, peak=0.4)
    proba[:, 0] += proba[:, 2]
    proba[:, 2] = 0.0
    pred = proba.argmax(axis=1)
    assert 2 not in pred
    cases.append(case("class_never_predicted", y, pred, proba, k, ["a", "b", "c", "d"]))

    # 3. a class absent from y_true (class 3) but predicted sometimes
    n, k = 120, 5
    y = rng.choice([0, 1, 2, 4], n)
    proba = quantized_proba(rng, n, k, steps=8, y=y, peak=0.3)
    pred = proba.argmax(axis=1)
    cases.append(case("class_absent_from_true", y, pred, proba, k, ["v", "w", "x", "y", "z"]))

    # 4. a class absent from both y_true and y_pred
    n, k = 60, 4
    y = rng.choice([0, 1, 3], n)
    pred = np.where(rng.random(n) < 0.7, y, rng.choice([0, 1, 3], n))
    cases.append(case("class_absent_everywhere", y, pred, None, k))

    # 5. perfect prediction
    n, k = 50, 3
    y = rng.integers(0, k, n)
    proba = np.zeros((n, k))
    proba[np.arange(n), y] = 1.0
    cases.append(case("perfect", y, y.copy(), proba, k, ["low", "mid", "high"]))

    # 6. binary, continuous probabilities with a few ties
    n = 300
    y = rng.integers(0, 2, n)
    p1 = np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1)
    p1 = np.round(p1, 2)
    proba = np.stack([1 - p1, p1], axis=1)
    pred = (p1 > 0.5).astype(int)
    cases.append(case("binary", y, pred, proba, 2, ["neg", "pos"]))

    # 7. seven classes, coarse probabilities (steps=4): very heavy ties, continuous labels
    n, k = 400, 7
    y = rng.integers(0, k, n)
    proba = quantized_proba(rng, n, k, steps=4, y=y, peak=0.25)
    pred = proba.argmax(axis=1)
    cases.append(case("seven_classes_heavy_ties", y, pred, proba, k))

    # 8. all predictions one class (precision undefined for the others)
    n, k = 40, 3
    y = rng.integers(0, k, n)
    pred = np.zeros(n, dtype=int)
    cases.append(case("single_predicted_class", y, pred, None, k))
    return cases


def mcnemar_ref(b, c, exact):
    n = b + c
    if exact:
        stat = min(b, c)
        p = min(1.0, 2 * stats.binom.cdf(stat, n, 0.5))
    else:
        stat = (abs(b - c) - 1) ** 2 / n
        p = stats.chi2.sf(stat, 1)
    return {"b": b, "c": c, "exact": exact, "statistic": stat, "p_value": p}


def nb_ref(a, b, n_train, n_test):
    d = np.asarray(a) - np.asarray(b)
    k = len(d)
    mean = d.mean()
    var = d.var(ddof=1)
    t = mean / math.sqrt((1 / k + n_test / n_train) * var)
    p = 2 * stats.t.sf(abs(t), k - 1)
    return {"a": list(a), "b": list(b), "n_train": n_train, "n_test": n_test,
            "mean_difference": mean, "statistic": t, "df": k - 1, "p_value": p}


def ztest_ref(sa, na, sb, nb, level):
    pa, pb = sa / na, sb / nb
    pooled = (sa + sb) / (na + nb)
    z = (pa - pb) / math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb))
    p = 2 * stats.norm.sf(abs(z))
    se = math.sqrt(pa * (1 - pa) / na + pb * (1 - pb) / nb)
    q = stats.norm.ppf(0.5 + level / 2)
    h = 2 * math.asin(math.sqrt(pa)) - 2 * math.asin(math.sqrt(pb))
    return {"sa": sa, "na": na, "sb": sb, "nb": nb, "level": level, "statistic": z,
            "p_value": p, "difference": pa - pb, "ci_low": pa - pb - q * se,
            "ci_high": pa - pb + q * se, "cohens_h": h}


def chi2_ref(table, correction):
    stat, p, dof, expected = stats.chi2_contingency(np.array(table), correction=correction)
    return {"table": table, "correction": correction, "statistic": stat, "p_value": p,
            "dof": int(dof), "expected": expected}


def compare_cases():
    return {
        "mcnemar": [
            mcnemar_ref(3, 9, True), mcnemar_ref(0, 5, True), mcnemar_ref(12, 12, True),
            mcnemar_ref(7, 17, True), mcnemar_ref(20, 40, False), mcnemar_ref(100, 80, False),
            mcnemar_ref(13, 12, False),
        ],
        "nadeau_bengio": [
            nb_ref([0.81, 0.79, 0.84, 0.80, 0.83], [0.78, 0.77, 0.80, 0.79, 0.80], 1688, 423),
            nb_ref([0.90, 0.91, 0.89, 0.92, 0.90, 0.88, 0.91, 0.90, 0.93, 0.89],
                   [0.91, 0.90, 0.90, 0.90, 0.91, 0.89, 0.90, 0.92, 0.91, 0.90], 900, 100),
        ],
        "two_proportion": [
            ztest_ref(420, 500, 400, 500, 0.95), ztest_ref(45, 60, 30, 55, 0.90),
            ztest_ref(1, 1000, 9, 1200, 0.99), ztest_ref(50, 100, 50, 100, 0.95),
        ],
        "chi_square": [
            chi2_ref([[20, 15], [30, 35]], True), chi2_ref([[20, 15], [30, 35]], False),
            chi2_ref([[3, 1], [1, 3]], True), chi2_ref([[10, 20, 30], [30, 20, 10]], True),
        ],
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    meta = {"sklearn": sklearn.__version__, "scipy": scipy.__version__, "numpy": np.__version__}
    with open(os.path.join(OUT, "sklearn_metrics.json"), "w") as f:
        json.dump(clean({"versions": meta, "cases": metric_cases()}), f, indent=1)
    with open(os.path.join(OUT, "compare_reference.json"), "w") as f:
        json.dump(clean({"versions": meta, **compare_cases()}), f, indent=1)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
