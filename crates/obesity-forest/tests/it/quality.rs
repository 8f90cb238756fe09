//! The quality bar on the real UCI data (runs only when OBESITY_UCI_CSV is set).

use obesity_forest::{Classifier, ForestParams, RandomForest};

use crate::common::{accuracy, stratified_folds, stratified_split, take, uci};

#[test]
fn uci_test_accuracy_and_cv_meet_the_bar() {
    let Some((x, y)) = uci() else { return };
    assert_eq!(x.ncols(), 32, "standard pipeline has 32 columns");
    let params = ForestParams::default();
    let (tr, te) = stratified_split(&y, 0.2, 42);
    let (xtr, ytr) = take(&x, &y, &tr);
    let (xte, yte) = take(&x, &y, &te);
    let model = RandomForest::fit(&params, xtr.view(), ytr.view(), 7).unwrap();
    let acc = accuracy(&model.predict(xte.view()).unwrap(), &yte);
    eprintln!("UCI test accuracy {acc:.4}, oob {:?}", model.oob_score());
    let folds = stratified_folds(&y, 5, 42);
    let mut scores = Vec::new();
    for k in 0..5 {
        let tr: Vec<usize> = (0..y.len()).filter(|&i| folds[i] != k).collect();
        let te: Vec<usize> = (0..y.len()).filter(|&i| folds[i] == k).collect();
        let (xtr, ytr) = take(&x, &y, &tr);
        let (xte, yte) = take(&x, &y, &te);
        let m = RandomForest::fit(&params, xtr.view(), ytr.view(), 7).unwrap();
        scores.push(accuracy(&m.predict(xte.view()).unwrap(), &yte));
    }
    let mean = scores.iter().sum::<f64>() / 5.0;
    eprintln!("UCI 5-fold CV {scores:.4?} mean {mean:.4}");
    assert!(acc >= 0.97, "test accuracy {acc}");
    assert!(mean >= 0.975, "CV mean {mean}");
}
