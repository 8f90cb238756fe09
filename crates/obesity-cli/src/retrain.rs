//! Retraining from the command line: the `retraining:` section of params.yaml turned into
//! the monitor's `RetrainTrigger`, a retrainer that runs the same stages as `obesity train`
//! and registers the result as `challenger` (never champion), and the commands that use
//! them — `obesity serve` (the trigger inside the service), `obesity retrain watch` (the
//! trigger beside a server) and `obesity retrain check` (one decision).
//!
//! All three share one audit trail, the service's: `<state dir>/monitoring/retrain/<model>/
//! audit.jsonl`, the state dir being `--state-dir`, else the registry folder.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use obesity_data::{LoadOptions, load_csv, write_csv};
use obesity_mlops::params::Params;
use obesity_mlops::pipeline::train_and_register;
use obesity_monitor::{
    Clock, Decision, HandlerError, MonitorError, RetrainHandler, RetrainRequest, RetrainResult,
    RetrainTrigger, RetrainingTriggerConfig, RunReport, SystemClock, TriggerState,
};
use obesity_registry::{ModelRef, Registry};
use serde::Serialize;

use crate::error::{CliError, Result, json};

/// `obesity retrain ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum RetrainCommand {
    /// Evaluate the retraining rules once (new rows in the watched folders, days since the
    /// champion was trained, cool-down and daily limit) and print the decision; when it says
    /// retrain, train on the watched data and register the result as `challenger`.
    #[command(
        after_help = "Examples:\n  obesity retrain check --dry-run\n  obesity retrain check --set retraining.data_directories='[incoming]' --json"
    )]
    Check(CheckArgs),
    /// Run the retraining rules every --interval seconds beside a running server (same
    /// params.yaml, same audit trail), until Ctrl-C or --max-checks.
    #[command(
        after_help = "Examples:\n  obesity retrain watch --interval 600\n  obesity retrain watch --interval 1 --max-checks 3 --json"
    )]
    Watch(WatchArgs),
}

/// What both retrain commands take.
#[derive(Debug, Args)]
pub(crate) struct TriggerArgs {
    /// The served version the rules look at (default models:/<registry.model_name>@champion).
    #[arg(long, value_name = "MODEL_URI")]
    model: Option<String>,
    /// Folder of the service's state (the audit trail is monitoring/retrain/<model>/ under
    /// it). Defaults to the registry folder, like `obesity serve`.
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
}

/// `obesity retrain check`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    #[command(flatten)]
    trigger: TriggerArgs,
    /// Print the decision only: write nothing to the audit trail, train nothing.
    #[arg(long)]
    dry_run: bool,
}

/// `obesity retrain watch`.
#[derive(Debug, Args)]
pub(crate) struct WatchArgs {
    #[command(flatten)]
    trigger: TriggerArgs,
    /// Seconds between two checks.
    #[arg(long, default_value_t = 600.0, value_name = "SECONDS")]
    interval: f64,
    /// Stop after this many checks (default: run until interrupted).
    #[arg(long, value_name = "N")]
    max_checks: Option<u64>,
}

/// The trigger config of params.yaml, checked: `None` when `retraining.data_directories` is
/// empty (retraining is off), an error naming the key for a bad value or a watched folder
/// that does not exist.
pub(crate) fn trigger_config(params: &Params) -> Result<Option<RetrainingTriggerConfig>> {
    let config = params.retraining.trigger_config();
    if let Err(e) = config.validate() {
        return Err(match e {
            MonitorError::InvalidConfig {
                field,
                value,
                expected,
            } => CliError::Invalid(format!(
                "params.yaml: retraining.{field} = {value}: expected {expected}"
            )),
            other => other.into(),
        });
    }
    if config.data_directories.is_empty() {
        return Ok(None);
    }
    if config.watch_file_patterns.is_empty() {
        return Err(CliError::Invalid(
            "params.yaml: retraining.watch_file_patterns = []: expected at least one pattern \
             when retraining.data_directories names a folder"
                .into(),
        ));
    }
    for dir in &config.data_directories {
        if !dir.is_dir() {
            return Err(CliError::Invalid(format!(
                "params.yaml: retraining.data_directories: {} is not a folder (create it, or \
                 remove it from the list)",
                dir.display()
            )));
        }
    }
    Ok(Some(config))
}

