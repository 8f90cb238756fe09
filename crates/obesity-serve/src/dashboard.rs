//! `GET /dashboard`: the production loop as pictures, rendered on the server.
//!
//! One HTML page (maud, so every value from a model, an alert or an experiment is escaped)
//! with inline SVG charts drawn here: no script, no stylesheet or font from elsewhere, so it
//! works offline and behind any proxy, and a `<meta http-equiv="refresh">` reloads it. Every
//! chart carries its numbers twice: as `data-*` attributes on the SVG (what the tests and
//! the headless-browser suite read) and as `<title>` tooltips (what a person hovering sees).
//!
//! The data are the monitor thread's: the bounded time series of [`crate::timeline`], the
//! last drift report (the same verdicts `/monitoring/status` shows), the open and recent
//! alerts with the webhooks' delivery, each experiment's `analyze()`, and the loaded
//! versions with their lineage.

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use obesity_monitor::{AbAnalysis, Alert, PerformanceSummary, TestStatus};

use crate::alerting::WebhookView;
use crate::model::ServedModel;
use crate::monitor::{DriftStatus, OpenAlert};
use crate::timeline::{Step, Timeline};

/// Everything one page shows, copied out of the shared state first so no lock is held
/// while rendering.
pub(crate) struct Snapshot {
    pub(crate) now: DateTime<Utc>,
    pub(crate) refresh_secs: u64,
    pub(crate) primary: std::sync::Arc<ServedModel>,
    /// Loaded versions with the role each plays (`primary`, a reference, `experiment`).
    pub(crate) versions: Vec<(std::sync::Arc<ServedModel>, String)>,
    pub(crate) summary: PerformanceSummary,
    pub(crate) timeline: Timeline,
    pub(crate) drift: Option<DriftStatus>,
    pub(crate) open_alerts: Vec<OpenAlert>,
    pub(crate) recent_alerts: Vec<Alert>,
    pub(crate) webhooks: Vec<WebhookView>,
    pub(crate) experiments: Vec<(String, TestStatus, Option<AbAnalysis>)>,
    pub(crate) policy_log: Vec<crate::policy::PolicyEvent>,
    /// Retrain decisions (not the checks that found nothing), newest first.
    pub(crate) retrain: Vec<obesity_monitor::AuditRecord>,
    pub(crate) drift_min_rows: usize,
}

/// Series colours; classes cycle through them.
const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];
const W: f64 = 560.0;
const H: f64 = 200.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

