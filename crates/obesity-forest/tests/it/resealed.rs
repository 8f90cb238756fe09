//! Model files edited and then resealed (checksum recomputed), as a fuzzer or an attacker
//! would: each must fail to load with an error naming the field (never a checksum error,
//! which would mean the reseal was wrong and the test proved nothing), or load a model whose
//! predictions are probability distributions. Never a panic, an abort, or an allocation the
//! file's size does not justify.
//!
//! [`Layout`] finds every field of a forest file from the file's own counts; [`reseal`]
//! recomputes the payload length and the CRC32 after a mutation.

use std::sync::OnceLock;

use ndarray::Array2;
use obesity_forest::{
    Classifier, ForestParams, LinfaTree, LinfaTreeParams, ModelError, RandomForest, load_classifier,
};
use proptest::prelude::*;
use serde_json::Value;

const HEADER: usize = 20;

/// Recomputes the envelope's payload length and CRC32 after the payload was edited, cut or
/// extended (the last 4 bytes are taken to be the checksum).
fn reseal(b: &mut [u8]) {
    let end = b.len() - 4;
    let len = (end - HEADER) as u64;
    b[12..20].copy_from_slice(&len.to_le_bytes());
    let crc = crate::persist::crc32(&b[..end]);
    b[end..].copy_from_slice(&crc.to_le_bytes());
}

/// Wraps `payload` in a fresh envelope with `magic`.
fn seal(magic: &[u8; 8], payload: &[u8]) -> Vec<u8> {
    let mut b = magic.to_vec();
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    b.extend_from_slice(payload);
    b.extend_from_slice(&[0; 4]);
    reseal(&mut b);
    b
}

/// A header count of a forest file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Count {
    Features = 0,
    Classes = 1,
    Trees = 2,
    Nodes = 3,
    Leaves = 4,
}

/// The arrays of a forest file, in file order, with their element size.
const ARRAYS: [(&str, usize); 15] = [
    ("roots", 4),
    ("depths", 4),
    ("tree_nodes", 4),
    ("tree_leaves", 4),
    ("feature", 4),
    ("threshold", 4),
    ("left", 4),
    ("right", 4),
    ("leaf_proba", 4),
    ("node_impurity", 8),
    ("node_weight", 8),
    ("node_samples", 4),
    ("leaf_impurity", 8),
    ("leaf_weight", 8),
    ("leaf_samples", 4),
];

/// Where each field of a forest file lies, read from the file's own counts.
#[derive(Debug, Clone)]
struct Layout {
    /// Offset of the five `u64` counts.
    counts: usize,
    /// `n_features`, `n_classes`, `n_trees`, `n_nodes`, `n_leaves`.
    values: [usize; 5],
    /// Offset of the OOB flag (the score follows).
    oob_flag: usize,
    /// Per entry of [`ARRAYS`]: offset and number of elements.
    arrays: Vec<(usize, usize)>,
}

impl Layout {
    fn of(b: &[u8]) -> Layout {
        let json_len = u32::from_le_bytes(b[HEADER..HEADER + 4].try_into().unwrap()) as usize;
        let counts = HEADER + 4 + json_len;
        let values: [usize; 5] = std::array::from_fn(|i| {
            let at = counts + 8 * i;
            u64::from_le_bytes(b[at..at + 8].try_into().unwrap()) as usize
        });
        let [_, k, t, nn, nl] = values;
        let lens = [
            t,
            t,
            t + 1,
            t + 1,
            nn,
            nn,
            nn,
            nn,
            nl * k,
            nn,
            nn,
            nn,
            nl,
            nl,
            nl,
        ];
        let oob_flag = counts + 40;
        let mut at = oob_flag + 9;
        let arrays = ARRAYS
            .iter()
            .zip(lens)
            .map(|(&(_, size), n)| {
                let here = at;
                at += n * size;
                (here, n)
            })
            .collect();
        assert_eq!(at + 4, b.len(), "layout disagrees with the file");
        Layout {
            counts,
            values,
            oob_flag,
            arrays,
        }
    }

    fn count(&self, c: Count) -> usize {
        self.values[c as usize]
    }

    /// Offset of element `i` of the array named `name`.
    fn at(&self, name: &str, i: usize) -> usize {
        let a = ARRAYS.iter().position(|(n, _)| *n == name).unwrap();
        let (start, n) = self.arrays[a];
        assert!(i < n, "{name}[{i}] is past its {n} elements");
        start + i * ARRAYS[a].1
    }
}

