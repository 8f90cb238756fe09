//! Your own table, model and drift test, end to end through the public API.
//!
//! A downstream app with nothing of obesity in it: a 3-class table of machine readings
//! (4 numeric columns, 1 categorical, 900 rows, generated from a seed), a nearest-centroid
//! classifier of its own and a Hellinger-distance drift test of its own. It loads the table
//! with its schema, validates it, featurizes it, cross-validates its model against the
//! random forest on the same folds, compares them with a paired test, tracks both as runs,
//! registers both versions (its own model file and transform, each read back by a loader it
//! registers), promotes by policy, loads back and predicts, reports drift on a shifted copy
//! with the built-in and its own detector side by side, and A/B tests the two registered
//! versions.
//!
//! ```text
//! cargo run --example custom_table            # a short summary
//! cargo run --example custom_table -- --json  # the outcomes as one JSON document
//! ```
//!
//! Everything it writes goes to a temporary directory, never to `MLFLOW_TRACKING_URI`.

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};
use std::error::Error;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use obesity_mlops::chrono::{TimeZone, Utc};
use obesity_mlops::data::{
    ColumnSpec, LoadOptions, LoadedTable, Schema, ValidationReport, load_table_bytes,
};
use obesity_mlops::eval::{CvResult, Scorer, cross_validate, stratified_folds};
use obesity_mlops::features::{Derived, FittedTablePipeline, TableConfig, TablePipeline};
use obesity_mlops::forest::{
    Classifier, ForestParams, ModelError, ModelStrategy, envelope, load_classifier, validate,
};
use obesity_mlops::monitor::{
    AbTest, AbTestConfig, ColumnSample, DriftDetector, DriftOptions, DriftResult, ManualClock,
    MonitorError, Outcome, ReferenceProfile, SamplePair,
};
use obesity_mlops::ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use obesity_mlops::registry::{
    ClassifierLoader, LocalStore, ModelRef, NewVersion, PipelineLoader, PromotionPolicy, Registry,
    Signature, Store, Tracker,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use serde::Serialize;

type Result<T, E = Box<dyn Error>> = std::result::Result<T, E>;

/// The registered model's name.
pub(crate) const MODEL_NAME: &str = "custom-table";
/// The kind under which the app's fitted table pipeline is registered.
pub(crate) const PIPELINE_KIND: &str = "custom_table.FittedTablePipeline";
/// The classes, the sites and the numeric columns with unit and valid range.
const CLASSES: [&str; 3] = ["ok", "wear", "fault"];
const SITES: [&str; 3] = ["north", "south", "east"];
const NUMERIC: [(&str, &str, f64, f64); 4] = [
    ("temperature", "°C", 0.0, 150.0),
    ("vibration", "mm/s", 0.0, 40.0),
    ("pressure", "bar", 0.0, 20.0),
    ("current", "A", 0.0, 100.0),
];
/// Per class, the mean of each numeric column; one standard deviation per column.
const MEANS: [[f64; 4]; 3] = [
    [60.0, 4.0, 8.0, 30.0],
    [76.0, 10.0, 9.5, 42.0],
    [92.0, 16.0, 11.0, 54.0],
];
const STDS: [f64; 4] = [7.0, 2.5, 1.2, 6.0];
/// Per class, how often each site reports it.
const SITE_SHARES: [[f64; 3]; 3] = [[0.5, 0.3, 0.2], [0.3, 0.4, 0.3], [0.2, 0.3, 0.5]];

/// The table's schema: four numeric columns, one categorical, the target.
pub(crate) fn schema() -> Result<Schema> {
    let mut columns: Vec<ColumnSpec> = NUMERIC
        .iter()
        .map(|&(name, unit, min, max)| ColumnSpec::numeric(name, unit, min, max))
        .collect();
    columns.push(ColumnSpec::categorical("site", SITES));
    columns.push(ColumnSpec::categorical("state", CLASSES).target());
    Ok(Schema::new(columns)?)
}

/// `rows` readings as CSV text, balanced over the classes, from `seed`; every temperature
/// is raised by `temperature_shift` (the same seed with a shift is a shifted copy).
pub(crate) fn machine_csv(rows: usize, seed: u64, temperature_shift: f64) -> Result<String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut csv = String::from("temperature,vibration,pressure,current,site,state\n");
    for row in 0..rows {
        let class = row % CLASSES.len();
        for (j, &(_, _, min, max)) in NUMERIC.iter().enumerate() {
            let value = Normal::new(MEANS[class][j], STDS[j])?.sample(&mut rng);
            let shift = if j == 0 { temperature_shift } else { 0.0 };
            write!(csv, "{:.2},", (value + shift).clamp(min, max))?;
        }
        let u: f64 = rng.gen_range(0.0..1.0);
        let mut site = SITES.len() - 1;
        let mut cumulative = 0.0;
        for (k, share) in SITE_SHARES[class].iter().enumerate() {
            cumulative += share;
            if u < cumulative {
                site = k;
                break;
            }
        }
        writeln!(csv, "{},{}", SITES[site], CLASSES[class])?;
    }
    Ok(csv)
}

