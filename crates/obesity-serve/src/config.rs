//! [`ServeConfig`]: everything the service needs, with defaults that make
//! `ServeConfig::default()` serve `models:/obesity-classifier@champion` from `./mlruns` on
//! 127.0.0.1:8000.

use std::path::PathBuf;
use std::time::Duration;

use obesity_registry::ModelRef;

use crate::error::{Result, ServeError};

/// The environment variable read for the admin token when none is configured.
pub const ADMIN_TOKEN_ENV: &str = "OBESITY_ADMIN_TOKEN";

/// The service's settings. Every field has a documented default; build one with struct
/// update syntax (`ServeConfig { port: 0, ..ServeConfig::default() }`).
#[derive(Debug, Clone, PartialEq)]
pub struct ServeConfig {
    /// Where the registry is: a folder (MLflow file-store layout), `file://`, or an
    /// `http(s)://` MLflow tracking server. By default, this is `$OBESITY_TRACKING_URI`, else
    /// `$MLFLOW_TRACKING_URI`, else `./mlruns`.
    pub tracking_uri: String,
    /// The version to serve by default: `models:/NAME@ALIAS`, `models:/NAME/3`,
    /// `models:/NAME/Production`, or just `NAME` (meaning `@champion`). The alias (or stage,
    /// or `latest`) is polled, so a promotion reaches the service without a restart. By
    /// default, this is `models:/obesity-classifier@champion`.
    pub model: String,
    /// More references of the same model to keep loaded and polled (e.g.
    /// `models:/NAME@challenger`), for A/B tests and `/v2/models/NAME/versions/N`. By
    /// default, none.
    pub also_load: Vec<String>,
    /// Interface to listen on. By default, this is `127.0.0.1`.
    pub host: String,
    /// Port; 0 picks a free one. By default, this is 8000.
    pub port: u16,
    /// How often the aliases are re-resolved; zero turns polling off (`POST /admin/reload`
    /// still works). By default, this is 30 seconds.
    pub poll_interval: Duration,
    /// Bearer token required by every mutating endpoint (reload, experiments, and feedback
    /// when [`protect_feedback`](Self::protect_feedback) is on). By default, this is
    /// `$OBESITY_ADMIN_TOKEN` if set, else none (those endpoints are open).
    pub admin_token: Option<String>,
    /// Require the admin token on `POST /feedback` too. By default, this is off.
    pub protect_feedback: bool,
    /// Largest request body, bytes; larger bodies get 413. By default, this is 2 MiB.
    pub max_body_bytes: usize,
    /// Most rows in one request (`/predict/batch`, `/invocations`, `/v2/.../infer`); more get
    /// 413. By default, this is 1,000.
    pub max_batch_rows: usize,
    /// Longest a request may take before it is answered 408. By default, this is 10 seconds.
    pub request_timeout: Duration,
    /// Capacity of the queue between the request path and the performance monitor. When it
    /// is full a prediction is dropped from monitoring (and counted), never delayed; 0 turns
    /// monitoring off (for measuring what it costs). By default, this is 65,536.
    pub monitor_queue: usize,
    /// Folder for the prediction log (`monitoring/<model>/events.jsonl`) and experiment state
    /// (`monitoring/ab-tests/<name>.json`). By default, this is the registry folder when the registry is local,
    /// and nothing (in memory only) for an MLflow server.
    pub state_dir: Option<PathBuf>,
    /// How often queued predictions are written to the prediction log. By default, this is
    /// 1 second.
    pub monitor_flush_interval: Duration,
    /// How long the monitor keeps predictions (the longest `/monitoring/status?hours=` window).
    /// By default, this is 24 hours.
    pub monitor_retention: Duration,
    /// How often drift against the reference profile and the alert rules are checked. By
    /// default, this is 60 seconds.
    pub check_interval: Duration,
    /// Rows of recent traffic compared with the reference profile. By default, this is 1,000.
    pub drift_window: usize,
    /// Fewest recent rows before drift is computed at all. By default, this is 100.
    pub drift_min_rows: usize,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            tracking_uri: obesity_registry::tracking_uri_from_env(),
            model: "models:/obesity-classifier@champion".to_owned(),
            also_load: Vec::new(),
            host: "127.0.0.1".to_owned(),
            port: 8000,
            poll_interval: Duration::from_secs(30),
            admin_token: std::env::var(ADMIN_TOKEN_ENV)
                .ok()
                .filter(|t| !t.is_empty()),
            protect_feedback: false,
            max_body_bytes: 2 << 20,
            max_batch_rows: 1_000,
            request_timeout: Duration::from_secs(10),
            monitor_queue: 65_536,
            state_dir: None,
            monitor_flush_interval: Duration::from_secs(1),
            monitor_retention: Duration::from_secs(24 * 3600),
            check_interval: Duration::from_secs(60),
            drift_window: 1_000,
            drift_min_rows: 100,
        }
    }
}

