//! Text tables and JSON for the commands' output.

use std::collections::BTreeSet;

use obesity_registry::{Experiment, Lineage, ModelVersion, RegisteredModel, Run};
use serde::Serialize;

use crate::commands::BoxError;

/// Pretty JSON followed by a newline.
pub(crate) fn json<T: Serialize + ?Sized>(value: &T) -> Result<String, BoxError> {
    Ok(format!("{}\n", serde_json::to_string_pretty(value)?))
}

/// Left-aligned columns separated by two spaces.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let s: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:w$}"))
            .collect();
        format!("{}\n", s.join("  ").trim_end())
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    for r in rows {
        out.push_str(&line(r.clone()));
    }
    out
}

/// `YYYY-MM-DD HH:MM:SS` in UTC.
fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(
        || ms.to_string(),
        |d| d.format("%Y-%m-%d %H:%M:%S").to_string(),
    )
}

pub(crate) fn models(models: &[RegisteredModel]) -> String {
    if models.is_empty() {
        return "no registered models\n".into();
    }
    let rows: Vec<Vec<String>> = models
        .iter()
        .map(|m| {
            let latest = m.latest_versions.iter().map(|v| v.version).max();
            let stages: Vec<String> = m
                .latest_versions
                .iter()
                .map(|v| format!("{}:v{}", v.current_stage, v.version))
                .collect();
            let aliases: Vec<String> = m.aliases.iter().map(|(a, v)| format!("{a}=v{v}")).collect();
            vec![
                m.name.clone(),
                latest.map_or("-".into(), |v| v.to_string()),
                stages.join(" "),
                aliases.join(" "),
                time(m.last_updated_timestamp),
            ]
        })
        .collect();
    table(&["NAME", "LATEST", "STAGES", "ALIASES", "UPDATED"], &rows)
}

/// The experiments table: id, name, stage, creation time, artifact location.
pub(crate) fn experiments(experiments: &[Experiment]) -> String {
    if experiments.is_empty() {
        return "no experiments\n".into();
    }
    let rows: Vec<Vec<String>> = experiments
        .iter()
        .map(|e| {
            vec![
                e.experiment_id.clone(),
                e.name.clone(),
                e.lifecycle_stage.as_str().to_string(),
                e.creation_time.map_or("-".into(), time),
                e.artifact_location.clone(),
            ]
        })
        .collect();
    table(&["ID", "NAME", "STAGE", "CREATED", "ARTIFACTS"], &rows)
}

/// The versions table; `lineages` holds each version's lineage (same order), from which
/// the accuracy and the data (fingerprint, shortened) are shown.
pub(crate) fn versions(versions: &[ModelVersion], lineages: &[Lineage]) -> String {
    if versions.is_empty() {
        return "no versions\n".into();
    }
    let rows: Vec<Vec<String>> = versions
        .iter()
        .zip(lineages)
        .map(|(v, l)| {
            vec![
                v.version.to_string(),
                v.current_stage.to_string(),
                v.aliases.join(","),
                v.status.as_str().to_string(),
                l.metrics
                    .get("accuracy")
                    .map_or_else(|| "-".into(), |a| format!("{a:.4}")),
                l.data_fingerprint
                    .as_deref()
                    .map_or_else(|| "-".into(), |f| f.get(..12).unwrap_or(f).to_owned()),
                v.run_id.clone().unwrap_or_else(|| "-".into()),
                time(v.creation_timestamp),
            ]
        })
        .collect();
    table(
        &[
            "VERSION", "STAGE", "ALIASES", "STATUS", "ACCURACY", "DATA", "RUN", "CREATED",
        ],
        &rows,
    )
}

/// One column of `registry runs`.
enum RunColumn {
    RunId,
    Name,
    Status,
    Start,
    Metric(String),
    Param(String),
    Tag(String),
}

