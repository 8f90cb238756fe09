//! # obesity-mlops
//!
//! The facade over a workspace of layered crates that carries a tabular classifier through
//! its whole life: load and validate data ([`data`]), engineer features ([`features`]),
//! train the flattened random forest ([`forest`]), evaluate and tune it ([`eval`]), track
//! experiments and register model versions ([`registry`]), serve it over HTTP ([`serve`]),
//! and watch it after it ships ([`monitor`]).
//!
//! Each module is a re-export of one crate, so a user can depend on this package alone or on
//! the individual crates. [`pipeline`] composes them into the train-and-register chain — five
//! stage functions (load + validate, featurize, train, evaluate, register) that
//! `cargo run --release --example train_and_register`, the `obesity` command line, the DVC
//! stages of `dvc.yaml` and a [`RetrainTrigger`](monitor::RetrainTrigger) all call.
//! [`params`] reads `params.yaml`, the one configuration file of all of them.
//!
//! # Composing your own chain
//!
//! Every step is an ordinary call into one crate, so a pipeline is a page of code. This is
//! the core of what [`pipeline::train_and_register`] does, minus tracking and registration:
//!
//! ```
//! use obesity_mlops::data::{LoadOptions, load_csv, stratified_split, target_indices};
//! use obesity_mlops::eval::{ClassificationReport, Scorer, ZeroDivision, cross_validate, stratified_folds};
//! use obesity_mlops::features::FeaturePipeline;
//! use obesity_mlops::forest::{Classifier, ForestParams, ModelStrategy};
//!
//! // Load and validate (a bad row is an error naming file, line, column and value).
//! let csv = obesity_mlops::pipeline::default_data_path();
//! let loaded = load_csv(&csv, &LoadOptions::strict())?;
//! let labels = target_indices(&loaded.records)?;
//!
//! // Split, then fit the features on the training rows only.
//! let (train_idx, test_idx) = stratified_split(&labels, 0.2, 42)?;
//! let pick = |idx: &[usize]| idx.iter().map(|&i| loaded.records[i].clone()).collect::<Vec<_>>();
//! let (train_records, test_records) = (pick(&train_idx), pick(&test_idx));
//! let features = FeaturePipeline::standard().fit(&train_records)?;
//! let train = features.dataset(&train_records)?;
//! let test = features.dataset(&test_records)?;
//!
//! // Any ModelStrategy works here; the forest is ours.
//! let strategy = ForestParams::builder().n_estimators(20).seed(7).build()?;
//! let folds = stratified_folds(&train, 3, 42)?;
//! let cv = cross_validate(&strategy, &train, &folds, &Scorer::parse_list(&["f1_macro"])?)?;
//! let model = strategy.fit(train.x.view(), train.y.view(), train.n_classes())?;
//!
//! let predicted = model.predict(test.x.view())?.to_vec();
//! let report = ClassificationReport::new(&test.y.to_vec(), &predicted, &test.class_names, ZeroDivision::Zero)?;
//! assert!(report.accuracy > 0.8);
//! assert!(cv.get("f1_macro").is_some_and(|s| s.mean > 0.8));
//! println!("{}", report.to_text(3));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Your own table, model and drift test
//!
//! Obesity is one instance of the library, not its shape. `examples/custom_table.rs` is a
//! downstream app with nothing of obesity in it — a 3-class table of machine readings (4
//! numeric columns, 1 categorical, 900 seeded rows), a nearest-centroid classifier and a
//! Hellinger drift test of its own — taken through load with a schema, validate, featurize
//! (with a derived column), cross-validate against the forest, compare, track, register
//! (its own model file and transform, read back by loaders it registers), promote, drift
//! report with both detectors side by side and an A/B test of the two registered versions
//! (`cargo run --example custom_table [-- --json]`; `tests/custom_table.rs` asserts its
//! outcomes). Its 704 lines:
//!
//! | lines | what |
//! |---:|---|
//! | 50 | module docs and imports |
//! | 69 | the app's table: its [`Schema`](data::Schema), a seeded CSV generator, the derived column |
//! | 175 | its model: [`ModelStrategy`](forest::ModelStrategy) + [`Classifier`](forest::Classifier), its file in the crates' checksummed [`envelope`](forest::envelope) |
//! | 20 | the two loaders it registers with the [`Registry`](registry::Registry) |
//! | 55 | its [`DriftDetector`](monitor::DriftDetector) |
//! | 86 | the summary it prints and serialises, two small helpers |
//! | 172 | the life cycle itself, one call per step |
//! | 77 | printing and `main` |
//!
//! None of them works around the crates: where the first version of the app needed a line
//! for that, the crate grew the missing piece instead (`ColumnSample::pair` for detectors,
//! `AbAnalysis::winner_version`, `Display` for the promotion outcome and the A/B
//! recommendation).
#![deny(missing_docs)]

mod error;
pub mod grid;
pub mod params;
pub mod pipeline;

pub use error::{PipelineError, Result};

/// Re-export of the ndarray version every crate's signatures use (the one linfa uses): an
/// application on another ndarray version builds its matrices with `obesity_mlops::ndarray`.
pub use obesity_forest::ndarray;
/// Re-export of the chrono version of the monitor's and registry's timestamps.
pub use obesity_monitor::chrono;

pub use obesity_data as data;
pub use obesity_eval as eval;
pub use obesity_features as features;
pub use obesity_forest as forest;
pub use obesity_monitor as monitor;
pub use obesity_onnx as onnx;
pub use obesity_registry as registry;
pub use obesity_serve as serve;
