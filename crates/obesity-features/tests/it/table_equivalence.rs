//! The schema-driven `TablePipeline` on `Schema::obesity()` with the BMI derivation is the
//! obesity `FeaturePipeline`: same column names, same matrix bit for bit, same errors, for
//! every configuration, before and after a JSON round trip.

use obesity_data::{Frequency, Table, synth};
use obesity_features::{
    BinaryEncoding, Derived, FeatureConfig, FeaturePipeline, FittedTablePipeline,
    FrequencyEncoding, Scaling, TablePipeline, UnseenCategory,
};

use crate::common::sample;

fn every_config() -> Vec<FeatureConfig> {
    let mut out = Vec::new();
    for bmi in [false, true] {
        for frequency in [FrequencyEncoding::Ordinal, FrequencyEncoding::OneHot] {
            for binary in [BinaryEncoding::Single, BinaryEncoding::OneHot] {
                for scaling in [Scaling::None, Scaling::Standard] {
                    for unseen in [
                        UnseenCategory::SchemaLevels,
                        UnseenCategory::IgnoreUnseen,
                        UnseenCategory::Error,
                    ] {
                        out.push(FeatureConfig {
                            bmi,
                            frequency,
                            binary,
                            scaling,
                            unseen,
                        });
                    }
                }
            }
        }
    }
    out
}

fn bits(x: &ndarray::Array2<f32>) -> Vec<u32> {
    x.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn table_pipeline_equals_feature_pipeline_bit_for_bit() {
    // Training rows lack CALC=Always (common::sample); the test rows have it, so the unseen
    // rule is exercised. The synthetic rows add realistic, irregular numbers.
    let mut train = sample(120);
    train.extend(
        synth::generate(400, 9)
            .into_iter()
            .filter(|r| r.calc != Frequency::Always),
    );
    let test = synth::generate(300, 10);
    let (train_table, test_table) = (Table::from_records(&train), Table::from_records(&test));
    for config in every_config() {
        let old = FeaturePipeline::new(config).fit(&train).unwrap();
        let new = TablePipeline::obesity(config).fit(&train_table).unwrap();
        assert_eq!(old.feature_names(), new.feature_names(), "{config:?}");
        assert_eq!(old.class_names(), new.class_names(), "{config:?}");
        let reloaded =
            FittedTablePipeline::from_json(&new.to_json().unwrap(), &[Derived::bmi()]).unwrap();
        assert_eq!(reloaded, new, "{config:?}");
        for (records, table) in [(&train, &train_table), (&test, &test_table)] {
            match (old.dataset(records), new.dataset(table)) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(bits(&a.x), bits(&b.x), "{config:?}");
                    assert_eq!(a.y, b.y);
                    assert_eq!(bits(&a.x), bits(&reloaded.transform(table).unwrap()));
                }
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{config:?}"),
                (a, b) => panic!("{config:?}: {:?} vs {:?}", a.err(), b.err()),
            }
        }
    }
}

#[test]
fn non_finite_bmi_is_the_same_error() {
    let mut records = sample(5);
    records[3].height = 0.0;
    let old = FeaturePipeline::default().fit(&records).unwrap_err();
    let new = TablePipeline::obesity(FeatureConfig::default())
        .fit(&Table::from_records(&records))
        .unwrap_err();
    assert_eq!(old.to_string(), new.to_string());
}

#[test]
fn table_pipeline_equals_feature_pipeline_on_the_uci_file() {
    let Ok(Some(path)) = obesity_data::uci_csv_from_env() else {
        eprintln!("skipped: OBESITY_UCI_CSV is not set");
        return;
    };
    let loaded = obesity_data::load_csv(&path, &obesity_data::LoadOptions::strict()).unwrap();
    let table = obesity_data::load_table(
        &path,
        &obesity_data::Schema::obesity(),
        &obesity_data::LoadOptions::strict(),
    )
    .unwrap()
    .table;
    assert_eq!(Table::from_records(&loaded.records), table);
    for config in every_config() {
        let old = FeaturePipeline::new(config).fit(&loaded.records).unwrap();
        let new = TablePipeline::obesity(config).fit(&table).unwrap();
        assert_eq!(old.feature_names(), new.feature_names(), "{config:?}");
        let (a, b) = (
            old.dataset(&loaded.records).unwrap(),
            new.dataset(&table).unwrap(),
        );
        assert_eq!(bits(&a.x), bits(&b.x), "{config:?}");
        assert_eq!(a.y, b.y);
    }
}
