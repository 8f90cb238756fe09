#!/usr/bin/env python3
"""A version registered from Rust is a standard MLflow Model: prove it with MLflow itself.

Usage:
    MLFLOW_ALLOW_FILE_STORE=true python scripts/mlflow_model_check.py local DIR [--spark]
    python scripts/mlflow_model_check.py server URL DIR

`local`: DIR holds `mlruns/`, a LocalStore folder where the Rust main job
(`examples/train_and_register.rs`) registered `obesity-classifier` (champion), and
`predictions.json`, what Rust predicts for raw rows with that version's native files
(`crates/obesity-registry/examples/registered_predictions.rs`). With MLflow 3.17.2 and that
folder as tracking and registry URI, this checks that

  1. `mlflow.models.get_model_info("models:/obesity-classifier@champion")` reads the MLmodel:
     flavors `python_function`, `onnx` and `obesity_rs`, the column signature (the inputs are
     the Rust signature's columns, numbers `double`, categories `string`), the input example;
  2. `mlflow.pyfunc.load_model(...)` predicts the same classes as Rust on a pandas DataFrame
     of the raw rows (numbers as float64, strings as pandas' default string dtype), with
     probabilities within 1e-6, and predicts the stored input example;
  3. MLflow 3's records are there: the version's `model_id` is a READY logged model of the
     run (the run's output), and the run's dataset input has the data fingerprint's prefix as
     digest, the full fingerprint in its profile, a schema and a source;
  4. `mlflow models serve -m models:/obesity-classifier@champion --env-manager local` (started
     on a free 127.0.0.1 port in its own process group, stopped by that id, every wait
     bounded) answers `/invocations` with the same classes, for the raw rows as a
     `dataframe_split` request and for the stored `serving_input_example.json`;
  5. with `--spark`: `mlflow.pyfunc.spark_udf` on a local SparkSession (`local[2]`) gives the
     same classes (pyspark must import: scripts/mlflow_suite.sh installs a pinned one).

`server`: the same version registered on the `mlflow server` at URL (MlflowStore, REST), DIR
holding `server_predictions.json` (Rust's predictions read through the server): the version's
REST answers (`registered-models/alias`, `model-versions/get`, `model-versions/get-artifact`
of `MLmodel`, the page the UI shows the schema from) carry the source, the signature and
the flavors, the run's `runs/get` answer carries the dataset input (`runs/log-inputs`), and
`mlflow.pyfunc.load_model` through the server predicts Rust's classes.

Every mismatch is listed; the exit code is 1 if there is any. Run by scripts/mlflow_suite.sh.
"""

import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

MODEL = "obesity-classifier"
URI = f"models:/{MODEL}@champion"
PROBA_TOLERANCE = 1e-6


class Checker:
    def __init__(self, label):
        self.label = label
        self.failures = []
        self.passed = []

    def check(self, what, ok, detail=""):
        (self.passed if ok else self.failures).append(what)
        if not ok:
            print(f"[{self.label}] FAILED {what}: {detail}", file=sys.stderr)

    def eq(self, what, got, want):
        self.check(what, got == want, f"got {got!r}, want {want!r}")


def load_expected(path):
    with open(path) as f:
        doc = json.load(f)
    assert doc["rows"], f"{path} has no rows"
    return doc


def frame(expected):
    """The raw rows as a user builds them: pandas' own dtypes, numbers as float64."""
    import pandas as pd

    df = pd.DataFrame(expected["rows"], columns=expected["columns"])
    numbers = [c for c in df.columns if df[c].dtype.kind in "iuf"]
    return df.astype({c: "float64" for c in numbers})


def compare_predictions(c, what, got_labels, got_proba, expected):
    want = expected["labels"]
    c.eq(f"{what}: row count", len(got_labels), len(want))
    wrong = [i for i, (g, w) in enumerate(zip(got_labels, want)) if g != w]
    c.check(
        f"{what}: same classes as Rust on {len(want)} rows",
        not wrong,
        f"{len(wrong)} rows differ, first {wrong[:5]}: "
        + ", ".join(f"{got_labels[i]} vs {want[i]}" for i in wrong[:5]),
    )
    if got_proba is not None:
        diff = max(
            abs(g - w)
            for grow, wrow in zip(got_proba, expected["probabilities"])
            for g, w in zip(grow, wrow)
        )
        c.check(
            f"{what}: probabilities within {PROBA_TOLERANCE} (max |diff| {diff:.2e})",
            diff <= PROBA_TOLERANCE,
            f"max |diff| {diff}",
        )
        return diff
    return None


