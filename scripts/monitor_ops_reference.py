#!/usr/bin/env python3
"""Reference values for obesity-monitor's performance summary and A/B analysis.

Writes crates/obesity-monitor/tests/data/ops_reference.json, read by tests/it/abtest.rs and
tests/it/perf.rs. Needs numpy, scipy, scikit-learn and statsmodels (the reference venv, e.g.
~/.cache/obesity-mlops/venv-ref: see scripts/stats_reference.py).
Run from the repository root: python scripts/monitor_ops_reference.py
"""

import json
from pathlib import Path

import numpy as np
from scipy import stats
from sklearn.metrics import f1_score
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

out = {}

# Two-proportion z-test exactly as statsmodels' proportions_ztest (pooled), Wald CI
# (unpooled) as confint_proportions_2indep(method="wald"), Cohen's h; treatment first.
s_t, n_t, s_c, n_c = 60, 100, 45, 100
p_t, p_c = s_t / n_t, s_c / n_c
pooled = (s_t + s_c) / (n_t + n_c)
se0 = np.sqrt(pooled * (1 - pooled) * (1 / n_t + 1 / n_c))
z = (p_t - p_c) / se0
se = np.sqrt(p_t * (1 - p_t) / n_t + p_c * (1 - p_c) / n_c)
q = stats.norm.ppf(0.975)
chi = stats.chi2_contingency([[s_t, n_t - s_t], [s_c, n_c - s_c]])
out["proportion"] = {
    "successes_treatment": s_t, "n_treatment": n_t,
    "successes_control": s_c, "n_control": n_c,
    "z": z, "p_value": 2 * stats.norm.sf(abs(z)),
    "ci_low": p_t - p_c - q * se, "ci_high": p_t - p_c + q * se,
    "cohens_h": 2 * np.arcsin(np.sqrt(p_t)) - 2 * np.arcsin(np.sqrt(p_c)),
    "chi2": chi.statistic, "chi2_p_value": chi.pvalue,
}

# The intervals and the exact test the analysis reports beside the z-test: Wilson per arm
# (statsmodels proportion_confint(method="wilson")), Newcombe for treatment - control
# (confint_proportions_2indep(method="newcomb")), Fisher's exact test (scipy, two-sided) on
# [[s_t, n_t - s_t], [s_c, n_c - s_c]]. "small" is a case where an expected count is below 5,
# so the analysis decides with Fisher's test.
def intervals(s_t, n_t, s_c, n_c):
    wt = proportion_confint(s_t, n_t, alpha=0.05, method="wilson")
    wc = proportion_confint(s_c, n_c, alpha=0.05, method="wilson")
    nc = confint_proportions_2indep(s_t, n_t, s_c, n_c, method="newcomb", compare="diff",
                                    alpha=0.05)
    table = [[s_t, n_t - s_t], [s_c, n_c - s_c]]
    fisher = stats.fisher_exact(table)
    expected = stats.contingency.expected_freq(table)
    return {
        "successes_treatment": s_t, "n_treatment": n_t,
        "successes_control": s_c, "n_control": n_c,
        "wilson_treatment": list(wt), "wilson_control": list(wc), "newcombe": list(nc),
        "fisher_p_value": fisher.pvalue, "odds_ratio": fisher.statistic,
        "min_expected": float(expected.min()),
    }


out["proportion_intervals"] = intervals(s_t, n_t, s_c, n_c)
out["small_sample"] = intervals(8, 10, 3, 10)

# Welch's t-test, treatment minus control.
t = [1.0, 2.5, 3.0, 4.2, 5.1, 2.2]
c = [2.0, 3.1, 4.4, 5.0, 6.3, 7.7, 5.5]
r = stats.ttest_ind(t, c, equal_var=False)
ci = r.confidence_interval(0.95)
out["welch"] = {
    "treatment": t, "control": c,
    "t": r.statistic, "p_value": r.pvalue, "df": r.df,
    "ci_low": ci.low, "ci_high": ci.high,
}

# Summary metrics.
out["f1_macro"] = {
    "y_true": [0, 1, 1, 2], "y_pred": [0, 1, 2, 0],
    "value": f1_score([0, 1, 1, 2], [0, 1, 2, 0], average="macro"),
}
lat = [10, 10, 20, 20, 30, 30, 40, 40, 100, 100]
out["latency_percentiles"] = {
    "values": lat,
    "p50_p95_p99": list(np.percentile(lat, [50, 95, 99])),
}

path = Path("crates/obesity-monitor/tests/data/ops_reference.json")
path.write_text(json.dumps(out, indent=2, default=float) + "\n")
print(f"wrote {path}")
