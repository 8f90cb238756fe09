//! A registered version made ready for the request path: its signature compiled into a
//! [`RowSchema`], its feature pipeline, and its classifier behind the fastest kernel it has.

use std::sync::Arc;

use ndarray::Array2;
use obesity_data::{ObesityRecord, Schema};
use obesity_features::{FeatureError, FittedPipeline};
use obesity_forest::{Classifier, RandomForest};
use obesity_monitor::ReferenceProfile;
use obesity_registry::{Lineage, LoadedModel, ModelRef, ModelVersion, Registry, Signature};
use prometheus_client::metrics::counter::Counter;

use crate::batching::{Arrival, DynamicBatching, Executor, PredictFn};
use crate::error::{ApiError, ServeError};
use crate::metrics::Metrics;
use crate::routes::answer::AnswerJson;
use crate::row::RowSchema;

/// The artifact the training chain stores next to the model with the drift monitor's
/// reference profile (one home: obesity-monitor, which owns the profile).
pub use obesity_monitor::REFERENCE_PROFILE_FILE;

/// Most classes a served model may have: probabilities of one row live on the stack.
pub(crate) const MAX_CLASSES: usize = 64;

/// How the classifier is called.
// One per loaded version, so the size difference costs nothing; boxing the forest would only
// add a pointer chase to every prediction.
#[allow(clippy::large_enum_variant)]
enum Kernel {
    /// Our forest: the allocation-free single-row kernel for one row.
    Forest(RandomForest),
    /// Any other classifier, through the trait (a 1-row matrix per row).
    Any(Box<dyn Classifier>),
}

impl Kernel {
    /// Probabilities of a batch, checked to be one row per input row and one column per
    /// class (a custom classifier's answer is read by index afterwards).
    fn predict_proba(&self, x: ndarray::ArrayView2<'_, f32>) -> Result<Array2<f32>, String> {
        let (p, n_classes) = match self {
            Kernel::Forest(forest) => (forest.predict_proba(x), forest.n_classes()),
            Kernel::Any(model) => (model.predict_proba(x), model.n_classes()),
        };
        let p = p.map_err(|e| e.to_string())?;
        if p.dim() == (x.nrows(), n_classes) {
            Ok(p)
        } else {
            Err(format!(
                "the classifier answered a {:?} matrix for {} rows of {n_classes} classes",
                p.dim(),
                x.nrows()
            ))
        }
    }
}

/// One row's prediction.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Prediction {
    /// Index of the most probable class (ties go to the lowest index, as `Classifier::predict`).
    pub(crate) class: usize,
    /// Its probability.
    pub(crate) confidence: f32,
    /// Probabilities; only the first `n_classes` entries are meaningful.
    pub(crate) proba: [f32; MAX_CLASSES],
}

/// A loaded version, ready to serve.
pub(crate) struct ServedModel {
    pub(crate) name: String,
    pub(crate) version: u64,
    /// `version` as text, the form MLflow, the monitor and the A/B test use.
    pub(crate) version_label: String,
    pub(crate) row: RowSchema,
    pub(crate) signature: Signature,
    pub(crate) classes: Vec<String>,
    pub(crate) feature_names: Vec<String>,
    pub(crate) classifier_name: String,
    pub(crate) profile: Option<ReferenceProfile>,
    pub(crate) meta: ModelVersion,
    pub(crate) lineage: Lineage,
    /// Share of each class in the data the version was evaluated on, when its run logged a
    /// classification report (the dashboard's class-mix reference).
    pub(crate) training_mix: Option<Vec<f64>>,
    /// The answer's repeated strings (class names, version), JSON-escaped once.
    pub(crate) answer_json: AnswerJson,
    pipeline: FittedPipeline,
    kernel: Arc<Kernel>,
    /// Merges concurrent multi-row requests into one kernel call (`None`: merging off).
    executor: Option<Executor>,
    /// Prometheus `predictions_total{version, class}` handles, one per class, made once here
    /// so the request path never looks a label set up.
    class_counters: Vec<Counter>,
}

impl std::fmt::Debug for ServedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServedModel")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("classifier", &self.classifier_name)
            .finish_non_exhaustive()
    }
}

