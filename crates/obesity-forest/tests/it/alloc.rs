//! The single-row path allocates nothing (counted by allocation-counter's global allocator).

use obesity_forest::{ForestParams, RandomForest};

#[test]
fn single_row_prediction_allocates_nothing() {
    let (x, y) = crate::common::synthetic(500, 32, 7, 61);
    let p = ForestParams::builder().n_estimators(100).build().unwrap();
    let m = RandomForest::fit(&p, x.view(), y.view(), 7).unwrap();
    let row = x.row(9).to_vec();
    let mut out = [0.0f32; 7];
    let info = allocation_counter::measure(|| {
        for _ in 0..100 {
            m.predict_proba_row(&row, &mut out).unwrap();
        }
    });
    assert_eq!(info.count_total, 0, "{info:?}");
    assert!((out.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    // The counter does count: the batch path allocates its output.
    let info = allocation_counter::measure(|| {
        use obesity_forest::Classifier;
        m.predict_proba(x.view()).unwrap();
    });
    assert!(info.count_total > 0);
}
