//! Golden fingerprints: the model bytes and the predictions of fixed fits, pinned as hashes
//! taken before the crate's layers were reorganised (issue 19). Any change to training, to
//! the model file or to a prediction kernel that alters one bit of a model or of an output
//! fails here. Every instruction set the CPU has must give the same fingerprints.

use ndarray::{Array1, Array2};
use obesity_forest::{
    ClassWeight, Classifier, Criterion, ForestParams, Isa, MaxFeatures, MaxSamples, RandomForest,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// FNV-1a, 64 bits: a dependency-free hash for fingerprints.
fn fnv(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn fnv_f32(v: &Array2<f32>) -> u64 {
    fnv(v.iter().flat_map(|x| x.to_bits().to_le_bytes()))
}

/// Coarse values (ties), 0/1 columns (one cut: the bitset kernel's one-bit codes) and
/// continuous ones; the class follows a noisy rule over all three.
fn mixed(n: usize, f: usize, k: usize, seed: u64) -> (Array2<f32>, Array1<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, f), |(_, j)| match j % 3 {
        0 => f32::from(rng.gen_range(0u8..6)),
        1 => f32::from(rng.gen_range(0u8..2)),
        _ => rng.gen_range(-3.0f32..3.0),
    });
    let y = x
        .rows()
        .into_iter()
        .map(|r| {
            let s = r[0] + 2.0 * r[1] + r[2 % f] + rng.gen_range(-0.5f32..0.5);
            (s.abs() as usize) % k
        })
        .collect();
    (x, y)
}

/// A data generator: `(rows, features, classes, seed)` to a matrix and labels.
type Generator = fn(usize, usize, usize, u64) -> (Array2<f32>, Array1<usize>);

struct Case {
    name: &'static str,
    data: Generator,
    rows: usize,
    features: usize,
    classes: usize,
    params: ForestParams,
    /// FNV-1a of `to_bytes()`.
    model: u64,
    /// FNV-1a of `predict_proba` on 3,000 held-out rows (the batch kernels) and on 40 rows.
    batch: u64,
    small: u64,
}

fn cases() -> Vec<Case> {
    let b = ForestParams::builder;
    vec![
        Case {
            name: "defaults-30t",
            data: crate::common::synthetic,
            rows: 2_000,
            features: 12,
            classes: 4,
            params: b().n_estimators(30).build().unwrap(),
            model: 0xf07b_a062_f106_fbe1,
            batch: 0x7c2a_d8dd_8ce5_d4ff,
            small: 0xe985_fd67_f1a4_9609,
        },
        Case {
            name: "entropy-balanced-depth8-oob",
            data: crate::common::synthetic,
            rows: 1_500,
            features: 9,
            classes: 5,
            params: b()
                .n_estimators(20)
                .criterion(Criterion::Entropy)
                .class_weight(ClassWeight::Balanced)
                .max_depth(Some(8))
                .min_samples_leaf(3)
                .max_features(MaxFeatures::Fraction(0.5))
                .max_samples(Some(MaxSamples::Fraction(0.7)))
                .oob_score(true)
                .seed(17)
                .build()
                .unwrap(),
            model: 0x19a4_d9d5_fd1a_697f,
            batch: 0x5d80_fa1f_97d3_0522,
            small: 0xec48_13c5_5531_ef52,
        },
        Case {
            name: "u16-bins-no-bootstrap-9-classes",
            data: crate::common::synthetic,
            rows: 3_000,
            features: 6,
            classes: 9,
            params: b()
                .n_estimators(12)
                .max_bins(1_000)
                .bootstrap(false)
                .max_features(MaxFeatures::All)
                .seed(3)
                .build()
                .unwrap(),
            model: 0x8a5a_b434_f1a2_3992,
            batch: 0x9669_da90_880f_5178,
            small: 0xf683_ef66_5993_ffa5,
        },
        Case {
            name: "row-codes-70k",
            data: crate::common::synthetic,
            rows: 70_000,
            features: 5,
            classes: 3,
            params: b()
                .n_estimators(3)
                .max_depth(Some(14))
                .seed(8)
                .build()
                .unwrap(),
            model: 0x5f36_b568_f270_753a,
            batch: 0xfaf9_7f7b_dd5b_6898,
            small: 0x53b6_e768_28a4_c476,
        },
        Case {
            name: "mixed-columns-default",
            data: mixed,
            rows: 1_800,
            features: 10,
            classes: 6,
            params: b().seed(5).build().unwrap(),
            model: 0x9420_eadc_b363_237a,
            batch: 0xc816_40c9_0624_4fa9,
            small: 0xc00e_c3f9_6b60_4de1,
        },
    ]
}

#[test]
fn fixed_fits_keep_their_bytes_and_predictions_on_every_isa() {
    let mut report = Vec::new();
    for c in cases() {
        let (x, y) = (c.data)(c.rows, c.features, c.classes, 42);
        let (xt, _) = (c.data)(3_000, c.features, c.classes, 43);
        let small = xt.slice(ndarray::s![..40, ..]).to_owned();
        for isa in Isa::supported() {
            let params = ForestParams::builder_from(&c.params)
                .isa(Some(isa))
                .build()
                .unwrap();
            let m = RandomForest::fit(&params, x.view(), y.view(), c.classes).unwrap();
            let got = (
                fnv(m.to_bytes().unwrap()),
                fnv_f32(&m.predict_proba(xt.view()).unwrap()),
                fnv_f32(&m.predict_proba(small.view()).unwrap()),
            );
            report.push(format!(
                "{} {isa}: model {:#018x}, batch {:#018x}, small {:#018x}",
                c.name, got.0, got.1, got.2
            ));
            if got != (c.model, c.batch, c.small) {
                report.push("  ^ MISMATCH".into());
            }
        }
    }
    let text = report.join("\n");
    assert!(!text.contains("MISMATCH"), "{text}");
}
