#!/usr/bin/env python3
"""Read a LocalStore folder written by Rust with MLflow's own client and check every value.

Usage:
    MLFLOW_ALLOW_FILE_STORE=true python scripts/check_local_store_with_mlflow.py DIR
    MLFLOW_ALLOW_FILE_STORE=true python scripts/check_local_store_with_mlflow.py --kill-loop DIR

With --kill-loop, DIR holds `mlruns/` as writers killed at random points left it (written by
the Rust test `issue12_3_writers_killed_at_random_points_...`, staging leftovers included) and
`kill_report.json` with what the Rust store reads there: MLflow's client must list the same
runs (search_runs), params, tags, metric histories, versions (search_model_versions) and
aliases, and see no temp file as a param, tag, alias, run or experiment.

DIR holds `mlruns/` (the store, written by the Rust test `mlflow_interop_write_local_store`)
and `expected.json` (what that test logged, written next to it). The check runs twice: once on
the folder itself (MLflow's FileStore) and once on a SQLite database made from it with
`mlflow migrate-filestore`, so the layout is proven readable and migratable. Any mismatch is
listed and the script exits 1. Run by scripts/mlflow_suite.sh.
"""

import json
import math
import os
import subprocess
import sys
import tempfile
import warnings

import mlflow
from mlflow import MlflowClient


class Checker:
    """Collects every mismatch instead of stopping at the first one."""

    def __init__(self, label):
        self.label = label
        self.failures = []
        self.checks = 0

    def eq(self, what, got, want):
        self.checks += 1
        if not same(got, want):
            self.failures.append(f"[{self.label}] {what}: MLflow read {got!r}, Rust wrote {want!r}")


# MLflow's SQL stores cannot hold infinity and keep it as +-sys.float_info.max instead (its
# documented behaviour); the migrated database is read with that mapping.
SQL_INF = sys.float_info.max


def as_float(v, sql=False):
    v = float(v) if isinstance(v, str) else v  # "NaN", "Infinity", "-Infinity"
    if sql and isinstance(v, float) and math.isinf(v):
        return math.copysign(SQL_INF, v)
    return v


def missing(v):
    return v is None or (isinstance(v, float) and math.isnan(v))