/// A small real forest (6 trees, 5 features, 3 classes, OOB score) and its bytes.
fn forest() -> &'static (RandomForest, Vec<u8>) {
    static F: OnceLock<(RandomForest, Vec<u8>)> = OnceLock::new();
    F.get_or_init(|| {
        let (x, y) = crate::common::synthetic(200, 5, 3, 31);
        let p = ForestParams::builder()
            .n_estimators(6)
            .oob_score(true)
            .build()
            .unwrap();
        let m = RandomForest::fit(&p, x.view(), y.view(), 3).unwrap();
        let b = m.to_bytes().unwrap();
        (m, b)
    })
}

/// The forest's bytes with `edit` applied to them, resealed.
fn edited(edit: impl FnOnce(&Layout, &mut Vec<u8>)) -> Vec<u8> {
    let mut b = forest().1.clone();
    let l = Layout::of(&b);
    edit(&l, &mut b);
    reseal(&mut b);
    b
}

fn put(b: &mut [u8], at: usize, bytes: &[u8]) {
    b[at..at + bytes.len()].copy_from_slice(bytes);
}

fn set_count(l: &Layout, b: &mut [u8], c: Count, v: u64) {
    put(b, l.counts + 8 * c as usize, &v.to_le_bytes());
}

fn read_i32(b: &[u8], at: usize) -> i32 {
    i32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// Loads through both entry points; both must agree that the file is bad, and the error
/// must be a validation error naming `field` (not a checksum error: the reseal is right).
#[track_caller]
fn assert_rejected(b: &[u8], field: &str) -> ModelError {
    assert!(load_classifier(b).is_err(), "load_classifier accepted it");
    let e = RandomForest::from_bytes(b).expect_err("from_bytes accepted it");
    match &e {
        ModelError::InvalidModelField { field: f, .. } if f.contains(field) => {}
        _ => panic!("expected an invalid `{field}`, got: {e:?}"),
    }
    e
}

/// Rows of `p` are probability distributions.
fn assert_distributions(p: &Array2<f32>) -> Result<(), TestCaseError> {
    for (i, row) in p.rows().into_iter().enumerate() {
        prop_assert!(
            row.iter()
                .all(|v| v.is_finite() && (-1e-6..=1.0 + 1e-5).contains(v)),
            "row {i}: {row}"
        );
        prop_assert!(
            (row.sum() - 1.0).abs() < 1e-4,
            "row {i} sums to {}",
            row.sum()
        );
    }
    Ok(())
}

#[test]
fn reseal_of_the_untouched_file_is_the_identity_and_unchecked_fields_still_load() {
    let (m, bytes) = forest();
    let mut same = bytes.clone();
    reseal(&mut same);
    assert_eq!(&same, bytes);
    // A resealed edit of a field no invariant covers (a training sample count) loads: the
    // helper produces files the loader reads past the checksum.
    let b = edited(|l, b| put(b, l.at("leaf_samples", 0), &7u32.to_le_bytes()));
    let back = RandomForest::from_bytes(&b).unwrap();
    let (x, _) = crate::common::synthetic(50, 5, 3, 90);
    assert_eq!(
        back.predict_proba(x.view()).unwrap(),
        m.predict_proba(x.view()).unwrap()
    );
}

#[test]
fn regression_resealed_huge_n_features_is_rejected_before_allocating() {
    // Unchecked, 3 million allocated 3.4 GiB, 10 million 9.6 GB, and 2^60 panicked with
    // "capacity overflow" (per-feature tables of the prediction layout).
    let file_len = forest().1.len() as u64;
    for n in [65_537, 3_000_000, 10_000_000, 1 << 32, 1 << 60, u64::MAX, 0] {
        let b = edited(|l, b| set_count(l, b, Count::Features, n));
        let mut result = None;
        let info = allocation_counter::measure(|| result = Some(RandomForest::from_bytes(&b)));
        let e = result.unwrap().unwrap_err();
        assert!(
            matches!(&e, ModelError::InvalidModelField { field, value, .. }
                if field == "n_features" && *value == n.to_string()),
            "{n}: {e:?}"
        );
        assert!(e.to_string().contains("1..=65536"), "{e}");
        // Only the parameters' JSON is parsed before the counts are checked.
        assert!(info.bytes_max < file_len, "n_features = {n}: {info:?}");
        assert!(load_classifier(&b).is_err());
    }
}

#[test]
fn resealed_wider_n_features_within_the_cap_loads_and_predicts() {
    // Features no split uses are legitimate (a model trained on wider data).
    let (m, _) = forest();
    let b = edited(|l, b| set_count(l, b, Count::Features, 40));
    let wide = RandomForest::from_bytes(&b).unwrap();
    assert_eq!(wide.n_features(), 40);
    let (x, _) = crate::common::synthetic(30, 40, 3, 91);
    let narrow = x.slice(ndarray::s![.., ..5]).to_owned();
    assert_eq!(
        wide.predict_proba(x.view()).unwrap(),
        m.predict_proba(narrow.view()).unwrap()
    );
}

#[test]
fn regression_resealed_counts_whose_sizes_overflow_are_rejected_before_allocating() {
    let l = Layout::of(&forest().1);
    let (t, nn) = (l.count(Count::Trees) as u64, l.count(Count::Nodes) as u64);
    let cases: Vec<(Vec<(Count, u64)>, &str)> = vec![
        (vec![(Count::Classes, 0)], "n_classes"),
        (vec![(Count::Classes, u64::MAX)], "n_classes"),
        (vec![(Count::Classes, 1 << 40)], "n_classes"),
        (vec![(Count::Trees, 0)], "n_trees"),
        (vec![(Count::Trees, u64::MAX)], "n_leaves"),
        (vec![(Count::Nodes, u64::MAX)], "n_nodes"),
        // 36 bytes per node overflows u64.
        (vec![(Count::Nodes, u64::MAX / 36 + 1)], "n_nodes"),
        (vec![(Count::Nodes, nn + 1)], "n_leaves"),
        (
            vec![
                (Count::Nodes, i32::MAX as u64),
                (Count::Leaves, i32::MAX as u64 + t),
            ],
            "n_leaves",
        ),
        // 2^31 leaves × 2^31 classes × 4 bytes = 2^64: n_classes is past i32 already.
        (
            vec![
                (Count::Nodes, (1 << 31) - t),
                (Count::Leaves, 1 << 31),
                (Count::Classes, 1 << 31),
            ],
            "n_classes",
        ),
        // The largest counts that pass on their own: 2^64 - 2^33 bytes of arrays.
        (
            vec![
                (Count::Nodes, (1 << 31) - t),
                (Count::Leaves, 1 << 31),
                (Count::Classes, i32::MAX as u64),
            ],
            "arrays' length",
        ),
        // Consistent counts for one more node and leaf than the arrays hold.
        (
            vec![(Count::Nodes, nn + 1), (Count::Leaves, nn + 1 + t)],
            "arrays' length",
        ),
    ];
    for (set, field) in cases {
        let b = edited(|l, b| {
            for &(c, v) in &set {
                set_count(l, b, c, v);
            }
        });
        let mut result = None;
        let info = allocation_counter::measure(|| result = Some(RandomForest::from_bytes(&b)));
        let e = result.unwrap().unwrap_err();
        assert!(
            matches!(&e, ModelError::InvalidModelField { field: f, .. } if f == field),
            "{set:?}: {e:?}"
        );
        assert!(info.bytes_max < b.len() as u64, "{set:?}: {info:?}");
    }
}

#[test]
fn regression_resealed_truncated_or_extended_arrays_are_rejected() {
    for cut in [1usize, 4, 8, 100] {
        let mut b = forest().1.clone();
        let end = b.len() - 4;
        b.drain(end - cut..end);
        reseal(&mut b);
        let e = assert_rejected(&b, "arrays' length");
        assert!(e.to_string().contains("bytes left in the payload"), "{e}");
    }
    let mut b = forest().1.clone();
    let end = b.len() - 4;
    b.splice(end..end, [0u8; 12]);
    reseal(&mut b);
    assert_rejected(&b, "arrays' length");
}

#[test]
fn regression_resealed_out_of_range_child_is_rejected() {
    let l = Layout::of(&forest().1);
    let (nn, nl) = (l.count(Count::Nodes) as i32, l.count(Count::Leaves) as i32);
    let tree1 = l.at("tree_nodes", 1);
    let tree1_first = i32::from_le_bytes(forest().1[tree1..tree1 + 4].try_into().unwrap());
    for child in [nn, nn + 5, i32::MAX, !nl, !(nl + 9), i32::MIN, tree1_first] {
        let b = edited(|l, b| put(b, l.at("left", 0), &child.to_le_bytes()));
        let e = assert_rejected(&b, "left child of node 0");
        assert!(e.to_string().contains(&child.to_string()), "{e}");
    }
    // A leaf of the next tree.
    let leaf1 = l.at("tree_leaves", 1);
    let leaf1_first = i32::from_le_bytes(forest().1[leaf1..leaf1 + 4].try_into().unwrap());
    let b = edited(|l, b| put(b, l.at("right", 0), &(!leaf1_first).to_le_bytes()));
    assert_rejected(&b, "right child of node 0");
}

#[test]
fn regression_resealed_cyclic_child_is_rejected() {
    // A child at or before its parent would make every walk loop forever.
    let bytes = &forest().1;
    let l = Layout::of(bytes);
    // A split node with a split child: its child may not point back to it or to itself.
    let parent = (0..l.count(Count::Nodes))
        .find(|&i| read_i32(bytes, l.at("left", i)) > 0)
        .unwrap();
    let child = read_i32(bytes, l.at("left", parent)) as usize;
    for target in [parent as i32, child as i32, 0] {
        let b = edited(|l, b| put(b, l.at("right", child), &target.to_le_bytes()));
        assert_rejected(&b, &format!("right child of node {child}"));
    }
}

#[test]
fn regression_resealed_shared_child_is_rejected() {
    // Two parents of one node: acyclic, but not a tree (and some other node is unreachable).
    let bytes = &forest().1;
    let l = Layout::of(bytes);
    let left0 = read_i32(bytes, l.at("left", 0));
    let b = edited(|l, b| put(b, l.at("right", 0), &left0.to_le_bytes()));
    let e = assert_rejected(&b, "right child of node 0");
    assert!(e.to_string().contains("one parent"), "{e}");
}

#[test]
fn regression_resealed_negative_or_nan_leaf_value_is_rejected() {
    // A leaf value of -3 loaded and predicted -21; NaN and infinity are no better.
    for v in [
        -3.0f32,
        -1e-3,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        2.0,
    ] {
        let b = edited(|l, b| put(b, l.at("leaf_proba", 0), &v.to_le_bytes()));
        let e = assert_rejected(&b, "probability of class 0 in leaf 0");
        assert!(e.to_string().contains("[0, 1]"), "{e}");
    }
}

#[test]
fn regression_resealed_leaf_not_summing_to_one_is_rejected() {
    // 207 fuzzed files loaded and predicted rows that did not sum to 1.
    let bytes = &forest().1;
    let l = Layout::of(bytes);
    let k = l.count(Count::Classes);
    for row in [
        vec![0.0f32; k],
        vec![0.5, 0.0, 0.0],
        vec![1.0, 1.0, 0.0],
        vec![0.4, 0.4, 0.19],
    ] {
        let b = edited(|l, b| {
            for (c, v) in row.iter().enumerate() {
                put(b, l.at("leaf_proba", k * 3 + c), &v.to_le_bytes());
            }
        });
        let e = assert_rejected(&b, "sum of the class probabilities of leaf 3");
        assert!(e.to_string().contains("within"), "{e}");
    }
    // A legitimate mixed leaf still loads.
    let b = edited(|l, b| {
        for (c, v) in [0.25f32, 0.5, 0.25].iter().enumerate() {
            put(b, l.at("leaf_proba", k * 3 + c), &v.to_le_bytes());
        }
    });
    RandomForest::from_bytes(&b).unwrap();
}

#[test]
fn regression_resealed_feature_index_out_of_range_is_rejected() {
    for f in [5u32, 6, 1000, u32::MAX] {
        let b = edited(|l, b| put(b, l.at("feature", 0), &f.to_le_bytes()));
        let e = assert_rejected(&b, "feature of node 0");
        assert!(e.to_string().contains("< n_features = 5"), "{e}");
    }
}

#[test]
fn regression_resealed_nan_or_infinite_threshold_is_rejected() {
    for v in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let b = edited(|l, b| put(b, l.at("threshold", 0), &v.to_le_bytes()));
        assert_rejected(&b, "threshold of node 0");
    }
}

