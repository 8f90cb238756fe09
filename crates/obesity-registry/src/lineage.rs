//! Lineage: where a model version came from (data fingerprint, params, metrics, code
//! version, git commit), stored whole as the version's `lineage.json` artifact plus a few
//! model-version tags that MLflow's model page can show (data fingerprint, params hash, git
//! commit, application version), and the side-by-side [`Comparison`] of two versions.
//!
//! Versions registered before the artifact held the lineage carry it as tags (one per param
//! and metric, `param.*` / `metric.*`); [`Lineage::from_version`] still reads those.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::store::ModelVersion;

/// Version-tag key of the data fingerprint.
pub(crate) const TAG_FINGERPRINT: &str = "lineage.data_fingerprint";
/// Version-tag key of the application version that trained the model.
pub(crate) const TAG_APP_VERSION: &str = "lineage.app_version";
/// The same, as versions registered before the application gave it were tagged.
pub(crate) const TAG_CRATE_VERSION_OLD: &str = "lineage.crate_version";
/// Version-tag key of the git commit.
pub(crate) const TAG_GIT_COMMIT: &str = "lineage.git_commit";
/// Version-tag key of the source run (versions of the old layout only).
pub(crate) const TAG_RUN_ID: &str = "lineage.run_id";
/// Version-tag key of the params hash.
pub(crate) const TAG_PARAMS_HASH: &str = "lineage.params_hash";
/// Prefix of version tags that copied the run's params (the old layout).
pub(crate) const PARAM_PREFIX: &str = "param.";
/// Prefix of version tags that copied the run's metrics (the old layout).
pub(crate) const METRIC_PREFIX: &str = "metric.";

/// Where a model version came from.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Lineage {
    /// Fingerprint (hex) of the training data, e.g. `obesity_data`'s `Fingerprint`.
    pub data_fingerprint: Option<String>,
    /// Hyper-parameters and other inputs.
    pub params: BTreeMap<String, String>,
    /// Evaluation metrics. (JSON has no NaN: serde_json writes one as `null`, read back
    /// as NaN.)
    #[serde(deserialize_with = "metrics_with_null")]
    pub metrics: BTreeMap<String, f64>,
    /// Version of the application that trained the model, as the application gives it
    /// ([`Lineage::app_version`], e.g. `env!("CARGO_PKG_VERSION")` of its own crate); empty
    /// when not given. The registry cannot know it: its own version says nothing about the
    /// code that trained the model. (Read from `crate_version` in older `lineage.json`.)
    #[serde(alias = "crate_version")]
    pub app_version: String,
    /// Git commit of the working tree, when there is one.
    pub git_commit: Option<String>,
    /// The source run.
    pub run_id: Option<String>,
}

impl Lineage {
    /// An empty lineage stamped with the git commit of the current directory's work tree,
    /// when there is one. The application adds its own version with
    /// [`Lineage::app_version`].
    pub fn current() -> Self {
        Lineage {
            git_commit: std::env::current_dir().ok().and_then(|d| git_commit(&d)),
            ..Lineage::default()
        }
    }

    /// The same lineage with the version of the application that trained the model.
    ///
    /// ```
    /// let lineage = obesity_registry::Lineage::current().app_version(env!("CARGO_PKG_VERSION"));
    /// assert_eq!(lineage.app_version, env!("CARGO_PKG_VERSION"));
    /// assert_eq!(lineage.to_tags()["lineage.app_version"], env!("CARGO_PKG_VERSION"));
    /// ```
    pub fn app_version(mut self, version: impl Into<String>) -> Self {
        self.app_version = version.into();
        self
    }

