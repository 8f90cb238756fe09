#!/usr/bin/env python3
"""Real third-party clients against a running `obesity serve` (issue 14).

    python scripts/serve_clients.py --url http://127.0.0.1:PORT --expected expected.json

Nothing here was written for this server: the checks drive it with

* tritonclient.http.InferenceServerClient (NVIDIA's Open Inference Protocol v2 client:
  liveness, readiness, server and model metadata, `infer` with `binary_data=False`, one input
  tensor per raw field built from the model metadata, unknown `parameters`, unknown model),
* MLflow's own scoring client (mlflow.pyfunc.scoring_server.client.ScoringServerClient) and
  plain `requests` posting every MLflow input format to /invocations (dataframe_split,
  dataframe_records, instances, inputs, text/csv) and an unsupported content type (415),
* prometheus_client.parser.text_string_to_metric_families on /metrics (the request and
  prediction counters must move by exactly what this script sent),

and every prediction must equal the library's for the same rows: `--expected` is the JSON
written by `cargo run --release -p obesity-serve --example expected_predictions` (rows, class
names and the probabilities the Rust library computes for them without the server).

Prints one line per check (PASS/FAIL + detail) and a summary; exits 1 if any check failed,
2 on bad usage or when a package is missing.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
import traceback
from collections import Counter
from typing import Any, Callable
from urllib.parse import urlparse

try:
    import numpy as np
    import pandas as pd
    import requests
    import tritonclient.http as triton
    from prometheus_client.parser import text_string_to_metric_families
    from tritonclient.utils import InferenceServerException
except ImportError as e:  # pragma: no cover - reported to the suite, which says SKIPPED
    print(f"serve_clients.py: missing Python package: {e} (source scripts/serve_env.sh)",
          file=sys.stderr)
    sys.exit(2)

PROBA_TOL = 1e-6  # the library computes f32 probabilities; JSON may print them shorter
TIMEOUT = 30.0


class CheckFailed(AssertionError):
    pass


def check(cond: bool, message: str) -> None:
    if not cond:
        raise CheckFailed(message)


# --------------------------------------------------------------------------------------------
# Expected predictions and how to read a server's answer


class Expected:
    def __init__(self, path: str):
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        self.model_name: str = doc["model"]["name"]
        self.model_version = doc["model"]["version"]
        self.columns: list[str] = doc["columns"]
        self.numeric: set[str] = set(doc.get("numeric_columns", []))
        self.classes: list[str] = doc["classes"]
        self.rows: list[dict[str, Any]] = doc["rows"]
        self.labels: list[str | None] = doc.get("labels", [None] * len(self.rows))
        self.expected: list[dict[str, Any]] = doc["expected"]
        check(len(self.rows) == len(self.expected) and self.rows, "expected file: no rows")
        for e in self.expected:
            check(len(e["probabilities"]) == len(self.classes), "expected file: bad width")

    def frame(self, rows: list[dict[str, Any]] | None = None) -> pd.DataFrame:
        return pd.DataFrame(rows if rows is not None else self.rows, columns=self.columns)


def class_of(pred: Any, classes: list[str]) -> str | None:
    """The class name in one prediction, whatever shape the server chose for it."""
    if isinstance(pred, str):
        return pred
    if isinstance(pred, bool):
        return None
    if isinstance(pred, int):
        return classes[pred] if 0 <= pred < len(classes) else None
    if isinstance(pred, dict):
        for key in ("class", "prediction", "predicted_class", "label", "class_name"):
            if key in pred:
                return class_of(pred[key], classes)
    return None


def probabilities_of(pred: Any, classes: list[str]) -> list[float] | None:
    """The probabilities (in class order) in one prediction, if it has them."""
    if not isinstance(pred, dict):
        return None
    for key in ("probabilities", "probability", "proba", "scores"):
        p = pred.get(key)
        if isinstance(p, dict):
            check(set(p) == set(classes),
                  f"probabilities name {sorted(p)} instead of the classes {classes}")
            return [float(p[c]) for c in classes]
        if isinstance(p, list):
            return [float(v) for v in p]
    return None


def compare(preds: list[Any], exp: Expected, idx: list[int], what: str,
            need_proba: bool = False) -> str:
    """Checks predictions for the rows `idx` against the library's. Returns a summary."""
    check(isinstance(preds, list), f"{what}: predictions is not a list: {str(preds)[:200]}")
    check(len(preds) == len(idx), f"{what}: {len(preds)} predictions for {len(idx)} rows")
    n_proba = 0
    for pred, i in zip(preds, idx):
        want = exp.expected[i]
        got = class_of(pred, exp.classes)
        check(got == want["class"],
              f"{what}: row {i}: class {got!r} (from {str(pred)[:200]}), library says "
              f"{want['class']!r}")
        proba = probabilities_of(pred, exp.classes)
        if proba is None:
            check(not need_proba, f"{what}: row {i}: no probabilities in {str(pred)[:200]}")
            continue
        n_proba += 1
        check(len(proba) == len(exp.classes), f"{what}: row {i}: {len(proba)} probabilities")
        worst = max(abs(a - b) for a, b in zip(proba, want["probabilities"]))
        check(worst <= PROBA_TOL,
              f"{what}: row {i}: probabilities {proba} differ from the library's "
              f"{want['probabilities']} by {worst:.3g}")
    return f"{len(idx)} rows equal the library's" + (
        " (classes and probabilities)" if n_proba else " (classes)")


