//! Text tables and JSON for the commands' output.

use std::collections::BTreeSet;

use obesity_registry::{ModelVersion, RegisteredModel, Run};
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

pub(crate) fn versions(versions: &[ModelVersion]) -> String {
    if versions.is_empty() {
        return "no versions\n".into();
    }
    let rows: Vec<Vec<String>> = versions
        .iter()
        .map(|v| {
            vec![
                v.version.to_string(),
                v.current_stage.to_string(),
                v.aliases.join(","),
                v.status.as_str().to_string(),
                v.tags
                    .get("metric.accuracy")
                    .cloned()
                    .unwrap_or_else(|| "-".into()),
                v.run_id.clone().unwrap_or_else(|| "-".into()),
                time(v.creation_timestamp),
            ]
        })
        .collect();
    table(
        &[
            "VERSION", "STAGE", "ALIASES", "STATUS", "ACCURACY", "RUN", "CREATED",
        ],
        &rows,
    )
}

pub(crate) fn runs(runs: &[Run]) -> String {
    if runs.is_empty() {
        return "no runs match\n".into();
    }
    // Show the metrics present in any run, as columns.
    let metric_keys: BTreeSet<&str> = runs
        .iter()
        .flat_map(|r| r.data.metrics.keys().map(String::as_str))
        .collect();
    let mut header = vec!["RUN_ID", "NAME", "STATUS", "START"];
    header.extend(metric_keys.iter().copied());
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            let mut row = vec![
                r.info.run_id.clone(),
                r.info.run_name.clone(),
                r.info.status.to_string(),
                r.info.start_time.map_or("-".into(), time),
            ];
            for k in &metric_keys {
                row.push(r.metric(k).map_or("-".into(), |v| format!("{v:.4}")));
            }
            row
        })
        .collect();
    table(&header, &rows)
}

#[cfg(test)]
mod tests {
    use super::time;

    #[test]
    fn formats_utc_times() {
        assert_eq!(time(0), "1970-01-01 00:00:00");
        assert_eq!(time(1_700_000_000_000), "2023-11-14 22:13:20");
        assert_eq!(time(951_782_400_000), "2000-02-29 00:00:00");
    }
}
