//! Property tests over arbitrary valid records and arbitrary settings.

use obesity_data::{Frequency, Gender, ObesityLevel, ObesityRecord, Transport};
use obesity_features::{
    BinaryEncoding, FeatureConfig, FeaturePipeline, FittedPipeline, FrequencyEncoding, Scaling,
    UnseenCategory,
};
use proptest::prelude::*;
use proptest::sample::select;

/// Any record within the schema's ranges (Age 10-100, Height 1-2.5, Weight 20-300, scores).
fn valid_record() -> impl Strategy<Value = ObesityRecord> {
    (
        (
            select(Gender::ALL),
            10.0..=100.0f64,
            1.0..=2.5f64,
            20.0..=300.0f64,
        ),
        (
            any::<bool>(),
            any::<bool>(),
            1.0..=3.0f64,
            1.0..=4.0f64,
            select(Frequency::ALL),
        ),
        (
            any::<bool>(),
            1.0..=3.0f64,
            any::<bool>(),
            0.0..=3.0f64,
            0.0..=2.0f64,
        ),
        (
            select(Frequency::ALL),
            select(Transport::ALL),
            proptest::option::of(select(ObesityLevel::ALL)),
        ),
    )
        .prop_map(
            |(
                (gender, age, height, weight),
                (fh, favc, fcvc, ncp, caec),
                (smoke, ch2o, scc, faf, tue),
                (calc, mtrans, target),
            )| {
                ObesityRecord {
                    gender,
                    age,
                    height,
                    weight,
                    family_history_with_overweight: fh,
                    favc,
                    fcvc,
                    ncp,
                    caec,
                    smoke,
                    ch2o,
                    scc,
                    faf,
                    tue,
                    calc,
                    mtrans,
                    target,
                }
            },
        )
}

fn config() -> impl Strategy<Value = FeatureConfig> {
    (
        any::<bool>(),
        select(vec![FrequencyEncoding::Ordinal, FrequencyEncoding::OneHot]),
        select(vec![BinaryEncoding::Single, BinaryEncoding::OneHot]),
        select(vec![Scaling::None, Scaling::Standard]),
        select(vec![
            UnseenCategory::SchemaLevels,
            UnseenCategory::IgnoreUnseen,
            UnseenCategory::Error,
        ]),
    )
        .prop_map(|(bmi, frequency, binary, scaling, unseen)| FeatureConfig {
            bmi,
            frequency,
            binary,
            scaling,
            unseen,
        })
}

/// The width each setting must give under the schema-levels rule, worked out by hand:
/// 8 numeric, +1 BMI, 2 Gender, 5 MTRANS, 4 yes/no columns (1 or 2 each), CAEC and CALC
/// (1 or 4 each).
fn schema_width(c: &FeatureConfig) -> usize {
    let binary = if c.binary == BinaryEncoding::Single {
        1
    } else {
        2
    };
    let frequency = if c.frequency == FrequencyEncoding::Ordinal {
        1
    } else {
        4
    };
    8 + usize::from(c.bmi) + 2 + 5 + 4 * binary + 2 * frequency
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn valid_records_never_fail_and_give_finite_values_of_constant_width(
        config in config(),
        train in prop::collection::vec(valid_record(), 1..40),
        test in prop::collection::vec(valid_record(), 0..40),
    ) {
        let fitted = FeaturePipeline::new(config).fit(&train).unwrap();
        let x = fitted.transform(&train).unwrap();
        prop_assert_eq!(x.dim(), (train.len(), fitted.n_features()));
        prop_assert!(x.iter().all(|v| v.is_finite()));
        prop_assert_eq!(fitted.feature_names().len(), fitted.n_features());
        if config.unseen == UnseenCategory::SchemaLevels {
            prop_assert_eq!(fitted.n_features(), schema_width(&config));
        } else {
            prop_assert!(fitted.n_features() <= schema_width(&config));
        }
        match fitted.transform(&test) {
            Ok(x) => {
                prop_assert_eq!(x.dim(), (test.len(), fitted.n_features()));
                prop_assert!(x.iter().all(|v| v.is_finite()));
            }
            // Only the error rule may refuse a valid record, and only for an unseen level.
            Err(e) => prop_assert!(
                config.unseen == UnseenCategory::Error
                    && matches!(e, obesity_features::FeatureError::UnseenCategory { .. }),
                "unexpected error {}", e
            ),
        }
    }

    #[test]
    fn round_trip_is_bit_identical(
        config in config(),
        train in prop::collection::vec(valid_record(), 1..30),
    ) {
        let fitted = FeaturePipeline::new(config).fit(&train).unwrap();
        let loaded = FittedPipeline::from_json(&fitted.to_json().unwrap()).unwrap();
        let a: Vec<u32> = fitted.transform(&train).unwrap().iter().map(|v| v.to_bits()).collect();
        let b: Vec<u32> = loaded.transform(&train).unwrap().iter().map(|v| v.to_bits()).collect();
        prop_assert_eq!(a, b);
    }

    /// Any f64 at all in the numeric fields (NaN, infinities, zero height, 1e308): an error
    /// or a finite matrix, never a panic.
    #[test]
    fn arbitrary_numbers_never_panic(
        config in config(),
        base in valid_record(),
        values in prop::collection::vec(
            prop_oneof![any::<f64>(), -1e3..1e3f64, Just(0.0), Just(f64::NAN)],
            8,
        ),
    ) {
        let mut r = base;
        r.age = values[0];
        r.height = values[1];
        r.weight = values[2];
        r.fcvc = values[3];
        r.ncp = values[4];
        r.ch2o = values[5];
        r.faf = values[6];
        r.tue = values[7];
        let records = [r.clone(), r];
        // Moderate magnitudes (and a height away from zero) must always work.
        let moderate = values.iter().all(|v| (1e-3..=1e3).contains(&v.abs()));
        match FeaturePipeline::new(config).fit(&records) {
            Ok(fitted) => match fitted.transform(&records) {
                Ok(x) => prop_assert!(x.iter().all(|v| v.is_finite())),
                Err(e) => prop_assert!(!moderate, "moderate values refused: {}", e),
            },
            Err(e) => prop_assert!(!moderate, "moderate values refused: {}", e),
        }
    }
}
