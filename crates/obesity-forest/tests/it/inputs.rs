//! Every bad input is an error naming what was wrong, never a panic.

use ndarray::{Array1, Array2, array};
use obesity_forest::{Classifier, ForestParams, ModelError, RandomForest};

fn small() -> (Array2<f32>, Array1<usize>) {
    (
        array![[0.0f32, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]],
        array![0, 0, 1, 1],
    )
}

fn params() -> ForestParams {
    ForestParams::builder().n_estimators(5).build().unwrap()
}

#[test]
fn fit_rejects_bad_training_data() {
    let (x, y) = small();
    let p = params();
    let e = RandomForest::fit(&p, x.view(), array![0usize, 1, 0].view(), 2).unwrap_err();
    assert!(
        matches!(
            e,
            ModelError::LengthMismatch {
                x_rows: 4,
                y_rows: 3
            }
        ),
        "{e}"
    );
    let empty = Array2::<f32>::zeros((0, 2));
    let e = RandomForest::fit(&p, empty.view(), Array1::zeros(0).view(), 2).unwrap_err();
    assert!(matches!(e, ModelError::EmptyInput), "{e}");
    let no_cols = Array2::<f32>::zeros((4, 0));
    let e = RandomForest::fit(&p, no_cols.view(), y.view(), 2).unwrap_err();
    assert!(matches!(e, ModelError::EmptyInput), "{e}");
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut xb = x.clone();
        xb[[2, 1]] = bad;
        let e = RandomForest::fit(&p, xb.view(), y.view(), 2).unwrap_err();
        assert!(
            matches!(
                e,
                ModelError::NonFinite {
                    row: 2,
                    feature: 1,
                    ..
                }
            ),
            "{e}"
        );
    }
    let e = RandomForest::fit(&p, x.view(), array![0usize, 1, 2, 1].view(), 2).unwrap_err();
    assert!(
        matches!(
            e,
            ModelError::LabelOutOfRange {
                row: 2,
                label: 2,
                n_classes: 2
            }
        ),
        "{e}"
    );
    let e = RandomForest::fit(&p, x.view(), y.view(), 0).unwrap_err();
    assert!(
        matches!(
            e,
            ModelError::InvalidParam {
                name: "n_classes",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn predict_rejects_bad_inputs() {
    let (x, y) = small();
    let m = RandomForest::fit(&params(), x.view(), y.view(), 2).unwrap();
    let wide = Array2::<f32>::zeros((3, 3));
    let e = m.predict_proba(wide.view()).unwrap_err();
    assert!(
        matches!(
            e,
            ModelError::FeatureCountMismatch {
                expected: 2,
                got: 3
            }
        ),
        "{e}"
    );
    assert!(matches!(
        m.predict(wide.view()),
        Err(ModelError::FeatureCountMismatch { .. })
    ));
    let e = m
        .predict_proba(Array2::<f32>::zeros((0, 2)).view())
        .unwrap_err();
    assert!(matches!(e, ModelError::EmptyInput), "{e}");
    let mut nan = x.clone();
    nan[[3, 0]] = f32::NAN;
    let e = m.predict_proba(nan.view()).unwrap_err();
    assert!(
        matches!(
            e,
            ModelError::NonFinite {
                row: 3,
                feature: 0,
                ..
            }
        ),
        "{e}"
    );
    // A big batch goes through the parallel kernel: errors are found before it.
    let mut big = Array2::<f32>::zeros((5000, 2));
    big[[4999, 1]] = f32::INFINITY;
    assert!(matches!(
        m.predict_proba(big.view()),
        Err(ModelError::NonFinite { row: 4999, .. })
    ));
}

#[test]
fn single_row_rejects_bad_inputs() {
    let (x, y) = small();
    let m = RandomForest::fit(&params(), x.view(), y.view(), 2).unwrap();
    let mut out = [0.0f32; 2];
    let e = m.predict_proba_row(&[1.0], &mut out).unwrap_err();
    assert!(
        matches!(
            e,
            ModelError::FeatureCountMismatch {
                expected: 2,
                got: 1
            }
        ),
        "{e}"
    );
    let e = m.predict_proba_row(&[1.0, f32::NAN], &mut out).unwrap_err();
    assert!(matches!(e, ModelError::NonFinite { feature: 1, .. }), "{e}");
    let e = m.predict_proba_row(&[1.0, 0.0], &mut [0.0; 3]).unwrap_err();
    assert!(
        matches!(
            e,
            ModelError::OutputLength {
                expected: 2,
                got: 3
            }
        ),
        "{e}"
    );
    assert!(matches!(
        m.decision_path(&[1.0]),
        Err(ModelError::FeatureCountMismatch { .. })
    ));
}

#[test]
fn non_contiguous_views_predict_like_owned_arrays() {
    let (x, y) = crate::common::synthetic(300, 5, 3, 4);
    let m = RandomForest::fit(&params(), x.view(), y.view(), 3).unwrap();
    let t = x.t().to_owned(); // 5 × 300
    let view = t.t(); // 300 × 5, column-major view
    assert_eq!(
        m.predict_proba(view).unwrap(),
        m.predict_proba(x.view()).unwrap()
    );
}
