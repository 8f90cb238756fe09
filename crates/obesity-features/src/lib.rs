//! # obesity-features
//!
//! Turns tables into the numeric [`Dataset`] every model consumes: fit on the training rows,
//! apply anywhere, save next to the model. [`TablePipeline`] works on a table of any schema;
//! [`FeaturePipeline`] is the typed form for obesity records.
//!
//! It is scikit-learn's `ColumnTransformer` for this schema, with linfa's split between
//! settings and fitted state:
//!
//! - [`FeatureConfig`]: what to compute (plain data, serde). [`FeatureConfig::default`] is the
//!   compact 22-column encoding for trees; [`FeatureConfig::standard`] is the 32-column
//!   one-hot matrix (`pandas.get_dummies` plus BMI) the forest is benchmarked on.
//! - [`FeaturePipeline`]: the factory. [`FeaturePipeline::fit`] learns the levels seen and,
//!   optionally, the scaling statistics, and returns a [`FittedPipeline`].
//! - [`FittedPipeline`]: [`transform`](FittedPipeline::transform) (records to an
//!   `Array2<f32>`, targets ignored), [`dataset`](FittedPipeline::dataset) (labelled
//!   records to a [`Dataset`]), [`feature_names`](FittedPipeline::feature_names),
//!   [`class_names`](FittedPipeline::class_names), and a versioned JSON form
//!   ([`to_json`](FittedPipeline::to_json), [`save`](FittedPipeline::save), ...) that
//!   reproduces the matrix bit for bit.
//! - [`FeatureError`]: every failure, naming the row (the index in the slice you passed; for
//!   records from `obesity_data::load_csv`, `loaded.lines[row]` is the line in the file), the
//!   column and the value. Nothing here panics on a record.
//!
//! ## Features
//!
//! - The 8 numeric columns as they are; `BMI = Weight / Height²` ([`FeatureConfig::bmi`]).
//! - `Gender` and `MTRANS` one-hot, named `Gender=Male`, `MTRANS=Walking`.
//! - `CAEC` and `CALC` as ordinal codes (`no` 0 < `Sometimes` 1 < `Frequently` 2 < `Always`
//!   3) or one-hot ([`FrequencyEncoding`]).
//! - yes/no columns as one `FAVC=yes` column or two one-hot columns ([`BinaryEncoding`]).
//! - Optional standard scaling of the numeric columns and BMI, fitted on the training records
//!   only ([`Scaling`]).
//! - A level not seen in `fit` (the UCI file has one `CALC=Always` row, so a split can miss
//!   it) follows [`UnseenCategory`]: schema levels (default, width never depends on the
//!   sample), ignore (all zeros), or error.
//!
//! The column order is documented on [`FeatureConfig`].
//!
//! ## Any table
//!
//! [`TablePipeline`] is the same transform for an `obesity_data::Table` of any schema,
//! driven by the schema: numeric columns passed through or standardised, unordered
//! categoricals one-hot, ordered ones as ordinal codes or one-hot, binary columns as one
//! 0/1 column or two, derived numeric columns given by the app ([`Derived`], such as
//! [`Derived::bmi`]), and the same [`UnseenCategory`] rule; [`TableConfig`] holds the
//! settings. [`FittedTablePipeline`] transforms tables to the same [`Dataset`] and saves as
//! versioned JSON; a derived column is saved by name and inputs, and the app passes its
//! [`Derived`] values again to [`FittedTablePipeline::from_json`].
//!
//! `TablePipeline::obesity(config)` on `Table::from_records(records)` gives the matrix and
//! names of `FeaturePipeline::new(config)` on `records` bit for bit, for every
//! configuration (a test checks all 48). [`FeaturePipeline`] stays the typed, record-based
//! form: its saved JSON format and its allocation-free single-record path
//! ([`FittedPipeline::transform_row_into`]) are what registered models and the server use.
//!
//! Scaling is the crate's own scikit-learn `StandardScaler` (ddof = 0, division by the
//! standard deviation, scikit-learn's constant-column bound), not `linfa-preprocessing`'s:
//! see [`TableConfig`] for why.
//!
//! ## Example
//!
//! ```
//! use obesity_data::{Frequency, Gender, ObesityLevel, ObesityRecord, Transport};
//! use obesity_features::{FeatureConfig, FeaturePipeline, FittedPipeline, UnseenCategory};
//!
//! let person = |gender, height: f64, weight: f64, calc, target| ObesityRecord {
//!     gender, age: 23.0, height, weight,
//!     family_history_with_overweight: true, favc: true, fcvc: 2.0, ncp: 3.0,
//!     caec: Frequency::Sometimes, smoke: false, ch2o: 2.0, scc: false, faf: 1.0, tue: 1.0,
//!     calc, mtrans: Transport::PublicTransportation, target,
//! };
//! let train = [
//!     person(Gender::Female, 1.60, 64.0, Frequency::No, Some(ObesityLevel::NormalWeight)),
//!     person(Gender::Male, 1.80, 113.4, Frequency::Sometimes, Some(ObesityLevel::ObesityTypeII)),
//! ];
//!
//! // Fit on the training records: the 32-column one-hot matrix.
//! let fitted = FeaturePipeline::standard().fit(&train)?;
//! let data = fitted.dataset(&train)?;
//! assert_eq!(data.x.dim(), (2, 32));
//! assert_eq!(data.y.to_vec(), [1, 5]); // ObesityLevel::index
//! let bmi = fitted.feature_names().iter().position(|n| n == "BMI").ok_or("no BMI")?;
//! assert_eq!(data.x[[0, bmi]], 25.0); // 64 / 1.6²
//!
//! // Apply to an unlabelled request whose CALC level training never saw: under the default
//! // rule the schema's `CALC=Always` column exists anyway.
//! let request = person(Gender::Male, 1.75, 80.0, Frequency::Always, None);
//! let x = fitted.transform(std::slice::from_ref(&request))?;
//! let always = fitted.feature_names().iter().position(|n| n == "CALC=Always").ok_or("no column")?;
//! assert_eq!(x[[0, always]], 1.0);
//!
//! // Under the Error rule, the same request is an error naming row, column and value.
//! let strict = FeatureConfig { unseen: UnseenCategory::Error, ..FeatureConfig::standard() };
//! let err = FeaturePipeline::new(strict).fit(&train)?.transform(&[request]).unwrap_err();
//! assert!(err.to_string().contains("row 0: column CALC has level \"Always\""));
//!
//! // Saved and loaded, the pipeline gives the same matrix, bit for bit.
//! let loaded = FittedPipeline::from_json(&fitted.to_json()?)?;
//! assert_eq!(loaded.transform(&train)?, data.x);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

/// Re-export of the ndarray version this crate's signatures use (the one linfa uses), so that an
/// application on another ndarray version names this one as `obesity_features::ndarray`.
pub use ndarray;

mod config;
mod dataset;
mod derived;
mod error;
mod fitted;
mod persist;
mod pipeline;
mod source;
mod table_fitted;
mod table_pipeline;

pub use config::{BinaryEncoding, FeatureConfig, FrequencyEncoding, Scaling, UnseenCategory};
pub use dataset::Dataset;
pub use derived::Derived;
pub use error::{FeatureError, Result};
pub use fitted::FittedPipeline;
pub use pipeline::FeaturePipeline;
pub use table_fitted::FittedTablePipeline;
pub use table_pipeline::{TableConfig, TablePipeline};
