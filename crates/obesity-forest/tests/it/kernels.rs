//! Both prediction kernels agree with the plain reference walk (proptest), and rows sum to 1.

use ndarray::Array2;
use obesity_forest::{Classifier, ForestParams, RandomForest};
use proptest::prelude::*;

fn model(n: usize, f: usize, k: usize, trees: usize, seed: u64) -> RandomForest {
    let (x, y) = crate::common::synthetic(n, f, k, seed);
    let p = ForestParams::builder()
        .n_estimators(trees)
        .seed(seed)
        .build()
        .unwrap();
    RandomForest::fit(&p, x.view(), y.view(), k).unwrap()
}

fn close(a: &Array2<f32>, b: &Array2<f32>) -> bool {
    a.shape() == b.shape() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn kernels_match_reference_walk(
        seed in 0u64..1000,
        f in 1usize..40,
        k in 1usize..6,
        trees in 1usize..12,
        rows in 1usize..700,
    ) {
        let m = model(150, f, k, trees, seed);
        let (x, _) = crate::common::synthetic(rows, f, k, seed + 1);
        let reference = m.predict_proba_reference(x.view()).unwrap();
        let batch = m.predict_proba(x.view()).unwrap();
        let row_major = m.predict_proba_row_major(x.view()).unwrap();
        prop_assert!(close(&batch, &reference));
        prop_assert!(close(&row_major, &reference));
        let mut out = vec![0.0f32; k];
        for (r, expected) in x.rows().into_iter().zip(reference.rows()) {
            m.predict_proba_row(r.as_slice().unwrap(), &mut out).unwrap();
            prop_assert!(out.iter().zip(expected).all(|(a, b)| (a - b).abs() < 1e-5));
        }
        for r in batch.rows() {
            prop_assert!((r.sum() - 1.0).abs() < 1e-4);
        }
    }
}

#[test]
fn large_batch_uses_the_parallel_kernel_and_matches() {
    let m = model(400, 9, 4, 25, 21);
    let (x, _) = crate::common::synthetic(5003, 9, 4, 22);
    let reference = m.predict_proba_reference(x.view()).unwrap();
    assert!(close(&m.predict_proba(x.view()).unwrap(), &reference));
    let labels = m.predict(x.view()).unwrap();
    for (l, r) in labels.iter().zip(reference.rows()) {
        let best = r.iter().cloned().fold(f32::MIN, f32::max);
        assert!((r[*l] - best).abs() < 1e-5);
    }
}

/// The public arena view walks every row to the leaves the kernels use: its plain walk gives
/// the reference probabilities, and its offsets cover the arrays.
#[test]
fn the_arena_view_walks_like_the_kernels() {
    let m = model(300, 6, 3, 9, 4);
    let a = m.arena();
    let n_trees = a.roots.len();
    assert_eq!((a.n_features, a.n_classes, n_trees), (6, 3, 9));
    assert_eq!(a.tree_nodes.len(), n_trees + 1);
    assert_eq!(a.tree_nodes[n_trees] as usize, a.feature.len());
    assert_eq!(a.tree_leaves[n_trees] as usize * 3, a.leaf_proba.len());
    assert_eq!(m.n_nodes(), a.feature.len() + a.leaf_proba.len() / 3);
    let (x, _) = crate::common::synthetic(200, 6, 3, 5);
    let reference = m.predict_proba_reference(x.view()).unwrap();
    for (row, want) in x.rows().into_iter().zip(reference.rows()) {
        let mut p = [0.0f32; 3];
        for &root in a.roots {
            let mut n = root;
            while n >= 0 {
                let i = n as usize;
                n = if row[a.feature[i] as usize] <= a.threshold[i] {
                    a.left[i]
                } else {
                    a.right[i]
                };
            }
            let leaf = !n as usize;
            for (p, v) in p.iter_mut().zip(&a.leaf_proba[leaf * 3..leaf * 3 + 3]) {
                *p += v;
            }
        }
        for (p, w) in p.iter().zip(want) {
            assert!((p / n_trees as f32 - w).abs() < 1e-6);
        }
    }
}

/// The public arena view, walked as its docs say (each tree's leaf probabilities times
/// `1 / n_trees`, added in tree order), reproduces `predict_proba` bit for bit on the UCI
/// rows (runs only when OBESITY_UCI_CSV is set): the default forest on the standard
/// pipeline's 32 columns, every row of the file in one batch (the bitset kernel on every
/// instruction set) and in a 300-row batch (the lockstep kernel), on every instruction set
/// this CPU runs, one and two threads.
#[test]
fn walking_the_arena_reproduces_predict_proba_on_the_uci_rows() {
    use obesity_data::{LoadOptions, load_csv};
    use obesity_features::FeaturePipeline;
    use obesity_forest::Isa;

    let Some(path) = obesity_data::uci_csv_from_env().unwrap() else {
        eprintln!("OBESITY_UCI_CSV is unset: skipping the UCI arena walk");
        return;
    };
    let records = load_csv(&path, &LoadOptions::strict()).unwrap().records;
    let pipeline = FeaturePipeline::standard().fit(&records).unwrap();
    let d = pipeline.dataset(&records).unwrap();
    let k = d.class_names.len();
    let params = ForestParams::builder().seed(7).build().unwrap();
    let m = RandomForest::fit(&params, d.x.view(), d.y.view(), k).unwrap();

    let a = m.arena();
    assert_eq!((a.n_features, a.n_classes, a.n_trees()), (32, 7, 100));
    assert_eq!(a.n_leaves(), a.n_splits() + a.n_trees());
    assert_eq!(m.n_nodes(), a.n_splits() + a.n_leaves());
    assert_eq!(a.leaf(a.n_leaves()), &[] as &[f32]);
    assert_eq!(m.tree_stats().len(), a.n_trees());
    for (t, s) in m.tree_stats().iter().enumerate() {
        let (splits, leaves) = (
            (a.tree_nodes[t + 1] - a.tree_nodes[t]) as usize,
            (a.tree_leaves[t + 1] - a.tree_leaves[t]) as usize,
        );
        assert_eq!(
            (splits + leaves, leaves),
            (s.n_nodes, s.n_leaves),
            "tree {t}"
        );
    }

    let scale = 1.0 / a.n_trees() as f32;
    let mut walked = Array2::<f32>::zeros((d.x.nrows(), k));
    for (row, mut out) in d.x.rows().into_iter().zip(walked.rows_mut()) {
        for &root in a.roots {
            let mut n = root;
            while n >= 0 {
                let i = n as usize;
                n = if row[a.feature[i] as usize] <= a.threshold[i] {
                    a.left[i]
                } else {
                    a.right[i]
                };
            }
            for (o, p) in out.iter_mut().zip(a.leaf(!n as usize)) {
                *o += p * scale;
            }
        }
    }
    let bits = |p: &Array2<f32>| p.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    let few = d.x.slice(ndarray::s![..300, ..]);
    for isa in Isa::supported() {
        let forced = m.clone().with_isa(isa).unwrap();
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let (all, some) = pool.install(|| {
                (
                    forced.predict_proba(d.x.view()).unwrap(),
                    forced.predict_proba(few).unwrap(),
                )
            });
            assert!(bits(&all) == bits(&walked), "{isa}, {threads} threads");
            assert!(
                bits(&some) == bits(&walked.slice(ndarray::s![..300, ..]).to_owned()),
                "{isa}, {threads} threads, 300 rows"
            );
        }
    }
}
