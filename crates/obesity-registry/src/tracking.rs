//! [`Tracker`]: experiments by name and the runs inside them.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::lineage::git_commit;
use crate::run::ActiveRun;
use crate::store::{Experiment, Run, SearchRuns, Store, Tag, ViewType};

/// MLflow's system tag for the user.
pub const USER_TAG: &str = "mlflow.user";
/// MLflow's system tag for the program that logged the run.
pub const SOURCE_NAME_TAG: &str = "mlflow.source.name";
/// MLflow's system tag for the kind of source (`LOCAL`).
pub const SOURCE_TYPE_TAG: &str = "mlflow.source.type";
/// MLflow's system tag for the git commit of the source.
pub const GIT_COMMIT_TAG: &str = "mlflow.source.git.commit";

/// The `mlflow.*` tags every run gets, detected once per tracker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SystemTags {
    pub(crate) user: String,
    pub(crate) source_name: String,
    pub(crate) git_commit: Option<String>,
}

impl SystemTags {
    fn detect() -> Self {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("USERNAME"))
            .unwrap_or_else(|_| "unknown".into());
        let source_name = std::env::args().next().unwrap_or_default();
        let git = std::env::current_dir().ok().and_then(|d| git_commit(&d));
        SystemTags {
            user,
            source_name,
            git_commit: git,
        }
    }

    pub(crate) fn tags(&self) -> Vec<Tag> {
        let mut t = vec![
            Tag::new(USER_TAG, self.user.clone()),
            Tag::new(SOURCE_NAME_TAG, self.source_name.clone()),
            Tag::new(SOURCE_TYPE_TAG, "LOCAL"),
        ];
        if let Some(c) = &self.git_commit {
            t.push(Tag::new(GIT_COMMIT_TAG, c.clone()));
        }
        t
    }
}

/// The entry point of tracking: finds or creates experiments by name and starts runs in
/// them, over any [`Store`].
///
/// Cheap to clone (the store is shared). System tags (`mlflow.user`, `mlflow.source.name`,
/// `mlflow.source.type`, `mlflow.source.git.commit` when the working directory is in a git
/// repository) are detected once, when the tracker is built.
#[derive(Clone)]
pub struct Tracker {
    store: Arc<dyn Store>,
    system: SystemTags,
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker")
            .field("store", &self.store.uri())
            .field("user", &self.system.user)
            .finish_non_exhaustive()
    }
}

impl Tracker {
    /// A tracker over `store`, with system tags detected from the environment.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Tracker {
            store,
            system: SystemTags::detect(),
        }
    }

    /// A tracker over the store at a tracking URI (a folder or `http://`; `https://` is
    /// refused: no TLS client is built in), see
    /// [`open_store`](crate::open_store).
    pub fn open(uri: &str) -> Result<Self> {
        Ok(Tracker::new(crate::open_store(uri)?))
    }

    /// Overrides the user recorded on runs. By default, `$USER` (or `$USERNAME`).
    pub fn with_user(mut self, user: impl Into<String>) -> Self {
        self.system.user = user.into();
        self
    }

    /// Overrides the `mlflow.source.name` tag. By default, the program's path (`argv[0]`).
    pub fn with_source_name(mut self, source: impl Into<String>) -> Self {
        self.system.source_name = source.into();
        self
    }

    /// Overrides the git commit recorded on runs (`None` removes it). By default, the commit
    /// checked out in the working directory's repository, if any.
    pub fn with_git_commit(mut self, commit: Option<String>) -> Self {
        self.system.git_commit = commit;
        self
    }

    /// The git commit runs are tagged with, if any.
    pub fn git_commit(&self) -> Option<&str> {
        self.system.git_commit.as_deref()
    }

    /// The underlying store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The experiment called `name`, created on first use. Safe against a concurrent
    /// creator: if another process creates it first, that one is returned.
    pub fn experiment(&self, name: &str) -> Result<Experiment> {
        if let Some(e) = self.store.get_experiment_by_name(name)? {
            return Ok(e);
        }
        match self.store.create_experiment(name, None, &[]) {
            Ok(id) => self.store.get_experiment(&id),
            Err(e) if e.is_already_exists() => self
                .store
                .get_experiment_by_name(name)?
                .ok_or_else(|| Error::not_found("experiment", name)),
            Err(e) => Err(e),
        }
    }

    /// The experiment called `name`, without creating it.
    pub fn find_experiment(&self, name: &str) -> Result<Experiment> {
        self.store
            .get_experiment_by_name(name)?
            .ok_or_else(|| Error::not_found("experiment", name))
    }

    /// Sets a tag on the experiment called `name` (created on first use).
    pub fn set_experiment_tag(&self, name: &str, key: &str, value: &str) -> Result<()> {
        let exp = self.experiment(name)?;
        self.store
            .set_experiment_tag(&exp.experiment_id, key, value)
    }

    /// Starts a run in the experiment called `experiment` (created on first use). The store
    /// names the run when `run_name` is `None`.
    pub fn start_run(&self, experiment: &str, run_name: Option<&str>) -> Result<ActiveRun> {
        self.start_run_with_tags(experiment, run_name, Vec::new())
    }

    /// Starts a run with extra tags set at creation.
    pub fn start_run_with_tags(
        &self,
        experiment: &str,
        run_name: Option<&str>,
        tags: Vec<Tag>,
    ) -> Result<ActiveRun> {
        let exp = self.experiment(experiment)?;
        ActiveRun::create(
            self.store.clone(),
            &exp.experiment_id,
            run_name,
            self.system.clone(),
            tags,
        )
    }

    /// Runs of the experiment called `experiment` matching `filter` (see the
    /// [filter syntax](crate::Filter)), ordered by `order_by` clauses, at most `max_results`.
    pub fn search_runs(
        &self,
        experiment: &str,
        filter: &str,
        order_by: &[&str],
        max_results: usize,
    ) -> Result<Vec<Run>> {
        let exp = self.find_experiment(experiment)?;
        self.store.search_runs(&SearchRuns {
            experiment_ids: vec![exp.experiment_id],
            filter: (!filter.trim().is_empty()).then(|| filter.to_string()),
            order_by: order_by.iter().map(|s| s.to_string()).collect(),
            max_results,
            view_type: ViewType::ActiveOnly,
        })
    }
}