def same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        try:
            fa, fb = float(a), float(b)
        except (TypeError, ValueError):
            return False
        return (math.isnan(fa) and math.isnan(fb)) or fa == fb
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def check_store(uri, expected, label, sql=False):
    c = Checker(label)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)

    # Experiment.
    want_exp = expected["experiment"]
    exp = client.get_experiment_by_name(want_exp["name"])
    if exp is None:
        c.failures.append(f"[{label}] experiment {want_exp['name']!r} not found")
        return c
    c.eq("experiment id", exp.experiment_id, want_exp["experiment_id"])
    c.eq("experiment tags", {k: v for k, v in exp.tags.items()}, want_exp["tags"])

    # Runs.
    for want in expected["runs"]:
        rid = want["run_id"]
        run = client.get_run(rid)
        info, data = run.info, run.data
        c.eq(f"run {rid} name", info.run_name, want["run_name"])
        c.eq(f"run {rid} status", info.status, want["status"])
        c.eq(f"run {rid} user", info.user_id, want["user_id"])
        c.eq(f"run {rid} experiment", info.experiment_id, want_exp["experiment_id"])
        c.eq(f"run {rid} start_time", info.start_time, want["start_time"])
        c.eq(f"run {rid} end_time", info.end_time, want["end_time"])
        c.eq(f"run {rid} params", dict(data.params), want["params"])
        c.eq(f"run {rid} tags", dict(data.tags), want["tags"])
        c.eq(f"run {rid} parent", data.tags.get("mlflow.parentRunId"), want["parent_run_id"])
        c.eq(
            f"run {rid} latest metrics",
            dict(data.metrics),
            {k: as_float(v, sql) for k, v in want["metrics"].items()},
        )
        for key, points in want["history"].items():
            got = sorted(
                (m.step, m.timestamp, m.value) for m in client.get_metric_history(rid, key)
            )
            want_points = sorted(
                (p["step"], p["timestamp"], as_float(p["value"], sql)) for p in points
            )
            c.eq(f"run {rid} history of {key}", got, want_points)
        for path, text in want["artifacts"].items():
            parent = os.path.dirname(path) or None
            listed = [f.path for f in client.list_artifacts(rid, parent)]
            c.eq(f"run {rid} artifact {path} listed", path in listed, True)
            with tempfile.TemporaryDirectory() as dst:
                local = client.download_artifacts(rid, path, dst)
                with open(local, encoding="utf-8") as f:
                    c.eq(f"run {rid} artifact {path}", f.read(), text)

    # Searches: MLflow's search must agree with the Rust store's own search, order included.
    for s in expected["searches"]:
        found = mlflow.search_runs(
            experiment_ids=[want_exp["experiment_id"]],
            filter_string=s["filter"],
            order_by=s["order_by"] or None,
            output_format="list",
        )
        c.eq(
            f"search_runs({s['filter']!r}, order_by={s['order_by']})",
            [r.info.run_id for r in found],
            s["run_ids"],
        )
    frame = mlflow.search_runs(experiment_names=[want_exp["name"]])
    c.eq("search_runs as a DataFrame: row count", len(frame), len(expected["runs"]))
    by_id = {want["run_id"]: want for want in expected["runs"]}
    for _, row in frame.iterrows():
        got = row.get("params.max_depth")
        want = by_id.get(row["run_id"], {}).get("params", {}).get("max_depth")
        c.eq(
            f"DataFrame params.max_depth of {row['run_id']}",
            None if missing(got) else got,
            want,
        )

    # Registry.
    want_model = expected["model"]
    name = want_model["name"]
    model = client.get_registered_model(name)
    c.eq("model description", model.description, want_model["description"])
    c.eq("model tags", dict(model.tags), want_model["tags"])
    c.eq(
        "model aliases",
        {a: int(v) for a, v in model.aliases.items()},
        want_model["aliases"],
    )
    versions = sorted(client.search_model_versions(f"name='{name}'"), key=lambda v: int(v.version))
    c.eq("version numbers", [int(v.version) for v in versions], [v["version"] for v in want_model["versions"]])
    for got, want in zip(versions, want_model["versions"]):
        n = want["version"]
        c.eq(f"version {n} stage", got.current_stage, want["stage"])
        c.eq(f"version {n} run_id", got.run_id, want["run_id"])
        c.eq(f"version {n} source", got.source, want["source"])
        c.eq(f"version {n} description", got.description or None, want["description"])
        c.eq(f"version {n} tags", dict(got.tags), want["tags"])
        c.eq(f"version {n} status", got.status, want["status"])
        one = client.get_model_version(name, str(n))
        c.eq(f"get_model_version {n} aliases", sorted(one.aliases), sorted(want["aliases"]))
    for alias, n in want_model["aliases"].items():
        c.eq(f"get_model_version_by_alias {alias}", int(client.get_model_version_by_alias(name, alias).version), n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # stages are deprecated in MLflow 3; still supported
        for stage in ("Production", "Staging", "Archived"):
            want_latest = [v["version"] for v in want_model["versions"] if v["stage"] == stage][-1:]
            got_latest = [int(v.version) for v in client.get_latest_versions(name, stages=[stage])]
            c.eq(f"get_latest_versions({stage})", got_latest, want_latest)
    mf = want_model["model_file"]
    with tempfile.TemporaryDirectory() as dst:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{name}/{mf['version']}", dst_path=dst
        )
        with open(os.path.join(local, os.path.basename(mf["path"])), encoding="utf-8") as f:
            c.eq(f"models:/{name}/{mf['version']} {mf['path']}", f.read(), mf["bytes"])
    return c