def proba_columns(expected):
    return [f"probability_{k}" for k in expected["classes"]]


def check_model_info(c, expected):
    import mlflow

    info = mlflow.models.get_model_info(URI)
    c.check(
        "flavors python_function, onnx, obesity_rs",
        {"python_function", "onnx", "obesity_rs"} <= set(info.flavors),
        f"flavors {sorted(info.flavors)}",
    )
    pyfunc = info.flavors.get("python_function", {})
    c.eq("pyfunc loader module", pyfunc.get("loader_module"), "obesity_onnx_pyfunc")
    c.eq("pyfunc data", pyfunc.get("data"), "model.onnx")
    c.eq("native flavor points at model.bin", info.flavors.get("obesity_rs", {}).get("model"), "model.bin")
    sig = info.signature
    c.check("signature present", sig is not None, "no signature")
    if sig is not None:
        c.eq("signature input names", sig.inputs.input_names(), expected["columns"])
        types = {s.name: s.type.name for s in sig.inputs.inputs}
        numeric = {name for name, v in zip(expected["columns"], expected["rows"][0]) if isinstance(v, (int, float))}
        c.check(
            "numbers are double, categories string",
            all(types[n] == ("double" if n in numeric else "string") for n in expected["columns"]),
            f"{types}",
        )
        c.eq(
            "signature outputs",
            sig.outputs.input_names(),
            ["label"] + proba_columns(expected),
        )
    c.eq(
        "input example info",
        (info.saved_input_example_info or {}).get("type"),
        "dataframe",
    )
    c.eq("MLmodel model_id is the version's", info.model_id, expected["model_id"])
    return info


def check_pyfunc(c, expected):
    import mlflow
    import pandas as pd
    from mlflow.models import Model

    model = mlflow.pyfunc.load_model(URI)
    df = frame(expected)
    c.check(
        "the DataFrame has pandas' default string columns (what the loader shim is for)",
        any(not pd.api.types.is_numeric_dtype(t) for t in df.dtypes),
        f"{df.dtypes.to_dict()}",
    )
    t = time.perf_counter()
    out = model.predict(df)
    ms = (time.perf_counter() - t) * 1000
    c.eq("pyfunc output columns", list(out.columns), ["label"] + proba_columns(expected))
    diff = compare_predictions(
        c,
        "pyfunc.load_model(...).predict",
        out["label"].tolist(),
        out[proba_columns(expected)].to_numpy().tolist(),
        expected,
    )
    local = mlflow.artifacts.download_artifacts(URI)
    example = Model.load(local).load_input_example(local)
    c.check("input example loads", example is not None and len(example) > 0, repr(example))
    if example is not None:
        labels = model.predict(example)["label"].tolist()
        c.check(
            "the input example predicts",
            len(labels) == len(example) and all(l in expected["classes"] for l in labels),
            repr(labels),
        )
    print(
        f"[{c.label}] pyfunc: {len(df)} rows predicted in {ms:.1f} ms, "
        f"max |probability diff| to Rust {diff:.2e}",
        file=sys.stderr,
    )


def check_records(c, expected):
    from mlflow import MlflowClient

    client = MlflowClient()
    mv = client.get_model_version_by_alias(MODEL, "champion")
    c.eq("version model_id", mv.model_id, expected["model_id"])
    if not mv.model_id:
        return
    lm = client.get_logged_model(mv.model_id)
    c.eq("logged model status", str(lm.status), "READY")
    c.eq("logged model source run", lm.source_run_id, mv.run_id)
    c.check("logged model has the run's params", "n_estimators" in lm.params, f"{lm.params}")
    c.check("logged model has metrics", any(m.key == "accuracy" for m in lm.metrics or []), "")
    run = client.get_run(mv.run_id)
    outputs = [o.model_id for o in (run.outputs.model_outputs if run.outputs else [])]
    c.eq("the run's logged model output", outputs, [mv.model_id])
    found = client.search_logged_models(experiment_ids=[run.info.experiment_id])
    c.check("search_logged_models finds it", any(m.model_id == mv.model_id for m in found), f"{found}")
    check_dataset(c, run)