/// Parses a model reference, reading a bare name (or `models:/NAME`) as `NAME@champion`.
pub(crate) fn parse_model_ref(text: &str) -> Result<ModelRef> {
    let body = text.trim();
    let stripped = body.strip_prefix("models:/").unwrap_or(body);
    let full = if !stripped.is_empty() && !stripped.contains('@') && !stripped.contains('/') {
        format!("models:/{stripped}@champion")
    } else {
        body.to_owned()
    };
    full.parse()
        .map_err(|e: obesity_registry::Error| ServeError::Config {
            field: "model",
            value: text.to_owned(),
            reason: e.to_string(),
        })
}

/// The checked form of a config.
#[derive(Debug, Clone)]
pub(crate) struct Checked {
    /// The primary reference first, then `also_load`.
    pub(crate) refs: Vec<ModelRef>,
    pub(crate) state_dir: Option<PathBuf>,
}

impl ServeConfig {
    /// Checks every value: references parse and name one model, the address parses, sizes
    /// are not zero.
    pub(crate) fn check(&self) -> Result<Checked> {
        let bad = |field: &'static str, value: String, reason: &str| ServeError::Config {
            field,
            value,
            reason: reason.to_owned(),
        };
        let mut refs = vec![parse_model_ref(&self.model)?];
        for extra in &self.also_load {
            let r = parse_model_ref(extra)?;
            if r.name() != refs[0].name() {
                return Err(bad(
                    "also_load",
                    extra.clone(),
                    "every reference must name the same registered model as `model`",
                ));
            }
            refs.push(r);
        }
        if self.host.trim().is_empty() {
            return Err(bad(
                "host",
                self.host.clone(),
                "an interface name or address is needed",
            ));
        }
        for (field, value) in [
            ("max_body_bytes", self.max_body_bytes),
            ("max_batch_rows", self.max_batch_rows),
            ("drift_window", self.drift_window),
        ] {
            if value == 0 {
                return Err(bad(field, "0".into(), "must be at least 1"));
            }
        }
        if self.request_timeout.is_zero() {
            return Err(bad("request_timeout", "0s".into(), "must be positive"));
        }
        if self.admin_token.as_deref().is_some_and(str::is_empty) {
            return Err(bad(
                "admin_token",
                String::new(),
                "an empty token protects nothing",
            ));
        }
        let state_dir = self.state_dir.clone().or_else(|| {
            let uri = self.tracking_uri.trim();
            let lower = uri.to_ascii_lowercase();
            if lower.starts_with("http://") || lower.starts_with("https://") {
                None
            } else {
                Some(PathBuf::from(uri.strip_prefix("file://").unwrap_or(uri)))
            }
        });
        Ok(Checked { refs, state_dir })
    }
}

