//! Carrying out each command against the store named by the tracking URI.

use obesity_registry::{
    Lineage, ModelVersion, PromotionDecision, PromotionPolicy, Registry, Stage, Tracker, open_store,
};

use crate::render;
use crate::{Command, RegistryCommand};

/// Any error a command can report; printed as `error: <message>`.
pub(crate) type BoxError = Box<dyn std::error::Error>;

/// Runs a command and returns what to print on stdout.
pub(crate) fn run(uri: &str, json: bool, command: &Command) -> Result<String, BoxError> {
    let Command::Registry(cmd) = command else {
        return Err("this command is not run through commands::run".into());
    };
    let store = open_store(uri)?;
    let registry = Registry::new(store.clone());
    let out = match cmd {
        RegistryCommand::List => {
            let models = registry.models()?;
            if json {
                render::json(&models)?
            } else {
                render::models(&models)
            }
        }
        RegistryCommand::Versions { name } => {
            let versions = registry.versions(name)?;
            if json {
                render::json(&versions)?
            } else {
                render::versions(&versions)
            }
        }
        RegistryCommand::Promote {
            name,
            version,
            stage,
            archive_existing,
        } => {
            let stage: Stage = stage.parse()?;
            let v = registry.transition(name, *version, stage, *archive_existing)?;
            if json {
                render::json(&v)?
            } else {
                format!(
                    "{name} version {} is now in stage {}\n",
                    v.version, v.current_stage
                )
            }
        }
        RegistryCommand::Alias {
            name,
            alias,
            version,
        } => {
            registry.set_alias(name, alias, *version)?;
            let v = registry.version(name, *version)?;
            if json {
                render::json(&v)?
            } else {
                format!("{name}@{alias} -> version {version}\n")
            }
        }
        RegistryCommand::DeleteAlias { name, alias } => {
            registry.delete_alias(name, alias)?;
            if json {
                render::json(&serde_json::json!({"name": name, "alias": alias, "deleted": true}))?
            } else {
                format!("deleted {name}@{alias}\n")
            }
        }
        RegistryCommand::Compare { name, v1, v2 } => {
            let c = registry.compare(name, *v1, *v2)?;
            if json {
                render::json(&c)?
            } else {
                c.to_string()
            }
        }
        RegistryCommand::Policy {
            name,
            version,
            metric,
            production,
            staging,
            lower_is_better,
            dry_run,
        } => {
            let policy = PromotionPolicy {
                metric: metric.clone(),
                higher_is_better: !lower_is_better,
                production_threshold: *production,
                staging_threshold: *staging,
                ..PromotionPolicy::default()
            };
            if *dry_run {
                let d = dry_run_decision(&registry, name, *version, &policy)?;
                return if json {
                    render::json(&serde_json::json!({"dry_run": true, "decision": d}))
                } else {
                    Ok(format!("dry run (nothing changed): {d}"))
                };
            }
            let d = registry.promote(name, *version, &policy)?;
            if json {
                render::json(&d)?
            } else {
                d.to_string()
            }
        }
        RegistryCommand::Runs {
            experiment,
            filter,
            order_by,
            max_results,
            columns,
        } => {
            let tracker = Tracker::new(store);
            let order: Vec<&str> = order_by.iter().map(String::as_str).collect();
            let runs = tracker.search_runs(
                experiment,
                filter.as_deref().unwrap_or(""),
                &order,
                *max_results,
            )?;
            if json {
                render::json(&runs)?
            } else {
                render::runs(&runs, columns)?
            }
        }
    };
    Ok(out)
}

/// What `registry.promote` would decide, computed from the same inputs (the version's
/// metric from its lineage, else its run; the champion's likewise) without changing anything.
fn dry_run_decision(
    registry: &Registry,
    name: &str,
    version: u64,
    policy: &PromotionPolicy,
) -> Result<PromotionDecision, BoxError> {
    policy.validate()?;
    let metric_of = |v: &ModelVersion| -> Result<Option<f64>, BoxError> {
        if let Some(x) = Lineage::from_version(v).metrics.get(&policy.metric) {
            return Ok(Some(*x));
        }
        match &v.run_id {
            Some(r) => Ok(registry.store().get_run(r)?.metric(&policy.metric)),
            None => Ok(None),
        }
    };
    let candidate = registry.version(name, version)?;
    let value = metric_of(&candidate)?.ok_or_else(|| {
        format!(
            "{name} version {version} has no metric `{}` (the policy needs it)",
            policy.metric
        )
    })?;
    let champion = match registry
        .store()
        .get_model_version_by_alias(name, &policy.champion_alias)
    {
        Ok(c) => Some((c.version, metric_of(&c)?)),
        Err(e) if e.is_not_found() => None,
        Err(e) => return Err(e.into()),
    };
    Ok(policy.decide(name, version, value, champion))
}
