//! Forcing the instruction set: every one this CPU runs predicts and trains bit-identically
//! (proptest), the explicit options refuse what the CPU lacks, and `OBESITY_FOREST_ISA` is
//! read once per process (checked in child processes of this test binary).

use std::process::Command;

use ndarray::Array2;
use obesity_forest::{
    Classifier, ForestParams, ISA_ENV, Isa, MaxFeatures, ModelError, RandomForest,
};
use proptest::prelude::*;

fn fit(
    rows: usize,
    f: usize,
    k: usize,
    trees: usize,
    depth: Option<usize>,
    seed: u64,
) -> RandomForest {
    let (x, y) = crate::common::synthetic(rows, f, k, seed);
    let p = ForestParams::builder()
        .n_estimators(trees)
        .max_depth(depth)
        .max_features(MaxFeatures::Fraction(0.6))
        .seed(seed)
        .build()
        .unwrap();
    RandomForest::fit(&p, x.view(), y.view(), k).unwrap()
}

/// Rows with 0/1 columns and coarse values too, so every code width of the bitset kernel is
/// in play.
fn batch(n: usize, f: usize, seed: u64) -> Array2<f32> {
    let (mut x, _) = crate::common::synthetic(n, f, 2, seed);
    for (j, mut c) in x.columns_mut().into_iter().enumerate() {
        match j % 3 {
            1 => c.mapv_inplace(|v| f32::from(v > 0.0)),
            2 => c.mapv_inplace(|v| (v * 4.0).round()),
            _ => {}
        }
    }
    x
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Every instruction set's batch prediction (the bitset kernel from 512 rows, on every
    /// path: vote counting for fully grown forests, per-leaf sums for depth-limited ones,
    /// one- and two-byte codes) equals the row kernel's bit for bit, on one and two threads.
    #[test]
    fn every_isa_predicts_like_the_row_kernel(
        seed in 0u64..1000,
        f in 2usize..12,
        k in 2usize..6,
        trees in 1usize..20,
        depth in proptest::option::of(2usize..6),
        rows in prop_oneof![1usize..600, 600usize..3000],
    ) {
        // Training data with the same column kinds as the batch.
        let (_, y) = crate::common::synthetic(400, f, k, seed);
        let x = batch(400, f, seed);
        let p = ForestParams::builder()
            .n_estimators(trees)
            .max_depth(depth)
            .seed(seed)
            .build()
            .unwrap();
        let m = RandomForest::fit(&p, x.view(), y.view(), k).unwrap();
        let xb = batch(rows, f, seed + 1);
        let want = m.predict_proba_row_major(xb.view()).unwrap();
        for isa in Isa::supported() {
            let forced = m.clone().with_isa(isa).unwrap();
            prop_assert_eq!(forced.isa(), isa);
            for threads in [1, 2] {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                let got = pool.install(|| forced.predict_proba(xb.view()).unwrap());
                prop_assert!(got == want, "{} on {} threads", isa, threads);
            }
        }
    }
}

/// Training forced to each instruction set grows the same trees (the SSE2 gini scans and the
/// portable ones pick the same splits), and the model remembers what it was forced to.
#[test]
fn every_isa_trains_the_same_bytes() {
    let (x, y) = crate::common::synthetic(1_200, 9, 5, 3);
    let mut bytes = Vec::new();
    for isa in Isa::supported() {
        let p = ForestParams::builder()
            .n_estimators(25)
            .isa(isa)
            .build()
            .unwrap();
        assert_eq!(p.isa(), Some(isa));
        let m = RandomForest::fit(&p, x.view(), y.view(), 5).unwrap();
        assert_eq!(m.isa(), isa);
        bytes.push(m.to_bytes().unwrap());
        // Not a hyper-parameter: not in the run-tracking map, nor in the file.
        assert!(!obesity_forest::ModelStrategy::params(&p).contains_key("isa"));
        let back = RandomForest::from_bytes(bytes.last().unwrap()).unwrap();
        assert_eq!(back.params().isa(), None);
    }
    assert!(bytes.windows(2).all(|w| w[0] == w[1]));
}

/// The explicit options refuse an instruction set this CPU lacks, with a typed error, and
/// accept every one it runs.
#[test]
fn explicit_options_refuse_what_the_cpu_lacks() {
    let m = fit(200, 4, 3, 3, None, 1);
    for isa in Isa::ALL {
        let built = ForestParams::builder().isa(isa).build();
        let forced = m.clone().with_isa(isa);
        if isa.is_supported() {
            assert_eq!(built.unwrap().isa(), Some(isa));
            assert_eq!(forced.unwrap().isa(), isa);
        } else {
            for err in [built.unwrap_err(), forced.unwrap_err()] {
                match err {
                    ModelError::IsaUnavailable {
                        requested,
                        detected,
                    } => {
                        assert_eq!((requested, detected), (isa, Isa::detected()));
                    }
                    e => panic!("{isa}: {e}"),
                }
            }
        }
    }
    assert_eq!(
        ForestParams::builder().isa(None).build().unwrap().isa(),
        None
    );
}

/// Run only as a child of `the_environment_variable_sets_the_process_default`: reports the
/// process default and predicts with it.
#[test]
#[ignore = "run in a child process by the_environment_variable_sets_the_process_default"]
fn child_reports_the_process_default() {
    let m = fit(300, 5, 3, 5, None, 2);
    let x = batch(1_000, 5, 3);
    assert_eq!(m.isa(), Isa::process_default());
    let want = m.predict_proba_row_major(x.view()).unwrap();
    assert!(m.predict_proba(x.view()).unwrap() == want);
    println!("process default: {}", Isa::process_default());
}

#[test]
fn the_environment_variable_sets_the_process_default() {
    let exe = std::env::current_exe().unwrap();
    let run = |value: &str| {
        let out = Command::new(&exe)
            .args([
                "--exact",
                "isa::child_reports_the_process_default",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(ISA_ENV, value)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{value}: {stdout}\n{stderr}");
        // The harness may print its own text on the same line.
        let isa = stdout
            .split("process default: ")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .unwrap_or_else(|| panic!("{value}: no report in {stdout}"))
            .parse::<Isa>()
            .unwrap();
        (isa, stderr)
    };
    for asked in Isa::ALL {
        let (isa, stderr) = run(asked.name());
        if asked.is_supported() {
            assert_eq!(isa, asked);
            assert!(!stderr.contains("obesity-forest:"), "{stderr}");
        } else {
            // Falls back below what was asked, with a warning; never an illegal instruction.
            assert!(isa < asked && isa.is_supported());
            assert!(stderr.contains("does not support"), "{stderr}");
        }
    }
    let (isa, stderr) = run("auto");
    assert_eq!(isa, Isa::detected());
    assert!(!stderr.contains("obesity-forest:"), "{stderr}");
    let (isa, stderr) = run("avx-1024");
    assert_eq!(isa, Isa::detected());
    assert!(
        stderr.contains("OBESITY_FOREST_ISA=\"avx-1024\" is not one of"),
        "{stderr}"
    );
}
