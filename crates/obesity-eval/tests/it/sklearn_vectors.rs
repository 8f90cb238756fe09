//! Every metric against scikit-learn's values (scripts/sklearn_metrics_vectors.py), to 1e-9.

use ndarray::Array2;
use obesity_eval::{
    Average, ClassificationReport, ConfusionMatrix, EvalError, LabelSet, Metrics, ZeroDivision,
    accuracy, brier_score, log_loss, roc_auc_ovr,
};
use serde_json::Value;

use crate::common::{assert_close, load_json, num, nums, usizes};

const TOL: f64 = 1e-9;

fn proba_of(case: &Value) -> Option<Array2<f64>> {
    let rows = case["proba"].as_array()?;
    let k = case["n_classes"].as_u64().unwrap() as usize;
    let flat: Vec<f64> = rows.iter().flat_map(nums).collect();
    Some(Array2::from_shape_vec((rows.len(), k), flat).unwrap())
}

fn cases() -> Vec<Value> {
    load_json("sklearn_metrics.json")["cases"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn label_metrics_match_sklearn() {
    let cases = cases();
    assert!(cases.len() >= 8, "reference file has {} cases", cases.len());
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let y_true = usizes(&case["y_true"]);
        let y_pred = usizes(&case["y_pred"]);
        let k = case["n_classes"].as_u64().unwrap() as usize;
        let cm = ConfusionMatrix::new(&y_true, &y_pred, k).unwrap();
        let w = |key: &str| num(&case[key]);
        assert_close(
            cm.accuracy(),
            w("accuracy"),
            TOL,
            &format!("{name} accuracy"),
        );
        assert_close(
            accuracy(&y_true, &y_pred).unwrap(),
            w("accuracy"),
            TOL,
            name,
        );
        assert_close(
            cm.balanced_accuracy(),
            w("balanced_accuracy"),
            TOL,
            &format!("{name} balanced_accuracy"),
        );
        assert_close(
            cm.cohen_kappa(),
            w("cohen_kappa"),
            TOL,
            &format!("{name} kappa"),
        );
        assert_close(
            cm.matthews_corrcoef(),
            w("matthews"),
            TOL,
            &format!("{name} mcc"),
        );
        let want_counts: Vec<Vec<u64>> = case["confusion"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| usizes(r).into_iter().map(|x| x as u64).collect())
            .collect();
        assert_eq!(cm.counts(), want_counts.as_slice(), "{name} confusion");
        let want_norm: Vec<Vec<f64>> = case["confusion_true"]
            .as_array()
            .unwrap()
            .iter()
            .map(nums)
            .collect();
        for (g, w) in cm
            .normalized_by_true()
            .iter()
            .flatten()
            .zip(want_norm.iter().flatten())
        {
            assert_close(*g, *w, TOL, &format!("{name} normalized confusion"));
        }
    }
}

#[test]
fn precision_recall_f1_match_sklearn_for_every_zero_division_and_label_set() {
    for case in &cases() {
        let name = case["name"].as_str().unwrap();
        let y_true = usizes(&case["y_true"]);
        let y_pred = usizes(&case["y_pred"]);
        let k = case["n_classes"].as_u64().unwrap() as usize;
        let cm = ConfusionMatrix::new(&y_true, &y_pred, k).unwrap();
        let prf = case["prf"].as_object().unwrap();
        assert_eq!(prf.len(), 8, "4 zero_division x 2 label sets");
        for (key, entry) in prf {
            let (zd, labels) = key.split_once('/').unwrap();
            let zd = match zd {
                "zero" => ZeroDivision::Zero,
                "one" => ZeroDivision::One,
                "nan" => ZeroDivision::Nan,
                "warn" => ZeroDivision::Warn,
                other => panic!("unknown zero_division {other}"),
            };
            let labels = match labels {
                "present" => LabelSet::Present,
                "all" => LabelSet::All,
                other => panic!("unknown label set {other}"),
            };
            let pc = cm.per_class(zd);
            let want = &entry["per_class"];
            for (got, metric) in [
                (&pc.precision, "precision"),
                (&pc.recall, "recall"),
                (&pc.f1, "f1"),
            ] {
                for (c, (g, w)) in got.iter().zip(nums(&want[metric])).enumerate() {
                    assert_close(*g, w, TOL, &format!("{name} {key} {metric}[{c}]"));
                }
            }
            let support: Vec<u64> = usizes(&want["support"]).iter().map(|&s| s as u64).collect();
            assert_eq!(pc.support, support, "{name} support");
            for (avg, avg_name) in [
                (Average::Macro, "macro"),
                (Average::Weighted, "weighted"),
                (Average::Micro, "micro"),
            ] {
                let got = cm.averaged(avg, labels, zd);
                let w = &entry[avg_name];
                let what = format!("{name} {key} {avg_name}");
                assert_close(got.precision, num(&w["precision"]), TOL, &what);
                assert_close(got.recall, num(&w["recall"]), TOL, &what);
                assert_close(got.f1, num(&w["f1"]), TOL, &what);
            }
        }
    }
}

#[test]
fn probability_metrics_match_sklearn() {
    let mut checked = 0;
    for case in &cases() {
        let Some(proba) = proba_of(case) else {
            continue;
        };
        let name = case["name"].as_str().unwrap();
        let y_true = usizes(&case["y_true"]);
        let v = proba.view();
        assert_close(
            log_loss(&y_true, v).unwrap(),
            num(&case["log_loss"]),
            TOL,
            &format!("{name} log_loss"),
        );
        assert_close(
            brier_score(&y_true, v).unwrap(),
            num(&case["brier"]),
            TOL,
            &format!("{name} brier"),
        );
        assert_close(
            roc_auc_ovr(&y_true, v, Average::Macro).unwrap(),
            num(&case["roc_auc_ovr_macro"]),
            TOL,
            &format!("{name} auc macro"),
        );
        assert_close(
            roc_auc_ovr(&y_true, v, Average::Weighted).unwrap(),
            num(&case["roc_auc_ovr_weighted"]),
            TOL,
            &format!("{name} auc weighted"),
        );
        let y_pred = usizes(&case["y_pred"]);
        let m = Metrics::compute(&y_true, &y_pred, Some(v), proba.ncols()).unwrap();
        assert_close(m.log_loss.unwrap(), num(&case["log_loss"]), TOL, name);
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} cases had probabilities");
}

#[test]
fn classification_report_text_is_byte_identical_to_sklearn() {
    let mut checked = 0;
    for case in &cases() {
        let Some(want) = case["report_text"].as_str() else {
            continue;
        };
        let names: Vec<String> = case["class_names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect();
        let report = ClassificationReport::new(
            &usizes(&case["y_true"]),
            &usizes(&case["y_pred"]),
            &names,
            ZeroDivision::Zero,
        )
        .unwrap();
        assert_eq!(report.to_string(), want, "{}", case["name"]);
        assert_eq!(report.to_text(4), case["report_text_4"].as_str().unwrap());
        let with_nan = ClassificationReport::new(
            &usizes(&case["y_true"]),
            &usizes(&case["y_pred"]),
            &names,
            ZeroDivision::Nan,
        )
        .unwrap();
        assert_eq!(
            with_nan.to_text(3),
            case["report_text_nan"].as_str().unwrap(),
            "{} (zero_division=nan)",
            case["name"]
        );
        let json: Value = serde_json::from_str(&report.to_json().unwrap()).unwrap();
        assert_eq!(json["classes"][0]["label"], names[0].as_str());
        let back: ClassificationReport = serde_json::from_str(&report.to_json().unwrap()).unwrap();
        assert_eq!(back.to_string(), report.to_string());
        assert!(json["classes"][0]["f1-score"].is_number());
        checked += 1;
    }
    assert!(checked >= 5);
}

#[test]
fn log_loss_clips_at_the_dtype_epsilon() {
    // A confident wrong answer: p(true) = 0 is clipped to eps of f32 or f64, as sklearn.
    let p32 = Array2::from_shape_vec((1, 2), vec![1.0f32, 0.0]).unwrap();
    let p64 = Array2::from_shape_vec((1, 2), vec![1.0f64, 0.0]).unwrap();
    assert_close(
        log_loss(&[1], p32.view()).unwrap(),
        -(f32::EPSILON as f64).ln(),
        1e-12,
        "f32",
    );
    assert_close(
        log_loss(&[1], p64.view()).unwrap(),
        -f64::EPSILON.ln(),
        1e-12,
        "f64",
    );
}

#[test]
fn metrics_reject_bad_input() {
    assert!(matches!(
        ConfusionMatrix::new(&[0, 1], &[0], 2),
        Err(EvalError::LengthMismatch { .. })
    ));
    assert!(matches!(
        ConfusionMatrix::new(&[], &[], 2),
        Err(EvalError::EmptyInput { .. })
    ));
    assert!(matches!(
        ConfusionMatrix::new(&[0, 3], &[0, 1], 3),
        Err(EvalError::LabelOutOfRange {
            what: "y_true",
            index: 1,
            label: 3,
            n_classes: 3
        })
    ));
    assert!(matches!(
        ConfusionMatrix::new(&[0, 1], &[0, 1], 0),
        Err(EvalError::InvalidValue { .. })
    ));
    let p = Array2::from_shape_vec((2, 2), vec![0.5f64, 0.5, 0.5, 0.5]).unwrap();
    assert!(matches!(
        Metrics::compute(&[0, 1], &[0, 1], Some(p.view()), 3),
        Err(EvalError::ClassCountMismatch {
            expected: 3,
            got: 2
        })
    ));
    assert!(matches!(
        log_loss(&[0, 1, 0], p.view()),
        Err(EvalError::LengthMismatch { .. })
    ));
    assert!(matches!(
        log_loss(&[0, 2], p.view()),
        Err(EvalError::LabelOutOfRange { .. })
    ));
    let bad = Array2::from_shape_vec((1, 2), vec![f64::NAN, 0.5]).unwrap();
    assert!(matches!(
        brier_score(&[0], bad.view()),
        Err(EvalError::InvalidValue { what: "proba", .. })
    ));
    // Binary: the column-1 AUC whatever the average, as sklearn (ties here: 0.5).
    assert_eq!(roc_auc_ovr(&[0, 1], p.view(), Average::Micro).unwrap(), 0.5);
    let p3 = Array2::from_shape_vec((1, 3), vec![0.2f64, 0.3, 0.5]).unwrap();
    assert!(matches!(
        roc_auc_ovr(&[0], p3.view(), Average::Micro),
        Err(EvalError::Undefined { .. })
    ));
    assert!(matches!(
        ConfusionMatrix::from_counts(vec![vec![1, 2], vec![3]]),
        Err(EvalError::InvalidValue { what: "counts", .. })
    ));
    assert!(ConfusionMatrix::from_counts(vec![vec![0, 0], vec![0, 0]]).is_err());
    assert!(serde_json::from_str::<ConfusionMatrix>(r#"{"counts": [[1, 2], [3]]}"#).is_err());
    let cm: ConfusionMatrix = serde_json::from_str(r#"{"counts": [[1, 2], [3, 4]]}"#).unwrap();
    assert_close(cm.accuracy(), 0.5, 1e-12, "deserialised");
    assert!(matches!(
        ClassificationReport::new(&[0], &[0], &[], ZeroDivision::Warn),
        Err(EvalError::EmptyInput {
            what: "class_names"
        })
    ));
}