/// The trigger's name for a registered model (what the service uses: a folder name).
pub(crate) fn trigger_name(model: &str) -> String {
    let name: String = model
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() {
        "model".to_owned()
    } else {
        name
    }
}

/// The service's state folder: `--state-dir`, else the registry folder.
pub(crate) fn state_dir(explicit: Option<&Path>, tracking_uri: &str) -> Result<PathBuf> {
    if let Some(d) = explicit {
        return Ok(d.to_owned());
    }
    let uri = tracking_uri.trim();
    let lower = uri.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Err(CliError::Invalid(format!(
            "the registry {uri} is a server: give --state-dir for the retrain audit trail"
        )));
    }
    Ok(PathBuf::from(uri.strip_prefix("file://").unwrap_or(uri)))
}

/// Trains with the facade's stages (those of `obesity train`) on the base data of
/// params.yaml plus every file of the watched folders, and registers the new version as
/// `challenger`: the promotion policy runs with `challenger_only`, so it can never take
/// the champion alias, and the challenger alias is then pointed at it.
pub(crate) struct TrainRetrainer {
    params: Params,
    tracking_uri: String,
    model_name: String,
    watched: RetrainingTriggerConfig,
    work_dir: PathBuf,
}

impl TrainRetrainer {
    /// A retrainer for `model_name` in the registry at `tracking_uri`, writing its merged
    /// data and reports under `work_dir`.
    pub(crate) fn new(
        params: &Params,
        tracking_uri: &str,
        model_name: &str,
        watched: RetrainingTriggerConfig,
        work_dir: PathBuf,
    ) -> Self {
        TrainRetrainer {
            params: params.clone(),
            tracking_uri: tracking_uri.to_owned(),
            model_name: model_name.to_owned(),
            watched,
            work_dir,
        }
    }

    /// Files of the watched folders matching the patterns, sorted.
    fn watched_files(&self) -> Vec<PathBuf> {
        let mut files = std::collections::BTreeSet::new();
        for dir in &self.watched.data_directories {
            let base = glob::Pattern::escape(&dir.to_string_lossy());
            for pattern in &self.watched.watch_file_patterns {
                if let Ok(paths) = glob::glob(&format!("{base}/{pattern}")) {
                    files.extend(paths.flatten().filter(|p| p.is_file()));
                }
            }
        }
        files.into_iter().collect()
    }

    fn train(&mut self, request: &RetrainRequest) -> Result<RetrainResult> {
        // The base data (when it exists) and every watched file, merged into one labelled CSV.
        let mut sources: Vec<PathBuf> = Vec::new();
        if self.params.data.path.is_file() {
            sources.push(self.params.data.path.clone());
        }
        sources.extend(self.watched_files());
        if sources.is_empty() {
            return Err(CliError::Invalid(
                "nothing to train on: data.path does not exist and the watched folders hold no \
                 matching file"
                    .into(),
            ));
        }
        let mut records = Vec::new();
        for source in &sources {
            records.extend(load_csv(source, &LoadOptions::strict())?.records);
        }
        let stamp = request.at.format("%Y%m%dT%H%M%S%.3fZ");
        let data = self
            .work_dir
            .join("data")
            .join(format!("retrain-{stamp}.csv"));
        let mut bytes = Vec::new();
        write_csv(&records, &mut bytes)?;
        crate::error::write(&data, &bytes)?;
        eprintln!(
            "retraining {} on {} rows of {} file(s) ({})",
            self.model_name,
            records.len(),
            sources.len(),
            data.display()
        );
        let mut config = self.params.train_config();
        config.data = data;
        config.tracking_uri = self.tracking_uri.clone();
        config.model_name = self.model_name.clone();
        config.out_dir = self.work_dir.join("reports").join(stamp.to_string());
        config.challenger_only = true;
        let outcome = train_and_register(&config)?;
        let version = outcome.model.version;
        Registry::open(&self.tracking_uri)?.set_alias(&self.model_name, "challenger", version)?;
        eprintln!(
            "registered {} version {version} as challenger (accuracy {:.4})",
            self.model_name,
            outcome.test.get("accuracy").copied().unwrap_or(f64::NAN)
        );
        Ok(RetrainResult {
            new_version: version.to_string(),
            metrics: outcome.test,
        })
    }
}

