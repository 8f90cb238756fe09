//! End-to-end on the real UCI data (only when OBESITY_UCI_CSV is set; skipped otherwise).

use obesity_data::{LoadOptions, load_csv, stratified_split, target_indices};
use obesity_eval::{
    DEFAULT_AGE_CUTS, Scorer, age_bands, cross_validate, group_fairness, permutation_importance,
    stratified_folds,
};
use obesity_features::FeaturePipeline;
use obesity_forest::{ForestParams, ModelStrategy};

#[test]
fn forest_on_uci_cross_validates_and_slices() {
    let Some(path) = std::env::var_os("OBESITY_UCI_CSV") else {
        eprintln!("skipped: OBESITY_UCI_CSV is not set");
        return;
    };
    let loaded = load_csv(&path, &LoadOptions::strict()).unwrap();
    let labels = target_indices(&loaded.records).unwrap();
    let (tr, te) = stratified_split(&labels, 0.2, 42).unwrap();
    let train_rec: Vec<_> = tr.iter().map(|&i| loaded.records[i].clone()).collect();
    let test_rec: Vec<_> = te.iter().map(|&i| loaded.records[i].clone()).collect();
    let pipe = FeaturePipeline::standard().fit(&train_rec).unwrap();
    let train = pipe.dataset(&train_rec).unwrap();
    let test = pipe.dataset(&test_rec).unwrap();
    let forest = ForestParams::builder()
        .n_estimators(50)
        .seed(1)
        .build()
        .unwrap();
    let folds = stratified_folds(&train, 5, 42).unwrap();
    let cv = cross_validate(
        &forest,
        &train,
        &folds,
        &Scorer::parse_list(&["f1_macro", "accuracy", "roc_auc_ovr"]).unwrap(),
    )
    .unwrap();
    let f1 = cv.get("f1_macro").unwrap();
    assert!(f1.mean > 0.9, "f1_macro {}", f1.mean);
    assert!(cv.get("roc_auc_ovr").unwrap().mean > 0.98);

    let model = forest.fit(train.x.view(), train.y.view(), 7).unwrap();
    let pred = model.predict(test.x.view()).unwrap().to_vec();
    let gender: Vec<&str> = test_rec.iter().map(|r| r.gender.as_str()).collect();
    let by_gender = group_fairness(&test.y.to_vec(), &pred, &gender, 7).unwrap();
    assert_eq!(by_gender.groups.len(), 2);
    assert!((0.0..=1.0).contains(&by_gender.accuracy_gap));
    let ages: Vec<f64> = test_rec.iter().map(|r| r.age).collect();
    let bands = age_bands(&ages, DEFAULT_AGE_CUTS).unwrap();
    let by_age = group_fairness(&test.y.to_vec(), &pred, &bands, 7).unwrap();
    assert!(by_age.groups.len() >= 3);

    let pi = permutation_importance(
        model.as_ref(),
        test.x.view(),
        test.y.view(),
        Scorer::Accuracy,
        3,
        7,
    )
    .unwrap();
    // BMI (or weight) carries the label: the top feature matters a lot.
    let top = pi
        .importances_mean
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    assert!(top > 0.1, "top permutation importance {top}");
}
