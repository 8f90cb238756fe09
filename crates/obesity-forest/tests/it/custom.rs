//! A model written outside the crate (issue 13, item 4): a nearest-centroid classifier that
//! uses the public input checks and envelope instead of copying private ones, and the default
//! `to_bytes`, whose error says how to give a model a file format.

use ndarray::{Array1, Array2, ArrayView2, array};
use obesity_forest::{Classifier, ModelError, ModelStrategy, Result, envelope, validate};

const MAGIC: &[u8; 8] = b"TSTCENTR";

struct Centroids {
    means: Array2<f32>,
}

impl Centroids {
    fn fit(x: ArrayView2<'_, f32>, y: &Array1<usize>, n_classes: usize) -> Result<Self> {
        validate::check_training(x, y.view(), n_classes)?;
        let mut means = Array2::<f32>::zeros((n_classes, x.ncols()));
        let mut counts = vec![0f32; n_classes];
        for (row, &label) in x.rows().into_iter().zip(y) {
            let mut m = means.row_mut(label);
            m += &row;
            counts[label] += 1.0;
        }
        for (mut m, c) in means.rows_mut().into_iter().zip(counts) {
            m /= c.max(1.0);
        }
        Ok(Centroids { means })
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let payload = envelope::open(bytes, MAGIC, "test_centroids")?;
        let (shape, values) = payload.split_at(8.min(payload.len()));
        let rows = u32::from_le_bytes(shape[..4].try_into().expect("4 bytes")) as usize;
        let cols = u32::from_le_bytes(shape[4..8].try_into().expect("4 bytes")) as usize;
        let values: Vec<f32> = values
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        let means =
            Array2::from_shape_vec((rows, cols), values).map_err(|e| ModelError::Corrupt {
                reason: e.to_string(),
            })?;
        Ok(Centroids { means })
    }
}

impl Classifier for Centroids {
    fn name(&self) -> &str {
        "test_centroids"
    }
    fn n_features(&self) -> usize {
        self.means.ncols()
    }
    fn n_classes(&self) -> usize {
        self.means.nrows()
    }
    fn predict_proba(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        validate::check_predict(x, self.n_features())?;
        let mut out = Array2::<f32>::zeros((x.nrows(), self.n_classes()));
        for (i, row) in x.rows().into_iter().enumerate() {
            let nearest = self
                .means
                .rows()
                .into_iter()
                .map(|m| (&m - &row).mapv(|d| d * d).sum())
                .enumerate()
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map_or(0, |(k, _)| k);
            out[[i, nearest]] = 1.0;
        }
        Ok(out)
    }
    fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut payload = Vec::new();
        payload.extend_from_slice(&(self.means.nrows() as u32).to_le_bytes());
        payload.extend_from_slice(&(self.means.ncols() as u32).to_le_bytes());
        for v in &self.means {
            payload.extend_from_slice(&v.to_le_bytes());
        }
        Ok(envelope::seal(MAGIC, &payload))
    }
}

/// The same model without a file format: it keeps the default `to_bytes`.
struct NoFormat;

impl Classifier for NoFormat {
    fn name(&self) -> &str {
        "no_format"
    }
    fn n_features(&self) -> usize {
        1
    }
    fn n_classes(&self) -> usize {
        1
    }
    fn predict_proba(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        validate::check_predict(x, 1)?;
        Ok(Array2::ones((x.nrows(), 1)))
    }
}

fn toy() -> (Array2<f32>, Array1<usize>) {
    (
        array![[0.0f32, 0.0], [0.2, 0.1], [5.0, 5.0], [5.2, 4.9]],
        array![0usize, 0, 1, 1],
    )
}

#[test]
fn a_custom_classifier_round_trips_through_the_public_envelope() {
    let (x, y) = toy();
    let model = Centroids::fit(x.view(), &y, 2).expect("fit");
    let bytes = model.to_bytes().expect("bytes");
    let back = Centroids::from_bytes(&bytes).expect("read back");
    assert_eq!(back.means, model.means);
    assert_eq!(back.predict(x.view()).expect("predict"), y);
}

#[test]
fn the_public_checks_refuse_what_the_built_in_models_refuse() {
    let (x, y) = toy();
    let model = Centroids::fit(x.view(), &y, 2).expect("fit");
    let narrow = array![[1.0f32]];
    assert!(matches!(
        model.predict_proba(narrow.view()),
        Err(ModelError::FeatureCountMismatch {
            expected: 2,
            got: 1
        })
    ));
    let mut bad = x.clone();
    bad[[2, 1]] = f32::INFINITY;
    assert!(matches!(
        Centroids::fit(bad.view(), &y, 2),
        Err(ModelError::NonFinite {
            row: 2,
            feature: 1,
            ..
        })
    ));
    assert!(matches!(
        Centroids::fit(x.view(), &array![0usize, 0, 1, 2], 2),
        Err(ModelError::LabelOutOfRange {
            row: 3,
            label: 2,
            ..
        })
    ));
    assert!(matches!(
        validate::check_row(&[1.0, f32::NAN], 2),
        Err(ModelError::NonFinite { feature: 1, .. })
    ));
}