    /// SHA-256 (hex) of the params as canonical JSON (keys sorted): two versions trained
    /// with the same settings have the same hash.
    pub fn params_hash(&self) -> String {
        use sha2::{Digest, Sha256};
        // A BTreeMap of strings always serialises; keys come out sorted.
        let json = serde_json::to_vec(&self.params).unwrap_or_default();
        Sha256::digest(&json)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The few tags a model version carries (the whole lineage is its `lineage.json`
    /// artifact): `lineage.data_fingerprint`, `lineage.params_hash`, `lineage.git_commit`
    /// and `lineage.app_version`, each when known.
    pub fn to_tags(&self) -> BTreeMap<String, String> {
        let mut tags = BTreeMap::new();
        if let Some(f) = &self.data_fingerprint {
            tags.insert(TAG_FINGERPRINT.to_string(), f.clone());
        }
        if !self.params.is_empty() {
            tags.insert(TAG_PARAMS_HASH.to_string(), self.params_hash());
        }
        if !self.app_version.is_empty() {
            tags.insert(TAG_APP_VERSION.to_string(), self.app_version.clone());
        }
        if let Some(c) = &self.git_commit {
            tags.insert(TAG_GIT_COMMIT.to_string(), c.clone());
        }
        tags
    }

    /// Reads the lineage from a version's tags alone: the data fingerprint, application version
    /// and git commit of any version, and the params and metrics of a version of the old
    /// layout (one tag each; unparseable metric tags are skipped). The whole lineage of a
    /// newer version is its artifact: [`Registry::lineage`](crate::Registry::lineage)
    /// reads that, falling back to this.
    pub fn from_version(version: &ModelVersion) -> Self {
        let t = &version.tags;
        let mut out = Lineage {
            data_fingerprint: t.get(TAG_FINGERPRINT).cloned(),
            app_version: t
                .get(TAG_APP_VERSION)
                .or_else(|| t.get(TAG_CRATE_VERSION_OLD))
                .cloned()
                .unwrap_or_default(),
            git_commit: t.get(TAG_GIT_COMMIT).cloned(),
            run_id: t
                .get(TAG_RUN_ID)
                .cloned()
                .or_else(|| version.run_id.clone()),
            ..Lineage::default()
        };
        for (k, v) in t {
            if let Some(p) = k.strip_prefix(PARAM_PREFIX) {
                out.params.insert(p.to_string(), v.clone());
            } else if let Some(m) = k.strip_prefix(METRIC_PREFIX)
                && let Ok(x) = v.parse::<f64>()
            {
                out.metrics.insert(m.to_string(), x);
            }
        }
        out
    }
}

fn metrics_with_null<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<BTreeMap<String, f64>, D::Error> {
    let raw = BTreeMap::<String, Option<f64>>::deserialize(d)?;
    Ok(raw
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or(f64::NAN)))
        .collect())
}

/// The commit checked out in the git work tree containing `dir`, read from `.git` directly
/// (no `git` binary needed): `HEAD`, then the ref file or `packed-refs`.
pub fn git_commit(dir: &Path) -> Option<String> {
    let git_dir = find_git_dir(dir)?;
    let head = std::fs::read_to_string(git_dir.join("HEAD")).ok()?;
    let head = head.trim();
    let is_sha = |s: &str| s.len() >= 40 && s.chars().all(|c| c.is_ascii_hexdigit());
    if is_sha(head) {
        return Some(head.to_string());
    }
    let reference = head.strip_prefix("ref:")?.trim();
    // Worktrees keep refs in the common dir.
    let common = std::fs::read_to_string(git_dir.join("commondir"))
        .ok()
        .map(|c| git_dir.join(c.trim()))
        .unwrap_or_else(|| git_dir.clone());
    for base in [&git_dir, &common] {
        if let Ok(s) = std::fs::read_to_string(base.join(reference)) {
            let s = s.trim();
            if is_sha(s) {
                return Some(s.to_string());
            }
        }
        if let Ok(packed) = std::fs::read_to_string(base.join("packed-refs")) {
            for line in packed.lines() {
                if let Some((sha, name)) = line.split_once(' ')
                    && name.trim() == reference
                    && is_sha(sha)
                {
                    return Some(sha.to_string());
                }
            }
        }
    }
    None
}

fn find_git_dir(dir: &Path) -> Option<PathBuf> {
    let mut cur = Some(dir);
    while let Some(d) = cur {
        let dot_git = d.join(".git");
        if dot_git.is_dir() {
            return Some(dot_git);
        }
        if dot_git.is_file() {
            // A worktree or submodule: `.git` is a file `gitdir: <path>`.
            let text = std::fs::read_to_string(&dot_git).ok()?;
            let p = text.trim().strip_prefix("gitdir:")?.trim();
            let p = Path::new(p);
            return Some(if p.is_absolute() {
                p.to_path_buf()
            } else {
                d.join(p)
            });
        }
        cur = d.parent();
    }
    None
}

/// One row of a [`Comparison`]: a key and its value in each version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompareRow<T> {
    /// The param or metric name.
    pub key: String,
    /// Value in the first version (`None`: absent).
    pub left: Option<T>,
    /// Value in the second version.
    pub right: Option<T>,
    /// Whether the values differ (absent vs present counts as different).
    pub differs: bool,
}

/// Two versions of a model side by side: lineage, params and metrics, with differences
/// flagged. `Display` prints a table; serde gives JSON for tools.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The registered model.
    pub name: String,
    /// The first version number.
    pub left_version: u64,
    /// The second version number.
    pub right_version: u64,
    /// Stage of each version.
    pub stages: (String, String),
    /// Data fingerprint, application version, git commit, run id.
    pub lineage: Vec<CompareRow<String>>,
    /// Params.
    pub params: Vec<CompareRow<String>>,
    /// Metrics, with `right - left` available through [`CompareRow`] values.
    pub metrics: Vec<CompareRow<f64>>,
}

