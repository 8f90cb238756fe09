//! The synthetic generator and the committed fixture it made.

use obesity_data::{
    ColumnKind, Frequency, Gender, LoadOptions, ObesityLevel, ObesityRecord, Schema, Transport,
    feature_columns, load_csv, synth, write_csv,
};

use crate::common::synthetic;

const FIXTURE_ROWS: usize = 2_111;
const FIXTURE_SEED: u64 = 42;

fn fixture_bytes() -> Vec<u8> {
    let mut out = Vec::new();
    write_csv(&synth::generate(FIXTURE_ROWS, FIXTURE_SEED), &mut out).unwrap();
    out
}

#[test]
fn committed_fixture_is_what_the_generator_writes() {
    let committed = std::fs::read(synthetic()).expect(
        "fixtures/obesity_synthetic.csv is missing: run `cargo test -p obesity-data -- --ignored regenerate_synthetic_fixture`",
    );
    assert!(
        committed == fixture_bytes(),
        "fixtures/obesity_synthetic.csv differs from synth::generate(2111, 42); if the generator changed on \
         purpose, run `cargo test -p obesity-data -- --ignored regenerate_synthetic_fixture`"
    );
}

/// Rewrites the committed fixture: `cargo test -p obesity-data -- --ignored regenerate_synthetic_fixture`.
#[test]
#[ignore = "writes fixtures/obesity_synthetic.csv; run on purpose after changing the generator"]
fn regenerate_synthetic_fixture() {
    std::fs::write(synthetic(), fixture_bytes()).unwrap();
}

#[test]
fn generator_is_deterministic_per_seed() {
    assert_eq!(synth::generate(300, 7), synth::generate(300, 7));
    assert_ne!(synth::generate(300, 7), synth::generate(300, 8));
    // A prefix of a larger sample is not promised, but the size must be exact.
    assert_eq!(synth::generate(0, 1).len(), 0);
    assert_eq!(synth::generate(13, 1).len(), 13);
}

#[test]
fn fixture_loads_strictly_with_uci_class_counts() {
    let loaded = load_csv(synthetic(), &LoadOptions::strict()).unwrap();
    assert_eq!(loaded.records.len(), FIXTURE_ROWS);
    let mut counts = [0usize; 7];
    for r in &loaded.records {
        counts[r.target.unwrap().index()] += 1;
    }
    assert_eq!(counts, [272, 287, 290, 290, 351, 297, 324]);
}

fn bmi_class(bmi: f64) -> ObesityLevel {
    match bmi {
        b if b < 18.5 => ObesityLevel::InsufficientWeight,
        b if b < 25.0 => ObesityLevel::NormalWeight,
        b if b < 27.5 => ObesityLevel::OverweightLevelI,
        b if b < 30.0 => ObesityLevel::OverweightLevelII,
        b if b < 35.0 => ObesityLevel::ObesityTypeI,
        b if b < 40.0 => ObesityLevel::ObesityTypeII,
        _ => ObesityLevel::ObesityTypeIII,
    }
}

#[test]
fn every_label_matches_its_bmi_range() {
    for r in synth::generate(5_000, 3) {
        assert_eq!(
            Some(bmi_class(r.bmi())),
            r.target,
            "{r:?} has BMI {}",
            r.bmi()
        );
    }
}

#[test]
fn values_are_in_schema_ranges_and_rounded() {
    let records = synth::generate(5_000, 11);
    let schema = Schema::obesity();
    for col in feature_columns(&records) {
        if let (
            Some(ColumnKind::Numeric { min, max, .. }),
            obesity_data::ColumnValues::Numeric(values),
        ) = (schema.column(&col.name).map(|c| &c.kind), &col.values)
        {
            for v in values {
                assert!(
                    (*min..=*max).contains(v),
                    "{} = {v} outside [{min}, {max}]",
                    col.name
                );
            }
        }
    }
    for r in &records {
        assert_eq!(r.age.fract(), 0.0);
        assert_eq!((r.height * 100.0).round() / 100.0, r.height);
        assert_eq!((r.weight * 10.0).round() / 10.0, r.weight);
        for v in [r.fcvc, r.ncp, r.ch2o, r.faf, r.tue] {
            assert_eq!(v.fract(), 0.0);
        }
    }
}

fn share(records: &[&ObesityRecord], f: impl Fn(&ObesityRecord) -> bool) -> f64 {
    records.iter().filter(|r| f(r)).count() as f64 / records.len() as f64
}

#[test]
fn joint_structure_follows_the_class() {
    let records = synth::generate(20_000, 5);
    let of = |level: ObesityLevel| {
        records
            .iter()
            .filter(|r| r.target == Some(level))
            .collect::<Vec<_>>()
    };
    let normal = of(ObesityLevel::NormalWeight);
    let ob2 = of(ObesityLevel::ObesityTypeII);
    let ob3 = of(ObesityLevel::ObesityTypeIII);
    let insufficient = of(ObesityLevel::InsufficientWeight);

    // Gender by class, as in the UCI file.
    assert!(share(&ob2, |r| r.gender == Gender::Male) > 0.9);
    assert!(share(&ob3, |r| r.gender == Gender::Female) > 0.9);
    // Height by gender.
    let mean_height = |g: Gender| {
        let h: Vec<f64> = records
            .iter()
            .filter(|r| r.gender == g)
            .map(|r| r.height)
            .collect();
        h.iter().sum::<f64>() / h.len() as f64
    };
    let (f, m) = (mean_height(Gender::Female), mean_height(Gender::Male));
    assert!(
        (1.60..1.68).contains(&f) && (1.72..1.80).contains(&m),
        "female {f}, male {m}"
    );
    // Lifestyle shifts with the class.
    assert!(
        share(&ob2, |r| r.family_history_with_overweight)
            > share(&insufficient, |r| r.family_history_with_overweight) + 0.3
    );
    assert!(share(&ob3, |r| r.favc) > share(&normal, |r| r.favc) + 0.15);
    assert!(
        share(&insufficient, |r| r.caec == Frequency::Frequently)
            > share(&ob2, |r| r.caec == Frequency::Frequently) + 0.3
    );
    let mean_faf = |rs: &[&ObesityRecord]| rs.iter().map(|r| r.faf).sum::<f64>() / rs.len() as f64;
    assert!(mean_faf(&normal) > mean_faf(&ob3) + 0.3);
    assert!(
        share(&ob2, |r| r.mtrans == Transport::Automobile)
            > share(&ob3, |r| r.mtrans == Transport::Automobile) + 0.2
    );
}
