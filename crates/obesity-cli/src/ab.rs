//! `obesity ab create|status|analyze|stop`: A/B experiments between the registry's real
//! champion and challenger, kept in the state files `obesity serve` reads
//! (`<state dir>/monitoring/ab-tests/<name>.json`, the state dir being `--state-dir`, else
//! the registry folder).
//!
//! The variants are registry versions: `ab create` resolves the control and treatment
//! references (aliases `champion` and `challenger` by default, or version numbers) once,
//! and the experiment records the model name and the two version numbers, so it keeps
//! comparing those two versions even if the aliases move later (`ab status` says so).
//!
//! `ab create` is idempotent: a rerun with the same settings, resolving to the same
//! versions, changes nothing and exits 0; a rerun whose settings differ fails (exit 1)
//! naming each difference, and leaves the experiment as it was.
//!
//! A running `obesity serve` loads these files when it starts and saves its own copy as
//! it goes; while it runs, change an experiment through its HTTP API
//! (`POST /experiments/{name}/stop`) rather than here.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Subcommand};
use obesity_mlops::params::Params;
use obesity_monitor::{
    AbAnalysis, AbTest, AbTestConfig, SystemClock, TestStatus, Variant, VariantSummary,
};
use obesity_registry::{ModelVersion, Registry, open_store};
use serde::Serialize;

use crate::error::{CliError, Result, json};

/// `obesity ab ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum AbCommand {
    /// Create (and start) an experiment between two registered versions.
    ///
    /// By default the control (A) is the version `champion` points to and the treatment
    /// (B) the one `challenger` points to. A rerun with the same settings changes nothing (exit 0); a rerun
    /// with different ones fails naming the difference (exit 1).
    #[command(
        after_help = "Examples:\n  obesity ab create champion-vs-challenger\n  obesity ab create v3-vs-v5 --control 3 --treatment 5 --traffic-split 0.2\n  obesity ab create trial --draft --json"
    )]
    Create(CreateArgs),
    /// An experiment's status, versions, users and outcomes.
    ///
    /// Also says whether `champion` and `challenger` still point to its two versions.
    #[command(after_help = "Examples:\n  obesity ab status champion-vs-challenger --json")]
    Status(NameArgs),
    /// The statistical analysis of the outcomes so far, and what to do.
    ///
    /// Per-variant metric, the test and its p-value, the confidence interval of the
    /// difference and the recommendation.
    #[command(after_help = "Examples:\n  obesity ab analyze champion-vs-challenger")]
    Analyze(NameArgs),
    /// Stop an experiment for good (no one new is enrolled).
    ///
    /// Stopping a stopped experiment changes nothing (exit 0).
    #[command(after_help = "Examples:\n  obesity ab stop champion-vs-challenger")]
    Stop(NameArgs),
}

/// Where the experiments live.
#[derive(Debug, Args)]
pub(crate) struct StateArgs {
    /// Folder of the service's state (experiments are monitoring/ab-tests/NAME.json under
    /// it). Defaults to the registry folder, like `obesity serve`; required with an MLflow
    /// server.
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
}

/// An experiment by name.
#[derive(Debug, Args)]
pub(crate) struct NameArgs {
    /// The experiment's name.
    name: String,
    #[command(flatten)]
    state: StateArgs,
}

/// `obesity ab create`.
#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// The experiment's name (letters, digits, `-`, `_`, `.`).
    name: String,
    /// Registered model (default: registry.model_name of params.yaml).
    #[arg(long)]
    model: Option<String>,
    /// The control (A): an alias or a version number (default: promotion.champion_alias).
    #[arg(long, value_name = "ALIAS|VERSION")]
    control: Option<String>,
    /// The treatment (B): an alias or a version number (default:
    /// promotion.challenger_alias).
    #[arg(long, value_name = "ALIAS|VERSION")]
    treatment: Option<String>,
    /// Share of traffic sent to the treatment (overrides ab.traffic_split).
    #[arg(long)]
    traffic_split: Option<f64>,
    /// Hours of enrolment after the start (overrides ab.duration_hours).
    #[arg(long)]
    duration_hours: Option<u64>,
    /// Outcomes needed in each variant before the analysis decides (overrides
    /// ab.min_samples_per_variant).
    #[arg(long)]
    min_samples: Option<usize>,
    /// Significance level α (overrides ab.significance_level).
    #[arg(long)]
    significance_level: Option<f64>,
    /// Create it as a draft instead of starting it.
    #[arg(long)]
    draft: bool,
    #[command(flatten)]
    state: StateArgs,
}

