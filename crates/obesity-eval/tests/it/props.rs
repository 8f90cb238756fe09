//! Property tests: metrics never panic, stay in range, and AUC behaves under score reversal.

use ndarray::Array2;
use obesity_eval::{Average, ConfusionMatrix, LabelSet, ZeroDivision, roc_auc_per_class};
use proptest::prelude::*;

fn labels(n: usize, k: usize) -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    (
        proptest::collection::vec(0..k, n),
        proptest::collection::vec(0..k, n),
    )
}

proptest! {
    #[test]
    fn label_metrics_stay_in_range((t, p) in (1usize..60, 2usize..8).prop_flat_map(|(n, k)| labels(n, k))) {
        let k = t.iter().chain(&p).max().map_or(1, |m| m + 1);
        let cm = ConfusionMatrix::new(&t, &p, k).unwrap();
        prop_assert_eq!(cm.total() as usize, t.len());
        for v in [cm.accuracy(), cm.balanced_accuracy()] {
            prop_assert!((0.0..=1.0).contains(&v));
        }
        prop_assert!((-1.0..=1.0).contains(&cm.matthews_corrcoef()));
        for avg in [Average::Macro, Average::Weighted, Average::Micro] {
            let prf = cm.averaged(avg, LabelSet::All, ZeroDivision::Zero);
            for v in [prf.precision, prf.recall, prf.f1] {
                prop_assert!((0.0..=1.0).contains(&v), "{avg:?} {v}");
            }
        }
        // micro F1 over all labels is accuracy for single-label data
        let micro = cm.averaged(Average::Micro, LabelSet::All, ZeroDivision::Zero);
        prop_assert!((micro.f1 - cm.accuracy()).abs() < 1e-12);
    }

    #[test]
    fn reversing_scores_mirrors_auc(
        t in proptest::collection::vec(0usize..2, 2..40),
        s in proptest::collection::vec(0u8..5, 40),
    ) {
        let n = t.len();
        let p: Vec<f64> = s[..n].iter().map(|&v| f64::from(v) / 4.0).collect();
        let fwd = Array2::from_shape_fn((n, 2), |(i, j)| if j == 1 { p[i] } else { 1.0 - p[i] });
        let rev = Array2::from_shape_fn((n, 2), |(i, j)| if j == 1 { 1.0 - p[i] } else { p[i] });
        let a = roc_auc_per_class(&t, fwd.view()).unwrap();
        let b = roc_auc_per_class(&t, rev.view()).unwrap();
        if a[1].is_nan() {
            prop_assert!(b[1].is_nan());
        } else {
            prop_assert!((a[1] + b[1] - 1.0).abs() < 1e-12);
            prop_assert!((0.0..=1.0).contains(&a[1]));
        }
    }
}