impl RetrainHandler for TrainRetrainer {
    fn retrain(&mut self, request: &RetrainRequest) -> Result<RetrainResult, HandlerError> {
        self.train(request).map_err(|e| e.to_string().into())
    }
}

impl obesity_serve::Retrainer for TrainRetrainer {
    fn retrain(&mut self, request: &RetrainRequest) -> Result<RetrainResult, HandlerError> {
        self.train(request).map_err(|e| e.to_string().into())
    }
}

/// What `obesity retrain check` prints with `--json` (one per check for `watch`).
#[derive(Debug, Serialize)]
struct CheckOutput {
    model: String,
    champion_version: u64,
    dry_run: bool,
    audit_trail: Option<PathBuf>,
    decision: Decision,
    new_version: Option<String>,
    metrics: Option<std::collections::BTreeMap<String, f64>>,
}

/// The pieces one check needs.
struct Setup {
    config: RetrainingTriggerConfig,
    model: String,
    name: String,
    store: PathBuf,
    state: TriggerState,
    champion_version: u64,
}

fn setup(args: &TriggerArgs, params: &Params, uri: &str) -> Result<Setup> {
    let config = trigger_config(params)?.ok_or_else(|| {
        CliError::Invalid(
            "params.yaml: retraining.data_directories is empty: name the folder(s) where new \
             labelled data lands (e.g. --set retraining.data_directories='[incoming]')"
                .into(),
        )
    })?;
    let reference = args
        .model
        .clone()
        .unwrap_or_else(|| format!("models:/{}@champion", params.registry.model_name));
    let parsed: ModelRef = reference.parse()?;
    let model = parsed.name().to_owned();
    let registry = Registry::open(uri)?;
    let champion = registry.resolve(&parsed)?;
    // Outside the service there is no live traffic: the rules see the watched files, the
    // champion's age and the audit trail (drift, accuracy and error rate are judged by the
    // service's own trigger, `obesity serve`).
    let state = TriggerState {
        model_trained_at: chrono::DateTime::from_timestamp_millis(champion.creation_timestamp),
        ..TriggerState::default()
    };
    let store = state_dir(args.state_dir.as_deref(), uri)?.join("monitoring");
    Ok(Setup {
        config,
        name: trigger_name(&model),
        model,
        store,
        state,
        champion_version: champion.version,
    })
}

