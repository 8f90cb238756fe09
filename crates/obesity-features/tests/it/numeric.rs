//! Numeric columns, BMI, and numeric inputs that cannot become features.

use obesity_features::{FeatureConfig, FeatureError, FeaturePipeline};

use crate::common::{col, person, sample};

#[test]
fn bmi_is_weight_over_height_squared() {
    // (height m, weight kg, BMI worked out by hand)
    let cases = [
        (1.60, 64.0, 25.0),
        (2.0, 100.0, 25.0),
        (1.50, 45.0, 20.0),
        (1.75, 122.5, 40.0),
    ];
    let records: Vec<_> = cases
        .iter()
        .map(|&(h, w, _)| {
            let mut r = person();
            r.height = h;
            r.weight = w;
            r
        })
        .collect();
    let fitted = FeaturePipeline::standard().fit(&records).unwrap();
    let x = fitted.transform(&records).unwrap();
    let bmi = x.column(col(fitted.feature_names(), "BMI")).to_vec();
    for (got, (_, _, want)) in bmi.iter().zip(cases) {
        assert!(
            (f64::from(*got) - want).abs() < 1e-5,
            "BMI {got}, expected {want}"
        );
    }
    // Numeric columns pass through unchanged.
    let names = fitted.feature_names();
    assert_eq!(
        x.column(col(names, "Height")).to_vec(),
        [1.60f32, 2.0, 1.50, 1.75]
    );
    assert_eq!(
        x.column(col(names, "Weight")).to_vec(),
        [64.0f32, 100.0, 45.0, 122.5]
    );
}

#[test]
fn bmi_can_be_turned_off() {
    let config = FeatureConfig {
        bmi: false,
        ..FeatureConfig::standard()
    };
    let fitted = FeaturePipeline::new(config).fit(&sample(10)).unwrap();
    assert_eq!(fitted.n_features(), 31);
    assert!(!fitted.feature_names().iter().any(|n| n == "BMI"));
    // Without BMI a zero height is just a number, not an error.
    let mut r = person();
    r.height = 0.0;
    assert_eq!(fitted.transform(&[r]).unwrap()[[0, 1]], 0.0);
}

#[test]
fn zero_height_with_bmi_is_an_error_naming_row_and_bmi() {
    let fitted = FeaturePipeline::standard().fit(&sample(10)).unwrap();
    let mut bad = person();
    bad.height = 0.0;
    let err = fitted.transform(&[person(), person(), bad]).unwrap_err();
    match &err {
        FeatureError::NonFinite { row, column, .. } => {
            assert_eq!((*row, column.as_str()), (2, "BMI"));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().starts_with("row 2: BMI = "), "{err}");
}

#[test]
fn nan_infinite_and_huge_inputs_are_errors_naming_row_column_value() {
    let fitted = FeaturePipeline::default().fit(&sample(10)).unwrap();
    let mut nan_age = person();
    nan_age.age = f64::NAN;
    let mut inf_faf = person();
    inf_faf.faf = f64::INFINITY;
    let mut huge_weight = person();
    huge_weight.weight = 1e300; // finite in f64, not in f32
    for (record, column) in [(nan_age, "Age"), (inf_faf, "FAF"), (huge_weight, "Weight")] {
        let err = fitted.transform(&[person(), record]).unwrap_err();
        match &err {
            FeatureError::NonFinite {
                row: 1, column: c, ..
            } if c == column => {}
            other => panic!("expected NonFinite at row 1 in {column}, got {other:?}"),
        }
        assert!(
            err.to_string().contains(&format!("row 1: {column} = ")),
            "{err}"
        );
    }
}

#[test]
fn fit_rejects_non_finite_training_values_and_empty_input() {
    let mut records = sample(5);
    records[3].tue = f64::NAN;
    let err = FeaturePipeline::default().fit(&records).unwrap_err();
    assert!(
        matches!(&err, FeatureError::NonFinite { row: 3, column, value } if column == "TUE" && value.is_nan()),
        "{err:?}"
    );
    assert!(matches!(
        FeaturePipeline::default().fit(&[]),
        Err(FeatureError::EmptyFit)
    ));
}

#[test]
fn transform_of_no_records_is_an_empty_matrix_of_the_right_width() {
    let fitted = FeaturePipeline::standard().fit(&sample(3)).unwrap();
    assert_eq!(fitted.transform(&[]).unwrap().dim(), (0, 32));
}