/// One variant as printed.
#[derive(Debug, Serialize)]
struct VariantView {
    variant: Variant,
    /// `models:/NAME/VERSION` (or the bare version for an experiment of the service's own).
    model_uri: String,
    version: String,
    /// Aliases of the registry that point to this version now.
    aliases: Vec<String>,
    users: usize,
    samples: usize,
    metric: Option<f64>,
}

/// `ab create` / `ab status` / `ab stop` output.
#[derive(Debug, Serialize)]
struct StatusView {
    name: String,
    model: Option<String>,
    status: TestStatus,
    /// What the command did: created, unchanged, stopped, already_stopped (status: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<&'static str>,
    started_at: Option<chrono::DateTime<chrono::Utc>>,
    ends_at: Option<chrono::DateTime<chrono::Utc>>,
    expired: bool,
    control: VariantView,
    treatment: VariantView,
    config: AbTestConfig,
    state_file: PathBuf,
    /// Notes, e.g. an alias that moved since the experiment was created.
    notes: Vec<String>,
}

/// Runs an `ab` command and returns what to print on stdout.
pub(crate) fn run(cmd: &AbCommand, params: &Params, uri: &str, as_json: bool) -> Result<String> {
    match cmd {
        AbCommand::Create(a) => create(a, params, uri, as_json),
        AbCommand::Status(a) => {
            let dir = experiments_dir(&a.state, uri)?;
            let test = open(&dir, &a.name)?;
            let view = status_view(&test, &dir, uri, params, None);
            output(&view, as_json)
        }
        AbCommand::Analyze(a) => {
            let dir = experiments_dir(&a.state, uri)?;
            let test = open(&dir, &a.name)?;
            let analysis = test.analyze()?;
            if as_json {
                json(&analysis)
            } else {
                Ok(render_analysis(&analysis, test.config()))
            }
        }
        AbCommand::Stop(a) => {
            let dir = experiments_dir(&a.state, uri)?;
            let mut test = open(&dir, &a.name)?;
            let action = if test.status() == TestStatus::Stopped {
                "already_stopped"
            } else {
                test.stop()?;
                "stopped"
            };
            let view = status_view(&test, &dir, uri, params, Some(action));
            output(&view, as_json)
        }
    }
}

/// `<state dir>/monitoring/ab-tests`, where `obesity serve` keeps its experiments.
fn experiments_dir(args: &StateArgs, uri: &str) -> Result<PathBuf> {
    let base = crate::retrain::state_dir(args.state_dir.as_deref(), uri).map_err(|_| {
        CliError::Invalid(format!(
            "the registry {uri} is a server, which keeps no A/B state: give --state-dir (the \
             folder of `obesity serve --state-dir`)"
        ))
    })?;
    Ok(base.join("monitoring").join("ab-tests"))
}

fn open(dir: &Path, name: &str) -> Result<AbTest> {
    if !AbTest::state_path(dir, name).exists() {
        // Checked first so that the message is about the experiment, not an I/O error.
        obesity_monitor::AbTestConfig::new(name, "1", "2").validate()?;
        return Err(CliError::Invalid(format!(
            "no A/B experiment called {name:?} in {} (create it with `obesity ab create {name}`)",
            dir.display()
        )));
    }
    Ok(AbTest::open(dir, name, Arc::new(SystemClock))?)
}

/// Resolves `reference` (an alias, or a version number) of `model` to a version.
fn resolve(registry: &Registry, model: &str, reference: &str, role: &str) -> Result<ModelVersion> {
    let found = match reference.parse::<u64>() {
        Ok(n) => registry.version(model, n),
        Err(_) => registry
            .store()
            .get_model_version_by_alias(model, reference),
    };
    found.map_err(|e| {
        if e.is_not_found() {
            let what = match reference.parse::<u64>() {
                Ok(n) => format!("{model} has no version {n}"),
                Err(_) => format!("models:/{model}@{reference} does not exist"),
            };
            CliError::Invalid(format!(
                "the {role} {what} (register or promote one first; `obesity registry versions \
                 {model}` lists them)"
            ))
        } else {
            CliError::Registry(e)
        }
    })
}

