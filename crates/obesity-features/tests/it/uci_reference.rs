//! On the real UCI file (only when OBESITY_UCI_CSV is set): the standard matrix is the one
//! pandas makes, and standard scaling learns what scikit-learn's StandardScaler learns.
//! Reference values: scripts/features_reference.py -> tests/reference/uci_get_dummies.json.

use obesity_data::{LoadOptions, ObesityRecord, load_csv};
use obesity_features::{FeatureConfig, FeaturePipeline, Scaling};
use serde_json::Value;

use crate::common::col;

fn reference() -> Value {
    serde_json::from_str(include_str!("../reference/uci_get_dummies.json")).unwrap()
}

fn real_records() -> Option<Vec<ObesityRecord>> {
    let Some(path) = obesity_data::uci_csv_from_env().unwrap() else {
        eprintln!("skipped: set OBESITY_UCI_CSV to the UCI obesity CSV to run this test");
        return None;
    };
    Some(load_csv(&path, &LoadOptions::strict()).unwrap().records)
}

fn close(got: f64, want: f64, rel: f64) -> bool {
    (got - want).abs() <= rel * want.abs().max(1.0)
}

#[test]
fn standard_matrix_matches_pandas_get_dummies_plus_bmi() {
    let Some(records) = real_records() else {
        return;
    };
    let reference = reference();
    let fitted = FeaturePipeline::standard().fit(&records).unwrap();
    let x = fitted.transform(&records).unwrap();
    assert_eq!(x.nrows(), reference["rows"].as_u64().unwrap() as usize);
    let columns = reference["columns"].as_array().unwrap();
    assert_eq!(x.ncols(), columns.len());
    assert_eq!(x.ncols(), 32);

    // Same set of names (pandas sorts levels alphabetically, we keep the schema's order).
    let mut ours: Vec<&str> = fitted.feature_names().iter().map(String::as_str).collect();
    let mut theirs: Vec<&str> = columns
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    ours.sort_unstable();
    theirs.sort_unstable();
    assert_eq!(ours, theirs);

    // Same values, column by column (f32 versus pandas' float64: relative 1e-6).
    for c in columns {
        let name = c["name"].as_str().unwrap();
        let values = x.column(col(fitted.feature_names(), name)).mapv(f64::from);
        let sum: f64 = values.sum();
        let sum_sq: f64 = values.mapv(|v| v * v).sum();
        let weighted: f64 = values
            .iter()
            .enumerate()
            .map(|(i, v)| (i + 1) as f64 * v)
            .sum();
        for (what, got, key) in [
            ("sum", sum, "sum"),
            ("sum of squares", sum_sq, "sum_sq"),
            ("row-weighted sum", weighted, "row_weighted_sum"),
        ] {
            let want = c[key].as_f64().unwrap();
            assert!(
                close(got, want, 1e-6),
                "{name}: {what} {got}, pandas {want}"
            );
        }
    }
}

#[test]
fn standard_scaling_learns_sklearn_standard_scaler_statistics() {
    let Some(records) = real_records() else {
        return;
    };
    let reference = reference();
    let config = FeatureConfig {
        scaling: Scaling::Standard,
        ..FeatureConfig::standard()
    };
    let fitted = FeaturePipeline::new(config).fit(&records).unwrap();
    let doc: Value = serde_json::from_str(&fitted.to_json().unwrap()).unwrap();
    let scaler = &reference["standard_scaler"];
    let names = scaler["columns"].as_array().unwrap();
    assert_eq!(names.len(), 9);
    for (i, name) in names.iter().enumerate() {
        let name = name.as_str().unwrap();
        let column = doc["columns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no saved column {name}"));
        let (mean, scale) = (
            scaler["mean"][i].as_f64().unwrap(),
            scaler["scale"][i].as_f64().unwrap(),
        );
        let (center, our_scale) = (
            column["center"].as_f64().unwrap(),
            column["scale"].as_f64().unwrap(),
        );
        assert!(
            close(center, mean, 1e-12),
            "{name}: mean {center}, sklearn {mean}"
        );
        assert!(
            close(our_scale, scale, 1e-12),
            "{name}: scale {our_scale}, sklearn {scale}"
        );
    }
}

#[test]
fn standard_pipeline_on_a_stratified_training_split_of_the_real_file() {
    let Some(records) = real_records() else {
        return;
    };
    let labels = obesity_data::target_indices(&records).unwrap();
    let (train_idx, test_idx) = obesity_data::stratified_split(&labels, 0.2, 42).unwrap();
    let pick = |idx: &[usize]| idx.iter().map(|&i| records[i].clone()).collect::<Vec<_>>();
    let (train, test) = (pick(&train_idx), pick(&test_idx));
    let fitted = FeaturePipeline::standard().fit(&train).unwrap();
    let train_data = fitted.dataset(&train).unwrap();
    let test_data = fitted.dataset(&test).unwrap();
    eprintln!(
        "training split: {:?}, test split: {:?}",
        train_data.x.dim(),
        test_data.x.dim()
    );
    assert_eq!(train_data.x.dim(), (train.len(), 32));
    assert_eq!(test_data.x.dim(), (test.len(), 32));
    assert_eq!(train.len() + test.len(), 2111);
    // Whichever split the single CALC=Always row fell into, the column is there.
    let always = col(fitted.feature_names(), "CALC=Always");
    let total: f32 = train_data.x.column(always).sum() + test_data.x.column(always).sum();
    assert_eq!(total, 1.0);
}
