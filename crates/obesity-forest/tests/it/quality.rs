//! The quality bar on the real UCI data (runs only when OBESITY_UCI_CSV is set), through the
//! project's own loader, splits and standard feature pipeline.

use obesity_data::{
    LoadOptions, ObesityRecord, StratifiedKFold, load_csv, stratified_split, target_indices,
};
use obesity_features::FeaturePipeline;
use obesity_forest::{Classifier, ForestParams, RandomForest};

use crate::common::accuracy;

/// Fits the standard pipeline on `train`, the default forest on its matrix, and scores `test`.
fn score(records: &[ObesityRecord], train: &[usize], test: &[usize]) -> (f64, Option<f64>) {
    let pick = |idx: &[usize]| idx.iter().map(|&i| records[i].clone()).collect::<Vec<_>>();
    let (tr, te) = (pick(train), pick(test));
    let pipeline = FeaturePipeline::standard().fit(&tr).unwrap();
    let dtr = pipeline.dataset(&tr).unwrap();
    let dte = pipeline.dataset(&te).unwrap();
    assert_eq!(dtr.x.ncols(), 32, "standard pipeline has 32 columns");
    let n_classes = dtr.class_names.len();
    // The default forest, plus the out-of-bag score (which does not change the trees).
    let params = ForestParams::builder().oob_score(true).build().unwrap();
    let model = RandomForest::fit(&params, dtr.x.view(), dtr.y.view(), n_classes).unwrap();
    (
        accuracy(&model.predict(dte.x.view()).unwrap(), &dte.y),
        model.oob_score(),
    )
}

#[test]
fn uci_test_accuracy_and_cv_meet_the_bar() {
    let Some(path) = obesity_data::uci_csv_from_env().unwrap() else {
        eprintln!("OBESITY_UCI_CSV is unset: skipping the UCI quality bar");
        return;
    };
    let records = load_csv(&path, &LoadOptions::strict()).unwrap().records;
    let labels = target_indices(&records).unwrap();
    let (train, test) = stratified_split(&labels, 0.2, 42).unwrap();
    let (acc, oob) = score(&records, &train, &test);
    eprintln!(
        "UCI test accuracy {acc:.4} ({} train rows), oob {oob:?}",
        train.len()
    );
    let folds = StratifiedKFold::new(5)
        .shuffle(true)
        .seed(42)
        .split(&labels)
        .unwrap();
    let scores: Vec<f64> = folds
        .iter()
        .map(|(tr, te)| score(&records, tr, te).0)
        .collect();
    let mean = scores.iter().sum::<f64>() / scores.len() as f64;
    eprintln!("UCI 5-fold CV {scores:.4?} mean {mean:.4}");
    assert!(acc >= 0.97, "test accuracy {acc}");
    assert!(mean >= 0.975, "CV mean {mean}");
}
