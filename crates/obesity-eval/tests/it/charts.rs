//! Charts are valid SVG files with the expected labels; empty input is an error.

use obesity_eval::{
    ClassificationReport, ConfusionMatrix, EvalError, Scorer, ZeroDivision, confusion_matrix_chart,
    cross_validate, cv_scores_chart, feature_importance_chart, per_class_chart, stratified_folds,
};

use crate::support::{NearestCentroid, synthetic};

fn read_svg(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.trim_start().starts_with("<svg"),
        "not an SVG: {}",
        &text[..60.min(text.len())]
    );
    assert!(text.trim_end().ends_with("</svg>"));
    // Balanced text elements: every label is a well-formed <text> node.
    assert_eq!(
        text.matches("<text").count(),
        text.matches("</text>").count()
    );
    text
}

fn names() -> Vec<String> {
    vec![
        "Normal_Weight".into(),
        "Obesity_Type_I".into(),
        "Insufficient_Weight".into(),
    ]
}

#[test]
fn confusion_and_per_class_charts_carry_their_labels() {
    let dir = tempfile::tempdir().unwrap();
    let y = [0, 0, 1, 1, 2, 2, 2];
    let p = [0, 1, 1, 1, 2, 0, 2];
    let cm = ConfusionMatrix::new(&y, &p, 3).unwrap();
    let path = dir.path().join("cm.svg");
    confusion_matrix_chart(&path, &cm, &names()).unwrap();
    let svg = read_svg(&path);
    for n in names() {
        assert!(svg.contains(&n), "missing {n}");
    }
    assert!(svg.lines().any(|l| l.trim() == "2"), "the count 2 is drawn");
    assert!(svg.contains("predicted class") && svg.contains("true class"));

    let report = ClassificationReport::new(&y, &p, &names(), ZeroDivision::Zero).unwrap();
    let path = dir.path().join("per_class.svg");
    per_class_chart(&path, &report).unwrap();
    let svg = read_svg(&path);
    for label in ["precision", "recall", "f1-score", "Obesity_Type_I"] {
        assert!(svg.contains(label), "missing {label}");
    }
    assert!(matches!(
        confusion_matrix_chart(dir.path().join("x.svg"), &cm, &names()[..2]),
        Err(EvalError::LengthMismatch { .. })
    ));
    let mut empty = report.clone();
    empty.classes.clear();
    assert!(matches!(
        per_class_chart(dir.path().join("e.svg"), &empty),
        Err(EvalError::EmptyInput { .. })
    ));
    assert!(matches!(
        confusion_matrix_chart(dir.path().join("no/such/dir/cm.svg"), &cm, &names()),
        Err(EvalError::Chart { .. })
    ));
}

#[test]
fn importance_and_cv_charts() {
    let dir = tempfile::tempdir().unwrap();
    let feats: Vec<String> = (0..12).map(|i| format!("feature_{i:02}")).collect();
    let values: Vec<f64> = (0..12).map(|i| f64::from(i) / 100.0).collect();
    let path = dir.path().join("imp.svg");
    feature_importance_chart(&path, &feats, &values, Some(&[0.01; 12]), 5, "Top features").unwrap();
    let svg = read_svg(&path);
    assert!(svg.contains("Top features"));
    assert!(svg.contains("feature_11") && svg.contains("feature_07"));
    assert!(!svg.contains("feature_06"), "only the top 5 are drawn");
    assert!(matches!(
        feature_importance_chart(&path, &[], &[], None, 5, "t"),
        Err(EvalError::EmptyInput { .. })
    ));
    assert!(matches!(
        feature_importance_chart(&path, &feats[..3], &values, None, 5, "t"),
        Err(EvalError::LengthMismatch { .. })
    ));
    assert!(matches!(
        feature_importance_chart(&path, &feats[..1], &[f64::NAN], None, 5, "t"),
        Err(EvalError::InvalidValue { .. })
    ));

    let data = synthetic(90, 3, 4);
    let folds = stratified_folds(&data, 3, 0).unwrap();
    let cv = cross_validate(
        &NearestCentroid {
            offset: 0,
            n_used: 1,
        },
        &data,
        &folds,
        &[Scorer::Accuracy, Scorer::default()],
    )
    .unwrap();
    let path = dir.path().join("cv.svg");
    cv_scores_chart(&path, &cv).unwrap();
    let svg = read_svg(&path);
    assert!(svg.contains("accuracy") && svg.contains("f1_macro"));
    assert_eq!(
        svg.matches("<circle").count(),
        6,
        "one point per fold and scorer"
    );
    let mut empty = cv.clone();
    empty.scores.clear();
    assert!(matches!(
        cv_scores_chart(&path, &empty),
        Err(EvalError::EmptyInput { .. })
    ));
}
