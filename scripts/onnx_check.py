#!/usr/bin/env python3
"""Checks the ONNX models exported by obesity-onnx with onnxruntime (scripts/onnx_suite.sh).

Usage: python scripts/onnx_check.py DIR [--repeats N] [--tolerance 1e-6] [--json OUT]

DIR is what `cargo run --release -p obesity-onnx --example export_check -- --out DIR` wrote
(see its manifest.json). For every exported model:

1. `onnx.checker.check_model(full_check=True)` accepts it (schema and shape inference);
2. onnxruntime loads it and, fed the raw rows as pandas read them from the CSV files (one
   1-D array per column: float64 numbers, strings), predicts the same class as the Rust
   forest on every row and probabilities within --tolerance (default 1e-6) of Rust's, on the
   UCI held-out rows and on the 10,000 synthetic rows, on one thread (where it adds the trees
   in our order, so the sums are expected bit-identical, which is reported); on two threads
   onnxruntime adds partial sums of the trees, so probabilities may differ in the last bits
   and a row whose top classes tie exactly in Rust may get the other one: only such rows
   may differ there; rows Rust's pipeline refused (the `strict` variant's unseen levels)
   must make onnxruntime fail too;
3. the `columns` layout gives exactly the `tensor` layout's probabilities;
4. the UCI rows read straight from the original CSV (CRLF) equal the rows Rust wrote back,
   and give the same predictions;
5. a level outside the schema (MTRANS = "Bicycle") is an onnxruntime error.

Then it times onnxruntime on the `standard` model (raw rows in) and on the forest alone (the
32-column matrix in, like a skl2onnx-converted scikit-learn forest) for the benchmark batch
(the held-out rows repeated 50 times: 21,150 rows) and for one row, on 1 and 2 threads, and
prints them beside the Rust timings the example measured. Exits 1 on any failed check.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd

NUMERIC = ["Age", "Height", "Weight", "FCVC", "NCP", "CH2O", "FAF", "TUE"]
CATEGORICAL = [
    "Gender",
    "family_history_with_overweight",
    "FAVC",
    "CAEC",
    "SMOKE",
    "SCC",
    "CALC",
    "MTRANS",
]

failures = []
passed = []


def check(ok, message):
    print(("ok   " if ok else "FAIL ") + message, flush=True)
    (passed if ok else failures).append(message)


def read_rows(path):
    """The raw rows as pandas reads them: numbers exactly (round-trip parsing), strings kept."""
    # pandas 3 parses floats exactly by default (and deprecates the argument); older pandas
    # needs "round_trip" to give the float64 that Rust's parser gives.
    exact = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
    df = pd.read_csv(
        path, dtype={c: str for c in CATEGORICAL}, keep_default_na=False, **exact
    )
    for c in CATEGORICAL:
        df[c] = df[c].str.strip()
    return df


def feeds(session, df):
    """One 1-D array per input, as MLflow's ONNX pyfunc builds them from a DataFrame."""
    out = {}
    for inp in session.get_inputs():
        column = df[inp.name]
        if inp.type == "tensor(double)":
            out[inp.name] = column.to_numpy(dtype=np.float64)
        elif inp.type == "tensor(string)":
            out[inp.name] = column.to_numpy(dtype=object)
        else:
            raise ValueError(f"unexpected input {inp.name}: {inp.type}")
    return out


