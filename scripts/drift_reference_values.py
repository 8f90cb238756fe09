"""Reference values for obesity-monitor's drift tests.

Writes crates/obesity-monitor/tests/data/drift_reference.json: seeded inputs and what
scipy (ks_2samp, kstwo.sf) and Evidently (its stattests and DataDriftPreset) compute on them.
The Rust tests read the inputs from the same file, so nothing is copied by hand.

Run (Evidently needs its own venv, with pandas < 3):
    /work/venvs/evidently/bin/python scripts/drift_reference_values.py
Without Evidently installed (e.g. /work/venvs/ref/bin/python) the script reproduces
Evidently's formulas from its source (legacy/calculations/stattests) with numpy/scipy and
skips the DataDriftPreset cases; the JSON records which one produced the values.
"""

import json
import pathlib

import numpy as np
import scipy
from scipy import stats
from scipy.spatial import distance

try:
    import pandas as pd
    import evidently
    from evidently.legacy.core import ColumnType
    from evidently.legacy.calculations.stattests import (
        chi_stat_test,
        jensenshannon_stat_test,
        ks_stat_test,
        psi_stat_test,
        wasserstein_stat_test,
        z_stat_test,
    )

    HAVE_EVIDENTLY = True
except ImportError:  # pragma: no cover - depends on the venv
    HAVE_EVIDENTLY = False

OUT = pathlib.Path(__file__).resolve().parent.parent / "crates/obesity-monitor/tests/data/drift_reference.json"


def rng(seed):
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------------------
# Evidently's formulas, re-derived from its source (used when Evidently is not installed,
# and cross-checked against it when it is).
def binned(ref, cur, numeric, fill):
    ref, cur = np.asarray(ref), np.asarray(cur)
    if numeric and len(np.unique(ref)) > 20:
        bins = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
        r = np.histogram(ref, bins)[0] / len(ref)
        c = np.histogram(cur, bins)[0] / len(cur)
    else:
        keys = sorted(set(ref.tolist()) | set(cur.tolist()))
        r = np.array([np.sum(ref == k) / len(ref) for k in keys])
        c = np.array([np.sum(cur == k) / len(cur) for k in keys])
    if fill:
        for arr in (r, c):
            m = arr[arr != 0].min()
            np.place(arr, arr == 0, m / 10**6 if m <= 0.0001 else 0.0001)
    return r, c


def own_psi(ref, cur, numeric):
    r, c = binned(ref, cur, numeric, True)
    return float(np.sum((r - c) * np.log(r / c)))


def own_js(ref, cur, numeric):
    r, c = binned(ref, cur, numeric, False)
    return float(distance.jensenshannon(r, c))


def own_wasserstein(ref, cur):
    return float(stats.wasserstein_distance(ref, cur) / max(float(np.std(ref)), 0.001))


def own_chi(ref, cur):
    ref, cur = np.asarray(ref), np.asarray(cur)
    keys = sorted(set(ref.tolist()) | set(cur.tolist()))
    k = len(cur) / len(ref)
    exp = [np.sum(ref == key) * k for key in keys]
    obs = [np.sum(cur == key) for key in keys]
    res = stats.chisquare(obs, exp)
    return float(res.statistic), float(res.pvalue)