/// The app's derived column: electrical load, current × pressure.
pub(crate) fn derived() -> Vec<Derived> {
    vec![Derived::new("load", ["current", "pressure"], |v| {
        v.iter().product()
    })]
}

/// The strategy of the app's own model. It has no hyper-parameters to speak of.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct NearestCentroidParams;

/// Nearest centroid in standardised space; probabilities are a softmax of −d²/2.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NearestCentroid {
    mean: Vec<f32>,
    scale: Vec<f32>,
    /// `n_classes` rows of `n_features` standardised coordinates.
    centroids: Vec<Vec<f32>>,
}

/// The 8-byte magic of the centroid model's file.
pub(crate) const CENTROID_MAGIC: &[u8; 8] = b"CTCENTRD";

impl ModelStrategy for NearestCentroidParams {
    fn name(&self) -> &str {
        "nearest_centroid"
    }

    fn params(&self) -> BTreeMap<String, String> {
        BTreeMap::from([("distance".into(), "standardised_euclidean".into())])
    }

    fn fit(
        &self,
        x: ArrayView2<'_, f32>,
        y: ArrayView1<'_, usize>,
        n_classes: usize,
    ) -> Result<Box<dyn Classifier>, ModelError> {
        Ok(Box::new(NearestCentroid::fit(x, y, n_classes)?))
    }
}

impl NearestCentroid {
    /// Learns each column's mean and standard deviation, then each class's centroid.
    pub(crate) fn fit(
        x: ArrayView2<'_, f32>,
        y: ArrayView1<'_, usize>,
        n_classes: usize,
    ) -> Result<Self, ModelError> {
        validate::check_training(x, y, n_classes)?;
        let n = x.nrows() as f64;
        let mut mean = Vec::with_capacity(x.ncols());
        let mut scale = Vec::with_capacity(x.ncols());
        for column in x.columns() {
            let m = column.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
            let var = column
                .iter()
                .map(|&v| (f64::from(v) - m).powi(2))
                .sum::<f64>()
                / n;
            mean.push(m as f32);
            scale.push(if var > 0.0 { var.sqrt() as f32 } else { 1.0 });
        }
        let mut sums = vec![vec![0.0f64; x.ncols()]; n_classes];
        let mut counts = vec![0usize; n_classes];
        for (row, &class) in x.rows().into_iter().zip(y) {
            counts[class] += 1;
            for (j, &v) in row.iter().enumerate() {
                sums[class][j] += f64::from((v - mean[j]) / scale[j]);
            }
        }
        if let Some(empty) = counts.iter().position(|&c| c == 0) {
            return Err(ModelError::InvalidParam {
                name: "y",
                value: format!("no rows of class {empty}"),
                expected: "at least one row of every class".into(),
            });
        }
        let centroids = sums
            .iter()
            .zip(&counts)
            .map(|(s, &c)| s.iter().map(|&v| (v / c as f64) as f32).collect())
            .collect();
        Ok(NearestCentroid {
            mean,
            scale,
            centroids,
        })
    }

