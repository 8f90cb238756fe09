//! Grid and random search over any [`ModelStrategy`] factory, scored by cross-validation
//! (scikit-learn's `GridSearchCV` / `RandomizedSearchCV` with `refit=True`).

use std::fmt;
use std::time::Instant;

use obesity_features::Dataset;
use obesity_forest::{Classifier, ModelStrategy};
use serde::{Deserialize, Serialize};

use crate::cv::{Fold, FoldData, FoldOutcome, ScoreSummary, materialise, run_fold};
use crate::error::{EvalError, Result};
use crate::exec::{default_workers, run_jobs};
use crate::params::{ParamGrid, ParamSet, ParamSpace};
use crate::progress::Progress;
use crate::scorer::Scorer;

/// Builds a strategy from one candidate's parameters. Return
/// [`EvalError::BadParam`] for a parameter it does not understand; a `ModelError` from a
/// params builder converts with `?`.
pub trait StrategyFactory: Fn(&ParamSet) -> Result<Box<dyn ModelStrategy>> + Sync {}
impl<F: Fn(&ParamSet) -> Result<Box<dyn ModelStrategy>> + Sync> StrategyFactory for F {}

/// One row of the results table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateResult {
    /// Rank by mean score, 1 = best; ties share the lowest rank (scikit-learn's
    /// `rank_test_score`).
    pub rank: usize,
    /// The candidate's parameters.
    pub params: ParamSet,
    /// Per-fold scores, mean, std and 95% interval of the ranking scorer.
    pub score: ScoreSummary,
    /// Mean seconds to fit one fold.
    pub mean_fit_time: f64,
    /// Mean seconds to predict and score one fold.
    pub mean_score_time: f64,
}

/// The serialisable outcome of a search: every candidate, and the best one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "SearchResultsRepr")]
pub struct SearchResults {
    /// Name of the scorer that ranked the candidates.
    pub scoring: Scorer,
    /// Number of folds each candidate was scored on.
    pub n_folds: usize,
    /// One row per candidate, in candidate order (sort by `rank` to read it as a table).
    pub candidates: Vec<CandidateResult>,
    /// Index into `candidates` of the best (the first of the rank-1 candidates).
    pub best_index: usize,
    /// Wall-clock seconds of the whole search (without the refit).
    pub elapsed_seconds: f64,
}

/// The serialised form, checked on the way in (`best_index` must point at a candidate).
#[derive(Deserialize)]
struct SearchResultsRepr {
    scoring: Scorer,
    n_folds: usize,
    candidates: Vec<CandidateResult>,
    best_index: usize,
    elapsed_seconds: f64,
}

impl TryFrom<SearchResultsRepr> for SearchResults {
    type Error = EvalError;
    fn try_from(r: SearchResultsRepr) -> Result<Self> {
        if r.best_index >= r.candidates.len() {
            return Err(EvalError::InvalidValue {
                what: "best_index",
                value: r.best_index.to_string(),
                expected: format!("an index below the {} candidates", r.candidates.len()),
            });
        }
        Ok(SearchResults {
            scoring: r.scoring,
            n_folds: r.n_folds,
            candidates: r.candidates,
            best_index: r.best_index,
            elapsed_seconds: r.elapsed_seconds,
        })
    }
}

impl SearchResults {
    /// Parameters of the best candidate.
    pub fn best_params(&self) -> &ParamSet {
        &self.candidates[self.best_index].params
    }

    /// Mean CV score of the best candidate.
    pub fn best_score(&self) -> f64 {
        self.candidates[self.best_index].score.mean
    }

    /// The candidates sorted by rank (then candidate order).
    pub fn ranked(&self) -> Vec<&CandidateResult> {
        let mut v: Vec<&CandidateResult> = self.candidates.iter().collect();
        v.sort_by_key(|c| c.rank);
        v
    }

    /// The results table as text, best first, at most `top` rows.
    pub fn to_table(&self, top: usize) -> String {
        let mut s = format!(
            "{:>4}  {:>8}  {:>8}  {:>9}  params\n",
            "rank", "mean", "std", "fit s"
        );
        for c in self.ranked().into_iter().take(top) {
            s.push_str(&format!(
                "{:>4}  {:>8.4}  {:>8.4}  {:>9.3}  {}\n",
                c.rank, c.score.mean, c.score.std, c.mean_fit_time, c.params
            ));
        }
        s
    }
}

impl fmt::Display for SearchResults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} candidates x {} folds, scored by {} in {:.1} s",
            self.candidates.len(),
            self.n_folds,
            self.scoring,
            self.elapsed_seconds
        )?;
        f.write_str(&self.to_table(usize::MAX))
    }
}