#[test]
fn regression_resealed_tree_bookkeeping_that_disagrees_is_rejected() {
    let bytes = &forest().1;
    let l = Layout::of(bytes);
    let word = |name: &str, i: usize| read_i32(bytes, l.at(name, i));
    let cases: Vec<(&str, usize, i32, &str)> = vec![
        ("roots", 0, 1, "root of tree 0"),
        ("roots", 0, -1, "root of tree 0"),
        ("depths", 0, word("depths", 0) + 1, "depth of tree 0"),
        ("depths", 2, 0, "depth of tree 2"),
        ("tree_nodes", 0, 1, "tree node offset 0"),
        (
            "tree_nodes",
            1,
            word("tree_nodes", 1) + 1,
            "tree leaf offset 1",
        ),
        (
            "tree_nodes",
            2,
            word("tree_nodes", 1) - 1,
            "tree node offset 2",
        ),
        (
            "tree_leaves",
            1,
            word("tree_leaves", 1) - 1,
            "tree leaf offset 1",
        ),
        (
            "tree_leaves",
            6,
            word("tree_leaves", 6) + 1,
            "tree leaf offset 6",
        ),
    ];
    for (name, i, v, field) in cases {
        let b = edited(|l, b| put(b, l.at(name, i), &v.to_le_bytes()));
        assert_rejected(&b, field);
    }
    // The number of trees must agree with the parameters.
    let b = edited(|l, b| {
        set_count(l, b, Count::Trees, 5);
        set_count(l, b, Count::Leaves, l.count(Count::Leaves) as u64 - 1);
    });
    assert_rejected(&b, "n_trees");
}