    /// Reads a file written by [`Classifier::to_bytes`], checking every field.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Self, ModelError> {
        let payload = envelope::open(bytes, CENTROID_MAGIC, "nearest_centroid")?;
        let header = |i: usize| -> Result<usize, ModelError> {
            let b = payload.get(4 * i..4 * i + 4).ok_or(ModelError::Corrupt {
                reason: "nearest_centroid header cut short".into(),
            })?;
            Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        };
        let (n_features, n_classes) = (header(0)?, header(1)?);
        let floats: Vec<f32> = payload[8..]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let expected = n_features * (2 + n_classes);
        if n_features == 0 || n_classes == 0 || payload.len() != 8 + 4 * expected {
            return Err(ModelError::InvalidModelField {
                field: "nearest_centroid payload".into(),
                value: format!("{} bytes for {n_features} × {n_classes}", payload.len()),
                expected: format!("{} bytes", 8 + 4 * expected),
            });
        }
        if let Some(bad) = floats.iter().find(|v| !v.is_finite()) {
            return Err(ModelError::InvalidModelField {
                field: "nearest_centroid value".into(),
                value: bad.to_string(),
                expected: "a finite number".into(),
            });
        }
        let mut parts = floats.chunks_exact(n_features).map(<[f32]>::to_vec);
        let mut next = || parts.next().unwrap_or_default();
        Ok(NearestCentroid {
            mean: next(),
            scale: next(),
            centroids: (0..n_classes).map(|_| next()).collect(),
        })
    }
}

impl Classifier for NearestCentroid {
    fn name(&self) -> &str {
        "nearest_centroid"
    }

    fn n_features(&self) -> usize {
        self.mean.len()
    }

    fn n_classes(&self) -> usize {
        self.centroids.len()
    }

    fn predict_proba(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>, ModelError> {
        validate::check_predict(x, self.n_features())?;
        let mut proba = Array2::zeros((x.nrows(), self.n_classes()));
        for (row, mut out) in x.rows().into_iter().zip(proba.rows_mut()) {
            let d2: Vec<f64> = self
                .centroids
                .iter()
                .map(|c| {
                    (row.iter().enumerate())
                        .map(|(j, &v)| f64::from((v - self.mean[j]) / self.scale[j] - c[j]).powi(2))
                        .sum()
                })
                .collect();
            let nearest = d2.iter().copied().fold(f64::INFINITY, f64::min);
            let weights: Vec<f64> = d2.iter().map(|d| (-(d - nearest) / 2.0).exp()).collect();
            let total: f64 = weights.iter().sum();
            for (o, w) in out.iter_mut().zip(&weights) {
                *o = (w / total) as f32;
            }
        }
        Ok(proba)
    }

    fn to_bytes(&self) -> Result<Vec<u8>, ModelError> {
        let mut payload = Vec::new();
        payload.extend_from_slice(&(self.n_features() as u32).to_le_bytes());
        payload.extend_from_slice(&(self.n_classes() as u32).to_le_bytes());
        let all = self
            .mean
            .iter()
            .chain(&self.scale)
            .chain(self.centroids.iter().flatten());
        for v in all {
            payload.extend_from_slice(&v.to_le_bytes());
        }
        Ok(envelope::seal(CENTROID_MAGIC, &payload))
    }
}

/// The registry's classifier loader: the app's centroid file by its magic, any other file
/// by the forest crate's loader.
pub(crate) fn classifier_loader() -> ClassifierLoader {
    Arc::new(|bytes: &[u8]| -> Result<Box<dyn Classifier>, ModelError> {
        if bytes.starts_with(CENTROID_MAGIC) {
            Ok(Box::new(NearestCentroid::from_bytes(bytes)?))
        } else {
            load_classifier(bytes)
        }
    })
}

/// The registry's loader for the app's fitted table pipeline (JSON plus its derived column).
pub(crate) fn pipeline_loader() -> PipelineLoader {
    Arc::new(|bytes: &[u8]| {
        let fitted = FittedTablePipeline::from_json(std::str::from_utf8(bytes)?, &derived())?;
        Ok(Arc::new(fitted) as Arc<dyn Any + Send + Sync>)
    })
}

/// The app's drift test: Hellinger distance between the reference and current
/// distributions (numeric columns over ten bins at the reference's deciles, categorical
/// ones over their levels); drift when it exceeds the threshold.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hellinger {
    pub(crate) threshold: f64,
}

/// The detector's name, as the report's rows show it.
pub(crate) const HELLINGER: &str = "hellinger";

impl DriftDetector for Hellinger {
    fn name(&self) -> &str {
        HELLINGER
    }

