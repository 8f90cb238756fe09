//! Carrying out each command against the store named by the tracking URI.

use obesity_mlops::params::Params;
use std::sync::Arc;

use obesity_registry::{Registry, Stage, Store, Tracker, ViewType, open_store};

use crate::render;
use crate::{Command, ExperimentsCommand, RegistryCommand, RunsArgs};

/// Any error a command can report; printed as `error: <message>`.
pub(crate) type BoxError = Box<dyn std::error::Error>;

/// Runs a command and returns what to print on stdout.
pub(crate) fn run(
    uri: &str,
    params: &Params,
    json: bool,
    command: &Command,
) -> Result<String, BoxError> {
    let cmd = match command {
        Command::Registry(cmd) => cmd,
        Command::Runs(args) => return runs(&open_store(uri)?, json, args),
        Command::Experiments(ExperimentsCommand::List { all }) => {
            let view = if *all {
                ViewType::All
            } else {
                ViewType::ActiveOnly
            };
            let experiments = open_store(uri)?.search_experiments(view)?;
            return if json {
                render::json(&experiments)
            } else {
                Ok(render::experiments(&experiments))
            };
        }
        _ => return Err("this command is not run through commands::run".into()),
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
            // The lineage is each version's artifact (the tags hold only a few keys).
            let lineages = versions
                .iter()
                .map(|v| registry.lineage(v))
                .collect::<Result<Vec<_>, _>>()?;
            if json {
                let mut out = Vec::with_capacity(versions.len());
                for (v, l) in versions.iter().zip(&lineages) {
                    let mut doc = serde_json::to_value(v)?;
                    if let Some(map) = doc.as_object_mut() {
                        map.insert("lineage".into(), serde_json::to_value(l)?);
                    }
                    out.push(doc);
                }
                render::json(&out)?
            } else {
                render::versions(&versions, &lineages)
            }
        }
        RegistryCommand::Promote {
            name,
            version,
            stage,
            archive_existing,
        } => {
            let stage: Stage = stage.parse()?;
            let t = registry.transition_report(name, *version, stage, *archive_existing)?;
            if json {
                render::json(&t)?
            } else {
                let mut out = format!(
                    "{name} version {} is now in stage {}\n",
                    t.version.version, t.version.current_stage
                );
                for v in &t.archived {
                    out.push_str(&format!("version {v} archived\n"));
                }
                for (alias, from) in &t.moved_aliases {
                    out.push_str(&format!(
                        "{name}@{alias} moved from version {from} (archived) to version {version}\n"
                    ));
                }
                for (alias, on) in &t.stale_aliases {
                    eprintln!(
                        "warning: {name}@{alias} still points to version {on}, which is now \
                         Archived (move it with `obesity registry alias {name} {alias} VERSION`)"
                    );
                }
                out
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
            compare_across_data,
            dry_run,
        } => {
            let mut policy = params.promotion.policy();
            if let Some(m) = metric {
                policy.metric = m.clone();
            }
            if let Some(p) = production {
                policy.production_threshold = *p;
            }
            if let Some(p) = staging {
                policy.staging_threshold = *p;
            }
            if *lower_is_better {
                policy.higher_is_better = false;
            }
            if *compare_across_data {
                policy.compare_across_data = true;
            }
            if *dry_run {
                let d = registry.plan_promotion(name, *version, &policy)?;
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
        RegistryCommand::Runs(args) => runs(&store, json, args)?,
    };
    Ok(out)
}

/// `obesity runs` (and `obesity registry runs`): the runs table, or JSON.
fn runs(store: &Arc<dyn Store>, json: bool, args: &RunsArgs) -> Result<String, BoxError> {
    let tracker = Tracker::new(store.clone());
    let order: Vec<&str> = args.order_by.iter().map(String::as_str).collect();
    let runs = tracker.search_runs(
        &args.experiment,
        args.filter.as_deref().unwrap_or(""),
        &order,
        args.max_results,
    )?;
    if json {
        render::json(&runs)
    } else {
        render::runs(&runs, &args.columns)
    }
}