/// The results plus the best candidate refitted on every row (when refit is on).
pub struct SearchOutcome {
    /// The table and the best candidate.
    pub results: SearchResults,
    /// The best candidate's strategy trained on the whole data set (`best_estimator_`).
    pub best_estimator: Option<Box<dyn Classifier>>,
}

impl fmt::Debug for SearchOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SearchOutcome")
            .field("results", &self.results)
            .field(
                "best_estimator",
                &self.best_estimator.as_ref().map(|m| m.name().to_string()),
            )
            .finish()
    }
}

/// Settings shared by both searches.
#[derive(Debug, Clone, Copy)]
struct SearchSettings {
    scoring: Scorer,
    refit: bool,
    progress: bool,
    n_jobs: Option<usize>,
}

impl Default for SearchSettings {
    fn default() -> Self {
        Self {
            scoring: Scorer::default(),
            refit: true,
            progress: true,
            n_jobs: None,
        }
    }
}

/// Exhaustive search over a [`ParamGrid`], as scikit-learn's `GridSearchCV`.
///
/// Every (candidate, fold) pair is an independent job; `n_jobs` of them run at once on
/// worker threads. For the fastest search give the factory's models one thread each
/// (`n_threads(Some(1))` for the forest) and let the search spread the jobs: fits of one
/// thread each scale better than splitting one fit's trees across threads.
pub struct GridSearch<F: StrategyFactory> {
    factory: F,
    grid: ParamGrid,
    settings: SearchSettings,
}

impl<F: StrategyFactory> GridSearch<F> {
    /// A search of `grid` with strategies from `factory`.
    pub fn new(factory: F, grid: ParamGrid) -> Self {
        Self {
            factory,
            grid,
            settings: SearchSettings::default(),
        }
    }

    /// The scorer that ranks candidates. By default, this is `f1_macro`.
    pub fn scoring(mut self, scorer: Scorer) -> Self {
        self.settings.scoring = scorer;
        self
    }

    /// Whether to refit the best candidate on all rows. By default, this is `true`.
    pub fn refit(mut self, refit: bool) -> Self {
        self.settings.refit = refit;
        self
    }

    /// Number of (candidate, fold) fits run at once (scikit-learn's `n_jobs`); `None` uses
    /// rayon's thread count. Results do not depend on it. By default, this is `None`.
    pub fn n_jobs(mut self, n: Option<usize>) -> Self {
        self.settings.n_jobs = n.map(|n| n.max(1));
        self
    }

    /// Whether to draw a progress bar on stderr; it is drawn only when stderr is a terminal
    /// anyway. By default, this is `true`.
    pub fn progress(mut self, progress: bool) -> Self {
        self.settings.progress = progress;
        self
    }

    /// Runs the search on `dataset` (the training rows) with `folds`.
    ///
    /// # Errors
    /// An empty grid, malformed folds, or the first candidate whose factory, fit or scoring
    /// fails ([`EvalError::Candidate`] names its parameters).
    pub fn fit(&self, dataset: &Dataset, folds: &[Fold]) -> Result<SearchOutcome> {
        let candidates = self.grid.candidates()?;
        run_search(&self.factory, candidates, dataset, folds, self.settings)
    }
}

/// Random search: `n_iter` candidates drawn from a [`ParamSpace`] with a seed, as
/// scikit-learn's `RandomizedSearchCV`.
pub struct RandomSearch<F: StrategyFactory> {
    factory: F,
    space: ParamSpace,
    n_iter: usize,
    seed: u64,
    settings: SearchSettings,
}

impl<F: StrategyFactory> RandomSearch<F> {
    /// A search drawing from `space` with strategies from `factory`.
    pub fn new(factory: F, space: ParamSpace) -> Self {
        Self {
            factory,
            space,
            n_iter: 10,
            seed: 0,
            settings: SearchSettings::default(),
        }
    }

    /// Number of candidates drawn. By default, this is 10 (scikit-learn's default).
    pub fn n_iter(mut self, n: usize) -> Self {
        self.n_iter = n;
        self
    }

    /// Seed of the draw. By default, this is 0.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The scorer that ranks candidates. By default, this is `f1_macro`.
    pub fn scoring(mut self, scorer: Scorer) -> Self {
        self.settings.scoring = scorer;
        self
    }

    /// Whether to refit the best candidate on all rows. By default, this is `true`.
    pub fn refit(mut self, refit: bool) -> Self {
        self.settings.refit = refit;
        self
    }

