//! Carrying out each command against the store named by the tracking URI.

use obesity_registry::{PromotionPolicy, Registry, Stage, Tracker, open_store};

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
        } => {
            let policy = PromotionPolicy {
                metric: metric.clone(),
                higher_is_better: !lower_is_better,
                production_threshold: *production,
                staging_threshold: *staging,
                ..PromotionPolicy::default()
            };
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
                render::runs(&runs)
            }
        }
    };
    Ok(out)
}
