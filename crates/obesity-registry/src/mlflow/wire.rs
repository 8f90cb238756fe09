//! The JSON shapes of MLflow's REST API (as served by MLflow 3.x) and their conversion to the
//! crate's store types.
//!
//! MLflow's JSON is lenient in ways a strict decoder trips on: lists that are empty are left
//! out, ids and version numbers are strings, a metric value is a number or one of the strings
//! `"NaN"`, `"Infinity"`, `"-Infinity"`, and empty descriptions come back as `""`. Every
//! struct here defaults what MLflow may omit.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{Error, Result};
use crate::store::{
    Experiment, FileInfo, LifecycleStage, Metric, ModelVersion, ModelVersionStatus,
    RegisteredModel, Run, RunData, RunInfo, RunStatus, Stage, Tag,
};

/// A key/value pair as MLflow sends tags and params.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub(crate) struct KeyValue {
    pub(crate) key: String,
    #[serde(default)]
    pub(crate) value: String,
}

impl From<&Tag> for KeyValue {
    fn from(t: &Tag) -> Self {
        KeyValue {
            key: t.key.clone(),
            value: t.value.clone(),
        }
    }
}

fn to_map(pairs: Vec<KeyValue>) -> BTreeMap<String, String> {
    pairs.into_iter().map(|kv| (kv.key, kv.value)).collect()
}

/// `Some(s)` unless `s` is empty: MLflow sends `""` for "not set".
fn non_empty(s: String) -> Option<String> {
    if s.is_empty() { None } else { Some(s) }
}

/// An int64 that MLflow may send as a number or, protobuf-JSON style, as a string.
fn de_opt_i64<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumOrStr {
        Num(i64),
        Str(String),
    }
    match Option::<NumOrStr>::deserialize(d)? {
        None => Ok(None),
        Some(NumOrStr::Num(n)) => Ok(Some(n)),
        Some(NumOrStr::Str(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("expected an integer, got {s:?}"))),
    }
}

/// A metric value: a JSON number, or `"NaN"`, `"Infinity"`, `"-Infinity"`.
///
/// MLflow's SQL stores keep ±infinity as ±`f64::MAX` (SQL has no infinity), so ±`f64::MAX`
/// is read back as ±infinity: that restores what was logged, at the price of misreading a
/// genuine metric of exactly 1.7976931348623157e308.
fn de_metric_value<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumOrStr {
        Num(f64),
        Str(String),
    }
    let v = match NumOrStr::deserialize(d)? {
        NumOrStr::Num(n) => n,
        NumOrStr::Str(s) => parse_special_float(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "expected a number, \"NaN\", \"Infinity\" or \"-Infinity\", got {s:?}"
            ))
        })?,
    };
    Ok(if v == f64::MAX {
        f64::INFINITY
    } else if v == f64::MIN {
        f64::NEG_INFINITY
    } else {
        v
    })
}

fn parse_special_float(s: &str) -> Option<f64> {
    match s {
        "NaN" | "nan" => Some(f64::NAN),
        "Infinity" | "inf" | "+Infinity" => Some(f64::INFINITY),
        "-Infinity" | "-inf" => Some(f64::NEG_INFINITY),
        other => other.parse().ok(),
    }
}

/// A metric value as the server accepts it: a number, or a string for NaN and ±infinity.
pub(crate) fn metric_value_json(v: f64) -> serde_json::Value {
    if v.is_nan() {
        serde_json::Value::from("NaN")
    } else if v == f64::INFINITY {
        serde_json::Value::from("Infinity")
    } else if v == f64::NEG_INFINITY {
        serde_json::Value::from("-Infinity")
    } else {
        serde_json::Value::from(v)
    }
}