    /// Number of (candidate, fold) fits run at once (scikit-learn's `n_jobs`); `None` uses
    /// rayon's thread count. Results do not depend on it. By default, this is `None`.
    pub fn n_jobs(mut self, n: Option<usize>) -> Self {
        self.settings.n_jobs = n.map(|n| n.max(1));
        self
    }

    /// Whether to draw a progress bar on stderr (only on a terminal). By default, `true`.
    pub fn progress(mut self, progress: bool) -> Self {
        self.settings.progress = progress;
        self
    }

    /// The candidates this search will evaluate (for inspection and tests).
    ///
    /// # Errors
    /// An empty space or `n_iter == 0`.
    pub fn candidates(&self) -> Result<Vec<ParamSet>> {
        self.space.sample(self.n_iter, self.seed)
    }

    /// Runs the search.
    ///
    /// # Errors
    /// As [`GridSearch::fit`].
    pub fn fit(&self, dataset: &Dataset, folds: &[Fold]) -> Result<SearchOutcome> {
        let candidates = self.candidates()?;
        run_search(&self.factory, candidates, dataset, folds, self.settings)
    }
}

fn candidate_error(params: &ParamSet, e: EvalError) -> EvalError {
    EvalError::Candidate {
        params: params.to_string(),
        source: Box::new(e),
    }
}

fn run_search(
    factory: &dyn Fn(&ParamSet) -> Result<Box<dyn ModelStrategy>>,
    candidates: Vec<ParamSet>,
    dataset: &Dataset,
    folds: &[Fold],
    settings: SearchSettings,
) -> Result<SearchOutcome> {
    if candidates.is_empty() {
        return Err(EvalError::EmptyGrid {
            reason: "no candidates".into(),
        });
    }
    let start = Instant::now();
    let data: Vec<FoldData> = materialise(dataset, folds)?;
    // Build every strategy first: a bad parameter fails before any model is trained.
    let strategies: Vec<Box<dyn ModelStrategy>> = candidates
        .iter()
        .map(|p| factory(p).map_err(|e| candidate_error(p, e)))
        .collect::<Result<_>>()?;
    let n_folds = data.len();
    let n_classes = dataset.n_classes();
    let scorers = [settings.scoring];
    let bar = Progress::new(settings.progress, candidates.len() * n_folds);
    let workers = settings.n_jobs.unwrap_or_else(default_workers);
    let outcomes: Vec<FoldOutcome> = run_jobs(candidates.len() * n_folds, workers, |job| {
        let (c, f) = (job / n_folds, job % n_folds);
        let out = run_fold(strategies[c].as_ref(), &data[f], n_classes, &scorers)
            .map_err(|e| candidate_error(&candidates[c], e));
        bar.inc();
        out
    })?;
    bar.finish();
    let elapsed_seconds = start.elapsed().as_secs_f64();

    let mut rows: Vec<CandidateResult> = candidates
        .into_iter()
        .enumerate()
        .map(|(c, params)| {
            let own = &outcomes[c * n_folds..(c + 1) * n_folds];
            let nf = n_folds as f64;
            CandidateResult {
                rank: 0,
                params,
                score: ScoreSummary::from_scores(own.iter().map(|o| o.scores[0]).collect()),
                mean_fit_time: own.iter().map(|o| o.fit_time).sum::<f64>() / nf,
                mean_score_time: own.iter().map(|o| o.score_time).sum::<f64>() / nf,
            }
        })
        .collect();
    assign_ranks(&mut rows);
    let best_index = rows.iter().position(|r| r.rank == 1).unwrap_or(0);
    let best_estimator = if settings.refit {
        let model = strategies[best_index]
            .fit(dataset.x.view(), dataset.y.view(), n_classes)
            .map_err(|e| candidate_error(&rows[best_index].params, e.into()))?;
        Some(model)
    } else {
        None
    };
    Ok(SearchOutcome {
        results: SearchResults {
            scoring: settings.scoring,
            n_folds,
            candidates: rows,
            best_index,
            elapsed_seconds,
        },
        best_estimator,
    })
}

/// scikit-learn's `rankdata(-mean, method="min")`; NaN means rank last.
fn assign_ranks(rows: &mut [CandidateResult]) {
    let key = |m: f64| if m.is_nan() { f64::NEG_INFINITY } else { m };
    let means: Vec<f64> = rows.iter().map(|r| key(r.score.mean)).collect();
    for (i, row) in rows.iter_mut().enumerate() {
        row.rank = 1 + means.iter().filter(|&&m| m > means[i]).count();
    }
}
