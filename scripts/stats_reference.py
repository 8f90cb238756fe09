#!/usr/bin/env python3
"""Reference values for obesity-eval's McNemar, Welch, Fisher, Wilson and Newcombe statistics,
computed by the reference implementations themselves (not formulas written out):

* McNemar: statsmodels.stats.contingency_tables.mcnemar (exact and chi-square forms);
* Welch: scipy.stats.ttest_ind(equal_var=False) and its confidence_interval();
* Fisher: scipy.stats.fisher_exact, all three alternatives;
* Wilson: statsmodels.stats.proportion.proportion_confint(method="wilson");
* Newcombe: statsmodels.stats.proportion.confint_proportions_2indep(method="newcomb",
  compare="diff").

Writes crates/obesity-eval/tests/data/stats_reference.json (read by tests/it/stats_reference.rs).
Non-finite numbers are written as the strings "nan", "inf", "-inf" (JSON has none).
CI does not run this script; its output is committed.

Run from the repository root with numpy, scipy and statsmodels installed, e.g.
    python3 -m venv ~/.cache/obesity-mlops/venv-ref
    ~/.cache/obesity-mlops/venv-ref/bin/pip install numpy scipy statsmodels scikit-learn pandas
    ~/.cache/obesity-mlops/venv-ref/bin/python scripts/stats_reference.py
"""
import json
import math
import os
import warnings

import numpy as np
import scipy
import statsmodels
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

warnings.simplefilter("ignore")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "crates", "obesity-eval", "tests", "data", "stats_reference.json")


def f(x):
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def mcnemar_cases():
    out = []
    # b = A right & B wrong, c = A wrong & B right: the off-diagonal of [[n11, b], [c, n22]].
    for b, c, exact, correction in [
        (5, 5, False, True), (13, 13, False, True), (30, 30, False, True),
        (12, 13, False, True), (13, 12, False, True), (0, 1, False, True),
        (1, 0, False, True), (20, 40, False, True), (100, 80, False, True),
        (5, 5, False, False), (20, 40, False, False), (0, 3, False, False),
        (3, 9, True, False), (0, 5, True, False), (12, 12, True, False), (7, 17, True, False),
    ]:
        r = mcnemar([[10, b], [c, 10]], exact=exact, correction=correction)
        out.append({"b": b, "c": c, "exact": exact, "correction": correction,
                    "statistic": f(r.statistic), "p_value": f(r.pvalue)})
    return out


def welch_cases():
    rng = np.random.default_rng(12)
    samples = [
        ([1.0] * 8, [1.0] * 8),
        ([2.5] * 5, [2.5] * 9),
        ([1.0] * 8, [2.0] * 8),
        ([3.0] * 4, [1.0] * 6),
        ([1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 6.0, 8.0]),
        ([1.0] * 8, [2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.5]),
        (list(rng.normal(0.8, 0.1, 30)), list(rng.normal(0.75, 0.2, 45))),
    ]
    out = []
    for a, b in samples:
        for level in (0.95, 0.9):
            r = stats.ttest_ind(a, b, equal_var=False)
            ci = r.confidence_interval(confidence_level=level)
            out.append({"a": a, "b": b, "level": level, "statistic": f(r.statistic),
                        "p_value": f(r.pvalue), "df": f(r.df), "ci_low": f(ci.low),
                        "ci_high": f(ci.high)})
    return out


def fisher_cases():
    tables = [
        [[8, 2], [1, 5]], [[6, 2], [1, 4]], [[3, 1], [1, 3]], [[1, 3], [3, 1]],
        [[0, 5], [5, 0]], [[5, 0], [0, 5]], [[0, 10], [3, 7]], [[2, 0], [0, 0]],
        [[0, 0], [3, 4]], [[3, 0], [4, 0]], [[1, 0], [0, 1]], [[10, 10], [10, 10]],
        [[12, 5], [7, 15]], [[120, 80], [90, 110]], [[1, 200], [30, 170]],
        [[60, 40], [45, 55]], [[19, 1], [11, 9]], [[0, 40], [12, 28]], [[500, 1500], [560, 1440]],
        [[9, 3], [2, 15]],
    ]
    rng = np.random.default_rng(7)
    for _ in range(20):
        tables.append([[int(v) for v in rng.integers(0, 25, 2)],
                       [int(v) for v in rng.integers(0, 25, 2)]])
    out = []
    for t in tables:
        row = {"table": t}
        for alt in ("two-sided", "less", "greater"):
            r = stats.fisher_exact(t, alternative=alt)
            row[alt] = f(r.pvalue)
            row["odds_ratio"] = f(r.statistic)
        out.append(row)
    return out


def wilson_cases():
    out = []
    for s, n in [(0, 10), (10, 10), (1, 10), (5, 10), (45, 100), (999, 1000), (0, 1), (1, 1),
                 (3, 7), (420, 500)]:
        for level in (0.95, 0.9, 0.99):
            lo, hi = proportion_confint(s, n, alpha=1 - level, method="wilson")
            out.append({"successes": s, "n": n, "level": level, "low": f(lo), "high": f(hi)})
    return out


def newcombe_cases():
    out = []
    for sa, na, sb, nb in [(60, 100, 45, 100), (0, 10, 0, 10), (10, 10, 0, 10), (5, 12, 1, 13),
                           (420, 500, 400, 500), (1, 1000, 9, 1200), (7, 7, 3, 9),
                           (56, 70, 48, 80), (9, 10, 3, 10)]:
        for level in (0.95, 0.9):
            lo, hi = confint_proportions_2indep(sa, na, sb, nb, method="newcomb",
                                                compare="diff", alpha=1 - level)
            out.append({"sa": sa, "na": na, "sb": sb, "nb": nb, "level": level,
                        "low": f(lo), "high": f(hi)})
    return out


def main():
    doc = {
        "versions": {"scipy": scipy.__version__, "statsmodels": statsmodels.__version__,
                     "numpy": np.__version__},
        "mcnemar": mcnemar_cases(),
        "welch": welch_cases(),
        "fisher": fisher_cases(),
        "wilson": wilson_cases(),
        "newcombe": newcombe_cases(),
    }
    with open(OUT, "w") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")
    print("wrote", OUT, {k: len(v) for k, v in doc.items() if isinstance(v, list)})


if __name__ == "__main__":
    main()