def session(path, threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 4  # expected failures are checked as exceptions, not logged
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_probabilities(sess, feed, layout, class_names):
    """(labels, probabilities [N, C] float32) from either output layout."""
    outputs = [o.name for o in sess.get_outputs()]
    result = dict(zip(outputs, sess.run(None, feed)))
    labels = np.asarray(result["label"])
    if layout == "tensor":
        proba = np.asarray(result["probabilities"], dtype=np.float32)
    else:
        proba = np.stack(
            [np.asarray(result[f"probability_{c}"], dtype=np.float32) for c in class_names],
            axis=1,
        )
    return labels, proba


def compare(name, labels, proba, expected, rows, tolerance, class_names, ties_ok=False):
    """Classes and probabilities against Rust's. With `ties_ok`, a row may get another class
    when Rust's probability of that class ties its maximum (within `tolerance`): onnxruntime
    on several threads adds partial sums of the trees in another order, which can break an
    exact tie either way."""
    want_labels = np.array([expected["labels"][i] for i in rows], dtype=object)
    want_proba = np.array([expected["probabilities"][i] for i in rows], dtype=np.float32)
    differ = np.flatnonzero(labels != want_labels)
    agree = len(rows) - len(differ)
    diff = float(np.abs(proba - want_proba).max()) if len(rows) else 0.0
    index = {c: k for k, c in enumerate(class_names)}
    ties = sum(
        1
        for r in differ
        if labels[r] in index
        and want_proba[r].max() - want_proba[r][index[labels[r]]] <= tolerance
    )
    identical = bool(np.array_equal(proba, want_proba))
    ok = diff <= tolerance and (agree == len(rows) or (ties_ok and ties == len(differ)))
    note = f" ({len(differ)} differ, all exact ties in Rust's probabilities)" if differ.size else ""
    check(
        ok,
        f"{name}: classes agree on {agree}/{len(rows)} rows{note}, max |Δp| = {diff:.3g}"
        + (" (bit-identical)" if identical else ""),
    )
    return {
        "rows": len(rows),
        "classes_agree": agree,
        "tie_flips": ties,
        "max_abs_prob_diff": diff,
        "bit_identical": identical,
    }


def median_time(fn, repeats):
    """[median, fastest] of `repeats` timings, seconds (the fastest is the figure least
    disturbed by other work on a shared machine)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return [statistics.median(times), min(times)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dir", type=Path)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--tolerance", type=float, default=1e-6)
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args()
    d = args.dir
    manifest = json.loads((d / "manifest.json").read_text())
    class_names = manifest["class_names"]
    print(f"onnxruntime {ort.__version__}, onnx {onnx.__version__}, numpy {np.__version__}, "
          f"pandas {pd.__version__}")

    data = {ds["name"]: read_rows(d / ds["file"]) for ds in manifest["datasets"]}
    for ds in manifest["datasets"]:
        check(len(data[ds["name"]]) == ds["rows"], f"{ds['file']}: {ds['rows']} rows")
    results = {"onnxruntime": ort.__version__, "checks": [], "timings": {}}

    tensor_proba = {}
    for model in manifest["models"]:
        path = d / model["file"]
        try:
            onnx.checker.check_model(onnx.load(str(path)), full_check=True)
            check(True, f"{model['file']}: onnx.checker (full_check) accepts it")
        except Exception as e:  # noqa: BLE001 - report any checker failure
            check(False, f"{model['file']}: onnx.checker: {e}")
        # One thread: onnxruntime adds the trees in tree order, as our forest does, so
        # classes must all agree. Two threads (what a default session uses here): partial
        # sums, so only exact ties may go the other way.
        sess = session(path, 1)
        sess2 = session(path, 2)
        for pred in manifest["predictions"]:
            if pred["variant"] != model["variant"]:
                continue
            expected = json.loads((d / pred["file"]).read_text())
            df = data[pred["dataset"]]
            rejected = [r["row"] for r in expected["rejected"]]
            rows = [i for i in range(len(df)) if i not in set(rejected)]
            feed = feeds(sess, df.iloc[rows])
            labels, proba = run_probabilities(sess, feed, model["layout"], class_names)
            name = f"{model['file']} on {pred['dataset']}"
            entry = compare(name, labels, proba, expected, rows, args.tolerance, class_names)
            labels2, proba2 = run_probabilities(sess2, feed, model["layout"], class_names)
            entry["two_threads"] = compare(
                name + ", 2 threads", labels2, proba2, expected, rows, args.tolerance,
                class_names, ties_ok=True,
            )
            entry.update(model=model["file"], dataset=pred["dataset"])
            key = (model["variant"], pred["dataset"])
            if model["layout"] == "tensor":
                tensor_proba[key] = proba
            elif key in tensor_proba:
                check(
                    np.array_equal(tensor_proba[key], proba),
                    f"{name}: columns layout equals the tensor layout bit for bit",
                )
            refused = 0
            for i in rejected:
                try:
                    sess.run(None, feeds(sess, df.iloc[[i]]))
                except Exception:  # noqa: BLE001 - onnxruntime raises its own types
                    refused += 1
            if rejected:
                check(
                    refused == len(rejected),
                    f"{name}: onnxruntime refuses {refused}/{len(rejected)} rows Rust refused",
                )
            entry["rejected"] = len(rejected)
            results["checks"].append(entry)

    # The UCI rows straight from the original file (CRLF, as published).
    standard = d / "model_standard.onnx"
    source = Path(manifest["source_csv"])
    original = read_rows(source).iloc[manifest["uci_test_index"]].reset_index(drop=True)
    written = data["uci_test"]
    same = all(
        np.array_equal(original[c].to_numpy(np.float64), written[c].to_numpy(np.float64))
        for c in NUMERIC
    ) and all((original[c] == written[c]).all() for c in CATEGORICAL)
    check(same, f"{source.name}: the held-out rows read from the original file equal uci_test.csv")
    sess = session(standard, 1)
    expected = json.loads((d / "pred_standard_uci_test.json").read_text())
    labels, proba = run_probabilities(sess, feeds(sess, original), "tensor", class_names)
    compare(f"{source.name} held-out rows through model_standard.onnx", labels, proba,
            expected, list(range(len(original))), args.tolerance, class_names)

    bad = written.iloc[[0]].copy()
    bad["MTRANS"] = "Bicycle"
    try:
        sess.run(None, feeds(sess, bad))
        check(False, "MTRANS='Bicycle' should be an onnxruntime error")
    except Exception as e:  # noqa: BLE001
        known = "Unknown Category and zeros = 0" in str(e)
        check(known, "MTRANS='Bicycle' is refused by onnxruntime's OneHotEncoder"
              + ("" if known else f": unexpected error {str(e)[:200]}"))

    # Timings: raw rows through the exported pipeline + forest, and the forest alone.
    batch = pd.concat([written] * manifest["batch_repeats"], ignore_index=True)
    one = written.iloc[[0]]
    features = np.asarray(json.loads((d / "uci_test_features.json").read_text()), np.float32)
    fbatch = np.tile(features, (manifest["batch_repeats"], 1))
    rust = json.loads((d / manifest["rust_timings"]).read_text())
    calls = 2000
    print(f"\ntimings: median (fastest) of {args.repeats}; one row: per call, {calls} calls "
          "per timing")
    print(f"{'':40} {'batch of ' + str(len(batch)) + ' rows':>22} {'one row':>20}")
    for threads in (1, 2):
        t = {}
        for label, path, batch_feed, row_feed in [
            ("onnxruntime, raw rows (pipeline+forest)", standard, None, None),
            ("onnxruntime, 32-column matrix (forest)", d / "model_standard_forest.onnx",
             {"features": fbatch}, {"features": features[:1]}),
        ]:
            s = session(path, threads)
            bf = batch_feed if batch_feed is not None else feeds(s, batch)
            rf = row_feed if row_feed is not None else feeds(s, one)
            s.run(None, bf)
            batch_ms = [v * 1e3 for v in median_time(lambda: s.run(None, bf), args.repeats)]
            row_us = [
                v / calls * 1e6
                for v in median_time(
                    lambda: [s.run(None, rf) for _ in range(calls)], max(3, args.repeats // 3)
                )
            ]
            t[label] = {"batch_ms": batch_ms, "row_us": row_us}
        r = rust[f"threads_{threads}"]
        t["ours, pipeline + forest (Rust)"] = {
            "batch_ms": r["pipeline_forest_batch_ms"], "row_us": r["pipeline_forest_row_us"]}
        t["ours, forest alone (Rust)"] = {
            "batch_ms": r["forest_batch_ms"], "row_us": r["forest_row_us"]}
        print(f"-- {threads} thread(s)")
        for label, v in t.items():
            (bm, bb), (rm, rb) = v["batch_ms"], v["row_us"]
            print(f"{label:40} {bm:8.2f} ({bb:7.2f}) ms {rm:8.2f} ({rb:7.2f}) µs")
        results["timings"][f"threads_{threads}"] = t

    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    print()
    print(f"onnx_check: {len(passed)} passed, {len(failures)} failed")
    if failures:
        print(f"onnx_check: {len(failures)} check(s) FAILED")
        for f in failures:
            print(f"  - {f}")
        return 1
    print("onnx_check: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