impl ServedModel {
    /// Checks a loaded version and prepares it. A version without a feature pipeline, with a
    /// signature the pipeline cannot read, or whose classes disagree with the classifier is
    /// refused: serving it would fail every request.
    pub(crate) fn from_loaded(
        loaded: LoadedModel,
        profile: Option<ReferenceProfile>,
        metrics: &Metrics,
        batching: DynamicBatching,
    ) -> Result<Self, ServeError> {
        let name = loaded.version.name.clone();
        let version = loaded.version.version;
        let unservable = |reason: String| ServeError::Unservable {
            name: name.clone(),
            version,
            reason,
        };
        let pipeline = loaded
            .pipeline
            .ok_or_else(|| unservable("no feature pipeline was registered with it".into()))?;
        let signature = match loaded.signature {
            Some(s) => s,
            None => {
                tracing::warn!(
                    model = %name,
                    version,
                    "no signature registered; validating requests against the obesity schema"
                );
                Signature::from_schema(&Schema::obesity())?
            }
        };
        let row = RowSchema::new(&signature).map_err(unservable)?;
        let classifier = loaded.classifier;
        let n_classes = classifier.n_classes();
        if signature.classes.len() != n_classes {
            return Err(unservable(format!(
                "the signature names {} classes but the classifier has {n_classes}",
                signature.classes.len()
            )));
        }
        if n_classes == 0 || n_classes > MAX_CLASSES {
            return Err(unservable(format!(
                "{n_classes} classes (1 to {MAX_CLASSES} are supported)"
            )));
        }
        if pipeline.n_features() != classifier.n_features() {
            return Err(unservable(format!(
                "the pipeline makes {} features but the classifier takes {}",
                pipeline.n_features(),
                classifier.n_features()
            )));
        }
        let classifier_name = classifier.name().to_owned();
        // The trait has no single-row method, so a forest is re-read as the concrete type to
        // reach its allocation-free row kernel. The bytes round trip is exact (the format is
        // what the registry stored) and happens once per load.
        let kernel = match classifier
            .to_bytes()
            .ok()
            .and_then(|b| RandomForest::from_bytes(&b).ok())
        {
            Some(forest) => Kernel::Forest(forest),
            None => Kernel::Any(classifier),
        };
        let kernel = Arc::new(kernel);
        let executor = if batching.enabled() {
            let shared = kernel.clone();
            let predict: PredictFn = Arc::new(move |x| shared.predict_proba(x));
            Some(Executor::start(
                format!("obesity-batch-v{version}"),
                batching,
                predict,
                metrics.batch_rows.clone(),
            )?)
        } else {
            None
        };
        let version_label = version.to_string();
        let class_counters = signature
            .classes
            .iter()
            .map(|c| metrics.prediction_counter(&version_label, c))
            .collect();
        let answer_json = AnswerJson::new(&signature.classes, &version_label);
        Ok(ServedModel {
            name,
            version,
            version_label,
            row,
            classes: signature.classes.clone(),
            feature_names: pipeline.feature_names().to_vec(),
            signature,
            classifier_name,
            profile,
            meta: loaded.version,
            lineage: loaded.lineage,
            training_mix: None,
            answer_json,
            pipeline,
            kernel,
            executor,
            class_counters,
        })
    }

    /// Number of classes.
    pub(crate) fn n_classes(&self) -> usize {
        self.classes.len()
    }

    /// Predicts one record: the pipeline's row transform into a stack buffer, then the
    /// model's row path (the forest's allocation-free kernel).
    pub(crate) fn predict_one(&self, record: &ObesityRecord) -> Result<Prediction, ApiError> {
        const STACK_FEATURES: usize = 256;
        let width = self.pipeline.n_features();
        let mut stack = [0.0f32; STACK_FEATURES];
        let mut heap = Vec::new();
        let row: &mut [f32] = if width <= STACK_FEATURES {
            &mut stack[..width]
        } else {
            heap.resize(width, 0.0);
            &mut heap
        };
        self.pipeline
            .transform_row_into(record, row)
            .map_err(|e| feature_error(e, None))?;
        let k = self.n_classes();
        let mut proba = [0.0f32; MAX_CLASSES];
        match self.kernel.as_ref() {
            Kernel::Forest(forest) => forest.predict_proba_row(row, &mut proba[..k]),
            Kernel::Any(model) => model.predict_proba_row(row, &mut proba[..k]),
        }
        .map_err(ApiError::internal)?;
        Ok(self.finish(proba))
    }

    /// Predicts many records with the batch kernel: an `n × n_classes` matrix. The rows are
    /// featurized here; the kernel call is merged with other requests' on the version's
    /// executor (see [`crate::batching`]) unless merging is off or the batch is big enough
    /// on its own.
    pub(crate) async fn predict_many(
        &self,
        records: &[ObesityRecord],
        arrival: Option<Arrival>,
    ) -> Result<Array2<f32>, ApiError> {
        let x = self
            .pipeline
            .transform(records)
            .map_err(|e| feature_error(e, Some(records.len())))?;
        match &self.executor {
            Some(executor) if executor.takes(x.nrows()) => executor.predict(x, arrival).await,
            _ => {
                // Not queued: the executor need not wait for these rows.
                drop(arrival);
                self.kernel.predict_proba(x.view())
            }
        }
        .map_err(ApiError::internal)
    }

    /// Announces a multi-row request to this version's executor before its body is parsed
    /// (see [`Arrival`]); `None` when merging is off.
    pub(crate) fn announce(&self) -> Option<Arrival> {
        self.executor.as_ref().map(Executor::announce)
    }