/// The command-line flags of `obesity serve` and `cargo run --example serve` (feature
/// `cli`): both flatten this struct, so they cannot drift apart. `--tracking-uri` is not
/// here: the `obesity` command has it as a global flag, and the example declares it itself.
#[cfg(feature = "cli")]
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// The version to serve: models:/NAME@ALIAS (polled), models:/NAME/3, or NAME (@champion).
    #[arg(long, default_value = "models:/obesity-classifier@champion")]
    pub model: String,
    /// Another reference of the same model to keep loaded, e.g. models:/NAME@challenger
    /// (repeatable).
    #[arg(long = "also-load", value_name = "MODEL_URI")]
    pub also_load: Vec<String>,
    /// Interface to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port (0 picks a free one).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// Seconds between alias polls (0: never; POST /admin/reload still works).
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub poll_interval: f64,
    /// Bearer token for the mutating endpoints (reload, experiments).
    #[arg(long, env = "OBESITY_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Require the admin token on POST /feedback too.
    #[arg(long)]
    pub protect_feedback: bool,
    /// Largest request body in bytes (larger: 413).
    #[arg(long, default_value_t = 2 << 20)]
    pub max_body_bytes: usize,
    /// Most rows per request (more: 413).
    #[arg(long, default_value_t = 1000)]
    pub max_batch_rows: usize,
    /// Seconds before a request is answered 408.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub request_timeout: f64,
    /// Folder for the prediction log and experiment state (default: the registry folder,
    /// or memory only for an MLflow server).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Capacity of the monitor queue (full: predictions are dropped from monitoring, counted;
    /// 0: monitoring off).
    #[arg(long, default_value_t = 65_536)]
    pub monitor_queue: usize,
}

#[cfg(feature = "cli")]
impl ServeArgs {
    /// The config these flags describe, over the registry at `tracking_uri` (`None`: the
    /// default, see [`ServeConfig::tracking_uri`]).
    ///
    /// # Errors
    /// [`ServeError::Config`] for a negative or non-finite number of seconds.
    pub fn to_config(&self, tracking_uri: Option<&str>) -> Result<ServeConfig> {
        let seconds = |field: &'static str, s: f64| {
            Duration::try_from_secs_f64(s).map_err(|e| ServeError::Config {
                field,
                value: s.to_string(),
                reason: e.to_string(),
            })
        };
        let defaults = ServeConfig::default();
        Ok(ServeConfig {
            tracking_uri: tracking_uri.map_or(defaults.tracking_uri.clone(), str::to_owned),
            model: self.model.clone(),
            also_load: self.also_load.clone(),
            host: self.host.clone(),
            port: self.port,
            poll_interval: seconds("poll_interval", self.poll_interval)?,
            admin_token: self.admin_token.clone().filter(|t| !t.is_empty()),
            protect_feedback: self.protect_feedback,
            max_body_bytes: self.max_body_bytes,
            max_batch_rows: self.max_batch_rows,
            request_timeout: seconds("request_timeout", self.request_timeout)?,
            state_dir: self.state_dir.clone(),
            monitor_queue: self.monitor_queue,
            ..defaults
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_name_means_the_champion() {
        for text in ["obesity-rf", "models:/obesity-rf"] {
            assert_eq!(
                parse_model_ref(text).unwrap().to_string(),
                "models:/obesity-rf@champion"
            );
        }
        assert_eq!(
            parse_model_ref("models:/obesity-rf/3").unwrap().to_string(),
            "models:/obesity-rf/3"
        );
        assert!(parse_model_ref("models:/../x@a").is_err());
    }

    #[test]
    fn check_refuses_unusable_values() {
        let base = ServeConfig {
            tracking_uri: "/tmp/x".into(),
            admin_token: None,
            ..ServeConfig::default()
        };
        let c = base.check().unwrap();
        assert_eq!(c.state_dir, Some(PathBuf::from("/tmp/x")));
        let other = ServeConfig {
            also_load: vec!["models:/other@challenger".into()],
            ..base.clone()
        };
        assert!(matches!(
            other.check(),
            Err(ServeError::Config {
                field: "also_load",
                ..
            })
        ));
        let host = ServeConfig {
            host: " ".into(),
            ..base.clone()
        };
        assert!(matches!(
            host.check(),
            Err(ServeError::Config { field: "host", .. })
        ));
        let zero = ServeConfig {
            max_batch_rows: 0,
            ..base.clone()
        };
        assert!(zero.check().is_err());
        let http = ServeConfig {
            tracking_uri: "http://mlflow:5000".into(),
            ..base
        };
        assert_eq!(http.check().unwrap().state_dir, None);
    }
}
