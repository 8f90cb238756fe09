//! The linfa-trees adapter drops into the same `Box<dyn ModelStrategy>` pipeline.

use ndarray::array;
use obesity_forest::{
    Classifier, Criterion, ForestParams, LinfaTree, LinfaTreeParams, ModelError, ModelStrategy,
};

#[test]
fn strategies_are_interchangeable() {
    let (x, y) = crate::common::synthetic(300, 4, 3, 51);
    let strategies: Vec<Box<dyn ModelStrategy>> = vec![
        Box::new(ForestParams::builder().n_estimators(10).build().unwrap()),
        Box::new(LinfaTreeParams::new(Some(8), 2.0, 1.0, Criterion::Entropy).unwrap()),
    ];
    for s in &strategies {
        let model = s.fit(x.view(), y.view(), 3).unwrap();
        assert_eq!(model.name(), s.name());
        assert_eq!(model.n_features(), 4);
        let p = model.predict_proba(x.view()).unwrap();
        assert_eq!(p.shape(), &[300, 3]);
        assert!(p.rows().into_iter().all(|r| (r.sum() - 1.0).abs() < 1e-5));
        let acc = crate::common::accuracy(&model.predict(x.view()).unwrap(), &y);
        assert!(acc > 0.8, "{}: {acc}", s.name());
        let back = obesity_forest::load_classifier(&model.to_bytes().unwrap()).unwrap();
        assert_eq!(
            back.predict(x.view()).unwrap(),
            model.predict(x.view()).unwrap()
        );
    }
    assert_eq!(strategies[1].params()["split_quality"], "entropy");
    assert_eq!(strategies[1].params()["max_depth"], "8");
}

#[test]
fn linfa_predict_proba_is_one_hot() {
    let (x, y) = crate::common::synthetic(100, 3, 2, 52);
    let m = LinfaTree::fit(&LinfaTreeParams::default(), x.view(), y.view(), 2).unwrap();
    let p = m.predict_proba(x.view()).unwrap();
    assert!(p.iter().all(|&v| v == 0.0 || v == 1.0));
}

#[test]
fn linfa_params_and_inputs_are_validated() {
    assert!(matches!(
        LinfaTreeParams::new(Some(0), 2.0, 1.0, Criterion::Gini),
        Err(ModelError::InvalidParam {
            name: "max_depth",
            ..
        })
    ));
    assert!(matches!(
        LinfaTreeParams::new(None, f32::NAN, 1.0, Criterion::Gini),
        Err(ModelError::InvalidParam {
            name: "min_weight_split",
            ..
        })
    ));
    assert!(matches!(
        LinfaTreeParams::new(None, 2.0, -1.0, Criterion::Gini),
        Err(ModelError::InvalidParam {
            name: "min_weight_leaf",
            ..
        })
    ));
    let bad: Result<LinfaTreeParams, _> = serde_json::from_str(r#"{"max_depth": 0}"#);
    assert!(bad.is_err());
    let x = array![[0.0f32, 1.0], [1.0, f32::NAN]];
    let e = LinfaTree::fit(
        &LinfaTreeParams::default(),
        x.view(),
        array![0usize, 1].view(),
        2,
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            ModelError::NonFinite {
                row: 1,
                feature: 1,
                ..
            }
        ),
        "{e}"
    );
    let x = array![[0.0f32, 1.0], [1.0, 0.0]];
    let m = LinfaTree::fit(
        &LinfaTreeParams::default(),
        x.view(),
        array![0usize, 1].view(),
        2,
    )
    .unwrap();
    let wide = ndarray::Array2::<f32>::zeros((1, 3));
    assert!(matches!(
        m.predict_proba(wide.view()),
        Err(ModelError::FeatureCountMismatch { .. })
    ));
}
