//! The three rules for a category level that `fit` did not see (`CALC=Always`, as in a UCI
//! split that missed the file's single such row).

use obesity_data::Frequency;
use obesity_features::{
    FeatureConfig, FeatureError, FeaturePipeline, FrequencyEncoding, UnseenCategory,
};

use crate::common::{col, person, sample};

fn with_rule(unseen: UnseenCategory) -> FeatureConfig {
    FeatureConfig {
        unseen,
        ..FeatureConfig::standard()
    }
}

fn always() -> obesity_data::ObesityRecord {
    let mut r = person();
    r.calc = Frequency::Always;
    r
}

#[test]
fn schema_levels_keep_every_column_whatever_the_sample() {
    let train = sample(40);
    let fitted = FeaturePipeline::new(with_rule(UnseenCategory::SchemaLevels))
        .fit(&train)
        .unwrap();
    let names = fitted.feature_names();
    assert_eq!(names.len(), 32);
    let j = col(names, "CALC=Always");
    let x = fitted.transform(&train).unwrap();
    assert!(x.column(j).iter().all(|&v| v == 0.0));
    let x = fitted.transform(&[person(), always()]).unwrap();
    assert_eq!(x.column(j).to_vec(), [0.0, 1.0]);
    assert_eq!(
        fitted.seen_levels("CALC").unwrap(),
        ["no", "Sometimes", "Frequently"]
    );
}

#[test]
fn ignore_unseen_drops_the_column_and_encodes_all_zeros() {
    let train = sample(40);
    let fitted = FeaturePipeline::new(with_rule(UnseenCategory::IgnoreUnseen))
        .fit(&train)
        .unwrap();
    let names = fitted.feature_names();
    assert_eq!(names.len(), 31);
    assert!(!names.iter().any(|n| n == "CALC=Always"));
    let calc: Vec<usize> = (0..names.len())
        .filter(|&j| names[j].starts_with("CALC="))
        .collect();
    assert_eq!(calc.len(), 3);
    let x = fitted.transform(&[person(), always()]).unwrap();
    let sums: Vec<f32> = (0..2)
        .map(|i| calc.iter().map(|&j| x[[i, j]]).sum())
        .collect();
    assert_eq!(
        sums,
        [1.0, 0.0],
        "seen level one-hot, unseen level all zeros"
    );
    // The other columns of the unseen row are encoded as usual.
    assert_eq!(x[[1, col(names, "Gender=Female")]], 1.0);
}

#[test]
fn ignore_unseen_keeps_ordinal_codes_from_the_schema() {
    let config = FeatureConfig {
        frequency: FrequencyEncoding::Ordinal,
        ..with_rule(UnseenCategory::IgnoreUnseen)
    };
    let fitted = FeaturePipeline::new(config).fit(&sample(40)).unwrap();
    let x = fitted.transform(&[always()]).unwrap();
    assert_eq!(x[[0, col(fitted.feature_names(), "CALC")]], 3.0);
}