fn rows<T: Clone + PartialEq>(
    a: &BTreeMap<String, T>,
    b: &BTreeMap<String, T>,
    same: impl Fn(&T, &T) -> bool,
) -> Vec<CompareRow<T>> {
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .map(|k| {
            let left = a.get(k).cloned();
            let right = b.get(k).cloned();
            let differs = match (&left, &right) {
                (Some(x), Some(y)) => !same(x, y),
                (None, None) => false,
                _ => true,
            };
            CompareRow {
                key: k.clone(),
                left,
                right,
                differs,
            }
        })
        .collect()
}

impl Comparison {
    /// Compares two versions from the lineage in their tags (see
    /// [`Lineage::from_version`]; [`Registry::compare`](crate::Registry::compare) reads the
    /// lineage artifacts).
    pub fn new(left: &ModelVersion, right: &ModelVersion) -> Self {
        Self::with_lineage(
            left,
            &Lineage::from_version(left),
            right,
            &Lineage::from_version(right),
        )
    }

    /// Compares two versions given their lineage.
    pub fn with_lineage(
        left: &ModelVersion,
        la: &Lineage,
        right: &ModelVersion,
        lb: &Lineage,
    ) -> Self {
        let lin = |l: &Lineage| {
            let mut m = BTreeMap::new();
            if let Some(f) = &l.data_fingerprint {
                m.insert("data_fingerprint".to_string(), f.clone());
            }
            if !l.app_version.is_empty() {
                m.insert("app_version".to_string(), l.app_version.clone());
            }
            if let Some(c) = &l.git_commit {
                m.insert("git_commit".to_string(), c.clone());
            }
            if let Some(r) = &l.run_id {
                m.insert("run_id".to_string(), r.clone());
            }
            m
        };
        Comparison {
            name: left.name.clone(),
            left_version: left.version,
            right_version: right.version,
            stages: (
                left.current_stage.to_string(),
                right.current_stage.to_string(),
            ),
            lineage: rows(&lin(la), &lin(lb), |x, y| x == y),
            params: rows(&la.params, &lb.params, |x, y| x == y),
            // Bit-equal, so NaN == NaN counts as "same".
            metrics: rows(&la.metrics, &lb.metrics, |x, y| x.to_bits() == y.to_bits()),
        }
    }

    /// The keys (params and metrics) whose values differ.
    pub fn differences(&self) -> Vec<&str> {
        self.params
            .iter()
            .filter(|r| r.differs)
            .map(|r| r.key.as_str())
            .chain(
                self.metrics
                    .iter()
                    .filter(|r| r.differs)
                    .map(|r| r.key.as_str()),
            )
            .collect()
    }
}

/// One printed row: key, left text, right text, differs.
struct TextRow(String, String, String, bool);

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = format!("v{}", self.left_version);
        let r = format!("v{}", self.right_version);
        writeln!(
            f,
            "{}: {l} ({}) vs {r} ({})",
            self.name, self.stages.0, self.stages.1
        )?;
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        let sections: [(&str, Vec<TextRow>); 3] = [
            (
                "lineage",
                self.lineage
                    .iter()
                    .map(|x| TextRow(x.key.clone(), show(&x.left), show(&x.right), x.differs))
                    .collect(),
            ),
            (
                "params",
                self.params
                    .iter()
                    .map(|x| TextRow(x.key.clone(), show(&x.left), show(&x.right), x.differs))
                    .collect(),
            ),
            (
                "metrics",
                self.metrics
                    .iter()
                    .map(|x| {
                        let delta = match (x.left, x.right) {
                            (Some(a), Some(b)) if x.differs => format!("  ({:+.6})", b - a),
                            _ => String::new(),
                        };
                        TextRow(
                            x.key.clone(),
                            x.left.map_or("-".into(), |v| format!("{v:.6}")),
                            format!(
                                "{}{delta}",
                                x.right.map_or("-".into(), |v| format!("{v:.6}"))
                            ),
                            x.differs,
                        )
                    })
                    .collect(),
            ),
        ];
        for (title, rows) in sections {
            if rows.is_empty() {
                continue;
            }
            let kw = rows.iter().map(|r| r.0.len()).max().unwrap_or(0).max(3);
            let lw = rows
                .iter()
                .map(|r| r.1.len())
                .max()
                .unwrap_or(0)
                .max(l.len());
            writeln!(f, "{title}:")?;
            writeln!(f, "  {:kw$}  {:lw$}  {r}", "key", l)?;
            for TextRow(k, a, b, d) in rows {
                let mark = if d { "*" } else { " " };
                writeln!(f, "{mark} {k:kw$}  {a:lw$}  {b}")?;
            }
        }
        Ok(())
    }
}
