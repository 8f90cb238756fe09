//! The production loop, end to end, in one process and printed step by step:
//!
//! 1. train the champion on fixtures/obesity_synthetic.csv (the facade's stages) and serve it
//!    (`obesity_serve::BackgroundServer` on 127.0.0.1:0);
//! 2. send seeded traffic whose population drifts — weights recorded 30% heavier (a
//!    miscalibrated scale at the new clinics), far more people driving, less activity — with
//!    the clinicians' labels arriving late through `/feedback`;
//! 3. the monitor detects drift and an accuracy drop, and the alerts reach a local webhook
//!    receiver (Alertmanager format);
//! 4. new labelled data from the new clinics lands in the watched folder; the retrain
//!    trigger (injected clock) trains with the same stages and registers a `challenger`;
//! 5. `ab.auto_start` starts an A/B test; traffic is routed by user, outcomes come from
//!    `/feedback`, and `analyze()` declares a winner;
//! 6. `ab.auto_promote` moves `champion`, and the server serves the new version — without
//!    one failed request.
//!
//! ```text
//! cargo run --release --example production_loop
//! cargo run --example production_loop -- --short      (the test's shortened run)
//! ```
//!
//! Everything is seeded and local: no network beyond 127.0.0.1. tests/production_loop.rs
//! runs a shortened version and asserts every step.

use std::error::Error;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use obesity_data::{LoadOptions, ObesityRecord, Transport, load_csv, synth, write_csv};
use obesity_mlops::params::Params;
use obesity_mlops::pipeline::{TrainConfig, train_and_register};
use obesity_monitor::{
    HandlerError, ManualClock, RetrainRequest, RetrainResult, RetrainingTriggerConfig,
};
use obesity_registry::Registry;
use obesity_serve::{AbPolicy, AlertWebhooks, BackgroundServer, ServeConfig, WebhookFormat};
use serde_json::{Value, json};

type BoxError = Box<dyn Error + Send + Sync>;

/// The JSON bodies the webhook receiver got.
type Received = Arc<Mutex<Vec<Value>>>;

const MODEL: &str = "obesity-classifier";

/// Sizes and schedules of one run.
#[derive(Debug, Clone)]
pub(crate) struct LoopOptions {
    /// Seed of every generated population.
    pub(crate) seed: u64,
    /// Trees of every forest.
    pub(crate) n_estimators: usize,
    /// Requests from the training population before the drift.
    pub(crate) normal_requests: usize,
    /// Requests from the drifted population, labelled late.
    pub(crate) drifted_requests: usize,
    /// Labelled rows landing in the watched folder (also the trigger's threshold).
    pub(crate) landed_rows: usize,
    /// Outcomes per arm before the experiment can be decided.
    pub(crate) min_samples_per_variant: usize,
    /// Most A/B requests before giving up on a decision.
    pub(crate) max_ab_requests: usize,
    /// Requests after the promotion.
    pub(crate) after_requests: usize,
    /// Drift, alert and A/B policy checks, and retrain checks.
    pub(crate) check_interval: Duration,
    /// Longest wait for any one step.
    pub(crate) step_timeout: Duration,
}

impl Default for LoopOptions {
    fn default() -> Self {
        LoopOptions {
            seed: 2024,
            n_estimators: 100,
            normal_requests: 200,
            drifted_requests: 400,
            landed_rows: 1500,
            min_samples_per_variant: 100,
            max_ab_requests: 3000,
            after_requests: 200,
            check_interval: Duration::from_millis(500),
            step_timeout: Duration::from_secs(120),
        }
    }
}

impl LoopOptions {
    /// The shortened run of the test.
    pub(crate) fn short() -> Self {
        LoopOptions {
            seed: 17,
            n_estimators: 20,
            normal_requests: 40,
            drifted_requests: 160,
            landed_rows: 600,
            min_samples_per_variant: 40,
            max_ab_requests: 1200,
            after_requests: 30,
            check_interval: Duration::from_millis(100),
            step_timeout: Duration::from_secs(60),
        }
    }
}