#[test]
fn regression_resealed_bad_oob_score_or_statistics_are_rejected() {
    for v in [f64::NAN, 1.5, -0.1, f64::INFINITY] {
        let b = edited(|l, b| put(b, l.oob_flag + 1, &v.to_le_bytes()));
        assert_rejected(&b, "oob score");
    }
    let b = edited(|l, b| b[l.oob_flag] = 2);
    assert_rejected(&b, "oob flag");
    for (name, v, field) in [
        ("node_weight", -1.0f64, "weight of node 0"),
        ("node_weight", f64::NAN, "weight of node 0"),
        ("leaf_weight", f64::INFINITY, "weight of leaf 0"),
        ("node_impurity", f64::NAN, "impurity of node 0"),
        ("leaf_impurity", f64::NEG_INFINITY, "impurity of leaf 0"),
    ] {
        let b = edited(|l, b| put(b, l.at(name, 0), &v.to_le_bytes()));
        assert_rejected(&b, field);
    }
}

#[test]
fn regression_resealed_stored_n_threads_is_rejected() {
    // The writer never stores `n_threads`; a refit of a loaded model must not start the
    // number of threads a file asks for.
    let bytes = &forest().1;
    let json_len = u32::from_le_bytes(bytes[HEADER..HEADER + 4].try_into().unwrap()) as usize;
    let json = std::str::from_utf8(&bytes[HEADER + 4..HEADER + 4 + json_len]).unwrap();
    assert!(json.contains(r#""n_threads":null"#), "{json}");
    let json = json.replace(r#""n_threads":null"#, r#""n_threads":100000"#);
    let mut payload = (json.len() as u32).to_le_bytes().to_vec();
    payload.extend_from_slice(json.as_bytes());
    payload.extend_from_slice(&bytes[HEADER + 4 + json_len..bytes.len() - 4]);
    assert_rejected(&seal(b"OBFOREST", &payload), "parameter n_threads");
}

/// One edit of a forest file.
#[derive(Debug, Clone)]
enum Mutation {
    /// XOR a payload byte (counts, parameters and flags included).
    Flip { at: usize, x: u8 },
    /// Overwrite a header count.
    Count { which: usize, value: u64 },
    /// Add a small amount to a header count.
    CountBy { which: usize, delta: i64 },
    /// Overwrite an element of a 4-byte array.
    Word {
        array: usize,
        index: usize,
        value: u32,
    },
    /// Overwrite an element of an 8-byte array.
    Double {
        array: usize,
        index: usize,
        value: f64,
    },
    /// Cut (negative) or extend with zeros (positive) the end of the payload.
    Resize { delta: i64 },
}

fn interesting_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        0..64u64,
        Just(65_536),
        Just(65_537),
        Just(3_000_000),
        Just(10_000_000),
        Just(i32::MAX as u64),
        Just(1 << 31),
        Just(1 << 32),
        Just(1 << 60),
        Just(u64::MAX),
        any::<u64>(),
    ]
}

fn interesting_word() -> impl Strategy<Value = u32> {
    let f = |v: f32| Just(v.to_bits());
    prop_oneof![
        0..400u32,
        (0..400i32).prop_map(|v| (!v) as u32),
        Just(u32::MAX),
        Just(i32::MAX as u32),
        Just(i32::MIN as u32),
        f(-3.0),
        f(f32::NAN),
        f(f32::INFINITY),
        f(0.5),
        f(1.0),
        f(0.0),
        f(-0.0),
        any::<u32>(),
    ]
}

fn interesting_double() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(-1.0),
        Just(0.0),
        Just(1e308),
        any::<f64>(),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let four: Vec<usize> = (0..ARRAYS.len()).filter(|&a| ARRAYS[a].1 == 4).collect();
    let eight: Vec<usize> = (0..ARRAYS.len()).filter(|&a| ARRAYS[a].1 == 8).collect();
    prop_oneof![
        3 => (any::<usize>(), 1u8..=255).prop_map(|(at, x)| Mutation::Flip { at, x }),
        2 => (0..5usize, interesting_u64()).prop_map(|(which, value)| Mutation::Count { which, value }),
        2 => (0..5usize, -3i64..=3).prop_map(|(which, delta)| Mutation::CountBy { which, delta }),
        6 => (proptest::sample::select(four), any::<usize>(), interesting_word())
            .prop_map(|(array, index, value)| Mutation::Word { array, index, value }),
        1 => (proptest::sample::select(eight), any::<usize>(), interesting_double())
            .prop_map(|(array, index, value)| Mutation::Double { array, index, value }),
        1 => (-64i64..=64).prop_map(|delta| Mutation::Resize { delta }),
    ]
}