/// One check; `dry_run` decides on a copy of the audit trail and trains nothing.
fn check_once(s: &Setup, params: &Params, uri: &str, dry_run: bool) -> Result<CheckOutput> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    if dry_run {
        let scratch = std::env::temp_dir().join(format!(
            "obesity-retrain-dry-run-{}-{}",
            std::process::id(),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ));
        let audit = RetrainTrigger::audit_path(&s.store, &s.name);
        let copy = RetrainTrigger::audit_path(&scratch, &s.name);
        if audit.is_file() {
            let bytes = crate::error::read(&audit)?;
            crate::error::write(&copy, &bytes)?;
        }
        let decided = RetrainTrigger::open(&scratch, &s.name, s.config.clone(), clock.clone())
            .and_then(|mut t| t.evaluate(clock.now(), &s.state));
        let _ = std::fs::remove_dir_all(&scratch);
        return Ok(CheckOutput {
            model: s.model.clone(),
            champion_version: s.champion_version,
            dry_run: true,
            audit_trail: None,
            decision: decided?,
            new_version: None,
            metrics: None,
        });
    }
    let mut trigger = RetrainTrigger::open(&s.store, &s.name, s.config.clone(), clock)?;
    let mut retrainer = TrainRetrainer::new(
        params,
        uri,
        &s.model,
        s.config.clone(),
        s.store.join("retrain").join(&s.name),
    );
    let RunReport { decision, result } = trigger.run(&s.state, &mut retrainer)?;
    Ok(CheckOutput {
        model: s.model.clone(),
        champion_version: s.champion_version,
        dry_run: false,
        audit_trail: Some(RetrainTrigger::audit_path(&s.store, &s.name)),
        decision,
        new_version: result.as_ref().map(|r| r.new_version.clone()),
        metrics: result.map(|r| r.metrics),
    })
}

fn render(o: &CheckOutput) -> String {
    let mut out = String::new();
    let verdict = if o.decision.retrain {
        "retrain"
    } else if o.decision.reasons.is_empty() {
        "not needed"
    } else {
        "vetoed"
    };
    let _ = writeln!(
        out,
        "decision  {verdict}{} ({} version {} is the champion)",
        if o.dry_run { " (dry run)" } else { "" },
        o.model,
        o.champion_version
    );
    for r in &o.decision.reasons {
        let _ = writeln!(
            out,
            "reason    {}",
            serde_json::to_string(r).unwrap_or_default()
        );
    }
    for v in &o.decision.vetoes {
        let _ = writeln!(
            out,
            "veto      {}",
            serde_json::to_string(v).unwrap_or_default()
        );
    }
    if let Some(v) = &o.new_version {
        let _ = writeln!(
            out,
            "retrained {} version {v} registered as challenger (accuracy {:.4})",
            o.model,
            o.metrics
                .as_ref()
                .and_then(|m| m.get("accuracy"))
                .copied()
                .unwrap_or(f64::NAN)
        );
    }
    if let Some(p) = &o.audit_trail {
        let _ = writeln!(out, "audit     {}", p.display());
    }
    out
}

/// Runs `obesity retrain check|watch`.
pub(crate) fn run(
    command: &RetrainCommand,
    params: &Params,
    uri: &str,
    as_json: bool,
) -> Result<String> {
    match command {
        RetrainCommand::Check(a) => {
            let s = setup(&a.trigger, params, uri)?;
            let o = check_once(&s, params, uri, a.dry_run)?;
            if as_json { json(&o) } else { Ok(render(&o)) }
        }
        RetrainCommand::Watch(a) => {
            let interval = Duration::try_from_secs_f64(a.interval)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    CliError::Invalid(format!(
                        "--interval must be a positive number of seconds, got {}",
                        a.interval
                    ))
                })?;
            let s = setup(&a.trigger, params, uri)?;
            eprintln!(
                "watching {} for {} every {:?} (audit trail under {})",
                s.config
                    .data_directories
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                s.model,
                interval,
                s.store.display()
            );
            let mut done = 0u64;
            loop {
                // A failed retrain is in the audit trail; the watch goes on.
                match check_once(&s, params, uri, false) {
                    Ok(o) => {
                        let text = if as_json {
                            serde_json::to_string(&o)
                                .map(|t| t + "\n")
                                .map_err(|e| CliError::Invalid(e.to_string()))?
                        } else {
                            render(&o)
                        };
                        crate::print_now(&text);
                    }
                    Err(e) => eprintln!("error: {e}"),
                }
                done += 1;
                if a.max_checks.is_some_and(|m| done >= m) {
                    return Ok(String::new());
                }
                std::thread::sleep(interval);
            }
        }
    }
}
