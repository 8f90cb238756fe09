//! A/B experiments held by the service: `obesity_monitor::AbTest`s by name, and which one
//! routes requests that name none.
//!
//! Assignment is the monitor crate's (`AbTest::assign`: SHA-256 of experiment and user id,
//! enrolment remembered), called on the request path under a per-experiment mutex that is
//! held for a hash and a map lookup. State files are written by the monitor thread (every
//! check interval and at shutdown), never by a request.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use arc_swap::ArcSwapOption;
use obesity_monitor::{AbTest, SystemClock, TestStatus};

use crate::error::{Result, ServeError};

/// One experiment, shareable between the request path and the monitor thread.
pub(crate) type Shared = Arc<Mutex<AbTest>>;

/// The service's experiments.
#[derive(Debug, Default)]
pub(crate) struct Experiments {
    /// Where state files live (`<state_dir>/experiments`), or `None` for memory only.
    pub(crate) dir: Option<PathBuf>,
    map: RwLock<BTreeMap<String, Shared>>,
    /// The experiment that routes requests naming none: the last one started.
    default: ArcSwapOption<(String, Shared)>,
}

impl Experiments {
    /// Opens every experiment saved in `dir` (a file that does not load is logged and
    /// skipped, and so is one created for another registered model than `model`, e.g. by
    /// `obesity ab create --model`), or an empty set in memory.
    pub(crate) fn open(dir: Option<PathBuf>, model: &str) -> Self {
        let experiments = Experiments {
            dir,
            ..Experiments::default()
        };
        let Some(dir) = experiments.dir.clone() else {
            return experiments;
        };
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return experiments;
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_suffix(".json").map(str::to_owned)
            })
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        for name in names {
            match AbTest::open(&dir, &name, Arc::new(SystemClock)) {
                Ok(test) if test.config().model.as_deref().is_some_and(|m| m != model) => {
                    tracing::warn!(
                        experiment = %name,
                        experiment_model = test.config().model.as_deref().unwrap_or_default(),
                        served_model = %model,
                        "experiment of another model not loaded"
                    )
                }
                Ok(test) => {
                    let running = test.status() == TestStatus::Running;
                    let shared = Arc::new(Mutex::new(test));
                    if running {
                        experiments
                            .default
                            .store(Some(Arc::new((name.clone(), shared.clone()))));
                    }
                    if let Ok(mut map) = experiments.map.write() {
                        map.insert(name, shared);
                    }
                }
                Err(e) => {
                    tracing::warn!(experiment = %name, error = %e, "experiment state not loaded")
                }
            }
        }
        experiments
    }

    /// The experiment called `name`.
    pub(crate) fn get(&self, name: &str) -> Option<Shared> {
        self.map.read().ok()?.get(name).cloned()
    }

    /// The experiment routing requests that name none, if one is running.
    pub(crate) fn default_route(&self) -> Option<Arc<(String, Shared)>> {
        self.default.load_full()
    }

    /// Every experiment, by name.
    pub(crate) fn all(&self) -> Vec<(String, Shared)> {
        self.map
            .read()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    /// Adds an experiment (replacing a stopped one of the same name).
    pub(crate) fn insert(&self, name: String, test: AbTest) -> Result<Shared> {
        let mut map = self
            .map
            .write()
            .map_err(|_| ServeError::Task("experiment map poisoned".into()))?;
        let shared = Arc::new(Mutex::new(test));
        map.insert(name, shared.clone());
        Ok(shared)
    }

    /// Forgets an experiment and deletes its state file (an experiment whose versions could
    /// not be loaded is never left behind half-made).
    pub(crate) fn remove(&self, name: &str) {
        if let Ok(mut map) = self.map.write() {
            map.remove(name);
        }
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_file(AbTest::state_path(dir, name));
        }
        self.refresh_default();
    }

    /// Re-derives the default route after a status change: the running experiment started
    /// last, or none.
    pub(crate) fn refresh_default(&self) {
        let mut best: Option<(chrono::DateTime<chrono::Utc>, String, Shared)> = None;
        for (name, shared) in self.all() {
            let Ok(test) = shared.lock() else { continue };
            if test.status() != TestStatus::Running {
                continue;
            }
            let started = test.started_at().unwrap_or_default();
            if best.as_ref().is_none_or(|(t, _, _)| started >= *t) {
                best = Some((started, name.clone(), shared.clone()));
            }
        }
        self.default
            .store(best.map(|(_, name, shared)| Arc::new((name, shared))));
    }

    /// Model versions the experiments that are not stopped need loaded.
    pub(crate) fn pinned_versions(&self) -> Vec<u64> {
        let mut out = Vec::new();
        for (_, shared) in self.all() {
            let Ok(test) = shared.lock() else { continue };
            if test.status() == TestStatus::Stopped {
                continue;
            }
            for v in [
                &test.config().control_version,
                &test.config().treatment_version,
            ] {
                if let Ok(n) = v.parse::<u64>()
                    && !out.contains(&n)
                {
                    out.push(n);
                }
            }
        }
        out
    }

    /// Writes every experiment's state file (a failure is logged).
    pub(crate) fn save_all(&self) {
        for (name, shared) in self.all() {
            let Ok(test) = shared.lock() else { continue };
            if let Err(e) = test.save() {
                tracing::warn!(experiment = %name, error = %e, "experiment state not saved");
            }
        }
    }
}
