//! The monitor crate's error type. Each part of the crate adds its variants in its own
//! section below.

/// Everything that can go wrong in monitoring.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MonitorError {
    // --- drift, profile, report ---
    /// A column has no values (in the reference data or in the current batch).
    #[error("column `{column}` is empty: drift needs at least one value")]
    EmptyColumn {
        /// The column.
        column: String,
    },
    /// A numeric column holds NaN or an infinity, which no drift test can rank.
    #[error("column `{column}`, row {row}: value {value} is not a finite number")]
    NonFiniteValue {
        /// The column.
        column: String,
        /// 0-based row within the column.
        row: usize,
        /// The offending value.
        value: f64,
    },
    /// The current batch has a different kind of values than the reference profile.
    #[error("column `{column}`: the reference is {expected} but the current batch is {found}")]
    KindMismatch {
        /// The column.
        column: String,
        /// Kind in the reference profile.
        expected: String,
        /// Kind in the current batch.
        found: String,
    },
    /// A column of the reference profile is not in the current batch.
    #[error("column `{column}` is in the reference profile but not in the current batch")]
    MissingColumn {
        /// The column.
        column: String,
    },
    /// The same column name appears twice in one input.
    #[error("column `{column}` appears more than once")]
    DuplicateColumn {
        /// The column.
        column: String,
    },
    /// A drift test was asked for on a column kind it cannot handle.
    #[error("column `{column}`: stattest `{stattest}` does not apply to {kind} columns")]
    StatTestNotApplicable {
        /// The column.
        column: String,
        /// The test's Evidently name.
        stattest: String,
        /// The column's kind.
        kind: String,
    },
    /// A drift option (threshold, drift share, cap) is out of range.
    #[error("drift option `{option}` = {value}: expected {expected}")]
    InvalidDriftOption {
        /// The option (with the column, for per-column overrides).
        option: String,
        /// The value given.
        value: f64,
        /// The accepted range.
        expected: &'static str,
    },
    /// Two inputs that must have one entry per row have different lengths.
    #[error("`{left}` has {left_len} values but `{right}` has {right_len}")]
    LengthMismatch {
        /// First input.
        left: &'static str,
        /// Its length.
        left_len: usize,
        /// Second input.
        right: &'static str,
        /// Its length.
        right_len: usize,
    },
    /// A stored reference profile or drift report cannot be read (bad JSON or a format
    /// version this build does not know).
    #[error("reference profile: {reason}")]
    ProfileFormat {
        /// What was wrong.
        reason: String,
    },

    // --- performance, alerts, retrain, abtest ---
    /// Reading or writing a state file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A configuration value (alert policy, retraining trigger, A/B test) is out of range.
    #[error("invalid `{field}` = {value}: expected {expected}")]
    InvalidConfig {
        /// The field, as spelled in the config struct.
        field: &'static str,
        /// The value given, rendered.
        value: String,
        /// What would have been accepted.
        expected: String,
    },
    /// A logged prediction batch or label set is malformed.
    #[error("invalid batch: `{field}`{}: {reason}", index.map(|i| format!("[{i}]")).unwrap_or_default())]
    InvalidBatch {
        /// The batch field that is wrong.
        field: &'static str,
        /// The row within the batch, when one row is to blame.
        index: Option<usize>,
        /// What is wrong with it.
        reason: String,
    },
    /// A line of a JSON-lines log (other than a torn last line) cannot be read back.
    #[error("{path}, line {line}: {reason}")]
    CorruptLog {
        /// The log file.
        path: std::path::PathBuf,
        /// 1-based line number.
        line: usize,
        /// The parser's message.
        reason: String,
    },
    /// Another open monitor or trigger (in this or another process) holds the log's lock.
    #[error("{path} is locked by another writer (one open monitor or trigger per log)")]
    Locked {
        /// The log file.
        path: std::path::PathBuf,
    },
    /// A JSON state file cannot be parsed or written.
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// A value passed to a call (an outcome, a reason) is unusable.
    #[error("invalid `{what}` = {value}: expected {expected}")]
    InvalidInput {
        /// Which argument.
        what: &'static str,
        /// The value given, rendered.
        value: String,
        /// What would have been accepted.
        expected: String,
    },
    /// An experiment with this name already has a state file.
    #[error("experiment `{name}` already exists at {path}")]
    ExperimentExists {
        /// The experiment name.
        name: String,
        /// Its state file.
        path: std::path::PathBuf,
    },
    /// An experiment of this name is saved with another config ([`AbTest::open_or_create`](crate::AbTest::open_or_create)).
    #[error(
        "experiment `{name}` at {path} was created with another config ({}); give the new \
         one another name, or open the saved one with AbTest::open",
        differences.join("; ")
    )]
    ExperimentChanged {
        /// The experiment name.
        name: String,
        /// Its state file.
        path: std::path::PathBuf,
        /// `field: existing X, asked Y` per differing setting ([`AbTestConfig::differences`](crate::AbTestConfig::differences)).
        differences: Vec<String>,
    },
    /// An outcome was recorded for a user the experiment never enrolled.
    #[error("experiment `{experiment}`: user `{user_id}` was never assigned a variant")]
    UnknownUser {
        /// The experiment.
        experiment: String,
        /// The user id given.
        user_id: String,
    },
    /// An outcome of the wrong kind (a number for a conversion metric, or the reverse).
    #[error(
        "experiment `{experiment}`: outcome for user `{user_id}` is {got}, but the primary metric expects {expected}"
    )]
    OutcomeKindMismatch {
        /// The experiment.
        experiment: String,
        /// The user.
        user_id: String,
        /// What the primary metric expects.
        expected: &'static str,
        /// What was given.
        got: &'static str,
    },
    /// A lifecycle action that is not allowed in the experiment's current status.
    #[error("experiment `{experiment}`: cannot {action} while {status}")]
    InvalidTransition {
        /// The experiment.
        experiment: String,
        /// The action attempted (start, pause, stop).
        action: &'static str,
        /// The current status.
        status: String,
    },
    /// A user-supplied retraining handler failed; the failure is also in the audit trail.
    #[error("retraining by trigger `{trigger}` failed: {source}")]
    RetrainFailed {
        /// The trigger (or "manual").
        trigger: String,
        /// The handler's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An alert webhook did not accept a notification: every attempt failed, or the
    /// receiver refused it in a way that retrying cannot fix (a 4xx answer). Produced by
    /// `WebhookAlertHandler` (feature `webhook`).
    #[error("alert webhook {url}: gave up after {attempts} attempt(s): {reason}")]
    WebhookDelivery {
        /// The webhook, with its path, query and credentials cut (they often hold a secret).
        url: String,
        /// POSTs made, retries included.
        attempts: u32,
        /// Why the last attempt failed.
        reason: String,
        /// Whether the last attempt failed because the receiver did not answer in time.
        timed_out: bool,
    },
    /// A statistical test from `obesity-eval` rejected its input.
    #[error("statistics: {0}")]
    Eval(#[from] obesity_eval::EvalError),
}

/// Result with [`MonitorError`] as the default error.
pub type Result<T, E = MonitorError> = std::result::Result<T, E>;
