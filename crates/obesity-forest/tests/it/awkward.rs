//! Awkward training sets: constant features, duplicates, one class, missing classes.

use ndarray::{Array1, Array2, array};
use obesity_forest::{Classifier, ForestParams, RandomForest};

fn fit(x: &Array2<f32>, y: &Array1<usize>, k: usize) -> RandomForest {
    let p = ForestParams::builder()
        .n_estimators(20)
        .seed(3)
        .build()
        .unwrap();
    RandomForest::fit(&p, x.view(), y.view(), k).unwrap()
}

fn assert_rows_sum_to_one(m: &RandomForest, x: &Array2<f32>) {
    let p = m.predict_proba(x.view()).unwrap();
    for r in p.rows() {
        assert!((r.sum() - 1.0).abs() < 1e-5, "row sums to {}", r.sum());
        assert!(r.iter().all(|v| (0.0..=1.0 + 1e-6).contains(v)));
    }
}

#[test]
fn constant_features_never_split() {
    let (mut x, y) = crate::common::synthetic(200, 4, 3, 5);
    x.column_mut(2).fill(7.0);
    let m = fit(&x, &y, 3);
    assert_eq!(m.feature_importances()[2], 0.0);
    let steps = m.decision_path(x.row(0).as_slice().unwrap()).unwrap();
    assert!(steps.iter().all(|s| s.feature != 2));
    assert_rows_sum_to_one(&m, &x);
}

#[test]
fn all_features_constant_gives_prior_leaves() {
    let x = Array2::<f32>::ones((10, 3));
    let y = array![0usize, 0, 0, 1, 1, 1, 1, 1, 1, 1];
    let m = fit(&x, &y, 2);
    assert!(
        m.tree_stats()
            .iter()
            .all(|s| s.n_nodes == 1 && s.depth == 0)
    );
    let p = m.predict_proba(x.view()).unwrap();
    assert!(
        p[[0, 1]] > 0.5 && p[[0, 1]] < 0.95,
        "bootstrap prior, got {}",
        p[[0, 1]]
    );
    assert_eq!(m.feature_importances(), vec![0.0; 3]);
}

#[test]
fn duplicate_rows_with_conflicting_labels() {
    let x = Array2::<f32>::from_shape_fn((40, 2), |(i, j)| ((i % 4) * (j + 1)) as f32);
    let y: Array1<usize> = (0..40).map(|i| i % 2).collect();
    let m = fit(&x, &y, 2);
    assert_rows_sum_to_one(&m, &x);
}

#[test]
fn single_class() {
    let (x, _) = crate::common::synthetic(30, 3, 2, 6);
    let y = Array1::<usize>::zeros(30);
    let m = fit(&x, &y, 1);
    assert_eq!(m.n_classes(), 1);
    assert!(
        m.predict_proba(x.view())
            .unwrap()
            .iter()
            .all(|&p| (p - 1.0).abs() < 1e-6)
    );
    assert_eq!(m.predict(x.view()).unwrap(), y);
}

#[test]
fn more_classes_than_labels_seen() {
    let (x, y) = crate::common::synthetic(100, 3, 2, 7);
    let m = fit(&x, &y, 5);
    let p = m.predict_proba(x.view()).unwrap();
    assert_eq!(p.ncols(), 5);
    assert!(
        p.column(2)
            .iter()
            .chain(p.column(4).iter())
            .all(|&v| v == 0.0)
    );
    assert_rows_sum_to_one(&m, &x);
}

#[test]
fn class_missing_from_a_bootstrap_sample() {
    // One row of class 2: most bootstrap samples miss it, yet every tree has 3 columns.
    let (x, mut y) = crate::common::synthetic(60, 3, 2, 8);
    y[17] = 2;
    let m = fit(&x, &y, 3);
    assert_rows_sum_to_one(&m, &x);
    let p = m.predict_proba(x.view()).unwrap();
    assert!(p[[17, 2]] > 0.0 && p[[17, 2]] < 1.0, "got {}", p[[17, 2]]);
}

#[test]
fn single_row_training_set() {
    let x = array![[1.0f32, 2.0]];
    let y = array![1usize];
    let m = fit(&x, &y, 2);
    assert_eq!(m.predict(x.view()).unwrap(), y);
}

#[test]
fn wide_bins_and_every_option_still_train() {
    use obesity_forest::{ClassWeight, Criterion, MaxFeatures, MaxSamples};
    let (x, y) = crate::common::synthetic(400, 6, 3, 9);
    for p in [
        ForestParams::builder()
            .max_bins(1000)
            .n_estimators(10)
            .build()
            .unwrap(),
        ForestParams::builder()
            .max_bins(2)
            .n_estimators(10)
            .build()
            .unwrap(),
        ForestParams::builder()
            .criterion(Criterion::Entropy)
            .class_weight(ClassWeight::Balanced)
            .max_features(MaxFeatures::All)
            .max_samples(Some(MaxSamples::Fraction(0.5)))
            .min_samples_leaf(3)
            .min_samples_split(8)
            .max_depth(Some(4))
            .n_estimators(10)
            .build()
            .unwrap(),
        ForestParams::builder()
            .bootstrap(false)
            .max_features(MaxFeatures::Log2)
            .n_estimators(3)
            .build()
            .unwrap(),
    ] {
        let m = RandomForest::fit(&p, x.view(), y.view(), 3).unwrap();
        assert_rows_sum_to_one(&m, &x);
        let acc = crate::common::accuracy(&m.predict(x.view()).unwrap(), &y);
        assert!(acc > 0.7, "{p:?}: training accuracy {acc}");
        if let Some(d) = p.max_depth() {
            assert!(m.tree_stats().iter().all(|s| s.depth <= d));
        }
        if p.min_samples_leaf() > 1 {
            let paths = m.decision_path(x.row(0).as_slice().unwrap()).unwrap();
            assert!(!paths.is_empty());
        }
    }
}
