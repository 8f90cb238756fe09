//! The pipeline on records from obesity-data's seeded generator.

use obesity_data::synth;
use obesity_features::{FeatureConfig, FeaturePipeline, FittedPipeline, Scaling, UnseenCategory};

#[test]
fn generated_records_featurize_to_finite_values_in_every_config() {
    let train = synth::generate(400, 7);
    let test = synth::generate(300, 8);
    for scaling in [Scaling::None, Scaling::Standard] {
        for base in [FeatureConfig::standard(), FeatureConfig::default()] {
            let config = FeatureConfig {
                scaling,
                unseen: UnseenCategory::IgnoreUnseen,
                ..base
            };
            let fitted = FeaturePipeline::new(config).fit(&train).unwrap();
            let data = fitted.dataset(&test).unwrap();
            assert_eq!(data.x.nrows(), 300);
            assert!(data.x.iter().all(|v| v.is_finite()), "{config:?}");
            let loaded = FittedPipeline::from_json(&fitted.to_json().unwrap()).unwrap();
            assert_eq!(loaded.dataset(&test).unwrap(), data);
        }
    }
}

#[test]
fn bmi_column_equals_the_records_bmi() {
    let records = synth::generate(200, 3);
    let fitted = FeaturePipeline::standard().fit(&records).unwrap();
    let x = fitted.transform(&records).unwrap();
    let j = crate::common::col(fitted.feature_names(), "BMI");
    for (i, r) in records.iter().enumerate() {
        let want = r.weight / (r.height * r.height);
        assert!(
            (f64::from(x[[i, j]]) - want).abs() <= want * 1e-6,
            "row {i}"
        );
    }
}
