"""Loads obesity-serve's /dashboard in headless Chromium over the DevTools protocol and checks it.

Called by scripts/dashboard_suite.sh with a running server and a running Chromium
(--remote-debugging-port). Fails (exit 1, a line per problem) when:

  * the page logs a console error, throws, or fails to load anything;
  * the browser requests anything but the dashboard itself (no CDN, no font, no image:
    the page must work offline);
  * a chart is missing, not drawn (zero size), or its numbers disagree with what the
    server says elsewhere: the traffic chart's requests with the requests the suite sent,
    the accuracy chart's labels with the labels it sent, the drift verdict of every
    feature with /monitoring/status, the open alerts with /monitoring/status;

and saves a 1280x800 screenshot (PNG) to --screenshot.

Only the `websockets` package is needed (the suite installs it in a cached venv).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import urllib.request

import websockets


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)


class Page:
    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0
        self.events: list[dict] = []
        self.pending: dict[int, asyncio.Future] = {}

    async def pump(self):
        async for raw in self.ws:
            msg = json.loads(raw)
            if "id" in msg and msg["id"] in self.pending:
                self.pending.pop(msg["id"]).set_result(msg)
            else:
                self.events.append(msg)

    async def send(self, method: str, **params):
        self.next_id += 1
        fut = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = fut
        await self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        msg = await asyncio.wait_for(fut, 30)
        if "error" in msg:
            raise RuntimeError(f"{method}: {msg['error']}")
        return msg.get("result", {})

    async def wait_event(self, method: str, timeout: float = 30.0):
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while loop.time() < end:
            for e in self.events:
                if e.get("method") == method:
                    return e
            await asyncio.sleep(0.05)
        raise TimeoutError(f"no {method} within {timeout}s")


# Run in the page: every chart with its data attributes and drawn size, the drift rows,
# the open alerts and the lineage rows.
EXTRACT = r"""
(() => {
  const charts = {};
  for (const svg of document.querySelectorAll('svg.chart')) {
    const r = svg.getBoundingClientRect();
    const data = {};
    for (const a of svg.attributes) if (a.name.startsWith('data-')) data[a.name.slice(5)] = a.value;
    charts[svg.id] = {width: r.width, height: r.height, shapes: svg.querySelectorAll('rect,circle,polyline,line').length, data};
  }
  const drift = {};
  for (const g of document.querySelectorAll('#chart-drift g.feature'))
    drift[g.dataset.feature] = g.dataset.drifted === 'true';
  return JSON.stringify({
    title: document.title,
    charts,
    drift,
    openAlerts: [...document.querySelectorAll('tr.open-alert')].map(t => t.dataset.kind),
    versions: [...document.querySelectorAll('tr.version')].map(t => t.dataset.version),
    scripts: document.scripts.length,
    bodyWidth: document.body.scrollWidth,
    tooWide: [...document.querySelectorAll('body *')]
      .filter(e => e.getBoundingClientRect().right > 1280)
      .slice(0, 5)
      .map(e => `${e.tagName.toLowerCase()}#${e.id}.${e.className.baseVal ?? e.className} ${Math.round(e.getBoundingClientRect().right)}px`),
  });
})()
"""


async def run(args) -> list[str]:
    problems: list[str] = []
    dashboard = f"{args.server}/dashboard"
    status = get_json(f"{args.server}/monitoring/status")

    target = get_json(f"http://127.0.0.1:{args.devtools_port}/json/list")
    pages = [t for t in target if t.get("type") == "page"]
    if not pages:
        req = urllib.request.Request(f"http://127.0.0.1:{args.devtools_port}/json/new?about:blank", method="PUT")
        with urllib.request.urlopen(req, timeout=10) as r:
            pages = [json.load(r)]
    async with websockets.connect(pages[0]["webSocketDebuggerUrl"], max_size=64 << 20) as ws:
        page = Page(ws)
        pump = asyncio.create_task(page.pump())
        for domain in ("Page", "Runtime", "Log", "Network"):
            await page.send(f"{domain}.enable")
        await page.send(
            "Emulation.setDeviceMetricsOverride", width=1280, height=800, deviceScaleFactor=1, mobile=False
        )
        await page.send("Page.navigate", url=dashboard)
        await page.wait_event("Page.loadEventFired")
        await asyncio.sleep(0.5)  # late console messages, late requests
        result = await page.send("Runtime.evaluate", expression=EXTRACT, returnByValue=True)
        seen = json.loads(result["result"]["value"])
        shot = await page.send(
            "Page.captureScreenshot",
            format="png",
            clip={"x": 0, "y": 0, "width": 1280, "height": 800, "scale": 1},
        )
        with open(args.screenshot, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        pump.cancel()

    # --- console errors, exceptions, failed loads, foreign requests -------------------------
    for e in page.events:
        m, p = e.get("method"), e.get("params", {})
        if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            problems.append(f"console {p['type']}: {[a.get('value') for a in p.get('args', [])]}")
        elif m == "Runtime.exceptionThrown":
            problems.append(f"exception: {p.get('exceptionDetails', {}).get('text')}")
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            problems.append(f"log error: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        elif m == "Network.loadingFailed":
            problems.append(f"load failed: {p.get('errorText')} ({p.get('type')})")
        elif m == "Network.requestWillBeSent":
            url = p.get("request", {}).get("url", "")
            if not (url == dashboard or url.startswith(dashboard + "?") or url.startswith("data:")):
                problems.append(f"request outside the page: {url}")
    requests = [e for e in page.events if e.get("method") == "Network.requestWillBeSent"]
    if len(requests) != 1:
        problems.append(f"{len(requests)} requests; expected the page alone")
    responses = [e for e in page.events if e.get("method") == "Network.responseReceived"]
    if not responses or responses[0]["params"]["response"]["status"] != 200:
        problems.append("the page did not answer 200")

    # --- what is drawn ------------------------------------------------------------------------
    if seen["scripts"]:
        problems.append(f"{seen['scripts']} script element(s) in the page")
    charts = seen["charts"]
    for cid in ("chart-traffic", "chart-latency", "chart-class-mix", "chart-accuracy", "chart-drift",
                "chart-drift-history"):
        c = charts.get(cid)
        if c is None:
            problems.append(f"chart {cid} missing")
        elif c["width"] < 100 or c["height"] < 50 or c["shapes"] < 2:
            problems.append(f"chart {cid} not drawn: {c}")
    if not any(k.startswith("chart-ab-") for k in charts):
        problems.append("no A/B experiment chart")

    def numbers(s: str) -> list[float]:
        return [float(x) for x in s.split(",") if x]

    traffic = charts.get("chart-traffic", {}).get("data", {})
    total = sum(numbers(traffic.get("requests", "")))
    errors = sum(numbers(traffic.get("errors", "")))
    if total != args.requests or errors != args.refused:
        problems.append(f"traffic chart: {total} requests / {errors} errors; sent {args.requests} / {args.refused}")
    acc = charts.get("chart-accuracy", {}).get("data", {})
    if acc.get("labelled") != str(args.labels):
        problems.append(f"accuracy chart: {acc.get('labelled')} labels; sent {args.labels}")
    mix = numbers(charts.get("chart-class-mix", {}).get("data", {}).get("served-share", ""))
    if not mix or abs(sum(mix) - 1.0) > 1e-3:
        problems.append(f"class mix shares do not add up to 1: {mix}")

    report = (status.get("drift") or {}).get("report")
    if not report:
        problems.append("/monitoring/status has no drift report")
    else:
        want = {c["column"]: c["drifted"] for c in report["columns"]}
        if seen["drift"] != want:
            problems.append(f"drift verdicts differ from /monitoring/status: page {seen['drift']} vs {want}")
        if not any(want.values()):
            problems.append("the drifted traffic shows no drifted feature")
    open_kinds = sorted(a["kind"] for a in status.get("alerts", []))
    if sorted(seen["openAlerts"]) != open_kinds:
        problems.append(f"open alerts differ: page {seen['openAlerts']} vs status {open_kinds}")
    if not open_kinds:
        problems.append("no open alert although the suite sent refused requests")
    if len(seen["versions"]) < 2:
        problems.append(f"lineage shows {seen['versions']}; expected champion and challenger")
    if seen["bodyWidth"] > 1280:
        problems.append(f"the page is {seen['bodyWidth']} px wide at 1280: {seen['tooWide']}")

    summary = {k: {"w": v["width"], "shapes": v["shapes"]} for k, v in charts.items()}
    print(json.dumps({"title": seen["title"], "charts": summary, "drift": seen["drift"],
                      "open_alerts": seen["openAlerts"]}, indent=1))
    return problems


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--devtools-port", type=int, required=True)
    ap.add_argument("--screenshot", required=True)
    ap.add_argument("--requests", type=int, required=True, help="requests sent, refused ones included")
    ap.add_argument("--refused", type=int, required=True)
    ap.add_argument("--labels", type=int, required=True)
    args = ap.parse_args()
    problems = asyncio.run(run(args))
    for p in problems:
        print(f"dashboard_check: FAILED: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