/// Applies `m` to a file whose layout (before any edit) is `l`. Edits past the end are
/// wrapped into the file.
fn apply(l: &Layout, b: &mut Vec<u8>, m: &Mutation) {
    let payload_end = b.len() - 4;
    match *m {
        Mutation::Flip { at, x } => b[HEADER + at % (payload_end - HEADER)] ^= x,
        Mutation::Count { which, value } => put(b, l.counts + 8 * which, &value.to_le_bytes()),
        Mutation::CountBy { which, delta } => {
            let at = l.counts + 8 * which;
            let v = u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
            put(b, at, &v.wrapping_add_signed(delta).to_le_bytes());
        }
        Mutation::Word {
            array,
            index,
            value,
        } => {
            let (start, n) = l.arrays[array];
            if n > 0 && start + 4 * n <= payload_end {
                put(b, start + 4 * (index % n), &value.to_le_bytes());
            }
        }
        Mutation::Double {
            array,
            index,
            value,
        } => {
            let (start, n) = l.arrays[array];
            if n > 0 && start + 8 * n <= payload_end {
                put(b, start + 8 * (index % n), &value.to_le_bytes());
            }
        }
        Mutation::Resize { delta } => {
            if delta < 0 {
                let cut = (delta.unsigned_abs() as usize).min(payload_end - HEADER);
                b.drain(payload_end - cut..payload_end);
            } else {
                b.splice(
                    payload_end..payload_end,
                    std::iter::repeat_n(0, delta as usize),
                );
            }
        }
    }
}