/// A metric as sent to `runs/log-batch`.
pub(crate) fn metric_json(m: &Metric) -> serde_json::Value {
    serde_json::json!({
        "key": m.key,
        "value": metric_value_json(m.value),
        "timestamp": m.timestamp_ms,
        "step": m.step,
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireMetric {
    key: String,
    #[serde(deserialize_with = "de_metric_value")]
    value: f64,
    #[serde(default, deserialize_with = "de_opt_i64")]
    timestamp: Option<i64>,
    #[serde(default, deserialize_with = "de_opt_i64")]
    step: Option<i64>,
}

impl From<WireMetric> for Metric {
    fn from(m: WireMetric) -> Self {
        Metric {
            key: m.key,
            value: m.value,
            timestamp_ms: m.timestamp.unwrap_or(0),
            step: m.step.unwrap_or(0),
        }
    }
}

fn parse_lifecycle(s: &str, url: &str) -> Result<LifecycleStage> {
    if s.is_empty() {
        return Ok(LifecycleStage::Active);
    }
    s.parse().map_err(|_| Error::Protocol {
        url: url.to_string(),
        reason: format!("unknown lifecycle_stage {s:?}"),
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireExperiment {
    experiment_id: String,
    name: String,
    #[serde(default)]
    artifact_location: String,
    #[serde(default)]
    lifecycle_stage: String,
    #[serde(default, deserialize_with = "de_opt_i64")]
    creation_time: Option<i64>,
    #[serde(default, deserialize_with = "de_opt_i64")]
    last_update_time: Option<i64>,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

impl WireExperiment {
    pub(crate) fn into_experiment(self, url: &str) -> Result<Experiment> {
        Ok(Experiment {
            lifecycle_stage: parse_lifecycle(&self.lifecycle_stage, url)?,
            experiment_id: self.experiment_id,
            name: self.name,
            artifact_location: self.artifact_location,
            creation_time: self.creation_time,
            last_update_time: self.last_update_time,
            tags: to_map(self.tags),
        })
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireRunInfo {
    #[serde(default)]
    run_id: String,
    #[serde(default)]
    run_uuid: String,
    experiment_id: String,
    #[serde(default)]
    run_name: String,
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    status: String,
    #[serde(default, deserialize_with = "de_opt_i64")]
    start_time: Option<i64>,
    #[serde(default, deserialize_with = "de_opt_i64")]
    end_time: Option<i64>,
    #[serde(default)]
    artifact_uri: String,
    #[serde(default)]
    lifecycle_stage: String,
}

impl WireRunInfo {
    pub(crate) fn into_info(self, url: &str) -> Result<RunInfo> {
        let status = if self.status.is_empty() {
            RunStatus::Running
        } else {
            self.status.parse().map_err(|_| Error::Protocol {
                url: url.to_string(),
                reason: format!("unknown run status {:?}", self.status),
            })?
        };
        let run_id = if self.run_id.is_empty() {
            self.run_uuid
        } else {
            self.run_id
        };
        Ok(RunInfo {
            lifecycle_stage: parse_lifecycle(&self.lifecycle_stage, url)?,
            run_id,
            experiment_id: self.experiment_id,
            run_name: self.run_name,
            user_id: self.user_id,
            status,
            start_time: self.start_time,
            end_time: self.end_time,
            artifact_uri: self.artifact_uri,
        })
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct WireRunData {
    #[serde(default)]
    metrics: Vec<WireMetric>,
    #[serde(default)]
    params: Vec<KeyValue>,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireRun {
    info: WireRunInfo,
    #[serde(default)]
    data: WireRunData,
}

impl WireRun {
    pub(crate) fn into_run(self, url: &str) -> Result<Run> {
        let mut metrics = BTreeMap::new();
        for m in self.data.metrics {
            let m = Metric::from(m);
            metrics.insert(m.key.clone(), m);
        }
        Ok(Run {
            info: self.info.into_info(url)?,
            data: RunData {
                metrics,
                params: to_map(self.data.params),
                tags: to_map(self.data.tags),
            },
        })
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireAlias {
    alias: String,
    version: String,
}

fn parse_version(v: &str, url: &str) -> Result<u64> {
    v.trim().parse().map_err(|_| Error::Protocol {
        url: url.to_string(),
        reason: format!("model version {v:?} is not a positive integer"),
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireRegisteredModel {
    name: String,
    #[serde(default, deserialize_with = "de_opt_i64")]
    creation_timestamp: Option<i64>,
    #[serde(default, deserialize_with = "de_opt_i64")]
    last_updated_timestamp: Option<i64>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    latest_versions: Vec<WireModelVersion>,
    #[serde(default)]
    tags: Vec<KeyValue>,
    #[serde(default)]
    aliases: Vec<WireAlias>,
}

impl WireRegisteredModel {
    pub(crate) fn into_model(self, url: &str) -> Result<RegisteredModel> {
        let mut aliases = BTreeMap::new();
        for a in self.aliases {
            aliases.insert(a.alias, parse_version(&a.version, url)?);
        }
        let mut latest_versions = self
            .latest_versions
            .into_iter()
            .map(|v| v.into_version(url))
            .collect::<Result<Vec<_>>>()?;
        // `latest_versions` carries no aliases on the wire; the model's alias list does.
        for v in &mut latest_versions {
            v.aliases = aliases_of(&aliases, v.version);
        }
        Ok(RegisteredModel {
            name: self.name,
            creation_timestamp: self.creation_timestamp.unwrap_or(0),
            last_updated_timestamp: self.last_updated_timestamp.unwrap_or(0),
            description: non_empty(self.description),
            latest_versions,
            tags: to_map(self.tags),
            aliases,
        })
    }
}

/// The aliases in `aliases` that point at `version`, sorted.
pub(crate) fn aliases_of(aliases: &BTreeMap<String, u64>, version: u64) -> Vec<String> {
    aliases
        .iter()
        .filter(|(_, v)| **v == version)
        .map(|(a, _)| a.clone())
        .collect()
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireModelVersion {
    name: String,
    version: String,
    #[serde(default, deserialize_with = "de_opt_i64")]
    creation_timestamp: Option<i64>,
    #[serde(default, deserialize_with = "de_opt_i64")]
    last_updated_timestamp: Option<i64>,
    #[serde(default)]
    current_stage: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    run_id: String,
    #[serde(default)]
    run_link: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    status_message: String,
    #[serde(default)]
    tags: Vec<KeyValue>,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    model_id: String,
}

impl WireModelVersion {
    pub(crate) fn into_version(self, url: &str) -> Result<ModelVersion> {
        let current_stage = if self.current_stage.is_empty() {
            Stage::None
        } else {
            self.current_stage.parse().map_err(|_| Error::Protocol {
                url: url.to_string(),
                reason: format!("unknown stage {:?}", self.current_stage),
            })?
        };
        let status = if self.status.is_empty() {
            ModelVersionStatus::Ready
        } else {
            self.status.parse().map_err(|_| Error::Protocol {
                url: url.to_string(),
                reason: format!("unknown model version status {:?}", self.status),
            })?
        };
        let mut aliases = self.aliases;
        aliases.sort();
        Ok(ModelVersion {
            version: parse_version(&self.version, url)?,
            name: self.name,
            creation_timestamp: self.creation_timestamp.unwrap_or(0),
            last_updated_timestamp: self.last_updated_timestamp.unwrap_or(0),
            current_stage,
            description: non_empty(self.description),
            user_id: non_empty(self.user_id),
            source: self.source,
            run_id: non_empty(self.run_id),
            run_link: non_empty(self.run_link),
            status,
            status_message: non_empty(self.status_message),
            tags: to_map(self.tags),
            aliases,
            model_id: non_empty(self.model_id),
        })
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireFileInfo {
    path: String,
    #[serde(default)]
    is_dir: bool,
    #[serde(default, deserialize_with = "de_opt_i64")]
    file_size: Option<i64>,
}

impl From<WireFileInfo> for FileInfo {
    fn from(f: WireFileInfo) -> Self {
        FileInfo {
            path: f.path,
            is_dir: f.is_dir,
            file_size: if f.is_dir {
                None
            } else {
                f.file_size.and_then(|s| u64::try_from(s).ok())
            },
        }
    }
}

// ---- response envelopes ---------------------------------------------------------------

#[derive(Debug, Deserialize)]
pub(crate) struct CreateExperimentResponse {
    pub(crate) experiment_id: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ExperimentResponse {
    pub(crate) experiment: WireExperiment,
}

#[derive(Debug, Deserialize)]
pub(crate) struct SearchExperimentsResponse {
    #[serde(default)]
    pub(crate) experiments: Vec<WireExperiment>,
    #[serde(default)]
    pub(crate) next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RunResponse {
    pub(crate) run: WireRun,
}

#[derive(Debug, Deserialize)]
pub(crate) struct UpdateRunResponse {
    pub(crate) run_info: WireRunInfo,
}

#[derive(Debug, Deserialize)]
pub(crate) struct SearchRunsResponse {
    #[serde(default)]
    pub(crate) runs: Vec<WireRun>,
    #[serde(default)]
    pub(crate) next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct MetricHistoryResponse {
    #[serde(default)]
    pub(crate) metrics: Vec<WireMetric>,
    #[serde(default)]
    pub(crate) next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListArtifactsResponse {
    #[serde(default)]
    pub(crate) files: Vec<WireFileInfo>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RegisteredModelResponse {
    pub(crate) registered_model: WireRegisteredModel,
}

#[derive(Debug, Deserialize)]
pub(crate) struct SearchRegisteredModelsResponse {
    #[serde(default)]
    pub(crate) registered_models: Vec<WireRegisteredModel>,
    #[serde(default)]
    pub(crate) next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ModelVersionResponse {
    pub(crate) model_version: WireModelVersion,
}

#[derive(Debug, Deserialize)]
pub(crate) struct SearchModelVersionsResponse {
    #[serde(default)]
    pub(crate) model_versions: Vec<WireModelVersion>,
    #[serde(default)]
    pub(crate) next_page_token: Option<String>,
}

/// The `{}` that most write endpoints answer.
#[derive(Debug, Deserialize)]
pub(crate) struct Empty {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_values_come_as_numbers_or_strings() {
        let ms: Vec<WireMetric> = serde_json::from_str(
            r#"[{"key":"a","value":0.5,"timestamp":1,"step":2},
                {"key":"b","value":"NaN","timestamp":"3"},
                {"key":"c","value":"Infinity"},
                {"key":"d","value":"-Infinity"},
                {"key":"e","value":1.7976931348623157e308},
                {"key":"f","value":-1.7976931348623157e308}]"#,
        )
        .unwrap();
        let ms: Vec<Metric> = ms.into_iter().map(Metric::from).collect();
        assert_eq!((ms[0].value, ms[0].timestamp_ms, ms[0].step), (0.5, 1, 2));
        assert!(ms[1].value.is_nan());
        assert_eq!((ms[1].timestamp_ms, ms[1].step), (3, 0));
        assert_eq!(ms[2].value, f64::INFINITY);
        assert_eq!(ms[3].value, f64::NEG_INFINITY);
        assert_eq!(ms[4].value, f64::INFINITY);
        assert_eq!(ms[5].value, f64::NEG_INFINITY);
    }

    #[test]
    fn a_metric_value_that_is_no_number_is_an_error() {
        let r: std::result::Result<WireMetric, _> =
            serde_json::from_str(r#"{"key":"a","value":"lots"}"#);
        assert!(r.unwrap_err().to_string().contains("lots"));
    }

    #[test]
    fn special_floats_are_sent_as_strings() {
        assert_eq!(metric_value_json(f64::NAN), serde_json::json!("NaN"));
        assert_eq!(
            metric_value_json(f64::INFINITY),
            serde_json::json!("Infinity")
        );
        assert_eq!(
            metric_value_json(f64::NEG_INFINITY),
            serde_json::json!("-Infinity")
        );
        assert_eq!(metric_value_json(0.25), serde_json::json!(0.25));
    }

    #[test]
    fn absent_lists_and_empty_strings_mean_empty() {
        let v: WireModelVersion =
            serde_json::from_str(r#"{"name":"m","version":"3","description":"","run_id":""}"#)
                .unwrap();
        let v = v.into_version("u").unwrap();
        assert_eq!(v.version, 3);
        assert_eq!(v.description, None);
        assert_eq!(v.run_id, None);
        assert_eq!(v.current_stage, Stage::None);
        assert!(v.tags.is_empty() && v.aliases.is_empty());
        let r: RunResponse =
            serde_json::from_str(r#"{"run":{"info":{"run_uuid":"ab","experiment_id":"1"}}}"#)
                .unwrap();
        let run = r.run.into_run("u").unwrap();
        assert_eq!(run.info.run_id, "ab");
        assert_eq!(run.info.status, RunStatus::Running);
        assert!(run.data.metrics.is_empty());
    }

    #[test]
    fn malformed_fields_are_protocol_errors_naming_the_value() {
        let v: WireModelVersion = serde_json::from_str(r#"{"name":"m","version":"x"}"#).unwrap();
        let e = v.into_version("GET u").unwrap_err();
        assert!(matches!(e, Error::Protocol { ref reason, .. } if reason.contains("\"x\"")));
        let v: WireModelVersion =
            serde_json::from_str(r#"{"name":"m","version":"1","current_stage":"Prod"}"#).unwrap();
        assert!(matches!(v.into_version("u"), Err(Error::Protocol { .. })));
        let i: WireRunInfo =
            serde_json::from_str(r#"{"run_id":"a","experiment_id":"1","status":"DONE"}"#).unwrap();
        assert!(matches!(i.into_info("u"), Err(Error::Protocol { .. })));
    }

    #[test]
    fn aliases_are_attached_to_latest_versions() {
        let m: WireRegisteredModel = serde_json::from_str(
            r#"{"name":"m","latest_versions":[{"name":"m","version":"2"}],
                "aliases":[{"alias":"champion","version":"2"},{"alias":"old","version":"1"}]}"#,
        )
        .unwrap();
        let m = m.into_model("u").unwrap();
        assert_eq!(m.aliases.get("champion"), Some(&2));
        assert_eq!(m.latest_versions[0].aliases, vec!["champion".to_string()]);
    }
}