def search_all_runs(client, experiment_id):
    runs, token = [], None
    while True:
        page = client.search_runs([experiment_id], max_results=1000, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def check_killed_store(uri, expected, label):
    """MLflow's view of a store left by killed writers must be the Rust store's view."""
    c = Checker(label)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    want_exp = expected["experiment"]
    # Listing experiments reads every root folder MLflow takes for one: a temp folder there
    # fails the whole listing.
    exps = client.search_experiments()
    c.eq("experiment ids are numeric", all(e.experiment_id.isdigit() for e in exps), True)
    exp = client.get_experiment_by_name(want_exp["name"])
    if exp is None:
        c.failures.append(f"[{label}] experiment {want_exp['name']!r} not found")
        return c
    c.eq("experiment id", exp.experiment_id, want_exp["experiment_id"])
    # One temp run folder used to fail search_runs for the whole experiment.
    runs = {r.info.run_id: r for r in search_all_runs(client, exp.experiment_id)}
    want_runs = {r["run_id"]: r for r in expected["runs"]}
    c.eq("search_runs run ids", sorted(runs), sorted(want_runs))
    for rid, want in want_runs.items():
        run = runs.get(rid)
        if run is None:
            continue
        c.eq(f"run {rid} status", run.info.status, want["status"])
        c.eq(f"run {rid} params", dict(run.data.params), want["params"])
        c.eq(f"run {rid} tags", dict(run.data.tags), want["tags"])
        for key, points in want["history"].items():
            got = sorted(
                [m.step, m.timestamp, m.value] for m in client.get_metric_history(rid, key)
            )
            c.eq(f"run {rid} history of {key}", got, sorted(points))
        c.eq(f"run {rid} metric keys", sorted(run.data.metrics), sorted(want["history"]))
    want_model = expected["model"]
    name = want_model["name"]
    model = client.get_registered_model(name)
    c.eq("model aliases", {a: int(v) for a, v in model.aliases.items()}, want_model["aliases"])
    versions = sorted(client.search_model_versions(f"name='{name}'"), key=lambda v: int(v.version))
    c.eq(
        "version numbers",
        [int(v.version) for v in versions],
        [v["version"] for v in want_model["versions"]],
    )
    for got, want in zip(versions, want_model["versions"]):
        c.eq(f"version {want['version']} run_id", got.run_id, want["run_id"])
        c.eq(f"version {want['version']} tags", dict(got.tags), want["tags"])
    for alias, n in want_model["aliases"].items():
        c.eq(
            f"get_model_version_by_alias {alias}",
            int(client.get_model_version_by_alias(name, alias).version),
            n,
        )
    return c


def main_kill_loop(base):
    store = os.path.join(base, "mlruns")
    with open(os.path.join(base, "kill_report.json"), encoding="utf-8") as f:
        report = json.load(f)
    staging = os.path.join(store, ".mlruns-tmp.trash")
    left = len(os.listdir(staging)) if os.path.isdir(staging) else 0
    print(
        f"MLflow {mlflow.__version__} reading {store}: {report['iterations']} kills, "
        f"{report['kills_with_staging_leftovers']} left staging leftovers, {left} there now"
    )
    results = [check_killed_store("file://" + store, report["expected"], "killed file store")]
    db = os.path.join(base, "killed-migrated.db")
    migrate = subprocess.run(
        ["mlflow", "migrate-filestore", "--source", store, "--target", f"sqlite:///{db}"],
        capture_output=True,
        text=True,
    )
    if migrate.returncode != 0:
        print(migrate.stdout + migrate.stderr, file=sys.stderr)
        results.append(Checker("killed store migrate-filestore"))
        results[-1].failures.append(f"mlflow migrate-filestore exited {migrate.returncode}")
    else:
        results.append(
            check_killed_store(f"sqlite:///{db}", report["expected"], "killed store migrated")
        )
    failures = [f for r in results for f in r.failures]
    for r in results:
        print(f"  {r.label}: {r.checks} checks, {len(r.failures)} failed")
    if failures:
        print("FAILED: MLflow does not read the killed store as the Rust store does:", file=sys.stderr)
        for f in failures:
            print("  " + f, file=sys.stderr)
        return 1
    print("OK: MLflow reads the store left by killed writers as the Rust LocalStore does.")
    return 0


def main():
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    if len(sys.argv) == 3 and sys.argv[1] == "--kill-loop":
        return main_kill_loop(os.path.abspath(sys.argv[2]))
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    base = os.path.abspath(sys.argv[1])
    store = os.path.join(base, "mlruns")
    with open(os.path.join(base, "expected.json"), encoding="utf-8") as f:
        expected = json.load(f)
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    print(f"MLflow {mlflow.__version__} reading {store}")

    results = [check_store("file://" + store, expected, "file store")]

    db = os.path.join(base, "migrated.db")
    migrate = subprocess.run(
        ["mlflow", "migrate-filestore", "--source", store, "--target", f"sqlite:///{db}"],
        capture_output=True,
        text=True,
    )
    if migrate.returncode != 0:
        print(migrate.stdout + migrate.stderr, file=sys.stderr)
        results.append(Checker("migrate-filestore"))
        results[-1].failures.append(f"mlflow migrate-filestore exited {migrate.returncode}")
    else:
        results.append(check_store(f"sqlite:///{db}", expected, "migrated to sqlite", sql=True))

    failures = [f for r in results for f in r.failures]
    for r in results:
        print(f"  {r.label}: {r.checks} checks, {len(r.failures)} failed")
    if failures:
        print("FAILED: MLflow does not read what the Rust LocalStore wrote:", file=sys.stderr)
        for f in failures:
            print("  " + f, file=sys.stderr)
        return 1
    print("OK: MLflow reads the Rust LocalStore (file store and migrated database) as written.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
