//! Inspection: feature importances, OOB score, tree shapes, decision paths.

use obesity_forest::{Classifier, ForestParams, RandomForest};

fn model(bootstrap: bool) -> (RandomForest, ndarray::Array2<f32>, ndarray::Array1<usize>) {
    let (x, y) = crate::common::synthetic(600, 6, 3, 41);
    let p = ForestParams::builder()
        .n_estimators(40)
        .bootstrap(bootstrap)
        .oob_score(bootstrap)
        .build()
        .unwrap();
    (RandomForest::fit(&p, x.view(), y.view(), 3).unwrap(), x, y)
}

#[test]
fn importances_sum_to_one_and_find_the_signal() {
    let (m, _, _) = model(true);
    let imp = m.feature_importances();
    assert_eq!(imp.len(), 6);
    assert!((imp.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    assert!(imp.iter().all(|&v| v >= 0.0));
    // The label depends on features 0 and 1 only.
    assert!(
        imp[0] > imp[2] && imp[0] > imp[3] && imp[1] > imp[4],
        "{imp:?}"
    );
    assert_eq!(Classifier::feature_importances(&m), Some(imp));
}

#[test]
fn oob_score_is_close_to_held_out_accuracy() {
    let (m, _, _) = model(true);
    let oob = m.oob_score().unwrap();
    let (xt, yt) = crate::common::synthetic(2000, 6, 3, 42);
    let acc = crate::common::accuracy(&m.predict(xt.view()).unwrap(), &yt);
    assert!((oob - acc).abs() < 0.06, "oob {oob} vs held-out {acc}");
    assert!(oob > 0.7);
    let (no_boot, _, _) = model(false);
    assert_eq!(no_boot.oob_score(), None);
}

#[test]
fn oob_score_is_off_by_default_and_needs_bootstrap() {
    let (x, y) = crate::common::synthetic(300, 6, 3, 43);
    let default = ForestParams::builder().n_estimators(10).build().unwrap();
    assert!(!default.oob_score());
    let plain = RandomForest::fit(&default, x.view(), y.view(), 3).unwrap();
    assert_eq!(plain.oob_score(), None);
    let asked = ForestParams::builder_from(&default)
        .oob_score(true)
        .build()
        .unwrap();
    let with_oob = RandomForest::fit(&asked, x.view(), y.view(), 3).unwrap();
    assert!(with_oob.oob_score().is_some_and(|s| s > 0.5));
    // Scoring reads the trees, it never changes them.
    assert_eq!(
        with_oob.predict_proba(x.view()).unwrap(),
        plain.predict_proba(x.view()).unwrap()
    );
    let e = ForestParams::builder()
        .bootstrap(false)
        .oob_score(true)
        .build()
        .unwrap_err();
    assert!(
        matches!(
            e,
            obesity_forest::ModelError::InvalidParam {
                name: "oob_score",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn tree_stats_add_up() {
    let (m, _, _) = model(true);
    let stats = m.tree_stats();
    assert_eq!(stats.len(), 40);
    assert_eq!(stats.iter().map(|s| s.n_nodes).sum::<usize>(), m.n_nodes());
    for s in &stats {
        // A binary tree has one more leaf than split nodes.
        assert_eq!(s.n_nodes, 2 * s.n_leaves - 1);
        assert!(s.depth >= 1 && s.depth < s.n_leaves);
    }
}

#[test]
fn decision_path_explains_the_prediction() {
    let (m, x, _) = model(true);
    let row = x.row(3).to_vec();
    let steps = m.decision_path(&row).unwrap();
    let stats = m.tree_stats();
    for (t, s) in stats.iter().enumerate() {
        let path: Vec<_> = steps.iter().filter(|p| p.tree == t).collect();
        assert!(!path.is_empty() && path.len() <= s.depth);
        for (d, p) in path.iter().enumerate() {
            assert_eq!(p.depth, d);
            assert_eq!(p.value, row[p.feature]);
            assert_eq!(p.went_left, p.value <= p.threshold);
        }
    }
}