/// What happened, for the test to check.
#[derive(Debug, Default)]
pub(crate) struct LoopReport {
    /// Alert kinds open in `/monitoring/status` after the drift.
    pub(crate) open_alerts: Vec<String>,
    /// Alert names that reached the webhook receiver as firing.
    pub(crate) webhook_alerts: Vec<String>,
    /// Accuracy of the champion on the labelled drifted traffic.
    pub(crate) drifted_accuracy: f64,
    /// The version the retrain registered as challenger.
    pub(crate) challenger: u64,
    /// The experiment the policy started.
    pub(crate) experiment: String,
    /// Outcomes per arm (control, treatment) when it was decided.
    pub(crate) arms: (usize, usize),
    /// The champion after the loop.
    pub(crate) champion_after: u64,
    /// The version that answered the last request.
    pub(crate) served_after: u64,
    /// Requests sent, and those not answered 200.
    pub(crate) requests: usize,
    /// Requests not answered 200.
    pub(crate) failed: usize,
    /// Outcomes of the retrain audit trail in `/monitoring/status`, newest first.
    pub(crate) audit_outcomes: Vec<String>,
    /// `/dashboard` shows the retrain and the promotion.
    pub(crate) dashboard_shows_loop: bool,
}

fn main() -> Result<(), BoxError> {
    // `--short`: the test's shortened run (small forests, 100 ms checks).
    let options = if std::env::args().any(|a| a == "--short") {
        LoopOptions::short()
    } else {
        LoopOptions::default()
    };
    let report = run(&options)?;
    println!("\n{report:#?}");
    Ok(())
}