/// Inputs of each batch size the kernels distinguish (row-major, lockstep, routed / bitset)
/// for a model `n_features` wide.
fn inputs(n_features: usize) -> Vec<Array2<f32>> {
    // A resealed width up to the cap (65,536) is valid: keep such inputs small.
    let sizes: &[usize] = if n_features <= 64 {
        &[8, 100, 600]
    } else {
        &[8]
    };
    sizes
        .iter()
        .map(|&n| crate::common::synthetic(n, n_features, 3, 92).0)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// The fuzzing campaign's property, with the checksum recomputed after every edit.
    #[test]
    fn resealed_forest_mutations_fail_with_an_error_or_predict_distributions(
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let bytes = &forest().1;
        let l = Layout::of(bytes);
        let mut b = bytes.clone();
        for m in &mutations {
            apply(&l, &mut b, m);
        }
        reseal(&mut b);
        match RandomForest::from_bytes(&b) {
            Err(e) => {
                prop_assert!(!matches!(e, ModelError::ChecksumMismatch { .. }), "{e}");
                prop_assert!(load_classifier(&b).is_err());
            }
            Ok(m) => {
                prop_assert!(m.n_features() <= 65_536 && m.n_classes() >= 1);
                for x in inputs(m.n_features()) {
                    assert_distributions(&m.predict_proba(x.view()).unwrap())?;
                    assert_distributions(&m.predict_proba_reference(x.view()).unwrap())?;
                    let mut out = vec![0.0f32; m.n_classes()];
                    m.predict_proba_row(x.row(0).as_slice().unwrap(), &mut out).unwrap();
                    assert_distributions(&Array2::from_shape_vec((1, out.len()), out).unwrap())?;
                    m.decision_path(x.row(0).as_slice().unwrap()).unwrap();
                }
                let _ = (m.feature_importances(), m.tree_stats(), m.oob_score());
                // What loads writes back to bytes that load again, to the same model.
                let again = RandomForest::from_bytes(&m.to_bytes().unwrap()).unwrap();
                let x = &inputs(m.n_features())[0];
                prop_assert_eq!(
                    again.predict_proba(x.view()).unwrap(),
                    m.predict_proba(x.view()).unwrap()
                );
            }
        }
    }
}

// ---- linfa-trees' files ----

fn linfa() -> &'static (LinfaTree, Value) {
    static L: OnceLock<(LinfaTree, Value)> = OnceLock::new();
    L.get_or_init(|| {
        let (x, y) = crate::common::synthetic(150, 4, 3, 33);
        let m = LinfaTree::fit(&LinfaTreeParams::default(), x.view(), y.view(), 3).unwrap();
        let b = m.to_bytes().unwrap();
        let v = serde_json::from_slice(&b[HEADER..b.len() - 4]).unwrap();
        (m, v)
    })
}

fn linfa_file(v: &Value) -> Vec<u8> {
    seal(b"OBLINFDT", &serde_json::to_vec(v).unwrap())
}

