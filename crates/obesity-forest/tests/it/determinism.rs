//! Same seed, same bytes, on any number of threads; a different seed, a different model.

use obesity_forest::{ForestParams, RandomForest};

fn bytes(threads: Option<usize>, seed: u64) -> Vec<u8> {
    let (x, y) = crate::common::synthetic(500, 8, 4, 11);
    let p = ForestParams::builder()
        .n_estimators(30)
        .seed(seed)
        .n_threads(threads)
        .build()
        .unwrap();
    RandomForest::fit(&p, x.view(), y.view(), 4)
        .unwrap()
        .to_bytes()
        .unwrap()
}

#[test]
fn byte_identical_on_one_and_two_threads() {
    let one = bytes(Some(1), 5);
    assert_eq!(one, bytes(Some(2), 5));
    assert_eq!(one, bytes(Some(3), 5));
    assert_eq!(one, bytes(None, 5));
}

#[test]
fn another_seed_gives_another_forest() {
    assert_ne!(bytes(Some(1), 5), bytes(Some(1), 6));
}

#[test]
fn identical_on_a_large_matrix_with_quantised_bins() {
    // More distinct values than bins: the histogram path with merged bins is exercised.
    let (x, y) = crate::common::synthetic(3000, 4, 3, 12);
    let fit = |t| {
        let p = ForestParams::builder()
            .n_estimators(8)
            .n_threads(Some(t))
            .build()
            .unwrap();
        RandomForest::fit(&p, x.view(), y.view(), 3)
            .unwrap()
            .to_bytes()
            .unwrap()
    };
    assert_eq!(fit(1), fit(2));
}