fn create(args: &CreateArgs, params: &Params, uri: &str, as_json: bool) -> Result<String> {
    let dir = experiments_dir(&args.state, uri)?;
    let model = args
        .model
        .clone()
        .unwrap_or_else(|| params.registry.model_name.clone());
    let control_ref = args
        .control
        .clone()
        .unwrap_or_else(|| params.promotion.champion_alias.clone());
    let treatment_ref = args
        .treatment
        .clone()
        .unwrap_or_else(|| params.promotion.challenger_alias.clone());
    let registry = Registry::new(open_store(uri)?);
    let control = resolve(&registry, &model, &control_ref, "control")?;
    let treatment = resolve(&registry, &model, &treatment_ref, "treatment")?;
    if control.version == treatment.version {
        return Err(CliError::Invalid(format!(
            "the control ({control_ref}) and the treatment ({treatment_ref}) are both \
             {model} version {}: there is nothing to compare",
            control.version
        )));
    }
    let mut config = AbTestConfig::new(
        args.name.clone(),
        control.version.to_string(),
        treatment.version.to_string(),
    );
    config.model = Some(model.clone());
    config.traffic_split = args.traffic_split.unwrap_or(params.ab.traffic_split);
    config.duration_hours = args.duration_hours.unwrap_or(params.ab.duration_hours);
    config.min_samples_per_variant = args
        .min_samples
        .unwrap_or(params.ab.min_samples_per_variant);
    config.significance_level = args
        .significance_level
        .unwrap_or(params.ab.significance_level);
    config.validate()?;
    let existed = AbTest::state_path(&dir, &args.name).exists();
    let mut test = match AbTest::open_or_create(&dir, config, Arc::new(SystemClock)) {
        Err(obesity_monitor::MonitorError::ExperimentChanged { differences, .. }) => {
            return Err(CliError::Invalid(format!(
                "an A/B experiment called {:?} already exists with other settings \
                 ({}); nothing changed. Stop it and create one under another name, or rerun \
                 with its settings",
                args.name,
                differences.join("; ")
            )));
        }
        other => other?,
    };
    if existed {
        let view = status_view(&test, &dir, uri, params, Some("unchanged"));
        return output(&view, as_json);
    }
    if !args.draft {
        test.start()?;
    }
    let view = status_view(&test, &dir, uri, params, Some("created"));
    output(&view, as_json)
}

/// The status of `test`; the notes compare its versions with where params.yaml's champion
/// and challenger aliases point now.
fn status_view(
    test: &AbTest,
    dir: &Path,
    uri: &str,
    params: &Params,
    action: Option<&'static str>,
) -> StatusView {
    let cfg = test.config();
    let mut notes = Vec::new();
    // The aliases now: best effort (a status of a state file must not need the registry).
    let versions: Vec<ModelVersion> = match &cfg.model {
        Some(m) => match open_store(uri)
            .map(Registry::new)
            .and_then(|r| r.versions(m))
        {
            Ok(v) => v,
            Err(e) => {
                notes.push(format!("the registry could not be read for aliases: {e}"));
                Vec::new()
            }
        },
        None => Vec::new(),
    };
    let analysis = test.analyze().ok();
    let view = |variant: Variant, version: &str, summary: Option<&VariantSummary>| {
        let aliases = versions
            .iter()
            .find(|v| v.version.to_string() == version)
            .map(|v| v.aliases.clone())
            .unwrap_or_default();
        VariantView {
            variant,
            model_uri: match &cfg.model {
                Some(m) => format!("models:/{m}/{version}"),
                None => version.to_string(),
            },
            version: version.to_string(),
            aliases,
            users: summary.map_or(0, |s| s.users),
            samples: summary.map_or(0, |s| s.samples),
            metric: summary.and_then(|s| s.metric),
        }
    };
    let control = view(
        Variant::Control,
        &cfg.control_version,
        analysis.as_ref().map(|a| &a.control),
    );
    let treatment = view(
        Variant::Treatment,
        &cfg.treatment_version,
        analysis.as_ref().map(|a| &a.treatment),
    );
    if let Some(model) = &cfg.model
        && !versions.is_empty()
    {
        for (v, role) in [(&control, "control"), (&treatment, "treatment")] {
            if !versions.iter().any(|x| x.version.to_string() == v.version) {
                notes.push(format!(
                    "the {role} version {} no longer exists in {model}",
                    v.version
                ));
            }
        }
        for (v, alias) in [
            (&control, params.promotion.champion_alias.as_str()),
            (&treatment, params.promotion.challenger_alias.as_str()),
        ] {
            if let Some(now) = versions
                .iter()
                .find(|x| x.aliases.iter().any(|a| a == alias))
                && now.version.to_string() != v.version
            {
                notes.push(format!(
                    "{model}@{alias} now points to version {}, not to this experiment's {} \
                     (version {}); the experiment keeps comparing its own versions",
                    now.version, v.variant, v.version
                ));
            }
        }
    }
    StatusView {
        name: cfg.name.clone(),
        model: cfg.model.clone(),
        status: test.status(),
        action,
        started_at: test.started_at(),
        ends_at: test.ends_at(),
        expired: test.is_expired(),
        control,
        treatment,
        config: cfg.clone(),
        state_file: AbTest::state_path(dir, &cfg.name),
        notes,
    }
}