/// The tree's nodes depth-first (root = 0, left subtree first), as JSON paths.
fn node_paths(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec!["/tree/root_node".to_string()];
    while let Some(p) = stack.pop() {
        let node = v.pointer(&p).unwrap();
        for side in ["right_child", "left_child"] {
            if !node[side].is_null() {
                stack.push(format!("{p}/{side}"));
            }
        }
        out.push(p);
    }
    out
}

#[track_caller]
fn assert_linfa_rejected(v: &Value, field: &str) {
    let b = linfa_file(v);
    let e = LinfaTree::from_bytes(&b).expect_err("from_bytes accepted it");
    assert!(
        matches!(&e, ModelError::InvalidModelField { field: f, .. } if f.contains(field)),
        "expected an invalid `{field}`, got: {e:?}"
    );
    assert!(load_classifier(&b).is_err());
    // Plain deserialization validates too.
    let json = serde_json::to_string(v).unwrap();
    assert!(serde_json::from_str::<LinfaTree>(&json).is_err());
}

#[test]
fn resealed_linfa_file_untouched_still_loads() {
    let (m, v) = linfa();
    let back = LinfaTree::from_bytes(&linfa_file(v)).unwrap();
    assert_eq!(back.to_bytes().unwrap(), m.to_bytes().unwrap());
    let json = serde_json::to_string(v).unwrap();
    let plain: LinfaTree = serde_json::from_str(&json).unwrap();
    let (x, _) = crate::common::synthetic(60, 4, 3, 93);
    assert_eq!(
        plain.predict(x.view()).unwrap(),
        m.predict(x.view()).unwrap()
    );
}

#[test]
fn regression_resealed_linfa_split_feature_out_of_range_is_rejected() {
    // Loaded, then panicked in predict_proba (linfa indexes the row by the split feature).
    for f in [4u64, 1000, u32::MAX as u64] {
        let mut v = linfa().1.clone();
        assert_eq!(v["tree"]["root_node"]["leaf_node"], false);
        v["tree"]["root_node"]["feature_idx"] = f.into();
        assert_linfa_rejected(&v, "split feature of node 0");
    }
}

#[test]
fn regression_resealed_linfa_split_without_child_is_rejected() {
    // linfa unwraps both children of a split.
    for side in ["left_child", "right_child"] {
        let mut v = linfa().1.clone();
        v["tree"]["root_node"][side] = Value::Null;
        assert_linfa_rejected(&v, side.replace('_', " ").as_str());
    }
    // A leaf turned into a split without children.
    let mut v = linfa().1.clone();
    let leaf = node_paths(&v)
        .into_iter()
        .find(|p| v.pointer(p).unwrap()["leaf_node"] == true)
        .unwrap();
    v.pointer_mut(&leaf).unwrap()["leaf_node"] = false.into();
    assert_linfa_rejected(&v, "left child");
}

#[test]
fn regression_resealed_linfa_leaf_class_out_of_range_is_rejected() {
    let mut v = linfa().1.clone();
    let leaf = node_paths(&v)
        .into_iter()
        .find(|p| v.pointer(p).unwrap()["leaf_node"] == true)
        .unwrap();
    v.pointer_mut(&leaf).unwrap()["prediction"] = 3.into();
    assert_linfa_rejected(&v, "prediction");
}

#[test]
fn regression_resealed_linfa_node_below_a_leaf_is_checked_too() {
    // linfa's node iterator (used by `feature_importance`) descends below leaves.
    let mut v = linfa().1.clone();
    let leaf = node_paths(&v)
        .into_iter()
        .find(|p| v.pointer(p).unwrap()["leaf_node"] == true)
        .unwrap();
    let mut hidden = v["tree"]["root_node"].clone();
    hidden["feature_idx"] = 77.into();
    v.pointer_mut(&leaf).unwrap()["left_child"] = hidden;
    assert_linfa_rejected(&v, "split feature");
}

#[test]
fn regression_resealed_linfa_huge_widths_and_class_counts_are_rejected() {
    let big = 1u64 << 60;
    let cases: Vec<(&str, &str, u64, &str)> = vec![
        ("/n_features", "", big, "n_features"),
        ("/n_features", "/tree/num_features", big, "n_features"),
        ("/n_features", "/tree/num_features", 65_537, "n_features"),
        ("/n_features", "/tree/num_features", 0, "n_features"),
        // feature_importance allocates num_features values and indexes them.
        ("/tree/num_features", "", big, "tree.num_features"),
        ("/tree/num_features", "", 1, "tree.num_features"),
        // predict_proba allocates n_classes floats per row.
        ("/n_classes", "", big, "n_classes"),
        ("/n_classes", "", 65_537, "n_classes"),
        ("/n_classes", "", 0, "n_classes"),
    ];
    for (a, b, n, field) in cases {
        let mut v = linfa().1.clone();
        for p in [a, b].into_iter().filter(|p| !p.is_empty()) {
            *v.pointer_mut(p).unwrap() = n.into();
        }
        assert_linfa_rejected(&v, field);
    }
}