#[test]
fn error_rule_names_row_column_value_and_the_seen_levels() {
    let fitted = FeaturePipeline::new(with_rule(UnseenCategory::Error))
        .fit(&sample(40))
        .unwrap();
    assert_eq!(fitted.n_features(), 31);
    let err = fitted
        .transform(&[person(), person(), always()])
        .unwrap_err();
    match &err {
        FeatureError::UnseenCategory {
            row,
            column,
            value,
            seen,
        } => {
            assert_eq!(
                (*row, column.as_str(), value.as_str()),
                (2, "CALC", "Always")
            );
            assert_eq!(seen, &["no", "Sometimes", "Frequently"]);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        err.to_string()
            .contains("row 2: column CALC has level \"Always\""),
        "{err}"
    );
    // Seen levels go through.
    assert_eq!(fitted.transform(&[person()]).unwrap().nrows(), 1);
}

#[test]
fn error_rule_applies_to_ordinal_and_yes_no_columns_too() {
    let config = FeatureConfig {
        frequency: FrequencyEncoding::Ordinal,
        binary: obesity_features::BinaryEncoding::Single,
        unseen: UnseenCategory::Error,
        ..FeatureConfig::standard()
    };
    // Nobody in training smokes.
    let train: Vec<_> = sample(40)
        .into_iter()
        .map(|mut r| {
            r.smoke = false;
            r
        })
        .collect();
    let fitted = FeaturePipeline::new(config).fit(&train).unwrap();
    let err = fitted.transform(&[always()]).unwrap_err();
    assert!(
        matches!(&err, FeatureError::UnseenCategory { column, .. } if column == "CALC"),
        "{err:?}"
    );
    let mut smoker = person();
    smoker.smoke = true;
    let err = fitted.transform(&[smoker]).unwrap_err();
    assert!(
        matches!(&err, FeatureError::UnseenCategory { row: 0, column, value, .. } if column == "SMOKE" && value == "yes"),
        "{err:?}"
    );
}

#[test]
fn ignore_unseen_on_yes_no_columns_depends_on_their_encoding() {
    // Nobody in training smokes.
    let train: Vec<_> = sample(40)
        .into_iter()
        .map(|mut r| {
            r.smoke = false;
            r
        })
        .collect();
    let mut smoker = person();
    smoker.smoke = true;

    // One column per yes/no column is defined by the schema: a smoker is still a 1.
    let single = FeatureConfig {
        binary: obesity_features::BinaryEncoding::Single,
        ..with_rule(UnseenCategory::IgnoreUnseen)
    };
    let fitted = FeaturePipeline::new(single).fit(&train).unwrap();
    let x = fitted.transform(std::slice::from_ref(&smoker)).unwrap();
    assert_eq!(x[[0, col(fitted.feature_names(), "SMOKE=yes")]], 1.0);

    // Two one-hot columns: only SMOKE=no was seen, so a smoker is all zeros.
    let fitted = FeaturePipeline::new(with_rule(UnseenCategory::IgnoreUnseen))
        .fit(&train)
        .unwrap();
    assert!(!fitted.feature_names().iter().any(|n| n == "SMOKE=yes"));
    let x = fitted.transform(&[smoker]).unwrap();
    assert_eq!(x[[0, col(fitted.feature_names(), "SMOKE=no")]], 0.0);
}

/// `transform_row_into` (issue 14: one request's features without allocating) writes the
/// same values as the matching row of `transform`, under every rule, and refuses what
/// `transform` refuses.
#[test]
fn one_row_into_a_buffer_equals_the_matrix_row_and_refuses_the_same_input() {
    let train = sample(40);
    let mut requests = sample(25);
    requests.push(always());
    for rule in [
        UnseenCategory::SchemaLevels,
        UnseenCategory::IgnoreUnseen,
        UnseenCategory::Error,
    ] {
        let fitted = FeaturePipeline::new(with_rule(rule)).fit(&train).unwrap();
        let mut buf = vec![f32::NAN; fitted.n_features()];
        for (i, r) in requests.iter().enumerate() {
            let one = fitted.transform_row_into(r, &mut buf);
            match fitted.transform(std::slice::from_ref(r)) {
                Ok(x) => {
                    one.unwrap();
                    assert_eq!(x.row(0).to_vec(), buf, "{rule:?}, request {i}");
                }
                Err(e) => assert_eq!(one.unwrap_err().to_string(), e.to_string()),
            }
        }
    }
    let fitted = FeaturePipeline::new(with_rule(UnseenCategory::Error))
        .fit(&train)
        .unwrap();
    let mut buf = vec![0.0; fitted.n_features()];
    assert!(matches!(
        fitted.transform_row_into(&always(), &mut buf),
        Err(FeatureError::UnseenCategory { .. })
    ));
    let mut short = vec![0.0; fitted.n_features() - 1];
    let e = fitted
        .transform_row_into(&person(), &mut short)
        .unwrap_err();
    assert!(matches!(e, FeatureError::Shape { .. }), "{e}");
    let mut nan = person();
    nan.weight = f64::NAN;
    assert!(matches!(
        fitted.transform_row_into(&nan, &mut buf),
        Err(FeatureError::NonFinite { row: 0, .. })
    ));
}
