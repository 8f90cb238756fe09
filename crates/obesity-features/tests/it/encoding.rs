//! Column names, column order and the encoding of each kind of column.

use obesity_data::{Frequency, Gender, Transport};
use obesity_features::{BinaryEncoding, FeatureConfig, FeaturePipeline, FrequencyEncoding};

use crate::common::{col, person, sample};

const STANDARD_NAMES: [&str; 32] = [
    "Age",
    "Height",
    "Weight",
    "FCVC",
    "NCP",
    "CH2O",
    "FAF",
    "TUE",
    "BMI",
    "Gender=Female",
    "Gender=Male",
    "family_history_with_overweight=no",
    "family_history_with_overweight=yes",
    "FAVC=no",
    "FAVC=yes",
    "CAEC=no",
    "CAEC=Sometimes",
    "CAEC=Frequently",
    "CAEC=Always",
    "SMOKE=no",
    "SMOKE=yes",
    "SCC=no",
    "SCC=yes",
    "CALC=no",
    "CALC=Sometimes",
    "CALC=Frequently",
    "CALC=Always",
    "MTRANS=Automobile",
    "MTRANS=Bike",
    "MTRANS=Motorbike",
    "MTRANS=Public_Transportation",
    "MTRANS=Walking",
];

#[test]
fn standard_config_has_the_32_get_dummies_columns_plus_bmi_in_documented_order() {
    // The sample has no CALC=Always row: the width must not depend on it.
    let records = sample(50);
    assert!(records.iter().all(|r| r.calc != Frequency::Always));
    let fitted = FeaturePipeline::standard().fit(&records).unwrap();
    assert_eq!(fitted.n_features(), 32);
    assert_eq!(fitted.feature_names(), STANDARD_NAMES);
    let x = fitted.transform(&records).unwrap();
    assert_eq!(x.dim(), (50, 32));
}

#[test]
fn standard_row_of_a_hand_built_record() {
    let r = person();
    let fitted = FeaturePipeline::standard()
        .fit(std::slice::from_ref(&r))
        .unwrap();
    let x = fitted.transform(&[r]).unwrap();
    let row = x.row(0).to_vec();
    let bmi = 64.0 / (1.62 * 1.62);
    assert!((f64::from(row[8]) - bmi).abs() < 1e-5, "BMI {}", row[8]);
    let mut expected: Vec<f32> = vec![21.0, 1.62, 64.0, 2.0, 3.0, 2.0, 0.0, 1.0, row[8]];
    #[rustfmt::skip]
    expected.extend([
        1.0, 0.0, // Gender Female
        0.0, 1.0, // family history yes
        1.0, 0.0, // FAVC no
        0.0, 1.0, 0.0, 0.0, // CAEC Sometimes
        1.0, 0.0, // SMOKE no
        1.0, 0.0, // SCC no
        1.0, 0.0, 0.0, 0.0, // CALC no
        0.0, 0.0, 0.0, 1.0, 0.0, // MTRANS Public_Transportation
    ]);
    assert_eq!(row, expected);
}

#[test]
fn default_config_is_the_compact_22_column_encoding() {
    let fitted = FeaturePipeline::default().fit(&sample(20)).unwrap();
    let names: Vec<&str> = fitted.feature_names().iter().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "Age",
            "Height",
            "Weight",
            "FCVC",
            "NCP",
            "CH2O",
            "FAF",
            "TUE",
            "BMI",
            "Gender=Female",
            "Gender=Male",
            "family_history_with_overweight=yes",
            "FAVC=yes",
            "CAEC",
            "SMOKE=yes",
            "SCC=yes",
            "CALC",
            "MTRANS=Automobile",
            "MTRANS=Bike",
            "MTRANS=Motorbike",
            "MTRANS=Public_Transportation",
            "MTRANS=Walking",
        ]
    );
    assert_eq!(fitted.n_features(), 22);
}

