//! Run-search filters and order clauses, checked with the crate's own parser and re-written in
//! MLflow's canonical spelling before they are sent.
//!
//! Checking first means a bad filter is the same [`Error::Filter`](crate::Error::Filter)
//! (with a position) on every store; re-writing means the shorthands the crate accepts
//! (`metric.x`, bare `status`, `created`) reach the server in the one form every MLflow
//! version understands: `metrics.`key``, `attributes.status`, `attributes.start_time`.

use crate::error::Result;
use crate::search::{Comparator, Condition, Filter, OrderBy, RunAttribute, SearchKey, SearchValue};

/// The filter in MLflow's spelling, or `None` for a blank filter.
pub(crate) fn filter(input: &str) -> Result<Option<String>> {
    let parsed = Filter::parse(input)?;
    if parsed.conditions.is_empty() {
        return Ok(None);
    }
    let mut parts = Vec::with_capacity(parsed.conditions.len());
    for c in &parsed.conditions {
        match condition(c) {
            Some(text) => parts.push(text),
            // A value MLflow's grammar cannot quote: send what the user wrote.
            None => return Ok(Some(input.to_string())),
        }
    }
    Ok(Some(parts.join(" AND ")))
}

/// One order clause in MLflow's spelling.
pub(crate) fn order_by(input: &str) -> Result<String> {
    let parsed = OrderBy::parse(input)?;
    let dir = if parsed.ascending { "ASC" } else { "DESC" };
    Ok(format!("{} {dir}", key(&parsed.key)))
}

fn condition(c: &Condition) -> Option<String> {
    let op = match c.comparator {
        Comparator::Eq => "=",
        Comparator::Ne => "!=",
        Comparator::Lt => "<",
        Comparator::Le => "<=",
        Comparator::Gt => ">",
        Comparator::Ge => ">=",
        Comparator::Like => "LIKE",
        Comparator::ILike => "ILIKE",
    };
    let value = match &c.value {
        SearchValue::Number(x) if x.is_finite() => format!("{x}"),
        SearchValue::Number(_) => return None,
        SearchValue::Text(s) if !s.contains('\'') => format!("'{s}'"),
        SearchValue::Text(s) if !s.contains('"') => format!("\"{s}\""),
        SearchValue::Text(_) => return None,
    };
    Some(format!("{} {op} {value}", key(&c.key)))
}

fn key(k: &SearchKey) -> String {
    match k {
        SearchKey::Metric(name) => format!("metrics.{}", quote_key(name)),
        SearchKey::Param(name) => format!("params.{}", quote_key(name)),
        SearchKey::Tag(name) => format!("tags.{}", quote_key(name)),
        SearchKey::Attribute(a) => format!("attributes.{}", attribute(*a)),
    }
}

/// Keys go in backticks unless they are plain identifiers (MLflow's own rule).
fn quote_key(name: &str) -> String {
    let plain = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if plain || name.contains('`') {
        name.to_string()
    } else {
        format!("`{name}`")
    }
}

fn attribute(a: RunAttribute) -> &'static str {
    match a {
        RunAttribute::RunId => "run_id",
        RunAttribute::RunName => "run_name",
        RunAttribute::Status => "status",
        RunAttribute::UserId => "user_id",
        RunAttribute::ArtifactUri => "artifact_uri",
        RunAttribute::StartTime => "start_time",
        RunAttribute::EndTime => "end_time",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn shorthands_are_rewritten_in_mlflow_spelling() {
        assert_eq!(
            filter("metric.accuracy > 0.9 and param.max_depth = '10' and status = 'FINISHED'")
                .unwrap()
                .unwrap(),
            "metrics.accuracy > 0.9 AND params.max_depth = '10' AND attributes.status = 'FINISHED'"
        );
        assert_eq!(
            filter("tags.`my tag` LIKE 'a%' and metrics.`f1 macro` <= -0.5")
                .unwrap()
                .unwrap(),
            "tags.`my tag` LIKE 'a%' AND metrics.`f1 macro` <= -0.5"
        );
        assert_eq!(filter("   ").unwrap(), None);
        assert_eq!(order_by("metric.acc desc").unwrap(), "metrics.acc DESC");
        assert_eq!(order_by("created").unwrap(), "attributes.start_time ASC");
    }

    #[test]
    fn quotes_inside_values_switch_the_quote_character() {
        assert_eq!(
            filter(r#"tags.note = "it's""#).unwrap().unwrap(),
            r#"tags.note = "it's""#
        );
    }

    #[test]
    fn bad_filters_are_filter_errors_before_anything_is_sent() {
        assert!(matches!(
            filter("metrics.acc >> 1"),
            Err(Error::Filter { .. })
        ));
        assert!(matches!(
            order_by("metrics.acc sideways"),
            Err(Error::Filter { .. })
        ));
    }
}