#[test]
fn the_envelope_refuses_other_formats_cut_files_trailing_bytes_and_flipped_bits() {
    let (x, y) = toy();
    let bytes = Centroids::fit(x.view(), &y, 2)
        .expect("fit")
        .to_bytes()
        .expect("bytes");
    match envelope::open(&bytes, b"OBFOREST", "random_forest") {
        Err(ModelError::UnknownFormat { found, known }) => {
            assert_eq!((found.as_str(), known.as_str()), ("TSTCENTR", "OBFOREST"));
        }
        other => panic!("expected UnknownFormat, got {other:?}"),
    }
    for cut in [0, 7, 12, 19, bytes.len() - 5, bytes.len() - 1] {
        assert!(
            matches!(
                envelope::open(&bytes[..cut], MAGIC, "test_centroids"),
                Err(ModelError::Truncated { .. } | ModelError::UnknownFormat { .. })
            ),
            "cut at {cut}"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(
        envelope::open(&longer, MAGIC, "test_centroids"),
        Err(ModelError::Corrupt { .. })
    ));
    let mut flipped = bytes.clone();
    flipped[24] ^= 0x10;
    assert!(matches!(
        envelope::open(&flipped, MAGIC, "test_centroids"),
        Err(ModelError::ChecksumMismatch { .. })
    ));
    let mut future = bytes;
    future[8] = 9;
    assert!(matches!(
        envelope::open(&future, MAGIC, "test_centroids"),
        Err(ModelError::UnsupportedVersion { found: 9, .. })
    ));
}

#[test]
fn the_default_to_bytes_says_how_to_give_a_model_a_file_format() {
    let e = NoFormat.to_bytes().expect_err("no format");
    assert!(matches!(&e, ModelError::NotPersistable { model } if model == "no_format"));
    let message = e.to_string();
    for hint in ["envelope::seal", "ClassifierLoader", "no_format"] {
        assert!(message.contains(hint), "{message}");
    }
}

/// `Classifier::predict_proba_row` (issue 14): the default (a one-row matrix through
/// `predict_proba`) for a custom model, the allocation-free kernel for the forest, both
/// through `dyn Classifier`, equal to the batch path; a wrong output length is an error.
#[test]
fn predict_proba_row_through_the_trait_equals_the_batch_path() {
    let (x, y) = toy();
    let custom: Box<dyn Classifier> = Box::new(Centroids::fit(x.view(), &y, 2).expect("fit"));
    let forest: Box<dyn Classifier> = obesity_forest::ForestParams::builder()
        .n_estimators(5)
        .seed(3)
        .build()
        .expect("params")
        .fit(x.view(), y.view(), 2)
        .expect("fit");
    for model in [&custom, &forest] {
        let batch = model.predict_proba(x.view()).expect("batch");
        let mut out = [f32::NAN; 2];
        for (i, row) in x.rows().into_iter().enumerate() {
            let row = row.to_vec();
            model.predict_proba_row(&row, &mut out).expect("row");
            assert_eq!(
                out.to_vec(),
                batch.row(i).to_vec(),
                "{} row {i}",
                model.name()
            );
        }
        let mut short = [0.0f32; 1];
        assert!(matches!(
            model.predict_proba_row(&[0.0, 0.0], &mut short),
            Err(ModelError::OutputLength {
                expected: 2,
                got: 1
            })
        ));
        assert!(matches!(
            model.predict_proba_row(&[0.0], &mut out),
            Err(ModelError::FeatureCountMismatch { .. })
        ));
    }
}

#[test]
fn boxed_models_and_strategies_print_with_debug() {
    let (x, y) = toy();
    let model: Box<dyn Classifier> = Box::new(Centroids::fit(x.view(), &y, 2).expect("fits"));
    assert_eq!(
        format!("{model:?}"),
        "Classifier { name: \"test_centroids\", n_features: 2, n_classes: 2, .. }"
    );
    // A loader's result can now be unwrapped either way.
    let loaded: Result<Box<dyn Classifier>> =
        Centroids::from_bytes(b"nope").map(|c| Box::new(c) as _);
    assert!(matches!(loaded.unwrap_err(), ModelError::Truncated { .. }));
    let strategy: Box<dyn ModelStrategy> = Box::new(
        obesity_forest::ForestParams::builder()
            .n_estimators(3)
            .build()
            .expect("params"),
    );
    let printed = format!("{strategy:?}");
    assert!(
        printed.starts_with("ModelStrategy { name: \"random_forest\", params: {"),
        "{printed}"
    );
    assert!(printed.contains("\"n_estimators\": \"3\""), "{printed}");
}
