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

/// Every `<text>` element of an SVG: (x, y, rotated, content).
fn text_elements(svg: &str) -> Vec<(f64, f64, bool, String)> {
    let attr = |tag: &str, name: &str| -> Option<f64> {
        let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        let end = start + tag[start..].find('"')?;
        tag[start..end].parse().ok()
    };
    let mut out = Vec::new();
    let mut rest = svg;
    while let Some(open) = rest.find("<text") {
        let after = &rest[open..];
        let Some(gt) = after.find('>') else { break };
        let tag = &after[..gt];
        let Some(close) = after.find("</text>") else {
            break;
        };
        let content = after[gt + 1..close].trim().to_owned();
        out.push((
            attr(tag, "x").unwrap_or(f64::NAN),
            attr(tag, "y").unwrap_or(f64::NAN),
            tag.contains("rotate"),
            content,
        ));
        rest = &after[close..];
    }
    out
}

/// The SVG's declared height.
fn svg_height(svg: &str) -> f64 {
    let tag = &svg[..svg.find('>').unwrap()];
    let start = tag.find(" height=\"").unwrap() + 9;
    let end = start + tag[start..].find('"').unwrap();
    tag[start..end].parse().unwrap()
}

/// Issue 16: `cv_scores.svg` printed 0.95 twice on its y axis (a fixed two decimals over a
/// narrow range), and every chart ended in a wide empty band under its x labels.
#[test]
fn axis_labels_are_distinct_and_charts_end_under_their_labels() {
    let dir = tempfile::tempdir().unwrap();
    let data = synthetic(90, 3, 4);
    let folds = stratified_folds(&data, 3, 0).unwrap();
    let mut cv = cross_validate(
        &NearestCentroid {
            offset: 0,
            n_used: 1,
        },
        &data,
        &folds,
        &[Scorer::Accuracy, Scorer::default()],
    )
    .unwrap();
    for narrow in [
        [0.9481, 0.9523, 0.9561],
        [0.95, 0.95, 0.95],
        [0.1, 0.5, 0.9],
        [0.99991, 0.99994, 0.99999],
    ] {
        for summary in cv.scores.values_mut() {
            summary.per_fold = narrow.to_vec();
            summary.mean = narrow.iter().sum::<f64>() / 3.0;
        }
        let path = dir.path().join("cv.svg");
        cv_scores_chart(&path, &cv).unwrap();
        let svg = read_svg(&path);
        let texts = text_elements(&svg);
        // The y-axis labels: the unrotated numbers in the column left of the plot.
        let min_x = texts
            .iter()
            .filter(|t| !t.2 && t.3.parse::<f64>().is_ok())
            .map(|t| t.0)
            .fold(f64::INFINITY, f64::min);
        let ticks: Vec<&str> = texts
            .iter()
            .filter(|t| !t.2 && t.0 == min_x && t.3.parse::<f64>().is_ok())
            .map(|t| t.3.as_str())
            .collect();
        assert!(ticks.len() >= 3, "{narrow:?}: ticks {ticks:?}");
        let mut unique = ticks.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(
            unique.len(),
            ticks.len(),
            "{narrow:?}: repeated labels {ticks:?}"
        );
        // The ticks enclose every score.
        let values: Vec<f64> = ticks.iter().map(|t| t.parse().unwrap()).collect();
        let (lo, hi) = (
            values.iter().copied().fold(f64::INFINITY, f64::min),
            values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        );
        assert!(lo <= narrow[0] && hi >= narrow[2], "{narrow:?}: {ticks:?}");

        // The lowest text (the scorer names under the axis) is close to the bottom edge.
        let lowest = texts
            .iter()
            .filter(|t| t.3 == "accuracy" || t.3 == "f1_macro")
            .map(|t| t.1 + if t.2 { t.3.len() as f64 * 7.2 } else { 12.0 })
            .fold(0.0f64, f64::max);
        let band = svg_height(&svg) - lowest;
        assert!(
            (0.0..=40.0).contains(&band),
            "{band} px under the x labels (height {}, lowest label ends at {lowest})",
            svg_height(&svg)
        );
    }

    // The same for the per-class chart (turned labels) and the confusion matrix.
    let y = [0, 0, 1, 1, 2, 2, 2];
    let p = [0, 1, 1, 1, 2, 0, 2];
    let report = ClassificationReport::new(&y, &p, &names(), ZeroDivision::Zero).unwrap();
    let path = dir.path().join("per_class.svg");
    per_class_chart(&path, &report).unwrap();
    let svg = read_svg(&path);
    let lowest = text_elements(&svg)
        .iter()
        .filter(|t| names().contains(&t.3))
        .map(|t| t.1 + t.3.len() as f64 * 7.2)
        .fold(0.0f64, f64::max);
    let band = svg_height(&svg) - lowest;
    assert!((0.0..=40.0).contains(&band), "per-class: {band} px");
    let cm = ConfusionMatrix::new(&y, &p, 3).unwrap();
    let path = dir.path().join("cm.svg");
    confusion_matrix_chart(&path, &cm, &names()).unwrap();
    let svg = read_svg(&path);
    let title = text_elements(&svg)
        .into_iter()
        .find(|t| t.3 == "predicted class")
        .unwrap();
    assert!(
        svg_height(&svg) - title.1 <= 30.0,
        "confusion: {}",
        svg_height(&svg) - title.1
    );
}
