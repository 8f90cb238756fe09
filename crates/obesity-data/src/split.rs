//! Stratified splits over class labels, as scikit-learn's `train_test_split(stratify=y)` and
//! `StratifiedKFold`. Generic: they see only `usize` class indices.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::error::{DataError, Result};
use crate::record::ObesityRecord;

/// Row indices of each class, classes in order of first appearance (scikit-learn's order).
fn classes_by_first_appearance(labels: &[usize]) -> Vec<(usize, Vec<usize>)> {
    let mut classes: Vec<(usize, Vec<usize>)> = Vec::new();
    let mut slot_of = std::collections::HashMap::new();
    for (i, &label) in labels.iter().enumerate() {
        let slot = *slot_of.entry(label).or_insert_with(|| {
            classes.push((label, Vec::new()));
            classes.len() - 1
        });
        if let Some((_, rows)) = classes.get_mut(slot) {
            rows.push(i);
        }
    }
    classes
}

/// Splits row indices into `(train, test)` with each class's share preserved.
///
/// Each class gets ⌊n_c·f⌋ or ⌈n_c·f⌉ test rows (within one row of exact), chosen so the
/// test part has `⌈n·f⌉` rows in total (largest remainder), as scikit-learn's
/// `train_test_split` sizes it: 2,111 rows at 0.2 give 1,688 training and 423 test rows. Which rows go where is
/// drawn from a ChaCha8 generator seeded with `seed`; both parts come back sorted.
///
/// # Errors
/// [`DataError::EmptyLabels`], [`DataError::InvalidFraction`] unless `0 < test_fraction < 1`,
/// [`DataError::ClassTooSmall`] for a class with a single row (it cannot be in both parts),
/// and [`DataError::EmptySplitPart`] when the fraction leaves a part empty.
pub fn stratified_split(
    labels: &[usize],
    test_fraction: f64,
    seed: u64,
) -> Result<(Vec<usize>, Vec<usize>)> {
    if labels.is_empty() {
        return Err(DataError::EmptyLabels);
    }
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(DataError::InvalidFraction {
            fraction: test_fraction,
        });
    }
    let n = labels.len();
    let classes = classes_by_first_appearance(labels);
    if let Some((class, rows)) = classes.iter().find(|(_, rows)| rows.len() < 2) {
        return Err(DataError::ClassTooSmall {
            class: *class,
            class_name: None,
            count: rows.len(),
            needed: 2,
        });
    }
    // scikit-learn rounds the test size up (`ceil(test_size * n_samples)`); the small
    // tolerance keeps an exact product such as 0.2 × 1000 from rounding up to 201.
    let n_test = (n as f64 * test_fraction - 1e-9).ceil() as usize;
    // As scikit-learn: each part must be able to hold one row of every class.
    if n_test < classes.len() || n - n_test.min(n) < classes.len() {
        return Err(DataError::EmptySplitPart {
            fraction: test_fraction,
            rows: n,
            test_rows: n_test,
            classes: classes.len(),
        });
    }

    // Largest-remainder allocation of n_test over the classes.
    let exact: Vec<f64> = classes
        .iter()
        .map(|(_, rows)| rows.len() as f64 * test_fraction)
        .collect();
    let mut take: Vec<usize> = exact.iter().map(|x| x.floor() as usize).collect();
    let mut order: Vec<usize> = (0..classes.len()).collect();
    order.sort_by(|&a, &b| {
        let (ra, rb) = (exact[a] - exact[a].floor(), exact[b] - exact[b].floor());
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    let short = n_test.saturating_sub(take.iter().sum());
    for &i in order.iter().take(short) {
        take[i] += 1;
    }

    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut train = Vec::with_capacity(n - n_test);
    let mut test = Vec::with_capacity(n_test);
    for ((_, rows), k) in classes.iter().zip(take) {
        let mut rows = rows.clone();
        rows.shuffle(&mut rng);
        let (t, rest) = rows.split_at(k.min(rows.len()));
        test.extend_from_slice(t);
        train.extend_from_slice(rest);
    }
    train.sort_unstable();
    test.sort_unstable();
    Ok((train, test))
}

/// Stratified k-fold cross-validation, as scikit-learn's `StratifiedKFold`.
///
/// Every class's rows are spread over the folds so that each fold holds ⌊n_c/k⌋ or
/// ⌈n_c/k⌉ of them, and fold sizes differ by at most one. Without shuffling the folds are
/// exactly scikit-learn's; with shuffling, each class's rows are shuffled by a ChaCha8
/// generator seeded with [`seed`](Self::seed) before being dealt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StratifiedKFold {
    k: usize,
    shuffle: bool,
    seed: u64,
}

impl StratifiedKFold {
    /// `k` folds. `k < 2` is reported by [`split`](Self::split).
    pub fn new(k: usize) -> Self {
        StratifiedKFold {
            k,
            shuffle: false,
            seed: 0,
        }
    }

    /// Whether to shuffle each class's rows before dealing them. By default, this is `false`.
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// The seed of the shuffle. By default, this is 0.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The number of folds.
    pub fn n_splits(&self) -> usize {
        self.k
    }

    /// `(train, test)` row indices for each of the k folds, each part sorted.
    ///
    /// # Errors
    /// [`DataError::InvalidFolds`] for `k < 2`, [`DataError::EmptyLabels`], and
    /// [`DataError::ClassTooSmall`] for a class with fewer than k rows.
    pub fn split(&self, labels: &[usize]) -> Result<Vec<(Vec<usize>, Vec<usize>)>> {
        let k = self.k;
        if k < 2 {
            return Err(DataError::InvalidFolds { k });
        }
        if labels.is_empty() {
            return Err(DataError::EmptyLabels);
        }
        let classes = classes_by_first_appearance(labels);
        if let Some((class, rows)) = classes.iter().find(|(_, rows)| rows.len() < k) {
            return Err(DataError::ClassTooSmall {
                class: *class,
                class_name: None,
                count: rows.len(),
                needed: k,
            });
        }

        // scikit-learn sorts the (encoded) labels and deals position p to fold p % k; a class
        // occupying positions [start, start + n_c) thus gets these counts per fold, and its
        // rows (in order, or shuffled) fill fold 0's share first, then fold 1's ...
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut fold_of = vec![0usize; labels.len()];
        let mut start = 0usize;
        for (_, rows) in &classes {
            let mut rows = rows.clone();
            if self.shuffle {
                rows.shuffle(&mut rng);
            }
            let mut counts = vec![0usize; k];
            for p in start..start + rows.len() {
                counts[p % k] += 1;
            }
            let mut next = rows.iter();
            for (fold, count) in counts.iter().enumerate() {
                for &row in next.by_ref().take(*count) {
                    fold_of[row] = fold;
                }
            }
            start += rows.len();
        }

        Ok((0..k)
            .map(|fold| {
                let (test, train): (Vec<usize>, Vec<usize>) =
                    (0..labels.len()).partition(|&i| fold_of[i] == fold);
                (train, test)
            })
            .collect())
    }
}

/// The class index ([`ObesityLevel::index`](crate::ObesityLevel::index)) of every record, for
/// the splits and for training.
///
/// # Errors
/// [`DataError::Unlabelled`] naming the first record without a target.
pub fn target_indices(records: &[ObesityRecord]) -> Result<Vec<usize>> {
    records
        .iter()
        .enumerate()
        .map(|(index, r)| {
            r.target
                .map(|t| t.index())
                .ok_or(DataError::Unlabelled { index })
        })
        .collect()
}