/// Runs the loop in a temporary folder.
///
/// # Errors
/// Any step that fails or does not happen within `step_timeout`.
pub(crate) fn run(o: &LoopOptions) -> Result<LoopReport, BoxError> {
    let tmp = tempfile::tempdir()?;
    let store = tmp.path().join("mlruns");
    let uri = store.display().to_string();
    let watched = tmp.path().join("incoming");
    std::fs::create_dir_all(&watched)?;
    let mut report = LoopReport::default();

    // 1. The champion.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/obesity_synthetic.csv");
    let base = train_config(o, &uri, &fixture, &tmp.path().join("reports/champion"))?;
    let trained = train_and_register(&base)?;
    let registry = Registry::open(&uri)?;
    registry.set_alias(MODEL, "champion", trained.model.version)?;
    step(&format!(
        "trained {MODEL} v{} on {} rows (test accuracy {:.3}); it is the champion",
        trained.model.version,
        trained.data.rows,
        trained.test.get("accuracy").copied().unwrap_or(f64::NAN)
    ));

    // The webhook receiver and the server.
    let (hook_url, hooks) = webhook_receiver()?;
    let config = ServeConfig {
        model: format!("models:/{MODEL}@champion"),
        host: "127.0.0.1".into(),
        port: 0,
        poll_interval: o.check_interval,
        admin_token: None,
        state_dir: Some(tmp.path().join("state")),
        monitor_flush_interval: Duration::from_millis(20),
        check_interval: o.check_interval,
        retrain_check_interval: o.check_interval,
        drift_window: 150,
        drift_min_rows: 100,
        alert_webhooks: AlertWebhooks {
            urls: vec![hook_url.clone()],
            format: WebhookFormat::Alertmanager,
            timeout: Duration::from_secs(2),
            max_attempts: 3,
            ..AlertWebhooks::default()
        },
        ab: AbPolicy {
            auto_start: true,
            auto_promote: true,
            min_samples_per_variant: o.min_samples_per_variant,
            ..AbPolicy::default()
        },
        ..ServeConfig::new(uri.clone())
    };
    // Only new data triggers a retrain here (the drift and accuracy rules are what the
    // alerts are for): the trigger waits for the new clinics' labelled rows.
    let trigger = RetrainingTriggerConfig {
        min_new_samples: o.landed_rows,
        max_days_without_retraining: 365,
        accuracy_degradation_threshold: 1.0,
        drift_score_threshold: 1e9,
        error_rate_threshold: 1.0,
        min_hours_between_retrains: 6,
        max_retrains_per_day: 4,
        data_directories: vec![watched.clone()],
        watch_file_patterns: vec!["*.csv".into()],
    };
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let retrainer = challenger_retrainer(o, &uri, &watched, &tmp.path().join("retrain"));
    let server = BackgroundServer::start(config, |state| {
        state.attach_retrainer(trigger, retrainer, clock)
    })?;
    let addr = server.addr();
    step(&format!(
        "serving v{} on http://{addr}; alerts go to {hook_url}; watching {}",
        server.state().primary_version(),
        watched.display()
    ));
    let mut client = Client {
        addr,
        requests: 0,
        failed: 0,
    };

    // 2. Traffic: the training population, then the drifted one, labels arriving late.
    let normal = synth::generate(o.normal_requests, o.seed);
    let answers = client.predict_all(&normal, None)?;
    client.feedback_all(&answers, &normal)?;
    step(&format!(
        "{} requests from the training population, labelled",
        normal.len()
    ));
    let drifted_people = drifted(synth::generate(o.drifted_requests, o.seed + 1));
    let answers = client.predict_all(&drifted_people, None)?;
    step(&format!(
        "{} requests from the new clinics (weights +30%, 80% drive, less activity); labels later",
        drifted_people.len()
    ));
    let right = client.feedback_all(&answers, &drifted_people)?;
    report.drifted_accuracy = right as f64 / drifted_people.len() as f64;
    step(&format!(
        "their labels arrived: the champion was right on {:.1}% of them",
        100.0 * report.drifted_accuracy
    ));

    // 3. Drift and accuracy alerts, in the status and at the receiver.
    // Traffic keeps flowing while the checks run (a drift score reaches the alert rules
    // with the batches logged after it was computed).
    let mut last = Value::Null;
    let mut trickle_seed = o.seed + 50;
    let status = wait_for(o.step_timeout, "drift and accuracy-drop alerts", || {
        let (_, s) = client.get("/monitoring/status")?;
        let kinds = alert_kinds(&s);
        let both = kinds.iter().any(|k| k == "drift") && kinds.iter().any(|k| k == "accuracy_drop");
        last = s.clone();
        if !both {
            let more = drifted(synth::generate(5, trickle_seed));
            trickle_seed += 1;
            let answers = client.predict_all(&more, None)?;
            client.feedback_all(&answers, &more)?;
        }
        Ok(both.then_some(s))
    })
    .map_err(|e| format!("{e}; last status: {last}"))?;
    report.open_alerts = alert_kinds(&status);
    step(&format!(
        "the monitor raised {:?} (drift score {}, accuracy {})",
        report.open_alerts, status["summary"]["drift_score"], status["summary"]["accuracy"]
    ));
    report.webhook_alerts = wait_for(o.step_timeout, "the alerts at the webhook receiver", || {
        let names = firing(&hooks);
        Ok((names.iter().any(|n| n == "ObesityDataDrift")
            && names.iter().any(|n| n == "ObesityAccuracyDrop"))
        .then_some(names))
    })?;
    step(&format!(
        "the webhook receiver got {:?}",
        report.webhook_alerts
    ));

    // 4. New labelled data lands; the trigger retrains and registers a challenger.
    let landed = drifted(synth::generate(o.landed_rows, o.seed + 2));
    let mut bytes = Vec::new();
    write_csv(&landed, &mut bytes)?;
    let file = watched.join("new-clinics.csv");
    std::fs::write(&file, bytes)?;
    step(&format!(
        "{} labelled rows from the new clinics landed in {}",
        landed.len(),
        file.display()
    ));
    report.challenger = wait_for(
        o.step_timeout,
        "the retrain to register a challenger",
        || {
            Ok(registry
                .resolve_str(&format!("models:/{MODEL}@challenger"))
                .ok()
                .map(|v| v.version))
        },
    )?;
    step(&format!(
        "the trigger retrained: v{} is the challenger; the champion is still v{}",
        report.challenger,
        registry
            .resolve_str(&format!("models:/{MODEL}@champion"))?
            .version
    ));

    // 5. The A/B test starts by itself, routes users, and decides.
    report.experiment = wait_for(o.step_timeout, "the A/B test to start", || {
        let (_, list) = client.get("/experiments")?;
        Ok(policy_actions(&list)
            .iter()
            .find(|a| a["action"] == "started")
            .and_then(|a| a["experiment"].as_str().map(str::to_owned)))
    })?;
    step(&format!(
        "A/B test {} started (champion = control)",
        report.experiment
    ));
    let mut sent = 0;
    let mut batch_seed = o.seed + 100;
    let promoted = loop {
        let people = drifted(synth::generate(20, batch_seed));
        batch_seed += 1;
        let users: Vec<String> = (sent..sent + people.len())
            .map(|i| format!("user-{i}"))
            .collect();
        let answers = client.predict_all(&people, Some(&users))?;
        for a in &answers {
            match a["variant"].as_str() {
                Some("control") => report.arms.0 += 1,
                Some("treatment") => report.arms.1 += 1,
                _ => {}
            }
        }
        client.feedback_all(&answers, &people)?;
        sent += people.len();
        let (_, list) = client.get("/experiments")?;
        if let Some(p) = policy_actions(&list)
            .into_iter()
            .find(|a| a["action"] == "promoted")
        {
            break p;
        }
        if sent >= o.max_ab_requests {
            return Err(format!(
                "no decision after {sent} A/B requests (arms {:?}): {list}",
                report.arms
            )
            .into());
        }
    };
    step(&format!(
        "after {sent} routed requests (control {}, treatment {}) the analysis promoted the treatment: {promoted}",
        report.arms.0, report.arms.1
    ));

    // 6. The champion moved; the server serves it.
    report.champion_after = registry
        .resolve_str(&format!("models:/{MODEL}@champion"))?
        .version;
    let after = drifted(synth::generate(o.after_requests, o.seed + 3));
    let answers = client.predict_all(&after, None)?;
    report.served_after = answers
        .last()
        .and_then(|a| a["model_version"].as_str())
        .and_then(|v| v.parse().ok())
        .unwrap_or_default();
    report.requests = client.requests;
    report.failed = client.failed;
    step(&format!(
        "champion is v{}; the server answers with v{}; {} requests, {} failed",
        report.champion_after, report.served_after, report.requests, report.failed
    ));
    let (_, status) = client.get("/monitoring/status")?;
    report.audit_outcomes = status["retrain"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["outcome"]["outcome"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let (_, html) = client.get("/dashboard")?;
    let html = html.as_str().unwrap_or_default();
    report.dashboard_shows_loop =
        html.contains("data-outcome=\"succeeded\"") && html.contains("class=\"policy\"");
    step(&format!(
        "audit trail: {:?}; the dashboard shows the retrain and the promotion: {}",
        report.audit_outcomes, report.dashboard_shows_loop
    ));
    server.stop()?;
    step("server stopped; prediction log flushed");
    Ok(report)
}

fn step(text: &str) {
    println!("[production loop] {text}");
}

/// The facade's train config: params.yaml's defaults with a smaller forest and 2 folds.
fn train_config(
    o: &LoopOptions,
    uri: &str,
    data: &Path,
    out: &Path,
) -> Result<TrainConfig, BoxError> {
    let mut params = Params::default()
        .set(&format!("forest.n_estimators={}", o.n_estimators))?
        .set("cv.folds=2")?;
    // This run's own registry: the environment's tracking URI is never read.
    params.registry.tracking_uri = Some(uri.to_owned());
    let mut config = params.train_config();
    config.data = data.to_owned();
    config.model_name = MODEL.to_owned();
    config.out_dir = out.to_owned();
    Ok(config)
}

/// Trains on the watched folder's data with the same stages as `obesity train` and
/// registers the result as challenger (never champion).
fn challenger_retrainer(
    o: &LoopOptions,
    uri: &str,
    watched: &Path,
    work: &Path,
) -> impl FnMut(&RetrainRequest) -> Result<RetrainResult, HandlerError> + Send + 'static {
    let (o, uri, watched, work) = (
        o.clone(),
        uri.to_owned(),
        watched.to_owned(),
        work.to_owned(),
    );
    move |request: &RetrainRequest| {
        let mut records = Vec::new();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&watched)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "csv"))
            .collect();
        files.sort();
        for f in &files {
            records.extend(load_csv(f, &LoadOptions::strict())?.records);
        }
        std::fs::create_dir_all(&work)?;
        let data = work.join("training.csv");
        let mut bytes = Vec::new();
        write_csv(&records, &mut bytes)?;
        std::fs::write(&data, bytes)?;
        let mut config = train_config(&o, &uri, &data, &work.join("reports"))
            .map_err(|e| -> HandlerError { e.to_string().into() })?;
        config.challenger_only = true;
        let outcome = train_and_register(&config)?;
        Registry::open(&uri)?.set_alias(MODEL, "challenger", outcome.model.version)?;
        step(&format!(
            "retrain ({:?}): trained on {} new rows, registered v{} as challenger (test accuracy {:.3})",
            request
                .reasons
                .iter()
                .map(|r| serde_json::to_value(r)
                    .map(|v| v["kind"].as_str().unwrap_or("?").to_owned())
                    .unwrap_or_default())
                .collect::<Vec<_>>(),
            records.len(),
            outcome.model.version,
            outcome.test.get("accuracy").copied().unwrap_or(f64::NAN)
        ));
        Ok(RetrainResult {
            new_version: outcome.model.version.to_string(),
            metrics: outcome.test,
        })
    }
}

