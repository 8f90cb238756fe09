//! Standard scaling: learnt on the training records only, applied unchanged elsewhere.

use obesity_features::{FeatureConfig, FeaturePipeline, Scaling};

use crate::common::{col, person, sample};

fn scaled() -> FeatureConfig {
    FeatureConfig {
        scaling: Scaling::Standard,
        ..FeatureConfig::standard()
    }
}

const NUMERIC: [&str; 9] = [
    "Age", "Height", "Weight", "FCVC", "NCP", "CH2O", "FAF", "TUE", "BMI",
];

#[test]
fn training_columns_get_mean_zero_and_population_std_one() {
    let train = sample(200);
    let fitted = FeaturePipeline::new(scaled()).fit(&train).unwrap();
    let x = fitted.transform(&train).unwrap();
    for name in NUMERIC {
        let c = x.column(col(fitted.feature_names(), name)).mapv(f64::from);
        let n = c.len() as f64;
        let mean = c.sum() / n;
        let std = (c.mapv(|v| (v - mean).powi(2)).sum() / n).sqrt();
        assert!(mean.abs() < 1e-5, "{name}: mean {mean}");
        assert!((std - 1.0).abs() < 1e-5, "{name}: std {std}");
    }
    // Indicators are not scaled.
    let male = x.column(col(fitted.feature_names(), "Gender=Male"));
    assert!(male.iter().all(|&v| v == 0.0 || v == 1.0));
}

#[test]
fn test_records_use_the_training_statistics() {
    let train = sample(200);
    let fitted = FeaturePipeline::new(scaled()).fit(&train).unwrap();
    // Statistics of Age on the training records, computed here independently.
    let ages: Vec<f64> = train.iter().map(|r| r.age).collect();
    let n = ages.len() as f64;
    let mean = ages.iter().sum::<f64>() / n;
    let std = (ages.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / n).sqrt();

    let mut test = person();
    test.age = 80.0; // far outside the training range: must not be re-centred
    let x = fitted.transform(&[test]).unwrap();
    let got = f64::from(x[[0, col(fitted.feature_names(), "Age")]]);
    let want = (80.0 - mean) / std;
    assert!((got - want).abs() < 1e-5, "got {got}, want {want}");
    assert!(
        got > 2.0,
        "a test value far above the training mean stays far above: {got}"
    );
}

#[test]
fn constant_column_is_centred_not_divided_by_zero() {
    let train: Vec<_> = sample(30)
        .into_iter()
        .map(|mut r| {
            r.ncp = 3.0;
            r.fcvc = 0.1 + 0.2; // not exactly representable: variance rounds to a tiny number
            r
        })
        .collect();
    let fitted = FeaturePipeline::new(scaled()).fit(&train).unwrap();
    let x = fitted.transform(&train).unwrap();
    for name in ["NCP", "FCVC"] {
        let c = x.column(col(fitted.feature_names(), name));
        assert!(c.iter().all(|v| v.abs() < 1e-6), "{name}: {c}");
    }
    let mut other = person();
    other.ncp = 4.0;
    let x = fitted.transform(&[other]).unwrap();
    assert_eq!(
        x[[0, col(fitted.feature_names(), "NCP")]],
        1.0,
        "scale 1: 4 - 3"
    );
}