def error_body(resp: requests.Response, what: str) -> dict[str, Any]:
    """The issue's error shape: {"error": {"code", "message", "field"}}."""
    try:
        body = resp.json()
    except ValueError:
        raise CheckFailed(f"{what}: error body is not JSON: {resp.text[:200]!r}")
    check(isinstance(body, dict) and isinstance(body.get("error"), dict),
          f"{what}: error body lacks an 'error' object: {str(body)[:200]}")
    err = body["error"]
    check(isinstance(err.get("code"), str) and isinstance(err.get("message"), str),
          f"{what}: error lacks code/message: {err}")
    return err


# --------------------------------------------------------------------------------------------
# The checks


class Suite:
    def __init__(self, url: str, exp: Expected, model: str, big_body_mb: int):
        self.url = url.rstrip("/")
        self.exp = exp
        self.model = model
        self.big_body_mb = big_body_mb
        self.http = requests.Session()
        u = urlparse(self.url)
        self.host, self.port = u.hostname, u.port
        self.results: list[tuple[str, bool, str]] = []
        self.all = list(range(len(exp.rows)))

    # helpers
    def get(self, path: str, **kw) -> requests.Response:
        return self.http.get(self.url + path, timeout=TIMEOUT, **kw)

    def post(self, path: str, **kw) -> requests.Response:
        return self.http.post(self.url + path, timeout=TIMEOUT, **kw)

    def ok_json(self, resp: requests.Response, what: str) -> Any:
        check(resp.status_code == 200,
              f"{what}: HTTP {resp.status_code}: {resp.text[:300]!r}")
        try:
            return resp.json()
        except ValueError:
            raise CheckFailed(f"{what}: not JSON: {resp.text[:200]!r}")

    def invocations(self, what: str, **kw) -> list[Any]:
        body = self.ok_json(self.post("/invocations", **kw), what)
        check(isinstance(body, dict) and "predictions" in body,
              f"{what}: no 'predictions' in {str(body)[:200]}")
        return body["predictions"]

    def run(self, name: str, fn: Callable[[], str | None]) -> None:
        try:
            detail = fn() or ""
            self.results.append((name, True, detail))
            print(f"PASS  {name}" + (f": {detail}" if detail else ""), flush=True)
        except CheckFailed as e:
            self.results.append((name, False, str(e)))
            print(f"FAIL  {name}: {e}", flush=True)
        except Exception as e:  # a client exception is a failed check, with its trace
            self.results.append((name, False, f"{type(e).__name__}: {e}"))
            print(f"FAIL  {name}: {type(e).__name__}: {e}", flush=True)
            traceback.print_exc(limit=3, file=sys.stdout)

    # --- plain endpoints --------------------------------------------------------------------
    def health(self) -> str:
        body = self.ok_json(self.get("/health"), "GET /health")
        check(isinstance(body, dict), f"GET /health: not an object: {body}")
        text = json.dumps(body)
        check(self.exp.model_name in text,
              f"GET /health does not name the model {self.exp.model_name!r}: {text[:300]}")
        return f"status={body.get('status')!r}"

    def model_info(self) -> str:
        body = self.ok_json(self.get("/model/info"), "GET /model/info")
        text = json.dumps(body)
        missing = [c for c in self.exp.columns + self.exp.classes if c not in text]
        check(not missing, f"GET /model/info does not mention {missing}")
        return f"{len(self.exp.columns)} inputs and {len(self.exp.classes)} classes named"

    def openapi(self) -> str:
        body = self.ok_json(self.get("/openapi.json"), "GET /openapi.json")
        check(str(body.get("openapi", "")).startswith("3.1"),
              f"openapi version is {body.get('openapi')!r}, not 3.1")
        paths = body.get("paths", {})
        want = ["/predict", "/predict/batch", "/invocations", "/health", "/metrics"]
        missing = [p for p in want if p not in paths]
        check(not missing, f"/openapi.json lacks paths {missing}")
        return f"{len(paths)} paths"

    def predict_single(self) -> str:
        preds = []
        for i in self.all:
            body = self.ok_json(self.post("/predict", json={"features": self.exp.rows[i]}),
                                f"POST /predict row {i}")
            preds.append(body)
        return compare(preds, self.exp, self.all, "POST /predict", need_proba=True)

    def predict_batch(self) -> str:
        body = self.ok_json(
            self.post("/predict/batch", json={"batch_features": self.exp.rows}),
            "POST /predict/batch")
        preds = body.get("predictions") if isinstance(body, dict) else body
        return compare(preds, self.exp, self.all, "POST /predict/batch", need_proba=True)

    # --- MLflow scoring protocol ----------------------------------------------------------
    def mlflow_ping_version(self) -> str:
        r = self.get("/ping")
        check(r.status_code == 200, f"GET /ping: HTTP {r.status_code}")
        r = self.get("/version")
        check(r.status_code == 200 and r.text.strip(), f"GET /version: HTTP {r.status_code}")
        return f"version {r.text.strip()[:40]!r}"

    def mlflow_scoring_client(self) -> str:
        # MLflow's own client: ping, version and invoke(DataFrame) -> dataframe_split with
        # an "index" key, as `mlflow models predict`/the MLflow docs send it.
        from mlflow.pyfunc.scoring_server.client import ScoringServerClient

        client = ScoringServerClient(self.host, self.port)
        client.wait_server_ready(timeout=10)
        client.get_version()
        resp = client.invoke(self.exp.frame())
        preds = resp.get_predictions(predictions_format="ndarray")
        return compare(list(preds.tolist() if hasattr(preds, "tolist") else preds),
                       self.exp, self.all, "ScoringServerClient.invoke")

    def mlflow_dataframe_split(self) -> str:
        split = self.exp.frame().to_dict(orient="split")
        split.pop("index", None)
        preds = self.invocations("dataframe_split", json={"dataframe_split": split})
        return compare(preds, self.exp, self.all, "dataframe_split")

    def mlflow_dataframe_records(self) -> str:
        preds = self.invocations("dataframe_records",
                                 json={"dataframe_records": self.exp.rows})
        return compare(preds, self.exp, self.all, "dataframe_records")

    def mlflow_instances(self) -> str:
        preds = self.invocations("instances", json={"instances": self.exp.rows})
        return compare(preds, self.exp, self.all, "instances")

    def mlflow_inputs(self) -> str:
        columnar = {c: [row[c] for row in self.exp.rows] for c in self.exp.columns}
        preds = self.invocations("inputs", json={"inputs": columnar})
        return compare(preds, self.exp, self.all, "inputs (columnar)")

    def mlflow_csv(self) -> str:
        buf = io.StringIO()
        self.exp.frame().to_csv(buf, index=False)
        preds = self.invocations("text/csv", data=buf.getvalue().encode(),
                                 headers={"Content-Type": "text/csv"})
        return compare(preds, self.exp, self.all, "text/csv")

    def mlflow_json_charset(self) -> str:
        data = json.dumps({"dataframe_records": self.exp.rows[:3]}).encode()
        preds = self.invocations("application/json; charset=utf-8", data=data,
                                 headers={"Content-Type": "application/json; charset=utf-8"})
        return compare(preds, self.exp, self.all[:3], "json; charset=utf-8")

    def mlflow_unsupported_type(self) -> str:
        data = json.dumps({"dataframe_records": self.exp.rows[:1]}).encode()
        seen = []
        for ctype in ("text/plain", "application/xml", "application/octet-stream"):
            r = self.post("/invocations", data=data, headers={"Content-Type": ctype})
            check(r.status_code == 415, f"Content-Type {ctype}: HTTP {r.status_code}, not 415")
            error_body(r, f"Content-Type {ctype}")
            seen.append(ctype)
        return "415 with a JSON error for " + ", ".join(seen)

    # --- bad requests over a real socket --------------------------------------------------
    def bad_requests(self) -> str:
        row = dict(self.exp.rows[0])
        num = next(c for c in self.exp.columns if c in self.exp.numeric)
        cat = next(c for c in self.exp.columns if c not in self.exp.numeric)
        missing = {k: v for k, v in row.items() if k != num}
        cases = [
            ("missing feature", {"features": missing}, num),
            ("unknown feature", {"features": {**row, "NotAColumn": 1}}, "NotAColumn"),
            ("wrong type", {"features": {**row, num: "abc"}}, num),
            ("out of range", {"features": {**row, num: 1e9}}, num),
            ("unknown category", {"features": {**row, cat: "NoSuchLevel"}}, cat),
        ]
        for what, body, field in cases:
            r = self.post("/predict", json=body)
            check(400 <= r.status_code < 500, f"/predict {what}: HTTP {r.status_code}")
            err = error_body(r, f"/predict {what}")
            check(field in json.dumps(err), f"/predict {what}: the error does not name "
                                            f"{field!r}: {err}")
        r = self.post("/predict", data=b'{"features": {', headers={
            "Content-Type": "application/json"})
        check(400 <= r.status_code < 500, f"/predict malformed JSON: HTTP {r.status_code}")
        error_body(r, "/predict malformed JSON")
        if self.big_body_mb > 0:
            big = b'{"features": {"x": "' + b"a" * (self.big_body_mb << 20) + b'"}}'
            r = self.post("/predict", data=big, headers={"Content-Type": "application/json"})
            check(r.status_code == 413, f"/predict {self.big_body_mb} MiB body: "
                                        f"HTTP {r.status_code}, not 413")
        return f"{len(cases) + 1} bad bodies answered 4xx naming the field" + (
            f", {self.big_body_mb} MiB -> 413" if self.big_body_mb > 0 else "")

    # --- Open Inference Protocol v2 through NVIDIA's client -------------------------------
    def triton_client(self) -> "triton.InferenceServerClient":
        return triton.InferenceServerClient(url=f"{self.host}:{self.port}",
                                            network_timeout=TIMEOUT, connection_timeout=TIMEOUT)

    def triton_health(self) -> str:
        c = self.triton_client()
        check(c.is_server_live(), "is_server_live() is False")
        check(c.is_server_ready(), "is_server_ready() is False")
        check(c.is_model_ready(self.model), f"is_model_ready({self.model!r}) is False")
        check(not c.is_model_ready("no-such-model"), "is_model_ready('no-such-model') is True")
        meta = c.get_server_metadata()
        check(isinstance(meta, dict) and "name" in meta and "version" in meta,
              f"server metadata lacks name/version: {meta}")
        return f"live, ready, model ready; server {meta.get('name')} {meta.get('version')}"

    def triton_metadata(self) -> str:
        meta = self.triton_client().get_model_metadata(self.model)
        check(meta.get("name") == self.model, f"metadata name {meta.get('name')!r}")
        names = [t["name"] for t in meta.get("inputs", [])]
        check(names == self.exp.columns,
              f"metadata inputs {names} are not the signature's fields {self.exp.columns}")
        for t in meta["inputs"]:
            want = "BYTES" if t["name"] not in self.exp.numeric else None
            check(isinstance(t.get("shape"), list) and t.get("datatype"),
                  f"input {t['name']}: no shape/datatype: {t}")
            if want:
                check(t["datatype"] == want, f"input {t['name']}: datatype {t['datatype']}")
            else:
                check(t["datatype"] in ("FP32", "FP64", "INT32", "INT64"),
                      f"numeric input {t['name']}: datatype {t['datatype']}")
        check(meta.get("outputs"), f"metadata has no outputs: {meta}")
        outs = ", ".join(f"{o['name']} {o['datatype']} {o['shape']}" for o in meta["outputs"])
        return f"{len(names)} input tensors; outputs {outs}"

    def triton_inputs(self, rows: list[int], meta: dict[str, Any]) -> list[Any]:
        """One InferInput per raw field, typed and shaped as the model metadata says."""
        np_types = {"FP32": np.float32, "FP64": np.float64, "INT32": np.int32,
                    "INT64": np.int64, "BYTES": np.object_}
        inputs = []
        n = len(rows)
        for t in meta["inputs"]:
            name, dtype = t["name"], t["datatype"]
            shape = [n if d == -1 else d for d in t["shape"]]
            if len(shape) == 0 or shape[0] != n:
                shape = [n] + [d for d in shape[1:]]
            values = [self.exp.rows[i][name] for i in rows]
            if dtype == "BYTES":
                arr = np.array([str(v).encode() for v in values], dtype=np.object_)
            else:
                arr = np.array(values, dtype=np_types[dtype])
            arr = arr.reshape(shape)
            inp = triton.InferInput(name, list(arr.shape), dtype)
            inp.set_data_from_numpy(arr, binary_data=False)
            inputs.append(inp)
        return inputs

    def triton_outputs(self, result: Any, meta: dict[str, Any], rows: list[int]) -> str:
        """Reads the outputs the metadata announces and checks them against the library."""
        n, k = len(rows), len(self.exp.classes)
        checked = []
        for o in meta["outputs"]:
            arr = result.as_numpy(o["name"])
            check(arr is not None, f"output {o['name']} missing from the response")
            if o["datatype"] == "BYTES":
                got = [v.decode() if isinstance(v, bytes) else str(v) for v in arr.reshape(-1)]
                check(len(got) == n, f"output {o['name']}: {len(got)} values for {n} rows")
                compare(got, self.exp, rows, f"infer output {o['name']}")
                checked.append(o["name"])
            elif arr.size == n * k and o["datatype"] in ("FP32", "FP64"):
                p = arr.reshape(n, k)
                for j, i in enumerate(rows):
                    worst = float(np.max(np.abs(p[j] - np.array(self.exp.expected[i][
                        "probabilities"]))))
                    check(worst <= PROBA_TOL, f"output {o['name']} row {i}: {p[j].tolist()} "
                          f"vs {self.exp.expected[i]['probabilities']} ({worst:.3g})")
                checked.append(o["name"])
            elif arr.size == n and o["datatype"].startswith("INT"):
                compare([int(v) for v in arr.reshape(-1)], self.exp, rows,
                        f"infer output {o['name']}")
                checked.append(o["name"])
        check(checked, "no output could be read as classes or probabilities")
        return ", ".join(checked)

    def triton_infer(self) -> str:
        c = self.triton_client()
        meta = c.get_model_metadata(self.model)
        outputs = [triton.InferRequestedOutput(o["name"], binary_data=False)
                   for o in meta["outputs"]]
        # The whole set in one request, then a single row (the shape a live caller sends).
        result = c.infer(self.model, self.triton_inputs(self.all, meta), outputs=outputs,
                         request_id="clients-1")
        checked = self.triton_outputs(result, meta, self.all)
        check(result.get_response().get("model_name") == self.model,
              f"response model_name {result.get_response().get('model_name')!r}")
        one = c.infer(self.model, self.triton_inputs([0], meta), outputs=outputs)
        self.triton_outputs(one, meta, [0])
        # No requested outputs: the server returns all of them (the protocol's default).
        plain = c.infer(self.model, self.triton_inputs(self.all, meta))
        self.triton_outputs(plain, meta, self.all)
        return f"{len(self.all)} rows and 1 row, outputs {checked} equal the library's"

    def triton_parameters_and_errors(self) -> str:
        c = self.triton_client()
        meta = c.get_model_metadata(self.model)
        # Unknown request parameters are ignored.
        res = c.infer(self.model, self.triton_inputs([0, 1], meta),
                      parameters={"obesity_unknown_parameter": "x", "priority_hint": 3})
        self.triton_outputs(res, meta, [0, 1])
        # Unknown model: 404, surfaced by the client as an exception with that status and
        # the server's message. The protocol's error body is {"error": "<message>"}: the
        # client takes that string as the message (a JSON object there breaks its str()).
        def oip_error(call: Callable[[], Any], what: str, status: str,
                      names: str | None = None) -> None:
            try:
                call()
            except InferenceServerException as e:
                msg = e.message()
                check(isinstance(msg, str),
                      f"{what}: the error body's 'error' is a {type(msg).__name__}, not the "
                      f"string the Open Inference Protocol specifies ({{\"error\": "
                      f"\"<message>\"}}); tritonclient cannot even print it: {msg!r}")
                check(str(e.status()).startswith(status),
                      f"{what}: HTTP {e.status()}, not {status}: {msg}")
                if names:
                    check(names in msg, f"{what}: the message does not name {names!r}: {msg}")
                return
            raise CheckFailed(f"{what} did not fail")

        oip_error(lambda: c.get_model_metadata("no-such-model"),
                  "get_model_metadata('no-such-model')", "404")
        oip_error(lambda: c.infer("no-such-model", self.triton_inputs([0], meta)),
                  "infer('no-such-model')", "404")
        # A missing input tensor is an error naming it.
        oip_error(lambda: c.infer(self.model, self.triton_inputs([0], meta)[1:]),
                  "infer without the first input", "4", self.exp.columns[0])
        return "unknown parameters ignored; unknown model and missing tensor rejected"

    def v2_raw_no_content_type(self) -> str:
        # A POST without a Content-Type header (curl -d / some Seldon clients) must work.
        meta = self.ok_json(self.get(f"/v2/models/{self.model}"), "GET /v2/models/{name}")
        tensors = []
        for t in meta["inputs"]:
            values = [self.exp.rows[0][t["name"]]]
            if t["datatype"] == "BYTES":
                values = [str(v) for v in values]
            shape = [1 if d == -1 else d for d in t["shape"]] or [1]
            shape[0] = 1
            tensors.append({"name": t["name"], "shape": shape, "datatype": t["datatype"],
                            "data": values})
        body = json.dumps({"inputs": tensors, "parameters": {"foo": "bar"}}).encode()
        req = requests.Request("POST", f"{self.url}/v2/models/{self.model}/infer", data=body)
        prepared = req.prepare()
        prepared.headers.pop("Content-Type", None)
        r = self.http.send(prepared, timeout=TIMEOUT)
        out = self.ok_json(r, "POST infer without Content-Type")
        check(out.get("outputs"), f"no outputs: {str(out)[:200]}")
        r = self.ok_json(self.get("/v2"), "GET /v2")
        check("name" in r and "version" in r, f"GET /v2 lacks name/version: {r}")
        return "200 with outputs"

    # --- Prometheus ------------------------------------------------------------------------
    def scrape(self) -> list[Any]:
        r = self.get("/metrics")
        check(r.status_code == 200, f"GET /metrics: HTTP {r.status_code}")
        ctype = r.headers.get("Content-Type", "")
        check(ctype.startswith("text/plain") or "openmetrics" in ctype,
              f"GET /metrics Content-Type {ctype!r}")
        return list(text_string_to_metric_families(r.text))

    @staticmethod
    def request_count(families: list[Any], route: str) -> float:
        """Requests to `route` answered 2xx: the sum of counter samples (or histogram
        `_count` samples, if there is no counter) labelled with that route and a 2xx status."""
        def matches(labels: dict[str, str]) -> bool:
            vals = set(labels.values())
            status_ok = any(v.isdigit() and v.startswith("2") for v in vals) or not any(
                k in labels for k in ("status", "code", "status_code"))
            return route in vals and status_ok

        counters = [f for f in families if f.type == "counter" and "request" in f.name]
        total = sum(s.value for f in counters for s in f.samples
                    if s.name.endswith("_total") and matches(s.labels))
        if total:
            return total
        hists = [f for f in families if f.type == "histogram" and "request" in f.name]
        return sum(s.value for f in hists for s in f.samples
                   if s.name.endswith("_count") and matches(s.labels))

    def prometheus(self) -> str:
        before = self.scrape()
        names = {f.name for f in before}
        # In the text format (0.0.4) `# TYPE` names the samples' metric, so a counter is
        # declared as `# TYPE x_total counter`. Declaring `x` (the OpenMetrics spelling) leaves
        # the parser with an empty counter `x` and an untyped `x_total` holding the samples.
        untyped = sorted({f.name for f in before if f.type == "unknown"})
        check(not untyped,
              f"/metrics (text/plain; version=0.0.4) has samples without a declared type: "
              f"{untyped}; their `# TYPE` lines name "
              f"{sorted(n for n in names if any(u.startswith(n + '_') for u in untyped))} "
              f"(the OpenMetrics spelling, not the text format's)")
        check(any(f.type == "histogram" for f in before), f"no histogram among {sorted(names)}")
        for f in before:
            if f.type == "histogram":
                buckets = [s for s in f.samples if s.name.endswith("_bucket")]
                check(any(s.labels.get("le") == "+Inf" for s in buckets),
                      f"histogram {f.name} has no +Inf bucket")
        k = 7
        rows = [i % len(self.exp.rows) for i in range(k)]
        for i in rows:
            self.ok_json(self.post("/predict", json={"features": self.exp.rows[i]}),
                         "POST /predict")
        # Counters may be updated right after the response is written: poll briefly.
        delta, after = 0.0, before
        for _ in range(20):
            after = self.scrape()
            delta = self.request_count(after, "/predict") - self.request_count(before, "/predict")
            if delta >= k:
                break
            time.sleep(0.1)
        check(delta == k, f"the /predict request counter moved by {delta}, not {k} "
                          f"(families: {sorted(f.name for f in after)})")
        # Predictions by class: samples labelled with a class name move by the classes sent.
        want = Counter(self.exp.expected[i]["class"] for i in rows)

        def by_class(fams: list[Any]) -> Counter:
            c: Counter = Counter()
            for f in fams:
                if f.type != "counter" or "prediction" not in f.name:
                    continue
                for s in f.samples:
                    if not s.name.endswith("_total"):
                        continue
                    for v in s.labels.values():
                        if v in self.exp.classes:
                            c[v] += s.value
            return c
        got = by_class(after) - by_class(before)
        check(any(by_class(after).values()), "no prediction counter labelled by class name")
        check(all(got[c] >= want[c] for c in want),
              f"prediction counters by class moved by {dict(got)}, expected at least "
              f"{dict(want)}")
        # The same registry in the OpenMetrics format, for scrapers that ask for it.
        r = self.get("/metrics", headers={"Accept": "application/openmetrics-text; "
                                                    "version=1.0.0"})
        check(r.status_code == 200, f"GET /metrics (OpenMetrics): HTTP {r.status_code}")
        if "openmetrics" in r.headers.get("Content-Type", ""):
            from prometheus_client.openmetrics.parser import (
                text_string_to_metric_families as openmetrics_families)
            om = list(openmetrics_families(r.text))
            check(om, "the OpenMetrics scrape has no families")
            extra = f"; OpenMetrics scrape parsed too ({len(om)} families)"
        else:
            extra = ""
        return f"{len(after)} families parsed; /predict counter +{int(delta)}; classes " \
               f"{dict(got)}{extra}"

    # --------------------------------------------------------------------------------------
    def all_checks(self) -> list[tuple[str, Callable[[], str | None]]]:
        return [
            ("GET /health", self.health),
            ("GET /model/info", self.model_info),
            ("GET /openapi.json", self.openapi),
            ("POST /predict (every row)", self.predict_single),
            ("POST /predict/batch", self.predict_batch),
            ("MLflow GET /ping, /version", self.mlflow_ping_version),
            ("MLflow ScoringServerClient.invoke(DataFrame)", self.mlflow_scoring_client),
            ("MLflow dataframe_split", self.mlflow_dataframe_split),
            ("MLflow dataframe_records", self.mlflow_dataframe_records),
            ("MLflow instances", self.mlflow_instances),
            ("MLflow inputs", self.mlflow_inputs),
            ("MLflow text/csv", self.mlflow_csv),
            ("MLflow application/json; charset=utf-8", self.mlflow_json_charset),
            ("MLflow unsupported content type -> 415", self.mlflow_unsupported_type),
            ("bad requests -> 4xx naming the field", self.bad_requests),
            ("tritonclient health", self.triton_health),
            ("tritonclient get_model_metadata", self.triton_metadata),
            ("tritonclient infer binary_data=False", self.triton_infer),
            ("tritonclient parameters and errors", self.triton_parameters_and_errors),
            ("v2 infer without Content-Type", self.v2_raw_no_content_type),
            ("prometheus_client parser on /metrics", self.prometheus),
        ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True, help="base URL of the running server")
    ap.add_argument("--expected", required=True, help="JSON from the expected_predictions "
                                                      "example")
    ap.add_argument("--model", help="OIP model name (default: the expected file's model)")
    ap.add_argument("--only", action="append", default=[],
                    help="run only the checks whose name contains this (repeatable)")
    ap.add_argument("--big-body-mb", type=int, default=0,
                    help="also POST a body of this many MiB and expect 413 (0: skip)")
    args = ap.parse_args()

    exp = Expected(args.expected)
    suite = Suite(args.url, exp, args.model or exp.model_name, args.big_body_mb)
    checks = [(n, f) for n, f in suite.all_checks()
              if not args.only or any(o.lower() in n.lower() for o in args.only)]
    if not checks:
        print("serve_clients.py: --only matched no check", file=sys.stderr)
        return 2
    print(f"serve_clients.py: {len(checks)} checks against {args.url}, model "
          f"{exp.model_name} v{exp.model_version}, {len(exp.rows)} rows", flush=True)
    for name, fn in checks:
        suite.run(name, fn)
    failed = [n for n, ok, _ in suite.results if not ok]
    print(f"serve_clients.py: {len(suite.results) - len(failed)} passed, {len(failed)} failed"
          + (": " + "; ".join(failed) if failed else ""), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
