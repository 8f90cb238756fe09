//! Group fairness on a hand-computed example.

use obesity_eval::{EvalError, age_bands, group_fairness};

/// Adult age bands for the UCI obesity table (ages 14 to 61, most 18 to 26).
const AGE_CUTS: &[f64] = &[18.0, 26.0, 36.0, 46.0];

use crate::common::assert_close;

#[test]
fn fairness_numbers_match_the_hand_computation() {
    // Group A: y = 0 0 1 1, ŷ = 0 1 1 1.  Group B: y = 0 1 1 1, ŷ = 0 0 0 1.
    let y = [0, 0, 1, 1, 0, 1, 1, 1];
    let p = [0, 1, 1, 1, 0, 0, 0, 1];
    let g = ["A", "A", "A", "A", "B", "B", "B", "B"];
    let r = group_fairness(&y, &p, &g, 2).unwrap();
    assert_eq!(r.groups.len(), 2);
    let (a, b) = (&r.groups[0], &r.groups[1]);
    assert_eq!(
        (a.group.as_str(), a.n, b.group.as_str(), b.n),
        ("A", 4, "B", 4)
    );
    assert_close(a.accuracy, 0.75, 1e-12, "acc A");
    assert_close(b.accuracy, 0.5, 1e-12, "acc B");
    assert_eq!(a.tpr, vec![0.5, 1.0]);
    assert_eq!(a.fpr, vec![0.0, 0.5]);
    assert_eq!(a.selection_rate, vec![0.25, 0.75]);
    assert_close(b.tpr[0], 1.0, 1e-12, "tpr B0");
    assert_close(b.tpr[1], 1.0 / 3.0, 1e-12, "tpr B1");
    assert_close(b.fpr[0], 2.0 / 3.0, 1e-12, "fpr B0");
    assert_close(b.fpr[1], 0.0, 1e-12, "fpr B1");
    assert_close(r.accuracy_gap, 0.25, 1e-12, "accuracy gap");
    assert_close(r.recall_gap[0], 0.5, 1e-12, "recall gap 0");
    assert_close(r.recall_gap[1], 2.0 / 3.0, 1e-12, "recall gap 1");
    assert_close(r.demographic_parity_difference[0], 0.5, 1e-12, "dp 0");
    assert_close(r.demographic_parity_difference[1], 0.5, 1e-12, "dp 1");
    assert_close(r.max_demographic_parity_difference(), 0.5, 1e-12, "dp max");
    assert_close(r.equalized_odds_per_class[0], 2.0 / 3.0, 1e-12, "eo 0");
    assert_close(r.equalized_odds_difference, 2.0 / 3.0, 1e-12, "eo");
}

#[test]
fn undefined_rates_are_skipped_not_zeroed() {
    // Group B has no row of class 1, so its TPR for class 1 is undefined (NaN) and the gap
    // uses group A only (0).
    let y = [0, 1, 0, 0];
    let p = [0, 1, 1, 0];
    let g = ["A", "A", "B", "B"];
    let r = group_fairness(&y, &p, &g, 2).unwrap();
    assert!(r.groups[1].tpr[1].is_nan());
    assert_close(
        r.recall_gap[1],
        0.0,
        1e-12,
        "recall gap over defined groups",
    );
}

#[test]
fn age_bands_are_half_open() {
    let bands = age_bands(&[14.0, 18.0, 25.9, 26.0, 45.99, 46.0, 61.0], AGE_CUTS).unwrap();
    assert_eq!(
        bands,
        [
            "<18", "[18, 26)", "[18, 26)", "[26, 36)", "[36, 46)", ">=46", ">=46"
        ]
    );
    assert!(matches!(
        age_bands(&[20.0], &[30.0, 20.0]),
        Err(EvalError::InvalidValue { what: "cuts", .. })
    ));
    assert!(matches!(
        age_bands(&[20.0, f64::NAN], AGE_CUTS),
        Err(EvalError::InvalidValue { what: "ages", .. })
    ));
    assert!(matches!(
        age_bands(&[1.0], &[]),
        Err(EvalError::EmptyInput { .. })
    ));
}

#[test]
fn fairness_rejects_bad_input() {
    assert!(matches!(
        group_fairness(&[0, 1], &[0, 1], &["A"], 2),
        Err(EvalError::LengthMismatch {
            right: "groups",
            ..
        })
    ));
    assert!(matches!(
        group_fairness::<&str>(&[], &[], &[], 2),
        Err(EvalError::EmptyInput { .. })
    ));
    assert!(matches!(
        group_fairness(&[0, 2], &[0, 1], &["A", "B"], 2),
        Err(EvalError::LabelOutOfRange { .. })
    ));
}