    fn detect(
        &self,
        reference: &ColumnSample,
        current: &ColumnSample,
    ) -> Result<DriftResult, MonitorError> {
        let (p, q) = match ColumnSample::pair(reference, current)? {
            SamplePair::Numeric { reference, current } => {
                let edges: Vec<f64> = (1..10)
                    .map(|i| reference[i * (reference.len() - 1) / 10])
                    .collect();
                let shares = |v: &[f64]| {
                    let mut bins = vec![0.0; edges.len() + 1];
                    for x in v {
                        bins[edges.partition_point(|e| e < x)] += 1.0 / v.len() as f64;
                    }
                    bins
                };
                (shares(reference), shares(current))
            }
            SamplePair::Categorical { reference, current } => {
                let levels: BTreeSet<&String> = reference.keys().chain(current.keys()).collect();
                let shares = |c: &BTreeMap<String, u64>| {
                    let n = c.values().sum::<u64>() as f64;
                    let share = |l: &&String| c.get(*l).map_or(0.0, |&k| k as f64 / n);
                    levels.iter().map(share).collect::<Vec<_>>()
                };
                (shares(reference), shares(current))
            }
        };
        let bc: f64 = p.iter().zip(&q).map(|(x, y)| (x * y).sqrt()).sum();
        let distance = (1.0 - bc).max(0.0).sqrt();
        Ok(DriftResult {
            statistic: distance,
            p_value: None,
            score: distance,
            threshold: self.threshold,
            drifted: distance > self.threshold,
        })
    }
}

/// Cross-validation means of one model.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CvSummary {
    pub(crate) model: String,
    pub(crate) accuracy: f64,
    pub(crate) f1_macro: f64,
}

/// One registered version after promotion.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct VersionSummary {
    pub(crate) reference: String,
    pub(crate) model: String,
    pub(crate) cv_accuracy: f64,
    pub(crate) promotion: String,
    pub(crate) stage: String,
    pub(crate) aliases: Vec<String>,
}

/// One column's row of both drift reports.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DriftRow {
    pub(crate) column: String,
    pub(crate) builtin: String,
    pub(crate) builtin_score: f64,
    pub(crate) builtin_drifted: bool,
    pub(crate) custom: String,
    pub(crate) custom_score: f64,
    pub(crate) custom_drifted: bool,
}

/// The A/B test's outcome.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AbSummary {
    pub(crate) control: String,
    pub(crate) treatment: String,
    pub(crate) control_rate: Option<f64>,
    pub(crate) treatment_rate: Option<f64>,
    pub(crate) samples: [usize; 2],
    pub(crate) p_value: Option<f64>,
    pub(crate) winner: Option<String>,
    pub(crate) recommendation: String,
}

/// Everything the app found, for people (`Display`) and for tests (`--json`).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Summary {
    pub(crate) rows: usize,
    pub(crate) fingerprint: String,
    pub(crate) features: Vec<String>,
    pub(crate) cv: Vec<CvSummary>,
    pub(crate) comparison_mean_difference: f64,
    pub(crate) comparison_p_value: f64,
    pub(crate) versions: Vec<VersionSummary>,
    pub(crate) loaded_predictions_identical: bool,
    pub(crate) drift: Vec<DriftRow>,
    pub(crate) drifted_builtin: Vec<String>,
    pub(crate) drifted_custom: Vec<String>,
    pub(crate) ab: AbSummary,
}

/// Loads CSV text with the schema, strictly.
fn load(name: &str, csv: &str, schema: &Schema) -> Result<LoadedTable> {
    Ok(load_table_bytes(
        name,
        csv.as_bytes(),
        schema,
        &LoadOptions::strict(),
    )?)
}

fn cv_summary(cv: &CvResult) -> Result<CvSummary> {
    let mean = |s: &str| {
        cv.get(s)
            .map(|s| s.mean)
            .ok_or(format!("no {s} in the cv result"))
    };
    Ok(CvSummary {
        model: cv.model.clone(),
        accuracy: mean("accuracy")?,
        f1_macro: mean("f1_macro")?,
    })
}

