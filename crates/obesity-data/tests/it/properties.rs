//! Property tests: round trips, the loader on arbitrary bytes, the splits' stratification.

use std::collections::BTreeMap;

use obesity_data::{
    Frequency, Gender, LoadOptions, ObesityLevel, ObesityRecord, StratifiedKFold, Transport,
    load_csv_bytes, stratified_split, synth, write_csv,
};
use proptest::prelude::*;
use proptest::sample::select;

fn level<T: Copy + std::fmt::Debug + 'static>(all: &'static [T]) -> impl Strategy<Value = T> {
    select(all)
}

/// Any record the schema accepts, with full-precision floats (not only rounded ones).
fn any_record() -> impl Strategy<Value = ObesityRecord> {
    let numbers = (
        10.0..=100.0f64,
        1.0..=2.5f64,
        20.0..=300.0f64,
        1.0..=3.0f64,
        1.0..=4.0f64,
        1.0..=3.0f64,
        0.0..=3.0f64,
        0.0..=2.0f64,
    );
    let flags = (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>());
    let cats = (
        level(Gender::ALL),
        level(Frequency::ALL),
        level(Frequency::ALL),
        level(Transport::ALL),
        proptest::option::of(level(ObesityLevel::ALL)),
    );
    (numbers, flags, cats).prop_map(
        |(
            (age, height, weight, fcvc, ncp, ch2o, faf, tue),
            (fam, favc, smoke, scc),
            (gender, caec, calc, mtrans, target),
        )| {
            ObesityRecord {
                gender,
                age,
                height,
                weight,
                family_history_with_overweight: fam,
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

fn roundtrip(records: &[ObesityRecord]) -> Vec<ObesityRecord> {
    let mut csv = Vec::new();
    write_csv(records, &mut csv).unwrap();
    load_csv_bytes("roundtrip.csv", &csv, &LoadOptions::strict())
        .unwrap()
        .records
}

fn bits(records: &[ObesityRecord]) -> Vec<[u64; 8]> {
    records
        .iter()
        .map(|r| {
            [
                r.age, r.height, r.weight, r.fcvc, r.ncp, r.ch2o, r.faf, r.tue,
            ]
            .map(f64::to_bits)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn generated_records_survive_write_then_load(n in 1usize..300, seed in any::<u64>()) {
        let records = synth::generate(n, seed);
        let back = roundtrip(&records);
        prop_assert_eq!(&back, &records);
        prop_assert_eq!(bits(&back), bits(&records));
    }

    #[test]
    fn arbitrary_valid_records_survive_bit_identical(records in proptest::collection::vec(any_record(), 1..40)) {
        let back = roundtrip(&records);
        prop_assert_eq!(bits(&back), bits(&records));
        // Unlabelled records stay unlabelled, labelled ones keep their class.
        let targets: Vec<_> = back.iter().map(|r| r.target).collect();
        let expected: Vec<_> = records.iter().map(|r| r.target).collect();
        prop_assert_eq!(targets, expected);
    }

    #[test]
    fn loader_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        for options in [LoadOptions::strict(), LoadOptions::lenient()] {
            // Errors name a line of the file (as an editor counts them), messages are bounded.
            crate::hostile::assert_sane(&bytes, load_csv_bytes("fuzz.csv", &bytes, &options));
        }
    }

    #[test]
    fn loader_never_panics_on_corrupted_valid_files(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..20),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut csv = Vec::new();
        write_csv(&synth::generate(20, 1), &mut csv).unwrap();
        for (at, byte) in edits {
            let i = at.index(csv.len());
            csv[i] = byte;
        }
        csv.truncate(cut.index(csv.len() + 1));
        for options in [LoadOptions::strict(), LoadOptions::lenient()] {
            match load_csv_bytes("corrupt.csv", &csv, &options) {
                Ok(loaded) => {
                    // Lenient loads account for every row they read.
                    prop_assert!(loaded.records.len() + loaded.rejected.len() <= 20 + 20);
                }
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
        }
    }

    #[test]
    fn stratified_split_keeps_every_class_share(
        labels in proptest::collection::vec(0usize..5, 10..400),
        fraction in 0.05f64..0.95,
        seed in any::<u64>(),
    ) {
        let mut counts = BTreeMap::new();
        for &l in &labels { *counts.entry(l).or_insert(0usize) += 1; }
        match stratified_split(&labels, fraction, seed) {
            Ok((train, test)) => {
                let mut all: Vec<usize> = train.iter().chain(&test).copied().collect();
                all.sort_unstable();
                prop_assert_eq!(all, (0..labels.len()).collect::<Vec<_>>());
                for (&class, &n_c) in &counts {
                    let in_test = test.iter().filter(|&&i| labels[i] == class).count() as f64;
                    prop_assert!((in_test - n_c as f64 * fraction).abs() < 1.0 + 1e-9,
                        "class {} has {} test rows of {}, exact {}", class, in_test, n_c, n_c as f64 * fraction);
                }
                prop_assert_eq!(stratified_split(&labels, fraction, seed).unwrap(), (train, test));
            }
            Err(_) => {
                let tiny = counts.values().any(|&c| c < 2);
                // scikit-learn's sizing: the test part gets ceil(n * f) rows, and each part
                // must be able to hold one row of every class.
                let n_test = (labels.len() as f64 * fraction - 1e-9).ceil() as usize;
                let n_classes = counts.len();
                prop_assert!(tiny || n_test < n_classes || labels.len() - n_test.min(labels.len()) < n_classes);
            }
        }
    }

    #[test]
    fn kfold_partitions_and_stratifies(
        labels in proptest::collection::vec(0usize..4, 20..300),
        k in 2usize..7,
        shuffle in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mut counts = BTreeMap::new();
        for &l in &labels { *counts.entry(l).or_insert(0usize) += 1; }
        let kfold = StratifiedKFold::new(k).shuffle(shuffle).seed(seed);
        match kfold.split(&labels) {
            Ok(folds) => {
                prop_assert_eq!(folds.len(), k);
                let mut seen = vec![0usize; labels.len()];
                for (train, test) in &folds {
                    prop_assert_eq!(train.len() + test.len(), labels.len());
                    for &i in test { seen[i] += 1; }
                    prop_assert!(train.iter().all(|i| !test.contains(i)));
                    for (&class, &n_c) in &counts {
                        let in_test = test.iter().filter(|&&i| labels[i] == class).count() as f64;
                        prop_assert!((in_test - n_c as f64 / k as f64).abs() < 1.0);
                    }
                }
                prop_assert!(seen.iter().all(|&s| s == 1), "every row is tested exactly once");
                let sizes: Vec<usize> = folds.iter().map(|(_, t)| t.len()).collect();
                prop_assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
                prop_assert_eq!(kfold.split(&labels).unwrap(), folds);
            }
            Err(_) => prop_assert!(counts.values().any(|&c| c < k)),
        }
    }
}
