//! MLflow 3's lineage records: the datasets a run read ([`DatasetInput`], MLflow's
//! `LogInputs`) and the logged model a run produced ([`LoggedModel`], MLflow's
//! `CreateLoggedModel` / `LogOutputs` / `FinalizeLoggedModel`), which the run page shows as
//! "Datasets" and "Logged models" and a model version links to by `model_id`.

use std::collections::BTreeMap;

use obesity_data::{ColumnKind, Schema};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::{Error, Result};
use crate::mlmodel::{ColSpec, ColumnType, colspec_json};
use crate::store::Tag;

/// MLflow's input tag naming what a dataset was used for (`training`, `evaluation` ...).
pub const DATASET_CONTEXT_TAG: &str = "mlflow.data.context";

/// MLflow's limit on a dataset digest (`MAX_DATASET_DIGEST_SIZE`).
pub const MAX_DATASET_DIGEST_LEN: usize = 36;
/// MLflow's limit on a dataset name.
pub const MAX_DATASET_NAME_LEN: usize = 500;

/// A dataset a run read, with its input tags (MLflow's `DatasetInput`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetInput {
    /// The dataset's name (e.g. the file's stem).
    pub name: String,
    /// A short content hash; MLflow keeps at most [`MAX_DATASET_DIGEST_LEN`] characters.
    pub digest: String,
    /// Where it lives, as MLflow names source kinds (`local`, `http`, `s3` ...).
    pub source_type: String,
    /// The source as MLflow's JSON (`{"uri": "/data/obesity.csv"}`).
    pub source: String,
    /// The columns as MLflow's JSON (`{"mlflow_colspec": [...]}`), if known.
    pub schema: Option<String>,
    /// A JSON profile (`{"num_rows": ..., "num_elements": ...}`), if known.
    pub profile: Option<String>,
    /// Input tags; [`DATASET_CONTEXT_TAG`] says what the run used it for.
    pub tags: Vec<Tag>,
}

impl DatasetInput {
    /// A local file the run trained on: source type `local`, source `{"uri": path}`, the
    /// input tag `mlflow.data.context = training`.
    pub fn training(name: impl Into<String>, digest: impl Into<String>, path: &str) -> Self {
        DatasetInput {
            name: name.into(),
            digest: digest.into(),
            source_type: "local".into(),
            source: json!({ "uri": path }).to_string(),
            schema: None,
            profile: None,
            tags: vec![Tag::new(DATASET_CONTEXT_TAG, "training")],
        }
    }

    /// The schema of a table with `schema`'s columns (numbers `double`, yes/no and category
    /// columns `string`, the target included), as MLflow's pandas datasets write it.
    pub fn with_schema(mut self, schema: &Schema) -> Self {
        let columns: Vec<ColSpec> = schema
            .columns
            .iter()
            .map(|c| {
                let t = match c.kind {
                    ColumnKind::Numeric { .. } => ColumnType::Double,
                    ColumnKind::Binary | ColumnKind::Categorical { .. } => ColumnType::String,
                };
                ColSpec::new(&c.name, t)
            })
            .collect();
        let list: serde_json::Value =
            serde_json::from_str(&colspec_json(&columns)).unwrap_or_default();
        self.schema = Some(json!({ "mlflow_colspec": list }).to_string());
        self
    }

    /// A profile: rows and cells (`num_rows`, `num_elements`, as MLflow's pandas datasets),
    /// plus any other key (e.g. the full fingerprint when the digest is a prefix of it).
    pub fn with_profile(
        mut self,
        rows: usize,
        columns: usize,
        extra: &BTreeMap<String, String>,
    ) -> Self {
        let mut p = serde_json::Map::new();
        p.insert("num_rows".into(), json!(rows));
        p.insert("num_elements".into(), json!(rows.saturating_mul(columns)));
        for (k, v) in extra {
            p.insert(k.clone(), json!(v));
        }
        self.profile = Some(serde_json::Value::Object(p).to_string());
        self
    }