    /// Arg-max and confidence of one probability row, and the Prometheus count.
    pub(crate) fn finish(&self, proba: [f32; MAX_CLASSES]) -> Prediction {
        let k = self.n_classes();
        let mut class = 0;
        for (i, &p) in proba[..k].iter().enumerate() {
            if p > proba[class] {
                class = i;
            }
        }
        if let Some(c) = self.class_counters.get(class) {
            c.inc();
        }
        Prediction {
            class,
            confidence: proba[class],
            proba,
        }
    }

    /// The prediction of row `i` of a `predict_many` matrix.
    pub(crate) fn row_prediction(&self, p: &Array2<f32>, i: usize) -> Prediction {
        let mut proba = [0.0f32; MAX_CLASSES];
        for (o, v) in proba.iter_mut().zip(p.row(i).iter()) {
            *o = *v;
        }
        self.finish(proba)
    }
}

/// A pipeline failure on request data is the client's: it names the column.
fn feature_error(e: FeatureError, rows: Option<usize>) -> ApiError {
    let at = |row: usize, column: &str| match rows {
        Some(_) => format!("[{row}].{column}"),
        None => column.to_owned(),
    };
    match e {
        FeatureError::NonFinite { row, column, value } => ApiError::invalid(
            "out_of_range",
            format!("{column} = {value} does not give a finite feature"),
        )
        .field(at(row, &column)),
        FeatureError::UnseenCategory {
            row,
            column,
            value,
            seen,
        } => ApiError::invalid(
            "unknown_category",
            format!(
                "{column} = {value:?} was not seen in training; this model accepts {}",
                seen.join(", ")
            ),
        )
        .field(at(row, &column)),
        other => ApiError::internal(other),
    }
}

/// Loads the version `reference` points to, with its reference profile when it has one.
/// Blocking (disk or HTTP): call it from a blocking task.
pub(crate) fn load(
    registry: &Registry,
    reference: &ModelRef,
    metrics: &Metrics,
    batching: DynamicBatching,
) -> Result<Arc<ServedModel>, ServeError> {
    let loaded = registry.load(reference)?;
    let (name, version) = (loaded.version.name.clone(), loaded.version.version);
    let profile = match registry.artifact(&name, version, REFERENCE_PROFILE_FILE) {
        Ok(bytes) => match std::str::from_utf8(&bytes)
            .map_err(|e| e.to_string())
            .and_then(|t| ReferenceProfile::from_json(t).map_err(|e| e.to_string()))
        {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::warn!(model = %name, version, error = %e, "reference profile unreadable; drift is off for this version");
                None
            }
        },
        Err(e) if e.is_not_found() => None,
        Err(e) => {
            tracing::warn!(model = %name, version, error = %e, "reference profile not loaded; drift is off for this version");
            None
        }
    };
    let mut served = ServedModel::from_loaded(loaded, profile, metrics, batching)?;
    served.training_mix = training_mix(registry, &served);
    Ok(Arc::new(served))
}

/// The class mix of the held-out split the version was evaluated on — stratified, so the
/// training mix — from `reports/classification_report.json` in its run, which the training
/// chain logs. Best effort: a version trained elsewhere has none, and the dashboard says so.
fn training_mix(registry: &Registry, m: &ServedModel) -> Option<Vec<f64>> {
    let run = m.meta.run_id.as_deref()?;
    let bytes = registry
        .store()
        .download_artifact(run, "reports/classification_report.json")
        .ok()?;
    let report: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let mut counts = vec![0.0; m.classes.len()];
    for row in report.get("classes")?.as_array()? {
        let label = row.get("label")?.as_str()?;
        let support = row.get("support")?.as_f64()?;
        let i = m.classes.iter().position(|c| c == label)?;
        counts[i] = support;
    }
    let total: f64 = counts.iter().sum();
    (total > 0.0).then(|| counts.iter().map(|c| c / total).collect())
}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, ArrayView2};
    use obesity_forest::Classifier;

    use super::Kernel;

    /// A classifier of 3 classes whose answer has `rows` rows and `cols` columns whatever it
    /// is asked.
    struct Misshapen {
        rows: usize,
        cols: usize,
    }

    impl Classifier for Misshapen {
        fn name(&self) -> &str {
            "misshapen"
        }
        fn n_features(&self) -> usize {
            2
        }
        fn n_classes(&self) -> usize {
            3
        }
        fn predict_proba(&self, _x: ArrayView2<'_, f32>) -> obesity_forest::Result<Array2<f32>> {
            Ok(Array2::zeros((self.rows, self.cols)))
        }
    }

    #[test]
    fn a_misshapen_answer_is_an_error_not_an_index_out_of_bounds_later() {
        let x = Array2::<f32>::zeros((4, 2));
        for (rows, cols, ok) in [(4, 3, true), (3, 3, false), (4, 2, false), (5, 3, false)] {
            let kernel = Kernel::Any(Box::new(Misshapen { rows, cols }));
            let got = kernel.predict_proba(x.view());
            assert_eq!(got.is_ok(), ok, "{rows} x {cols}: {got:?}");
            if let Err(e) = got {
                assert!(e.contains("for 4 rows of 3 classes"), "{e}");
            }
        }
    }
}