const CSS: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;background:#f5f6f8;color:#1d2330}
header{background:#1d2330;color:#fff;padding:10px 20px;display:flex;gap:24px;align-items:baseline;flex-wrap:wrap}
header h1{font-size:18px;margin:0}header span{opacity:.8;font-size:13px}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(590px,1fr));gap:14px;padding:14px}
section{background:#fff;border-radius:8px;padding:10px 14px;box-shadow:0 1px 2px rgba(0,0,0,.08);min-width:0;overflow-x:auto}
svg.chart{max-width:100%;height:auto}
h2{font-size:15px;margin:2px 0 8px}p{font-size:13px;margin:4px 0}
.tiles{display:flex;gap:10px;flex-wrap:wrap}.tile{background:#eef1f5;border-radius:6px;padding:6px 10px;min-width:92px}
.tile b{display:block;font-size:18px}.tile small{color:#5b6475}
table{border-collapse:collapse;width:100%;font-size:12px}th,td{text-align:left;padding:3px 6px;border-bottom:1px solid #e6e8ec;overflow-wrap:anywhere}
.bad{color:#c0392b;font-weight:600}.ok{color:#2e7d32}.warn{color:#b26a00;font-weight:600}.muted{color:#7a8291}
svg text{font-size:10px;fill:#5b6475}.legend{font-size:11px;display:flex;gap:10px;flex-wrap:wrap;margin-top:2px}
.sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:3px;vertical-align:middle}
";

fn f(v: f64, digits: usize) -> String {
    if v.is_finite() {
        format!("{v:.digits$}")
    } else {
        "–".to_owned()
    }
}

fn pct(v: f64) -> String {
    if v.is_finite() {
        format!("{:.1}%", v * 100.0)
    } else {
        "–".to_owned()
    }
}

fn hhmm(t: DateTime<Utc>) -> String {
    t.format("%H:%M:%S").to_string()
}

fn join(values: impl IntoIterator<Item = String>) -> String {
    values.into_iter().collect::<Vec<_>>().join(",")
}

/// A "nice" upper bound for an axis.
fn nice_max(v: f64) -> f64 {
    if !(v.is_finite() && v > 0.0) {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if v <= m * mag {
            return m * mag;
        }
    }
    10.0 * mag
}

/// Space kept clear between the axis labels and the first (or last) bar or point.
const PAD: f64 = 16.0;

fn x_at(i: usize, n: usize) -> f64 {
    let inner = W - LEFT - RIGHT - 2.0 * PAD;
    if n <= 1 {
        LEFT + PAD + inner / 2.0
    } else {
        LEFT + PAD + inner * i as f64 / (n - 1) as f64
    }
}

fn y_at(v: f64, max: f64) -> f64 {
    let inner = H - TOP - BOTTOM;
    TOP + inner * (1.0 - (v / max).clamp(0.0, 1.0))
}

/// Axes, a few horizontal grid lines with their values, and the first/last time labels.
fn frame(max: f64, unit: &str, first: &str, last: &str) -> Markup {
    html! {
        @for k in 0..=4 {
            @let v = max * f64::from(k) / 4.0;
            @let y = y_at(v, max);
            line x1=(LEFT) x2=(W - RIGHT) y1=(f(y, 1)) y2=(f(y, 1)) stroke="#e6e8ec" {}
            text x=(LEFT - 4.0) y=(f(y + 3.0, 1)) text-anchor="end" { (axis_label(v, unit)) }
        }
        text x=(LEFT) y=(H - 8.0) { (first) }
        text x=(W - RIGHT) y=(H - 8.0) text-anchor="end" { (last) }
    }
}

fn axis_label(v: f64, unit: &str) -> String {
    match unit {
        "%" => format!("{:.0}%", v * 100.0),
        "ms" if v == 0.0 => "0".to_owned(),
        "ms" if v < 1.0 => format!("{:.0} µs", v * 1000.0),
        "ms" if v < 10.0 => format!("{v:.1} ms"),
        "ms" => format!("{v:.0} ms"),
        _ if v < 10.0 && v.fract() != 0.0 => format!("{v:.1}"),
        _ => format!("{v:.0}"),
    }
}

fn empty_chart(id: &str, why: &str) -> Markup {
    html! {
        svg id=(id) class="chart" data-points="0" viewBox={"0 0 " (W) " " (H)} width=(W) height=(H) role="img" aria-label=(why) {
            text x=(W / 2.0) y=(H / 2.0) text-anchor="middle" { (why) }
        }
    }
}

fn step_times(steps: &[&Step]) -> (String, String) {
    match (steps.first(), steps.last()) {
        (Some(a), Some(b)) => (hhmm(a.at()), hhmm(b.at())),
        _ => (String::new(), String::new()),
    }
}

/// Requests per step as bars, errors stacked in red.
fn traffic_chart(steps: &[&Step], step_secs: i64) -> Markup {
    if steps.is_empty() {
        return empty_chart("chart-traffic", "no traffic yet");
    }
    let n = steps.len();
    let max = nice_max(steps.iter().map(|s| s.requests as f64).fold(0.0, f64::max));
    let (first, last) = step_times(steps);
    let inner = W - LEFT - RIGHT;
    let bar = (inner / n as f64 * 0.8).clamp(1.0, 2.0 * PAD - 4.0);
    html! {
        svg id="chart-traffic" class="chart" viewBox={"0 0 " (W) " " (H)} width=(W) height=(H) role="img"
            aria-label="requests per step"
            data-points=(n) data-step-seconds=(step_secs)
            data-requests=(join(steps.iter().map(|s| s.requests.to_string())))
            data-errors=(join(steps.iter().map(|s| s.errors.to_string()))) {
            (frame(max, "", &first, &last))
            @for (i, s) in steps.iter().enumerate() {
                @let x = x_at(i, n) - bar / 2.0;
                @let y_ok = y_at(s.requests as f64, max);
                @let y_err = y_at(s.errors as f64, max);
                rect class="bar" x=(f(x, 1)) y=(f(y_ok, 1)) width=(f(bar, 1)) height=(f(H - BOTTOM - y_ok, 1)) fill=(PALETTE[0]) {
                    title { (hhmm(s.at())) ": " (s.requests) " requests, " (s.errors) " errors" }
                }
                @if s.errors > 0 {
                    rect x=(f(x, 1)) y=(f(y_err, 1)) width=(f(bar, 1)) height=(f(H - BOTTOM - y_err, 1)) fill="#e15759" {}
                }
            }
        }
    }
}

fn polyline(points: &[(usize, f64)], n: usize, max: f64) -> String {
    let mut out = String::new();
    for (i, v) in points {
        let _ = write!(out, "{},{} ", f(x_at(*i, n), 1), f(y_at(*v, max), 1));
    }
    out.trim_end().to_owned()
}

/// p50 and p95 latency per step, with the alert rules' 500 ms threshold when in range.
fn latency_chart(steps: &[&Step]) -> Markup {
    let n = steps.len();
    let p50: Vec<(usize, f64)> = steps
        .iter()
        .enumerate()
        .filter_map(|(i, s)| Some((i, s.latency_quantile_ms(0.5)?)))
        .collect();
    let p95: Vec<(usize, f64)> = steps
        .iter()
        .enumerate()
        .filter_map(|(i, s)| Some((i, s.latency_quantile_ms(0.95)?)))
        .collect();
    if p95.is_empty() {
        return empty_chart("chart-latency", "no requests yet");
    }
    let max = nice_max(p95.iter().map(|p| p.1).fold(0.0, f64::max) * 1.1);
    let (first, last) = step_times(steps);
    let values = |s: &[(usize, f64)]| join(s.iter().map(|(_, v)| f(*v, 3)));
    html! {
        svg id="chart-latency" class="chart" viewBox={"0 0 " (W) " " (H)} width=(W) height=(H) role="img"
            aria-label="latency per step" data-points=(n) data-p50-ms=(values(&p50)) data-p95-ms=(values(&p95)) {
            (frame(max, "ms", &first, &last))
            @if max >= 500.0 {
                line x1=(LEFT) x2=(W - RIGHT) y1=(f(y_at(500.0, max), 1)) y2=(f(y_at(500.0, max), 1)) stroke="#e15759" stroke-dasharray="4 3" {}
            }
            polyline points=(polyline(&p50, n, max)) fill="none" stroke=(PALETTE[0]) stroke-width="2" {}
            polyline points=(polyline(&p95, n, max)) fill="none" stroke=(PALETTE[1]) stroke-width="2" {}
            @for (i, v) in &p95 {
                circle cx=(f(x_at(*i, n), 1)) cy=(f(y_at(*v, max), 1)) r="2.5" fill=(PALETTE[1]) {
                    title { "p95 " (f(*v, 2)) " ms" }
                }
            }
        }
        div.legend {
            span { span.sw style={"background:" (PALETTE[0])} {} "p50" }
            span { span.sw style={"background:" (PALETTE[1])} {} "p95" }
            @if max >= 500.0 { span { span.sw style="background:#e15759" {} "500 ms alert threshold" } }
        }
    }
}

/// The class mix of each step as 100 % stacked columns, and the training mix as the last,
/// separate column.
fn class_mix_chart(steps: &[&Step], classes: &[String], training: Option<&[f64]>) -> Markup {
    let with_rows: Vec<&Step> = steps
        .iter()
        .copied()
        .filter(|s| s.classes.iter().sum::<u64>() > 0)
        .collect();
    if with_rows.is_empty() {
        return empty_chart("chart-class-mix", "no predictions yet");
    }
    let n = with_rows.len() + 1; // + the training column
    let inner = W - LEFT - RIGHT;
    let col = (inner / n as f64 * 0.8).clamp(2.0, 2.0 * PAD - 4.0);
    let mut served = vec![0u64; classes.len()];
    for s in &with_rows {
        for (k, c) in s.classes.iter().enumerate().take(classes.len()) {
            served[k] += c;
        }
    }
    let total: u64 = served.iter().sum();
    let served_share: Vec<f64> = served
        .iter()
        .map(|&c| c as f64 / total.max(1) as f64)
        .collect();
    let (first, _) = step_times(&with_rows);
    let column = |x: f64, shares: Vec<f64>, label: String| {
        // Stacked from the bottom: each class's segment starts where the previous ended.
        let mut top = H - BOTTOM;
        let segments: Vec<(usize, f64, f64, f64)> = shares
            .iter()
            .enumerate()
            .map(|(k, share)| {
                let h = share * (H - TOP - BOTTOM);
                top -= h;
                (k, top, h, *share)
            })
            .collect();
        html! {
            @for (k, y, h, share) in segments {
                rect x=(f(x - col / 2.0, 1)) y=(f(y, 1)) width=(f(col, 1)) height=(f(h, 1)) fill=(PALETTE[k % PALETTE.len()]) {
                    title { (label) " · " (classes.get(k).map_or("?", String::as_str)) ": " (pct(share)) }
                }
            }
        }
    };
    html! {
        svg id="chart-class-mix" class="chart" viewBox={"0 0 " (W) " " (H)} width=(W) height=(H) role="img"
            aria-label="class mix per step against training" data-points=(with_rows.len())
            data-classes=(classes.join(","))
            data-served-share=(join(served_share.iter().map(|v| f(*v, 4))))
            data-training-share=(training.map_or_else(String::new, |t| join(t.iter().map(|v| f(*v, 4))))) {
            (frame(1.0, "%", &first, "training"))
            @for (i, s) in with_rows.iter().enumerate() {
                @let t: u64 = s.classes.iter().sum();
                @let shares: Vec<f64> = (0..classes.len()).map(|k| s.classes.get(k).copied().unwrap_or(0) as f64 / t as f64).collect();
                (column(x_at(i, n), shares, hhmm(s.at())))
            }
            @match training {
                Some(t) => { (column(x_at(n - 1, n), t.to_vec(), "training".to_owned())) }
                None => { text x=(f(x_at(n - 1, n), 1)) y=(H / 2.0) text-anchor="end" { "training mix not recorded" } }
            }
        }
        div.legend {
            @for (k, c) in classes.iter().enumerate() {
                span { span.sw style={"background:" (PALETTE[k % PALETTE.len()])} {} (c) " " (pct(served_share[k]))
                    @if let Some(t) = training.and_then(|t| t.get(k)) { span.muted { " (train " (pct(*t)) ")" } } }
            }
        }
    }
}

/// Accuracy of the labels joined in each step (points) and cumulative (line), against the
/// registered baseline.
fn accuracy_chart(steps: &[&Step], baseline: Option<f64>) -> Markup {
    let n = steps.len();
    let mut cum_l = 0u64;
    let mut cum_c = 0u64;
    let mut per_step = Vec::new();
    let mut cumulative = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        cum_l += s.labelled;
        cum_c += s.correct;
        if s.labelled > 0 {
            per_step.push((i, s.correct as f64 / s.labelled as f64, s.labelled));
        }
        if cum_l > 0 {
            cumulative.push((i, cum_c as f64 / cum_l as f64));
        }
    }
    if per_step.is_empty() {
        return empty_chart("chart-accuracy", "no labels yet (POST /feedback)");
    }
    let (first, last) = step_times(steps);
    html! {
        svg id="chart-accuracy" class="chart" viewBox={"0 0 " (W) " " (H)} width=(W) height=(H) role="img"
            aria-label="accuracy as labels arrive" data-points=(per_step.len())
            data-labelled=(cum_l) data-correct=(cum_c)
            data-accuracy=(join(per_step.iter().map(|(_, a, _)| f(*a, 4))))
            data-cumulative=(join(cumulative.iter().map(|(_, a)| f(*a, 4))))
            data-baseline=(baseline.map_or_else(String::new, |b| f(b, 4))) {
            (frame(1.0, "%", &first, &last))
            @if let Some(b) = baseline {
                line x1=(LEFT) x2=(W - RIGHT) y1=(f(y_at(b, 1.0), 1)) y2=(f(y_at(b, 1.0), 1)) stroke="#59a14f" stroke-dasharray="4 3" {
                    title { "baseline " (pct(b)) }
                }
            }
            polyline points=(polyline(&cumulative, n, 1.0)) fill="none" stroke=(PALETTE[0]) stroke-width="2" {}
            @for (i, a, l) in &per_step {
                circle cx=(f(x_at(*i, n), 1)) cy=(f(y_at(*a, 1.0), 1)) r="3" fill=(PALETTE[1]) {
                    title { (pct(*a)) " of " (l) " labels" }
                }
            }
        }
        div.legend {
            span { span.sw style={"background:" (PALETTE[0])} {} "cumulative " (pct(cum_c as f64 / cum_l as f64)) " of " (cum_l) }
            span { span.sw style={"background:" (PALETTE[1])} {} "per step" }
            @if let Some(b) = baseline { span { span.sw style="background:#59a14f" {} "registered accuracy " (pct(b)) } }
        }
    }
}

/// Drift score per feature against its threshold, with the verdict, as horizontal bars.
fn drift_chart(drift: &DriftStatus) -> Markup {
    let cols = &drift.report.columns;
    let row_h = 16.0;
    let h = TOP + row_h * cols.len() as f64 + 8.0;
    let label_w = 190.0;
    let bar_w = W - label_w - 70.0;
    let max = cols
        .iter()
        .map(|c| c.score.max(c.threshold))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max)
        .max(f64::MIN_POSITIVE);
    html! {
        svg id="chart-drift" class="chart" viewBox={"0 0 " (W) " " (f(h, 0))} width=(W) height=(f(h, 0)) role="img"
            aria-label="drift per feature" data-points=(cols.len())
            data-drifted=(join(cols.iter().filter(|c| c.drifted).map(|c| c.column.clone())))
            data-share=(f(drift.report.share_of_drifted_columns, 4)) {
            @for (i, c) in cols.iter().enumerate() {
                @let y = TOP + row_h * i as f64;
                @let w = if c.score.is_finite() { (c.score / max).clamp(0.0, 1.0) * bar_w } else { 0.0 };
                @let tx = label_w + (c.threshold / max).clamp(0.0, 1.0) * bar_w;
                g class="feature" data-feature=(c.column) data-score=(f(c.score, 4)) data-threshold=(f(c.threshold, 4)) data-drifted=(c.drifted) {
                    text x=(label_w - 6.0) y=(f(y + 11.0, 1)) text-anchor="end" { (c.column) }
                    rect x=(label_w) y=(f(y + 2.0, 1)) width=(f(w, 1)) height="11" fill=(if c.drifted { "#e15759" } else { "#59a14f" }) {
                        title { (c.column) ": " (c.detector) " score " (f(c.score, 4)) ", threshold " (f(c.threshold, 4)) (if c.drifted { " — drifted" } else { " — no drift" }) }
                    }
                    line x1=(f(tx, 1)) x2=(f(tx, 1)) y1=(f(y, 1)) y2=(f(y + 15.0, 1)) stroke="#1d2330" {}
                    text x=(f(label_w + bar_w + 6.0, 1)) y=(f(y + 11.0, 1)) { (if c.drifted { "DRIFT" } else { "ok" }) }
                }
            }
        }
    }
}

/// Share of drifted columns at each check.
fn drift_history_chart(points: &[(DateTime<Utc>, f64)]) -> Markup {
    if points.is_empty() {
        return empty_chart("chart-drift-history", "no drift check yet");
    }
    let n = points.len();
    let pts: Vec<(usize, f64)> = points.iter().enumerate().map(|(i, p)| (i, p.1)).collect();
    let (first, last) = (hhmm(points[0].0), hhmm(points[n - 1].0));
    html! {
        svg id="chart-drift-history" class="chart" viewBox={"0 0 " (W) " " (H)} width=(W) height=(H) role="img"
            aria-label="share of drifted columns per check" data-points=(n)
            data-share=(join(points.iter().map(|p| f(p.1, 4)))) {
            (frame(1.0, "%", &first, &last))
            line x1=(LEFT) x2=(W - RIGHT) y1=(f(y_at(0.1, 1.0), 1)) y2=(f(y_at(0.1, 1.0), 1)) stroke="#e15759" stroke-dasharray="4 3" {}
            polyline points=(polyline(&pts, n, 1.0)) fill="none" stroke=(PALETTE[6]) stroke-width="2" {}
        }
    }
}

/// Each arm's success rate with its Wilson interval, and the difference with its
/// confidence interval against zero.
fn ab_chart(name: &str, a: &AbAnalysis) -> Markup {
    let arms = [&a.control, &a.treatment];
    let h = 130.0;
    let x_of = |v: f64| LEFT + 110.0 + (v.clamp(-1.0, 1.0) + 1.0) / 2.0 * (W - LEFT - 140.0);
    html! {
        svg id={"chart-ab-" (name)} class="chart ab" viewBox={"0 0 " (W) " " (h)} width=(W) height=(h) role="img"
            aria-label={"A/B experiment " (name)}
            data-control=(a.control.metric.map_or_else(String::new, |v| f(v, 4)))
            data-treatment=(a.treatment.metric.map_or_else(String::new, |v| f(v, 4)))
            data-difference=(a.difference.map_or_else(String::new, |v| f(v, 4)))
            data-ci-low=(a.ci_low.map_or_else(String::new, |v| f(v, 4)))
            data-ci-high=(a.ci_high.map_or_else(String::new, |v| f(v, 4)))
            data-recommendation=(format!("{:?}", a.recommendation)) {
            line x1=(f(x_of(0.0), 1)) x2=(f(x_of(0.0), 1)) y1="8" y2=(h - 18.0) stroke="#7a8291" stroke-dasharray="3 3" {}
            text x=(f(x_of(-1.0), 1)) y=(h - 4.0) { "−100%" }
            text x=(f(x_of(0.0), 1)) y=(h - 4.0) text-anchor="middle" { "0" }
            text x=(f(x_of(1.0), 1)) y=(h - 4.0) text-anchor="end" { "+100%" }
            @for (i, arm) in arms.iter().enumerate() {
                @let y = 22.0 + 28.0 * i as f64;
                text x=(LEFT) y=(y + 4.0) { (format!("{:?}", arm.variant).to_lowercase()) " v" (arm.model_version) }
                @if let Some(m) = arm.metric {
                    @if let Some(w) = &arm.wilson {
                        line x1=(f(x_of(w.low), 1)) x2=(f(x_of(w.high), 1)) y1=(y) y2=(y) stroke=(PALETTE[i]) stroke-width="3" {}
                    }
                    circle cx=(f(x_of(m), 1)) cy=(y) r="5" fill=(PALETTE[i]) {
                        title { (pct(m)) " over " (arm.samples) " outcomes" }
                    }
                    text x=(f(x_of(1.0), 1)) y=(y + 4.0) text-anchor="end" { (pct(m)) " (n=" (arm.samples) ")" }
                } @else {
                    text x=(f(x_of(0.0), 1)) y=(y + 4.0) { "no outcomes yet" }
                }
            }
            @let y = 22.0 + 28.0 * 2.0;
            text x=(LEFT) y=(y + 4.0) { "difference" }
            @if let (Some(d), Some(lo), Some(hi)) = (a.difference, a.ci_low, a.ci_high) {
                line x1=(f(x_of(lo), 1)) x2=(f(x_of(hi), 1)) y1=(y) y2=(y) stroke="#1d2330" stroke-width="3" {}
                rect x=(f(x_of(d) - 4.0, 1)) y=(y - 4.0) width="8" height="8" fill="#1d2330" {
                    title { "treatment − control " (pct(d)) ", " (pct(a.confidence_level)) " CI [" (pct(lo)) ", " (pct(hi)) "]" }
                }
                text x=(f(x_of(1.0), 1)) y=(y + 4.0) text-anchor="end" { (pct(d)) " [" (pct(lo)) ", " (pct(hi)) "]" }
            } @else {
                text x=(f(x_of(0.0), 1)) y=(y + 4.0) { "not enough outcomes" }
            }
        }
    }
}

/// The serde `kind` tags of a list of tagged enums (`new_samples, drift`).
fn kinds<T: serde::Serialize>(items: &[T]) -> String {
    items
        .iter()
        .filter_map(|x| {
            let v = serde_json::to_value(x).ok()?;
            Some(v.get("kind")?.as_str()?.to_owned())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn tile(label: &str, value: String) -> Markup {
    html! { div.tile { small { (label) } b { (value) } } }
}

fn severity_class(s: &str) -> &'static str {
    match s {
        "CRITICAL" => "bad",
        "WARNING" => "warn",
        _ => "ok",
    }
}

/// The whole page.
pub(crate) fn render(s: &Snapshot) -> String {
    let steps: Vec<&Step> = s.timeline.steps().iter().collect();
    let step_secs = s.timeline.step_secs();
    let drift_points: Vec<(DateTime<Utc>, f64)> = s.timeline.drift().iter().copied().collect();
    let p = &s.primary;
    let baseline = p.lineage.metrics.get("accuracy").copied();
    let sm = &s.summary;
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                @if s.refresh_secs > 0 {
                    meta http-equiv="refresh" content=(s.refresh_secs);
                }
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (p.name) " v" (p.version) " — obesity-serve dashboard" }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    h1 { (p.name) " · version " (p.version) }
                    span { "serving " (s.versions.len()) " loaded version(s)" }
                    span { "rendered " (s.now.to_rfc3339_opts(SecondsFormat::Secs, true)) }
                    @if s.refresh_secs > 0 { span { "refreshes every " (s.refresh_secs) " s" } }
                }
                main {
                    section #overview {
                        h2 { "Last hour" }
                        div.tiles {
                            (tile("requests", sm.n_requests.to_string()))
                            (tile("error rate", sm.error_rate.map_or_else(|| "–".into(), pct)))
                            (tile("p95 latency", sm.latency_p95_ms.map_or_else(|| "–".into(), |v| format!("{} ms", f(v, 2)))))
                            (tile("labelled", sm.n_labelled.to_string()))
                            (tile("accuracy", sm.accuracy.map_or_else(|| "–".into(), pct)))
                            (tile("drift share, window mean", sm.drift_score.map_or_else(|| "–".into(), pct)))
                            (tile("open alerts", s.open_alerts.len().to_string()))
                        }
                    }
                    section #traffic {
                        h2 { "Traffic (" (step_secs) " s steps)" }
                        (traffic_chart(&steps, step_secs))
                    }
                    section #latency {
                        h2 { "Latency" }
                        (latency_chart(&steps))
                    }
                    section #class-mix {
                        h2 { "Predicted class mix vs training" }
                        (class_mix_chart(&steps, &p.classes, p.training_mix.as_deref()))
                    }
                    section #accuracy {
                        h2 { "Accuracy as labels arrive" }
                        (accuracy_chart(&steps, baseline))
                    }
                    section #drift {
                        h2 { "Drift per feature" }
                        @match &s.drift {
                            Some(d) => {
                                p.muted { "version " (d.version) ", " (d.rows) " recent rows, checked " (hhmm(d.checked_at)) ": "
                                    (d.report.number_of_drifted_columns) " of " (d.report.number_of_columns) " columns drifted ("
                                    (pct(d.report.share_of_drifted_columns)) ")" }
                                (drift_chart(d))
                            }
                            None => {
                                @if p.profile.is_some() {
                                    p.muted { "pending: drift is computed once " (s.drift_min_rows) " rows have been served" }
                                } @else {
                                    p.muted { "unavailable: the served version has no reference profile" }
                                }
                            }
                        }
                        h2 { "Share of drifted columns per check" }
                        (drift_history_chart(&drift_points))
                    }
                    section #alerts {
                        h2 { "Open alerts" }
                        @if s.open_alerts.is_empty() {
                            p.ok { "none" }
                        } @else {
                            table { tr { th { "kind" } th { "severity" } th { "since" } th { "message" } }
                                @for a in &s.open_alerts {
                                    tr.open-alert data-kind=(a.kind.to_string()) {
                                        td { (a.kind.to_string()) }
                                        td class=(severity_class(&a.severity.to_string())) { (a.severity.to_string()) }
                                        td { (hhmm(a.since)) } td { (a.message) }
                                    }
                                }
                            }
                        }
                        h2 { "Recent alerts" }
                        @if s.recent_alerts.is_empty() {
                            p.muted { "none yet" }
                        } @else {
                            table { tr { th { "at" } th { "kind" } th { "severity" } th { "message" } }
                                @for a in s.recent_alerts.iter().take(15) {
                                    tr.recent-alert data-kind=(a.kind.to_string()) data-resolved=(a.resolved) {
                                        td { (hhmm(a.at)) } td { (a.kind.to_string()) }
                                        td class=(severity_class(&a.severity.to_string())) { (if a.resolved { "RESOLVED".to_owned() } else { a.severity.to_string() }) }
                                        td { (a.message) }
                                    }
                                }
                            }
                        }
                        @if !s.webhooks.is_empty() {
                            h2 { "Webhooks" }
                            table { tr { th { "receiver" } th { "format" } th { "sent" } th { "failed" } th { "de-duplicated" } th { "last error" } }
                                @for w in &s.webhooks {
                                    tr.webhook {
                                        td { (w.url) } td { (format!("{:?}", w.format)) } td { (w.stats.sent) }
                                        td class=(if w.stats.failed > 0 { "bad" } else { "" }) { (w.stats.failed) }
                                        td { (w.stats.deduplicated) }
                                        td { (w.stats.last_error.as_deref().unwrap_or("")) }
                                    }
                                }
                            }
                        }
                    }
                    section #experiments {
                        h2 { "A/B experiments" }
                        @if s.experiments.is_empty() {
                            p.muted { "none (POST /experiments)" }
                        }
                        @if !s.policy_log.is_empty() {
                            table { tr { th { "at" } th { "policy" } }
                                @for e in &s.policy_log {
                                    tr.policy {
                                        td { (hhmm(e.at)) }
                                        td { @match &e.action {
                                            crate::PolicyAction::Started { experiment, control, treatment } => {
                                                "started " (experiment) ": v" (control) " vs v" (treatment)
                                            }
                                            crate::PolicyAction::Promoted { experiment, alias, from, to } => {
                                                "promoted v" (to) " to " (alias) " (was v" (from) ") after " (experiment)
                                            }
                                        } }
                                    }
                                }
                            }
                        }
                        @for (name, status, analysis) in &s.experiments {
                            h2 { (name) " · " (format!("{status:?}").to_lowercase()) }
                            @match analysis {
                                Some(a) => {
                                    (ab_chart(name, a))
                                    p { b { (a.recommendation.to_string()) } ": " (a.explanation) }
                                }
                                None => { p.muted { "analysis unavailable" } }
                            }
                        }
                    }
                    section #retrain {
                        h2 { "Retrain audit trail" }
                        @if s.retrain.is_empty() {
                            p.muted { "no retrain decision yet (or no retrainer attached)" }
                        } @else {
                            table { tr { th { "at" } th { "actor" } th { "outcome" } th { "reasons" } th { "vetoes" } }
                                @for r in &s.retrain {
                                    @let outcome = serde_json::to_value(&r.outcome).ok().and_then(|v| v.get("outcome").and_then(|o| o.as_str().map(str::to_owned))).unwrap_or_default();
                                    tr.retrain-audit data-outcome=(outcome) {
                                        td { (hhmm(r.at)) } td { (r.actor) }
                                        td { (outcome)
                                            @if let obesity_monitor::AuditOutcome::Succeeded { new_version, .. } = &r.outcome { " → v" (new_version) }
                                            @if let obesity_monitor::AuditOutcome::Failed { error, .. } = &r.outcome { ": " (error) }
                                        }
                                        td { (kinds(&r.reasons)) }
                                        td { (kinds(&r.vetoes)) }
                                    }
                                }
                            }
                        }
                    }
                    section #lineage {
                        h2 { "Champion / challenger lineage" }
                        table {
                            tr { th { "version" } th { "role" } th { "aliases" } th { "stage" } th { "accuracy" } th { "run" } th { "data" } th { "commit" } th { "registered" } }
                            @for (m, role) in &s.versions {
                                tr.version data-version=(m.version) data-role=(role) {
                                    td { (m.version) } td { (role) } td { (m.meta.aliases.join(", ")) }
                                    td { (m.meta.current_stage.to_string()) }
                                    td { (m.lineage.metrics.get("accuracy").map_or_else(|| "–".into(), |v| pct(*v))) }
                                    td { (m.meta.run_id.as_deref().map_or("", |r| r.get(..8).unwrap_or(r))) }
                                    td { (m.lineage.data_fingerprint.as_deref().map_or("", |d| d.get(..12).unwrap_or(d))) }
                                    td { (m.lineage.git_commit.as_deref().map_or("", |c| c.get(..10).unwrap_or(c))) }
                                    td { (DateTime::from_timestamp_millis(m.meta.creation_timestamp).map_or_else(String::new, |t| t.format("%Y-%m-%d %H:%M").to_string())) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    page.into_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_max_rounds_up() {
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(120.0), 200.0);
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(f64::NAN), 1.0);
        assert_eq!(nice_max(2.4), 2.5);
    }

    #[test]
    fn charts_without_data_say_so() {
        let empty = traffic_chart(&[], 60).into_string();
        assert!(empty.contains("no traffic yet"), "{empty}");
        assert!(empty.contains("data-points=\"0\""));
    }
}