def check_dataset(c, run):
    fingerprint = run.data.tags.get("data.fingerprint", "")
    inputs = run.inputs.dataset_inputs if run.inputs else []
    c.eq("one dataset input", len(inputs), 1)
    if not inputs:
        return
    d = inputs[0].dataset
    c.eq("dataset digest = fingerprint prefix", d.digest, fingerprint[:32])
    c.eq("dataset profile has the full fingerprint", json.loads(d.profile or "{}").get("fingerprint"), fingerprint)
    c.check("dataset source", "uri" in json.loads(d.source or "{}"), d.source)
    schema = json.loads(d.schema or "{}").get("mlflow_colspec", [])
    c.eq("dataset schema columns", len(schema), 17)
    context = {t.key: t.value for t in inputs[0].tags}.get("mlflow.data.context")
    c.eq("dataset context", context, "training")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_json(url, body=None, timeout=60):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def stop_group(proc, grace=15):
    """Stops the process group the server was started in (its id is the server's pid)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=grace)
    # uvicorn workers share the group: make sure none is left.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def check_serve(c, expected, workdir):
    port = free_port()
    log_path = os.path.join(workdir, "models-serve.log")
    cmd = [
        "mlflow", "models", "serve", "-m", URI, "--env-manager", "local",
        "-p", str(port), "-h", "127.0.0.1",
    ]
    started = time.monotonic()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        timeout_s = float(os.environ.get("OBESITY_MODELS_SERVE_TIMEOUT", "180"))
        while True:
            if proc.poll() is not None:
                c.check("mlflow models serve starts", False, f"exited {proc.returncode}; see {log_path}")
                print(open(log_path).read()[-3000:], file=sys.stderr)
                return
            try:
                urllib.request.urlopen(f"{base}/ping", timeout=2).read()
                break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() - started > timeout_s:
                c.check("mlflow models serve starts", False, f"no /ping answer in {timeout_s}s")
                return
            time.sleep(0.5)
        print(
            f"[{c.label}] mlflow models serve up in {time.monotonic() - started:.1f}s (pid {proc.pid})",
            file=sys.stderr,
        )
        body = {"dataframe_split": {"columns": expected["columns"], "data": expected["rows"]}}
        out = http_json(f"{base}/invocations", body)["predictions"]
        compare_predictions(
            c,
            "mlflow models serve /invocations",
            [p["label"] for p in out],
            [[p[k] for k in proba_columns(expected)] for p in out],
            expected,
        )
        # The request MLflow stored next to the model, with integer-valued numbers as JSON
        # numbers: the scoring server casts them to the schema's double.
        local = _download(URI)
        with open(os.path.join(local, "serving_input_example.json")) as f:
            example = json.load(f)
        example["dataframe_split"]["data"] = [
            [int(v) if isinstance(v, float) and v.is_integer() else v for v in row]
            for row in example["dataframe_split"]["data"]
        ]
        out = http_json(f"{base}/invocations", example)["predictions"]
        c.check(
            "/invocations answers the stored serving input example",
            len(out) == len(example["dataframe_split"]["data"]),
            f"{out}",
        )
    finally:
        stop_group(proc)
    c.check("mlflow models serve stopped", proc.poll() is not None, f"pid {proc.pid} still runs")


def _download(uri):
    import mlflow

    return mlflow.artifacts.download_artifacts(uri)


def check_spark(c, expected, want):
    if not want:
        return
    try:
        import pyspark  # noqa: F401
    except ImportError as e:
        c.check("pyspark imports (--spark)", False, f"{e}; install pyspark or leave out --spark")
        return
    import mlflow
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("obesity-mlflow-model-check")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    try:
        t = time.perf_counter()
        udf = mlflow.pyfunc.spark_udf(spark, URI, result_type="string", env_manager="local")
        sdf = spark.createDataFrame(frame(expected))
        labels = [r["label"] for r in sdf.withColumn("label", udf(*expected["columns"])).select("label").collect()]
        compare_predictions(c, "mlflow.pyfunc.spark_udf (local[2])", labels, None, expected)
        print(
            f"[{c.label}] spark_udf: {len(labels)} rows in {time.perf_counter() - t:.1f}s on local[2]",
            file=sys.stderr,
        )
    finally:
        spark.stop()


def check_local(workdir, spark):
    import mlflow

    store = os.path.join(workdir, "mlruns")
    uri = "file://" + os.path.abspath(store)
    os.environ["MLFLOW_TRACKING_URI"] = uri
    os.environ["MLFLOW_REGISTRY_URI"] = uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    expected = load_expected(os.path.join(workdir, "predictions.json"))
    c = Checker("local store")
    check_model_info(c, expected)
    check_pyfunc(c, expected)
    check_records(c, expected)
    check_serve(c, expected, workdir)
    check_spark(c, expected, spark)
    return c


def check_server(url, workdir):
    import mlflow
    import yaml

    url = url.rstrip("/")
    os.environ["MLFLOW_TRACKING_URI"] = url
    mlflow.set_tracking_uri(url)
    mlflow.set_registry_uri(url)
    expected = load_expected(os.path.join(workdir, "server_predictions.json"))
    c = Checker("mlflow server")
    q = urllib.parse.urlencode
    api = f"{url}/api/2.0/mlflow"
    mv = http_json(f"{api}/registered-models/alias?{q({'name': MODEL, 'alias': 'champion'})}")["model_version"]
    c.eq("alias answer: version", int(mv["version"]), expected["version"])
    got = http_json(f"{api}/model-versions/get?{q({'name': MODEL, 'version': mv['version']})}")["model_version"]
    c.check("model-versions/get: source is the run's model folder", got["source"].endswith("/artifacts/model"), got["source"])
    c.eq("model-versions/get: run", got.get("run_id"), mv.get("run_id"))
    with urllib.request.urlopen(
        f"{url}/model-versions/get-artifact?{q({'name': MODEL, 'version': mv['version'], 'path': 'MLmodel'})}",
        timeout=60,
    ) as r:
        mlmodel = yaml.safe_load(r.read())
    inputs = json.loads(mlmodel["signature"]["inputs"])
    c.eq("the version's MLmodel (as the UI reads it): input names", [i["name"] for i in inputs], expected["columns"])
    c.eq("... outputs", [o["name"] for o in json.loads(mlmodel["signature"]["outputs"])], ["label"] + proba_columns(expected))
    c.check("... flavors", {"python_function", "onnx", "obesity_rs"} <= set(mlmodel["flavors"]), f"{mlmodel['flavors']}")
    run = http_json(f"{api}/runs/get?{q({'run_id': mv['run_id']})}")["run"]
    datasets = run.get("inputs", {}).get("dataset_inputs", [])
    c.eq("runs/get: one dataset input (runs/log-inputs)", len(datasets), 1)
    if datasets:
        fp = {t["key"]: t["value"] for t in run["data"].get("tags", [])}.get("data.fingerprint", "")
        c.eq("runs/get: dataset digest", datasets[0]["dataset"]["digest"], fp[:32])
    from mlflow import MlflowClient

    run_entity = MlflowClient().get_run(mv["run_id"])
    check_dataset(c, run_entity)
    model = mlflow.pyfunc.load_model(URI)
    out = model.predict(frame(expected))
    compare_predictions(
        c,
        "pyfunc.load_model through the server",
        out["label"].tolist(),
        out[proba_columns(expected)].to_numpy().tolist(),
        expected,
    )
    return c


def main(argv):
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    # A `timeout` that stops this script must still stop `mlflow models serve` (finally).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # Work inside DIR: anything MLflow or Spark writes to the current directory (a default
    # `mlflow.db`, `spark-warehouse/`, logs) stays out of the repository.
    if len(argv) >= 3 and argv[1] == "local":
        workdir = os.path.abspath(argv[2])
        os.chdir(workdir)
        c = check_local(workdir, "--spark" in argv[3:])
    elif len(argv) == 4 and argv[1] == "server":
        workdir = os.path.abspath(argv[3])
        os.chdir(workdir)
        c = check_server(argv[2], workdir)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    if c.failures:
        print(f"[{c.label}] {len(c.failures)} of {len(c.failures) + len(c.passed)} checks failed", file=sys.stderr)
        return 1
    print(f"[{c.label}] all {len(c.passed)} MLflow Model checks passed", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