/// One edit of a linfa tree's JSON.
#[derive(Debug, Clone)]
enum LinfaMutation {
    /// Set a field of the node at this (depth-first, wrapped) index.
    Node {
        node: usize,
        field: usize,
        value: i64,
    },
    /// Set a top-level count.
    Top { field: usize, value: u64 },
    /// XOR a byte of the JSON text.
    Flip { at: usize, x: u8 },
}

const NODE_FIELDS: [&str; 5] = [
    "feature_idx",
    "prediction",
    "leaf_node",
    "left_child",
    "split_value",
];
const TOP_FIELDS: [&str; 3] = ["/n_features", "/n_classes", "/tree/num_features"];

fn linfa_mutation() -> impl Strategy<Value = LinfaMutation> {
    prop_oneof![
        4 => (any::<usize>(), 0..NODE_FIELDS.len(), prop_oneof![4 => 0i64..8, 1 => 0..i64::MAX, 1 => Just(-1)])
            .prop_map(|(node, field, value)| LinfaMutation::Node { node, field, value }),
        1 => (0..TOP_FIELDS.len(), prop_oneof![0..8u64, Just(1 << 60), Just(65_537)])
            .prop_map(|(field, value)| LinfaMutation::Top { field, value }),
        1 => (any::<usize>(), 1u8..=255).prop_map(|(at, x)| LinfaMutation::Flip { at, x }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn resealed_linfa_mutations_fail_with_an_error_or_predict_one_hot_rows(
        mutations in proptest::collection::vec(linfa_mutation(), 1..4),
    ) {
        let mut v = linfa().1.clone();
        let mut flips = Vec::new();
        for m in &mutations {
            match *m {
                LinfaMutation::Node { node, field, value } => {
                    let paths = node_paths(&v);
                    let node = v.pointer_mut(&paths[node % paths.len()]).unwrap();
                    node[NODE_FIELDS[field]] = match NODE_FIELDS[field] {
                        "leaf_node" => Value::from(value % 2 == 0),
                        "left_child" => Value::Null,
                        "split_value" => Value::from(value as f64),
                        _ => Value::from(value),
                    };
                }
                LinfaMutation::Top { field, value } => {
                    *v.pointer_mut(TOP_FIELDS[field]).unwrap() = value.into();
                }
                LinfaMutation::Flip { at, x } => flips.push((at, x)),
            }
        }
        let mut json = serde_json::to_vec(&v).unwrap();
        for (at, x) in flips {
            let n = json.len();
            json[at % n] ^= x;
        }
        let b = seal(b"OBLINFDT", &json);
        match LinfaTree::from_bytes(&b) {
            Err(e) => prop_assert!(!matches!(e, ModelError::ChecksumMismatch { .. }), "{e}"),
            Ok(m) => {
                let x = crate::common::synthetic(50, m.n_features(), 3, 94).0;
                let p = m.predict_proba(x.view()).unwrap();
                prop_assert_eq!(p.ncols(), m.n_classes());
                for row in p.rows() {
                    prop_assert!(row.iter().all(|&v| v == 0.0 || v == 1.0));
                    prop_assert_eq!(row.sum(), 1.0);
                }
                let _ = m.inner().feature_importance();
            }
        }
    }
}

#[test]
fn fit_rejects_inputs_wider_or_with_more_classes_than_model_files_allow() {
    let x = Array2::<f32>::zeros((2, 65_537));
    let y = ndarray::array![0usize, 1];
    let p = ForestParams::builder().n_estimators(1).build().unwrap();
    let e = RandomForest::fit(&p, x.view(), y.view(), 2).unwrap_err();
    assert!(
        matches!(&e, ModelError::InvalidParam { name: "x", value, .. } if value == "2 × 65537"),
        "{e:?}"
    );
    let e = LinfaTree::fit(&LinfaTreeParams::default(), x.view(), y.view(), 2).unwrap_err();
    assert!(
        matches!(e, ModelError::InvalidParam { name: "x", .. }),
        "{e:?}"
    );
    let (x, y) = crate::common::synthetic(20, 2, 2, 95);
    let e = LinfaTree::fit(&LinfaTreeParams::default(), x.view(), y.view(), 65_537).unwrap_err();
    assert!(
        matches!(&e, ModelError::InvalidParam { name: "n_classes", value, .. } if value == "65537"),
        "{e:?}"
    );
}