#[test]
fn ordinal_codes_follow_no_sometimes_frequently_always() {
    let records: Vec<_> = Frequency::ALL
        .iter()
        .enumerate()
        .map(|(i, &level)| {
            let mut r = person();
            r.caec = level;
            // CALC runs the other way, so a swap of the two columns would show.
            r.calc = Frequency::ALL[3 - i];
            r
        })
        .collect();
    let config = FeatureConfig {
        frequency: FrequencyEncoding::Ordinal,
        ..FeatureConfig::standard()
    };
    let fitted = FeaturePipeline::new(config).fit(&records).unwrap();
    let names = fitted.feature_names();
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("CAEC=") || n.starts_with("CALC="))
    );
    let x = fitted.transform(&records).unwrap();
    let caec = x.column(col(names, "CAEC")).to_vec();
    let calc = x.column(col(names, "CALC")).to_vec();
    assert_eq!(caec, [0.0, 1.0, 2.0, 3.0]);
    assert_eq!(calc, [3.0, 2.0, 1.0, 0.0]);
    // Ordinal CAEC/CALC in the 32-column layout: 32 - 2 * (4 - 1).
    assert_eq!(fitted.n_features(), 26);
}

#[test]
fn binary_columns_single_or_one_hot() {
    let mut yes = person();
    yes.favc = true;
    yes.smoke = true;
    let no = person();
    let records = [yes, no];

    let single = FeatureConfig {
        binary: BinaryEncoding::Single,
        ..FeatureConfig::standard()
    };
    let fitted = FeaturePipeline::new(single).fit(&records).unwrap();
    let names = fitted.feature_names();
    assert!(!names.iter().any(|n| n == "FAVC=no"));
    let x = fitted.transform(&records).unwrap();
    assert_eq!(x.column(col(names, "FAVC=yes")).to_vec(), [1.0, 0.0]);
    assert_eq!(x.column(col(names, "SMOKE=yes")).to_vec(), [1.0, 0.0]);
    assert_eq!(fitted.n_features(), 28);

    let fitted = FeaturePipeline::standard().fit(&records).unwrap();
    let names = fitted.feature_names();
    let x = fitted.transform(&records).unwrap();
    assert_eq!(x.column(col(names, "FAVC=yes")).to_vec(), [1.0, 0.0]);
    assert_eq!(x.column(col(names, "FAVC=no")).to_vec(), [0.0, 1.0]);
    assert_eq!(x.column(col(names, "SCC=no")).to_vec(), [1.0, 1.0]);
}

#[test]
fn one_hot_groups_have_exactly_one_hot_level_per_row() {
    let records = sample(60);
    let fitted = FeaturePipeline::standard().fit(&records).unwrap();
    let x = fitted.transform(&records).unwrap();
    let names = fitted.feature_names();
    for group in ["Gender=", "FAVC=", "CAEC=", "CALC=", "MTRANS=", "SCC="] {
        let idx: Vec<usize> = (0..names.len())
            .filter(|&j| names[j].starts_with(group))
            .collect();
        for (i, row) in x.rows().into_iter().enumerate() {
            let sum: f32 = idx.iter().map(|&j| row[j]).sum();
            assert_eq!(sum, 1.0, "row {i}, group {group}");
        }
    }
    for (i, r) in records.iter().enumerate() {
        let name = format!("MTRANS={}", r.mtrans);
        assert_eq!(x[[i, col(names, &name)]], 1.0);
        let name = format!("Gender={}", r.gender);
        assert_eq!(x[[i, col(names, &name)]], 1.0);
    }
    assert!(records.iter().any(|r| r.mtrans == Transport::Walking));
    assert!(records.iter().any(|r| r.gender == Gender::Male));
}

#[test]
fn class_names_are_the_seven_levels_in_enum_order() {
    let fitted = FeaturePipeline::default().fit(&[person()]).unwrap();
    assert_eq!(
        fitted.class_names(),
        [
            "Insufficient_Weight",
            "Normal_Weight",
            "Overweight_Level_I",
            "Overweight_Level_II",
            "Obesity_Type_I",
            "Obesity_Type_II",
            "Obesity_Type_III",
        ]
    );
}