/// The new clinics' population: weights recorded 30% heavier, 80% drive, a third of the
/// activity. The labels stay the clinicians' assessments.
fn drifted(mut people: Vec<ObesityRecord>) -> Vec<ObesityRecord> {
    for (i, p) in people.iter_mut().enumerate() {
        p.weight = (p.weight * 1.3).min(290.0);
        if i % 5 != 0 {
            p.mtrans = Transport::Automobile;
        }
        p.faf /= 3.0;
    }
    people
}

fn row_json(r: &ObesityRecord) -> Value {
    let yn = |b: bool| if b { "yes" } else { "no" };
    json!({
        "Gender": r.gender.as_str(), "Age": r.age, "Height": r.height, "Weight": r.weight,
        "family_history_with_overweight": yn(r.family_history_with_overweight),
        "FAVC": yn(r.favc), "FCVC": r.fcvc, "NCP": r.ncp, "CAEC": r.caec.as_str(),
        "SMOKE": yn(r.smoke), "CH2O": r.ch2o, "SCC": yn(r.scc), "FAF": r.faf, "TUE": r.tue,
        "CALC": r.calc.as_str(), "MTRANS": r.mtrans.as_str(),
    })
}

fn alert_kinds(status: &Value) -> Vec<String> {
    status["alerts"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|a| a["kind"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn policy_actions(list: &Value) -> Vec<Value> {
    list["policy_log"].as_array().cloned().unwrap_or_default()
}

/// Polls `probe` every 50 ms until it gives a value, at most `limit`.
fn wait_for<T>(
    limit: Duration,
    what: &str,
    mut probe: impl FnMut() -> Result<Option<T>, BoxError>,
) -> Result<T, BoxError> {
    let start = Instant::now();
    loop {
        if let Some(v) = probe()? {
            return Ok(v);
        }
        if start.elapsed() > limit {
            return Err(format!("gave up after {limit:?} waiting for {what}").into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A tiny HTTP/1.1 client (one connection per request), counting what is not a 200.
struct Client {
    addr: SocketAddr,
    requests: usize,
    failed: usize,
}

impl Client {
    fn call(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), BoxError> {
        let body = body.map(Value::to_string).unwrap_or_default();
        let mut s = TcpStream::connect(self.addr)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        )?;
        let mut raw = String::new();
        s.read_to_string(&mut raw)?;
        let code: u16 = raw
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("{method} {path}: not an HTTP answer: {raw:?}"))?;
        let text = raw.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        let value = serde_json::from_str(text).unwrap_or(Value::String(text.to_owned()));
        Ok((code, value))
    }

    fn get(&mut self, path: &str) -> Result<(u16, Value), BoxError> {
        self.call("GET", path, None)
    }

    /// A request of the traffic: counted, and a failure when not 200.
    fn counted(&mut self, path: &str, body: &Value) -> Result<Value, BoxError> {
        self.requests += 1;
        let (code, answer) = self.call("POST", path, Some(body))?;
        if code != 200 {
            self.failed += 1;
            println!("[production loop] FAILED {path}: {code} {answer}");
        }
        Ok(answer)
    }

    fn predict_all(
        &mut self,
        people: &[ObesityRecord],
        users: Option<&[String]>,
    ) -> Result<Vec<Value>, BoxError> {
        let mut out = Vec::with_capacity(people.len());
        for (i, p) in people.iter().enumerate() {
            let mut body = json!({"features": row_json(p)});
            if let Some(u) = users {
                body["user_id"] = json!(u[i]);
            }
            out.push(self.counted("/predict", &body)?);
        }
        Ok(out)
    }

    /// Sends each person's label for their answer; returns how many predictions were right.
    fn feedback_all(
        &mut self,
        answers: &[Value],
        people: &[ObesityRecord],
    ) -> Result<usize, BoxError> {
        let mut right = 0;
        for (a, p) in answers.iter().zip(people) {
            let label = p.target.ok_or("generated rows are labelled")?.as_str();
            if a["prediction"] == label {
                right += 1;
            }
            self.counted(
                "/feedback",
                &json!({"request_id": a["request_id"], "label": label}),
            )?;
        }
        Ok(right)
    }
}

/// A webhook receiver on 127.0.0.1:0 that keeps every JSON body it is sent.
fn webhook_receiver() -> Result<(String, Received), BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let got: Received = Arc::default();
    let keep = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut reader = BufReader::new(stream);
            let mut length = 0usize;
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                if line == "\r\n" {
                    break;
                }
                if let Some((k, v)) = line.split_once(':')
                    && k.eq_ignore_ascii_case("content-length")
                {
                    length = v.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_ok() {
                let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
                keep.lock().unwrap_or_else(|e| e.into_inner()).push(v);
            }
            let _ = reader
                .get_mut()
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    Ok((url, got))
}

/// Alert names received as firing (Alertmanager bodies).
fn firing(got: &Received) -> Vec<String> {
    got.lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .flat_map(|b| b["alerts"].as_array().cloned().unwrap_or_default())
        .filter(|a| a["status"] == "firing")
        .filter_map(|a| a["labels"]["alertname"].as_str().map(str::to_owned))
        .collect()
}