impl RunColumn {
    fn parse(spec: &str) -> Result<Self, BoxError> {
        let spec = spec.trim();
        Ok(match spec {
            "run_id" => RunColumn::RunId,
            "name" | "run_name" => RunColumn::Name,
            "status" => RunColumn::Status,
            "start" | "start_time" => RunColumn::Start,
            _ => match spec.split_once('.') {
                Some(("metrics" | "metric", k)) if !k.is_empty() => RunColumn::Metric(k.into()),
                Some(("params" | "param", k)) if !k.is_empty() => RunColumn::Param(k.into()),
                Some(("tags" | "tag", k)) if !k.is_empty() => RunColumn::Tag(k.into()),
                _ => {
                    return Err(format!(
                        "unknown column `{spec}`; expected run_id, name, status, start, \
                         metrics.KEY, params.KEY or tags.KEY"
                    )
                    .into());
                }
            },
        })
    }

    fn header(&self) -> String {
        match self {
            RunColumn::RunId => "RUN_ID".into(),
            RunColumn::Name => "NAME".into(),
            RunColumn::Status => "STATUS".into(),
            RunColumn::Start => "START".into(),
            RunColumn::Metric(k) => k.clone(),
            RunColumn::Param(k) => format!("params.{k}"),
            RunColumn::Tag(k) => format!("tags.{k}"),
        }
    }

    fn cell(&self, r: &Run) -> String {
        match self {
            RunColumn::RunId => r.info.run_id.clone(),
            RunColumn::Name => r.info.run_name.clone(),
            RunColumn::Status => r.info.status.to_string(),
            RunColumn::Start => r.info.start_time.map_or("-".into(), time),
            RunColumn::Metric(k) => r.metric(k).map_or("-".into(), number),
            RunColumn::Param(k) => r.param(k).unwrap_or("-").to_owned(),
            RunColumn::Tag(k) => r.tag(k).unwrap_or("-").to_owned(),
        }
    }
}

/// A metric at a readable precision: 4 decimals, or 3 significant digits in scientific
/// notation for magnitudes below 0.001 (a p-value, a tiny loss) or of 10^6 and more.
pub(crate) fn number(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 || (1e-3..1e6).contains(&a) || !v.is_finite() {
        format!("{v:.4}")
    } else {
        format!("{v:.3e}")
    }
}

/// `registry runs` as a table: the chosen columns, or run_id, name, status, start and every
/// metric present in any run.
pub(crate) fn runs(runs: &[Run], columns: &[String]) -> Result<String, BoxError> {
    let columns: Vec<RunColumn> = if columns.is_empty() {
        let metric_keys: BTreeSet<&str> = runs
            .iter()
            .flat_map(|r| r.data.metrics.keys().map(String::as_str))
            .collect();
        [
            RunColumn::RunId,
            RunColumn::Name,
            RunColumn::Status,
            RunColumn::Start,
        ]
        .into_iter()
        .chain(metric_keys.into_iter().map(|k| RunColumn::Metric(k.into())))
        .collect()
    } else {
        columns
            .iter()
            .map(|c| RunColumn::parse(c))
            .collect::<Result<_, _>>()?
    };
    if runs.is_empty() {
        return Ok("no runs match\n".into());
    }
    let header: Vec<String> = columns.iter().map(RunColumn::header).collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| columns.iter().map(|c| c.cell(r)).collect())
        .collect();
    Ok(table(&header, &rows))
}

#[cfg(test)]
mod tests {
    use super::{number, time};

    #[test]
    fn numbers_keep_a_readable_precision() {
        assert_eq!(number(0.91234567), "0.9123");
        assert_eq!(number(0.0), "0.0000");
        assert_eq!(number(0.00001234), "1.234e-5");
        assert_eq!(number(-3.5), "-3.5000");
        assert_eq!(number(12_345_678.0), "1.235e7");
        assert_eq!(number(f64::NAN), "NaN");
    }

    #[test]
    fn formats_utc_times() {
        assert_eq!(time(0), "1970-01-01 00:00:00");
        assert_eq!(time(1_700_000_000_000), "2023-11-14 22:13:20");
        assert_eq!(time(951_782_400_000), "2000-02-29 00:00:00");
    }
}