    /// Checks MLflow's limits (the server refuses more), naming the field.
    pub fn validate(&self) -> Result<()> {
        let check = |field: &'static str, value: &str, max: usize, expected: &'static str| {
            if value.is_empty() || value.chars().count() > max {
                Err(Error::InvalidValue {
                    field,
                    value: value.chars().take(80).collect(),
                    expected,
                })
            } else {
                Ok(())
            }
        };
        check(
            "dataset name",
            &self.name,
            MAX_DATASET_NAME_LEN,
            "1 to 500 characters",
        )?;
        check(
            "dataset digest",
            &self.digest,
            MAX_DATASET_DIGEST_LEN,
            "1 to 36 characters (MLflow's limit; use a prefix of a longer hash)",
        )?;
        check(
            "dataset source_type",
            &self.source_type,
            36,
            "1 to 36 characters, such as local",
        )?;
        for (field, text) in [
            ("dataset source", Some(&self.source)),
            ("dataset schema", self.schema.as_ref()),
            ("dataset profile", self.profile.as_ref()),
        ] {
            if let Some(t) = text
                && serde_json::from_str::<serde_json::Value>(t).is_err()
            {
                return Err(Error::InvalidValue {
                    field,
                    value: t.chars().take(80).collect(),
                    expected: "a JSON document",
                });
            }
        }
        Ok(())
    }
}

/// The state of a logged model (MLflow's `LoggedModelStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LoggedModelStatus {
    /// Its files are being written.
    Pending,
    /// Complete.
    Ready,
    /// Writing its files failed.
    Failed,
}

impl LoggedModelStatus {
    /// MLflow's integer code in the file store (`PENDING` 1, `READY` 2, `FAILED` 3).
    pub fn code(self) -> i64 {
        match self {
            LoggedModelStatus::Pending => 1,
            LoggedModelStatus::Ready => 2,
            LoggedModelStatus::Failed => 3,
        }
    }

    /// MLflow's REST spelling (`LOGGED_MODEL_PENDING`, `LOGGED_MODEL_READY`,
    /// `LOGGED_MODEL_UPLOAD_FAILED`).
    pub fn as_rest(self) -> &'static str {
        match self {
            LoggedModelStatus::Pending => "LOGGED_MODEL_PENDING",
            LoggedModelStatus::Ready => "LOGGED_MODEL_READY",
            LoggedModelStatus::Failed => "LOGGED_MODEL_UPLOAD_FAILED",
        }
    }
}

/// Arguments of [`Store::create_logged_model`](crate::Store::create_logged_model).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CreateLoggedModel {
    /// The run that produced the model (its experiment holds the record).
    pub source_run_id: String,
    /// The model's name (MLflow's `name=` of `log_model`; we use the artifact folder).
    pub name: String,
    /// The run-relative folder that holds the model's files: the record points there
    /// instead of copying them.
    pub artifact_path: String,
    /// Params shown on the model's page (MLflow copies the run's).
    pub params: BTreeMap<String, String>,
    /// Metrics shown on the model's page and its versions' pages, at step 0.
    pub metrics: BTreeMap<String, f64>,
    /// Tags.
    pub tags: Vec<Tag>,
}

/// A logged model: MLflow 3's record of a model a run produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedModel {
    /// `m-` and 32 hex digits.
    pub model_id: String,
    /// The experiment of its run.
    pub experiment_id: String,
    /// Its name.
    pub name: String,
    /// Where its files are (a URI).
    pub artifact_location: String,
    /// The run that produced it.
    pub source_run_id: Option<String>,
    /// Its state.
    pub status: LoggedModelStatus,
}

/// A new logged model id, as MLflow makes them (`m-` + a random UUID's 32 hex digits).
pub(crate) fn new_logged_model_id() -> String {
    format!("m-{}", uuid::Uuid::new_v4().simple())
}

/// Whether `id` has the shape of a logged model id (it becomes a folder name).
pub(crate) fn valid_logged_model_id(id: &str) -> bool {
    id.strip_prefix("m-").is_some_and(|hex| {
        hex.len() == 32
            && hex
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    })
}