/// The whole life cycle, with every file under `dir`.
pub(crate) fn run(dir: &Path, seed: u64) -> Result<Summary> {
    // Load with the schema and validate.
    let schema = schema()?;
    let loaded = load("machines.csv", &machine_csv(900, seed, 0.0)?, &schema)?;
    let report = ValidationReport::from_table(&loaded);
    if report.missing_values.iter().any(|c| c.count > 0) || !loaded.rejected.is_empty() {
        return Err(format!("the table does not validate:\n{report}").into());
    }

    // Featurize: fit on the table, get the numeric dataset.
    let pipeline = TablePipeline::new(TableConfig::default());
    let fitted = derived()
        .into_iter()
        .fold(pipeline, TablePipeline::derive)
        .fit(&loaded.table)?;
    let data = fitted.dataset(&loaded.table)?;

    // Cross-validate both models on the same folds, and compare them.
    let scorers = Scorer::parse_list(&["accuracy", "f1_macro"])?;
    let folds = stratified_folds(&data, 5, seed)?;
    let forest = ForestParams::builder()
        .n_estimators(60)
        .seed(seed)
        .build()?;
    let strategies: [&dyn ModelStrategy; 2] = [&forest, &NearestCentroidParams];
    let cvs: Vec<CvResult> = strategies
        .iter()
        .map(|s| cross_validate(*s, &data, &folds, &scorers))
        .collect::<Result<_, _>>()?;
    let comparison = cvs[1].compare(&cvs[0], "accuracy")?;

    // Track both as runs and register both versions, then promote each by policy.
    let store: Arc<dyn Store> = Arc::new(LocalStore::open(dir.join("mlruns"))?);
    let tracker = Tracker::new(store.clone());
    let registry = Registry::new(store)
        .with_loader(classifier_loader())
        .with_pipeline_loader(PIPELINE_KIND, pipeline_loader());
    let policy = PromotionPolicy::default();
    let mut in_memory = Vec::new();
    let mut promotions = Vec::new();
    for (strategy, cv) in strategies.iter().zip(&cvs) {
        let run = tracker.start_run(MODEL_NAME, Some(strategy.name()))?;
        run.log_params(strategy.params())?;
        run.log_metrics(cv.scores.iter().map(|(k, s)| (k.clone(), s.mean)))?;
        let model = strategy.fit(data.x.view(), data.y.view(), data.n_classes())?;
        let version = registry.register(
            NewVersion::new(MODEL_NAME, run.id(), model.to_bytes()?)
                .custom_pipeline(PIPELINE_KIND, fitted.to_json()?.into_bytes())
                .signature(Signature::from_schema(&schema)?)
                .data_fingerprint(loaded.fingerprint.canonical.to_hex()),
        )?;
        run.finish()?;
        promotions.push(registry.promote(MODEL_NAME, version.version, &policy)?);
        in_memory.push((version.version, model));
    }

    // Load each version back and predict on new readings: the same answers as in memory.
    let live = load("live.csv", &machine_csv(600, seed + 1, 0.0)?, &schema)?;
    let truth = live.table.target_indices()?;
    let mut predictions = BTreeMap::new();
    let mut identical = true;
    for (version, model) in &in_memory {
        let reference = ModelRef::Version {
            name: MODEL_NAME.into(),
            version: *version,
        };
        let back = registry.load(&reference)?;
        let pipeline = back
            .pipeline_as::<FittedTablePipeline>()
            .ok_or("no table pipeline")?;
        let x = pipeline.transform(&live.table)?;
        identical &= back.classifier.predict_proba(x.view())? == model.predict_proba(x.view())?;
        predictions.insert(reference.to_string(), back.classifier.predict(x.view())?);
    }
    let mut versions = Vec::new();
    for ((number, _), (cv, decision)) in in_memory.iter().zip(cvs.iter().zip(&promotions)) {
        let v = registry.version(MODEL_NAME, *number)?;
        versions.push(VersionSummary {
            reference: ModelRef::Version {
                name: v.name,
                version: v.version,
            }
            .to_string(),
            model: cv.model.clone(),
            cv_accuracy: decision.value,
            promotion: decision.outcome.to_string(),
            stage: v.current_stage.to_string(),
            aliases: v.aliases,
        });
    }

    // Drift on a shifted copy (same seed, temperature +15 °C): built-in and custom tests.
    let shifted = load("shifted.csv", &machine_csv(900, seed, 15.0)?, &schema)?;
    let profile = ReferenceProfile::from_columns(&loaded.table.named_columns())?;
    let current = shifted.table.named_columns();
    let builtin = profile.drift(&current, &DriftOptions::default())?;
    let hellinger = Arc::new(Hellinger { threshold: 0.1 });
    let custom = profile.drift(&current, &DriftOptions::default().detector(hellinger))?;
    let drift: Vec<DriftRow> = builtin
        .columns
        .iter()
        .zip(&custom.columns)
        .map(|(b, c)| DriftRow {
            column: b.column.clone(),
            builtin: b.detector.clone(),
            builtin_score: b.score,
            builtin_drifted: b.drifted,
            custom: c.detector.clone(),
            custom_score: c.score,
            custom_drifted: c.drifted,
        })
        .collect();
    let drifted = |r: &obesity_mlops::monitor::DriftReport| {
        r.columns
            .iter()
            .filter(|c| c.drifted)
            .map(|c| c.column.clone())
            .collect::<Vec<_>>()
    };

    // A/B test: champion (control) against the other version, outcome = a correct answer.
    let champion = versions
        .iter()
        .find(|v| v.aliases.contains(&policy.champion_alias));
    let control = champion.map_or(versions[0].reference.clone(), |v| v.reference.clone());
    let treatment = versions
        .iter()
        .find(|v| v.reference != control)
        .ok_or("one version")?;
    let config = AbTestConfig::new("centroid-vs-forest", &control, &treatment.reference);
    let start = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .ok_or("no such time")?;
    let mut ab = AbTest::in_memory(config, Arc::new(ManualClock::new(start)))?;
    ab.start()?;
    for (row, class) in truth.iter().enumerate() {
        let user = format!("machine-{row}");
        let assignment = ab.assign(&user, &BTreeMap::new());
        let predicted: &Array1<usize> = predictions
            .get(&assignment.model_version)
            .ok_or("the A/B test routed to an unknown version")?;
        if assignment.enrolled {
            ab.record_outcome(&user, Outcome::Success(predicted[row] == *class))?;
        }
    }
    let analysis = ab.analyze()?;

    Ok(Summary {
        rows: loaded.table.n_rows(),
        fingerprint: loaded.fingerprint.canonical.to_hex(),
        features: fitted.feature_names().to_vec(),
        cv: cvs.iter().map(cv_summary).collect::<Result<_>>()?,
        comparison_mean_difference: comparison.mean_difference,
        comparison_p_value: comparison.p_value,
        versions,
        loaded_predictions_identical: identical,
        drifted_builtin: drifted(&builtin),
        drifted_custom: drifted(&custom),
        drift,
        ab: AbSummary {
            control: analysis.control.model_version.clone(),
            treatment: analysis.treatment.model_version.clone(),
            control_rate: analysis.control.metric,
            treatment_rate: analysis.treatment.metric,
            samples: [analysis.control.samples, analysis.treatment.samples],
            p_value: analysis.p_value,
            winner: analysis.winner_version().map(str::to_string),
            recommendation: analysis.recommendation.to_string(),
        },
    })
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} rows, {} features, fingerprint {}…",
            self.rows,
            self.features.len(),
            &self.fingerprint[..12]
        )?;
        for cv in &self.cv {
            writeln!(
                f,
                "cv {:<17} accuracy {:.3}  f1_macro {:.3}",
                cv.model, cv.accuracy, cv.f1_macro
            )?;
        }
        writeln!(
            f,
            "centroid − forest accuracy {:+.3}, corrected t-test p = {:.3}",
            self.comparison_mean_difference, self.comparison_p_value
        )?;
        for v in &self.versions {
            writeln!(
                f,
                "{} {:<17} {:<10} → {} {:?}",
                v.reference, v.model, v.promotion, v.stage, v.aliases
            )?;
        }
        writeln!(
            f,
            "registry round trip predicts as in memory: {}",
            self.loaded_predictions_identical
        )?;
        writeln!(
            f,
            "{:<12} {:>12} {:>7}  {:>12} {:>7}",
            "drift", "built-in", "score", "custom", "score"
        )?;
        for r in &self.drift {
            let mark = |d: bool| if d { "*" } else { " " };
            writeln!(
                f,
                "{:<12} {:>12} {:>6.3}{}  {:>12} {:>6.3}{}",
                r.column,
                r.builtin,
                r.builtin_score,
                mark(r.builtin_drifted),
                r.custom,
                r.custom_score,
                mark(r.custom_drifted)
            )?;
        }
        let rate = |r: Option<f64>| r.map_or("-".into(), |r| format!("{r:.3}"));
        write!(
            f,
            "A/B {} {} vs {} {} (n = {:?}): {}",
            self.ab.control,
            rate(self.ab.control_rate),
            self.ab.treatment,
            rate(self.ab.treatment_rate),
            self.ab.samples,
            self.ab.recommendation
        )
    }
}

fn main() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let summary = run(dir.path(), 42)?;
    if std::env::args().any(|a| a == "--json") {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!("{summary}");
    }
    Ok(())
}