fn output(view: &StatusView, as_json: bool) -> Result<String> {
    if as_json {
        return json(view);
    }
    let mut s = String::new();
    let action = match view.action {
        Some("created") => " (created)",
        Some("unchanged") => " (already exists with these settings; nothing changed)",
        Some("stopped") => " (stopped now)",
        Some("already_stopped") => " (was already stopped; nothing changed)",
        _ => "",
    };
    let _ = writeln!(s, "A/B experiment {}: {}{action}", view.name, view.status);
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or_else(
            || "-".to_owned(),
            |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
        )
    };
    let _ = writeln!(
        s,
        "  started {}, enrolment ends {}{}",
        time(view.started_at),
        time(view.ends_at),
        if view.expired { " (over)" } else { "" }
    );
    for v in [&view.control, &view.treatment] {
        let aliases = if v.aliases.is_empty() {
            String::new()
        } else {
            format!(" ({})", v.aliases.join(", "))
        };
        let metric = v.metric.map_or_else(String::new, |m| {
            format!(", {} {m:.4}", view.config.primary_metric.name)
        });
        let _ = writeln!(
            s,
            "  {:<9}  {}{aliases}: {} users, {} outcomes{metric}",
            v.variant.to_string(),
            v.model_uri,
            v.users,
            v.samples
        );
    }
    let c = &view.config;
    let _ = writeln!(
        s,
        "  {:.0}% of traffic to the treatment; {} outcomes per variant before deciding; α = {}; metric {}",
        c.traffic_split * 100.0,
        c.min_samples_per_variant,
        c.significance_level,
        c.primary_metric.name
    );
    for n in &view.notes {
        let _ = writeln!(s, "  note: {n}");
    }
    let _ = writeln!(s, "  state: {}", view.state_file.display());
    Ok(s)
}

fn render_analysis(a: &AbAnalysis, cfg: &AbTestConfig) -> String {
    let mut s = String::new();
    let num = |x: Option<f64>, p: usize| x.map_or_else(|| "-".to_owned(), |v| format!("{v:.p$}"));
    let uri = |version: &str| match &cfg.model {
        Some(m) => format!("models:/{m}/{version}"),
        None => format!("version {version}"),
    };
    let _ = writeln!(
        s,
        "A/B experiment {} ({}), metric {}",
        a.experiment, a.status, a.metric.name
    );
    for v in [&a.control, &a.treatment] {
        let _ = writeln!(
            s,
            "  {:<9}  {}: {} users, {} outcomes, {} {}",
            v.variant.to_string(),
            uri(&v.model_version),
            v.users,
            v.samples,
            a.metric.name,
            num(v.metric, 4)
        );
    }
    let test = match a.test {
        obesity_monitor::AbTestMethod::TwoProportionZTest => "two-proportion z-test",
        obesity_monitor::AbTestMethod::FisherExact => "Fisher's exact test",
        obesity_monitor::AbTestMethod::WelchTTest => "Welch's t-test",
    };
    let _ = writeln!(
        s,
        "  difference (treatment - control) {}; {test}: statistic {}, p-value {}",
        num(a.difference, 4),
        num(a.statistic, 3),
        num(a.p_value, 4)
    );
    let _ = writeln!(
        s,
        "  {:.0}% confidence interval of the difference: [{}, {}]",
        a.confidence_level * 100.0,
        num(a.ci_low, 4),
        num(a.ci_high, 4)
    );
    let _ = writeln!(
        s,
        "  significant: {}; minimum samples ({} per variant) reached: {}; enrolment over: {}",
        if a.significant { "yes" } else { "no" },
        cfg.min_samples_per_variant,
        if a.min_samples_reached { "yes" } else { "no" },
        if a.expired { "yes" } else { "no" }
    );
    let _ = writeln!(
        s,
        "  recommendation: {} ({})",
        a.recommendation, a.explanation
    );
    s
}