def own_z(ref, cur):
    ref, cur = np.asarray(ref), np.asarray(cur)
    keys = sorted(set(ref.tolist()) | set(cur.tolist()))
    if len(keys) == 1:
        return 0.0, 1.0
    a = (ref != keys[0]).astype(float)
    b = (cur != keys[0]).astype(float)
    n1, n2 = len(a), len(b)
    p1, p2 = a.sum() / n1, b.sum() / n2
    P = (p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / np.sqrt(P * (1 - P) * (1.0 / n1 + 1.0 / n2))
    return float(z), float(2 * (1 - stats.norm.cdf(abs(z))))


def evidently_score(test, ref, cur, numeric):
    ftype = ColumnType.Numerical if numeric else ColumnType.Categorical
    res = test(pd.Series(ref), pd.Series(cur), ftype, None)
    return float(res.drift_score), bool(res.drifted)


# --------------------------------------------------------------------------------------
def ks_cases():
    g = rng(7)
    cases = []

    def add(name, a, b, method):
        a = [float(x) for x in np.round(np.asarray(a, dtype=float), 6)]
        b = [float(x) for x in np.round(np.asarray(b, dtype=float), 6)]
        r = stats.ks_2samp(a, b, method=method)
        cases.append({
            "name": name, "a": a, "b": b, "method": method,
            "statistic": float(r.statistic), "p_value": float(r.pvalue),
        })

    a5, b5 = g.normal(0, 1, 5), g.normal(0.5, 1, 5)
    add("tiny n=5 vs 5 exact", a5, b5, "auto")
    add("tiny n=5 vs 5 asymp", a5, b5, "asymp")
    add("tiny n=5 vs 7 exact", a5, g.normal(1, 1, 7), "exact")
    add("identical samples", a5, a5, "auto")
    ties_a = np.round(g.normal(3, 1, 40))
    ties_b = np.round(g.normal(3.4, 1, 60))
    add("ties 40 vs 60 exact", ties_a, ties_b, "auto")
    add("ties 40 vs 60 asymp", ties_a, ties_b, "asymp")
    add("heavy ties 0/1 100 vs 80", g.integers(0, 2, 100), g.integers(0, 2, 80), "auto")
    u_a, u_b = g.normal(0, 1, 300), g.normal(0.1, 1.1, 1000)
    add("unequal 300 vs 1000 exact", u_a, u_b, "auto")
    add("unequal 300 vs 1000 asymp", u_a, u_b, "asymp")
    add("unequal 37 vs 113 exact", g.normal(0, 1, 37), g.normal(0.4, 1, 113), "exact")
    for i, (n1, n2, shift) in enumerate([(20, 30, 0.3), (60, 90, 0.5), (100, 150, 0.9), (50, 70, 1.5)]):
        # asymptotic p-values for round(en) <= 140 (Durbin, Pomeranz, Smirnov branches)
        add(f"asymp small {n1} vs {n2} shift {shift}", g.normal(0, 1, n1), g.normal(shift, 1, n2), "asymp")
    # D = 1/n: scipy's exact sum leaves [0, 1] by rounding and it falls back to asymp.
    add("exact falls back to asymp at D = 1/n", np.arange(2000.0), np.arange(2000.0) + 0.5, "exact")
    big_a = g.normal(0, 1, 12_000)
    add("large 12000 vs 12000 same dist auto", big_a, g.normal(0, 1, 12_000), "auto")
    add("large 12000 vs 12000 shift 0.03 auto", big_a, g.normal(0.03, 1, 12_000), "auto")
    add("large 12000 vs 12000 shift 0.03 exact", big_a, g.normal(0.03, 1, 12_000), "exact")
    add("large 12000 vs 12000 shift 0.2 auto", big_a, g.normal(0.2, 1, 12_000), "auto")
    add("large 12000 vs 9000 shift 0.02 asymp", big_a, g.normal(0.02, 1, 9000), "asymp")
    add("large 12000 vs 2111 shift 0.05 auto", big_a, g.normal(0.05, 1, 2111), "auto")
    return cases


def kstwo_grid():
    out = []
    for n in [3, 10, 31, 140, 141, 500, 6000, 200_000]:
        for x in [0.001, 0.004, 0.01, 0.02, 0.05, 0.08, 0.12, 0.2, 0.3, 0.45, 0.6, 0.9]:
            out.append({"n": n, "x": x, "sf": float(stats.kstwo.sf(x, n))})
    return out


def stattest_cases():
    g = rng(11)
    cases = []

    def add(name, ref, cur, numeric):
        ref = [float(x) for x in np.round(np.asarray(ref, dtype=float), 6)] if numeric else [str(x) for x in ref]
        cur = [float(x) for x in np.round(np.asarray(cur, dtype=float), 6)] if numeric else [str(x) for x in cur]
        case = {"name": name, "numeric": numeric, "reference": ref, "current": cur}
        case["psi"] = own_psi(ref, cur, numeric)
        case["jensenshannon"] = own_js(ref, cur, numeric)
        if numeric:
            case["wasserstein"] = own_wasserstein(ref, cur)
            case["ks"] = float(stats.ks_2samp(ref, cur).pvalue)
        n_keys = len(set(ref) | set(cur))
        if not numeric or n_keys <= 5:
            stat, p = own_chi(ref, cur)
            if n_keys > 1:
                case["chisquare_statistic"], case["chisquare"] = stat, p
            case["z_statistic"], case["z"] = own_z(ref, cur)
        if HAVE_EVIDENTLY:
            ev = {}
            tests = {"psi": psi_stat_test, "jensenshannon": jensenshannon_stat_test}
            if numeric:
                tests.update({"wasserstein": wasserstein_stat_test, "ks": ks_stat_test})
            if "chisquare" in case:
                tests["chisquare"] = chi_stat_test
            if "z" in case:
                tests["z"] = z_stat_test
            for key, test in tests.items():
                score, drifted = evidently_score(test, ref, cur, numeric)
                ev[key] = {"score": score, "drifted": drifted}
                # our re-derivation must agree with Evidently itself
                assert abs(score - case[key]) <= 1e-12 * max(1.0, abs(score)), (name, key, score, case[key])
            case["evidently"] = ev
        cases.append(case)

    add("numeric wide shift", g.normal(70, 15, 800), g.normal(85, 15, 600), True)
    add("numeric same distribution", g.normal(1.7, 0.1, 500), g.normal(1.7, 0.1, 500), True)
    add("numeric tiny n=5", g.normal(0, 1, 5), g.normal(0.2, 1, 5), True)
    add("numeric large 12000 vs 12000", g.normal(0, 1, 12_000), g.normal(0.05, 1.02, 12_000), True)
    add("numeric few values (<=20 unique) with gaps", g.integers(1, 15, 400), g.integers(3, 18, 300), True)
    add("numeric 3 values", g.integers(1, 4, 300), g.choice([1, 2, 3], 200, p=[0.5, 0.3, 0.2]), True)
    add("numeric identical", np.arange(50) * 0.5, np.arange(50) * 0.5, True)
    add("categorical transport shift",
        g.choice(["Public_Transportation", "Walking", "Automobile", "Motorbike", "Bike"], 900,
                 p=[0.75, 0.03, 0.2, 0.01, 0.01]),
        g.choice(["Public_Transportation", "Walking", "Automobile", "Motorbike", "Bike"], 400,
                 p=[0.4, 0.1, 0.45, 0.03, 0.02]), False)
    add("categorical new category in current", g.choice(["a", "b", "c"], 300), g.choice(["a", "b", "c", "d"], 200), False)
    add("categorical same", g.choice(["x", "y", "z"], 600), g.choice(["x", "y", "z"], 600), False)
    add("binary yes/no shift", g.choice(["yes", "no"], 700, p=[0.8, 0.2]), g.choice(["yes", "no"], 500, p=[0.7, 0.3]), False)
    add("binary one level both sides", ["no"] * 40, ["no"] * 30, False)
    add("binary level missing in current", g.choice(["yes", "no"], 200), ["no"] * 50, False)
    return cases


DISPLAY = {
    "K-S p_value": "ks", "chi-square p_value": "chisquare", "Z-test p_value": "z",
    "PSI": "psi", "Jensen-Shannon distance": "jensenshannon",
    "Wasserstein distance (normed)": "wasserstein",
}


def dataset_cases():
    """Whole-dataset drift with Evidently's DataDriftPreset and default options."""
    if not HAVE_EVIDENTLY:
        return []
    from evidently.legacy.metric_preset import DataDriftPreset
    from evidently.legacy.pipeline.column_mapping import ColumnMapping
    from evidently.legacy.report import Report

    g = rng(23)
    out = []
    for n_ref, n_cur, shift in [(600, 400, 0.0), (600, 400, 1.0), (2111, 2111, 0.0), (2111, 2111, 1.0)]:
        def frame(n, s):
            return pd.DataFrame({
                "Age": np.round(g.normal(24 + 4 * s, 6, n), 2),
                "Weight": np.round(g.normal(86 + 15 * s, 26, n), 1),
                "FCVC": g.choice([1.0, 2.0, 3.0], n, p=[0.1, 0.5, 0.4]),
                "NCP": g.integers(1, 5, n).astype(float) + (g.random(n) < 0.5) * 0.5,
                "MTRANS": g.choice(["Public_Transportation", "Walking", "Automobile", "Bike"], n,
                                   p=[0.7 - 0.3 * s, 0.1, 0.15 + 0.3 * s, 0.05]),
                "CAEC": g.choice(["no", "Sometimes", "Frequently", "Always"], n, p=[0.1, 0.7, 0.15, 0.05]),
                "SMOKE": g.choice(["yes", "no"], n, p=[0.05 + 0.1 * s, 0.95 - 0.1 * s]),
            })
        ref, cur = frame(n_ref, 0.0), frame(n_cur, shift)
        numeric = ["Age", "Weight", "FCVC", "NCP"]
        mapping = ColumnMapping(numerical_features=numeric, categorical_features=["MTRANS", "CAEC", "SMOKE"],
                                target=None, prediction=None)
        report = Report(metrics=[DataDriftPreset()])
        report.run(reference_data=ref, current_data=cur, column_mapping=mapping)
        res = report.as_dict()["metrics"]
        table = next(m["result"] for m in res if m["metric"] == "DataDriftTable")
        cols = {}
        for name, c in table["drift_by_columns"].items():
            cols[name] = {
                "stattest": DISPLAY[c["stattest_name"]],
                "threshold": float(c["stattest_threshold"]),
                "score": float(c["drift_score"]),
                "drifted": bool(c["drift_detected"]),
            }
        def col(df, name):
            return {"name": name, "numeric": name in numeric,
                    "values": [float(v) for v in df[name]] if name in numeric else [str(v) for v in df[name]]}
        out.append({
            "name": f"DataDriftPreset ref {n_ref} cur {n_cur} shift {shift}",
            "reference": [col(ref, c) for c in ref.columns],
            "current": [col(cur, c) for c in cur.columns],
            "columns": cols,
            "number_of_drifted_columns": int(table["number_of_drifted_columns"]),
            "share_of_drifted_columns": float(table["share_of_drifted_columns"]),
            "dataset_drift": bool(table["dataset_drift"]),
        })
    return out


def finite_json(x):
    """JSON has no inf/NaN: write them as the strings "inf", "-inf", "nan"."""
    if isinstance(x, float) and not np.isfinite(x):
        return "nan" if np.isnan(x) else ("inf" if x > 0 else "-inf")
    if isinstance(x, dict):
        return {k: finite_json(v) for k, v in x.items()}
    if isinstance(x, list):
        return [finite_json(v) for v in x]
    return x


def main():
    data = {
        "generator": {
            "script": "scripts/drift_reference_values.py",
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "evidently": evidently.__version__ if HAVE_EVIDENTLY else None,
        },
        "ks": ks_cases(),
        "kstwo_sf": kstwo_grid(),
        "stattests": stattest_cases(),
        "datasets": dataset_cases(),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(finite_json(data), allow_nan=False))
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
