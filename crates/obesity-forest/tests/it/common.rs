//! Test data: a seeded synthetic problem and a small UCI loader (pandas.get_dummies
//! semantics + BMI), used until obesity-data / obesity-features expose theirs.

use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `n` rows × `f` features; the class (of `k`) is a noisy function of the first features.
pub(crate) fn synthetic(n: usize, f: usize, k: usize, seed: u64) -> (Array2<f32>, Array1<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, f), |_| rng.gen_range(-1.0f32..1.0));
    let y = x
        .rows()
        .into_iter()
        .map(|r| {
            let s = r[0] + 0.5 * r[1 % f] + 0.1 * rng.gen_range(-1.0f32..1.0);
            (((s + 1.6) / 3.2 * k as f32) as usize).min(k - 1)
        })
        .collect();
    (x, y)
}

/// The UCI table as the standard 32-column matrix, or `None` (printing why) when
/// `OBESITY_UCI_CSV` is unset.
pub(crate) fn uci() -> Option<(Array2<f32>, Array1<usize>)> {
    let Ok(path) = std::env::var("OBESITY_UCI_CSV") else {
        eprintln!("OBESITY_UCI_CSV is unset: skipping the UCI test");
        return None;
    };
    let text = std::fs::read_to_string(&path).ok()?;
    Some(parse_uci(&text))
}

const NUMERIC: [&str; 8] = [
    "Age", "Height", "Weight", "FCVC", "NCP", "CH2O", "FAF", "TUE",
];
const CATEGORICAL: [&str; 8] = [
    "Gender",
    "family_history_with_overweight",
    "FAVC",
    "CAEC",
    "SMOKE",
    "SCC",
    "CALC",
    "MTRANS",
];

/// One-hot (sorted categories per column, as pandas.get_dummies), numeric columns, BMI.
pub(crate) fn parse_uci(text: &str) -> (Array2<f32>, Array1<usize>) {
    let mut lines = text.lines().map(|l| l.trim_end_matches('\r'));
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let rows: Vec<Vec<&str>> = lines
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').collect())
        .collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let mut cats: Vec<(usize, Vec<&str>)> = CATEGORICAL
        .iter()
        .map(|c| {
            let i = col(c);
            let mut v: Vec<&str> = rows.iter().map(|r| r[i]).collect();
            v.sort_unstable();
            v.dedup();
            (i, v)
        })
        .collect();
    cats.sort_by_key(|(i, _)| *i);
    let width = NUMERIC.len() + 1 + cats.iter().map(|(_, v)| v.len()).sum::<usize>();
    let target = col("NObeyesdad");
    let mut classes: Vec<&str> = rows.iter().map(|r| r[target]).collect();
    classes.sort_unstable();
    classes.dedup();
    let mut x = Array2::zeros((rows.len(), width));
    let mut y = Array1::zeros(rows.len());
    for (r, row) in rows.iter().enumerate() {
        let mut j = 0;
        for name in NUMERIC {
            x[[r, j]] = row[col(name)].parse::<f32>().unwrap();
            j += 1;
        }
        let (h, w) = (x[[r, 1]], x[[r, 2]]);
        x[[r, j]] = w / (h * h);
        j += 1;
        for (i, v) in &cats {
            let k = v.iter().position(|c| *c == row[*i]).unwrap();
            x[[r, j + k]] = 1.0;
            j += v.len();
        }
        y[r] = classes.iter().position(|c| *c == row[target]).unwrap();
    }
    (x, y)
}

/// Per-class shuffled indices (ChaCha8, `seed`), as a stratified splitter would draw them.
fn by_class(y: &Array1<usize>, seed: u64) -> Vec<Vec<usize>> {
    let k = y.iter().max().map_or(0, |m| m + 1);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut groups = vec![Vec::new(); k];
    for (i, &c) in y.iter().enumerate() {
        groups[c].push(i);
    }
    for g in &mut groups {
        for i in (1..g.len()).rev() {
            g.swap(i, rng.gen_range(0..=i));
        }
    }
    groups
}

/// Stratified train/test indices with `test` fraction.
pub(crate) fn stratified_split(
    y: &Array1<usize>,
    test: f64,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    let (mut tr, mut te) = (Vec::new(), Vec::new());
    for g in by_class(y, seed) {
        let n_test = (g.len() as f64 * test).round() as usize;
        te.extend_from_slice(&g[..n_test]);
        tr.extend_from_slice(&g[n_test..]);
    }
    tr.sort_unstable();
    te.sort_unstable();
    (tr, te)
}

/// Stratified k folds: fold index of every row.
pub(crate) fn stratified_folds(y: &Array1<usize>, k: usize, seed: u64) -> Vec<usize> {
    let mut fold = vec![0; y.len()];
    let mut next = 0;
    for g in by_class(y, seed) {
        for i in g {
            fold[i] = next % k;
            next += 1;
        }
    }
    fold
}

pub(crate) fn take(
    x: &Array2<f32>,
    y: &Array1<usize>,
    idx: &[usize],
) -> (Array2<f32>, Array1<usize>) {
    (
        x.select(ndarray::Axis(0), idx),
        y.select(ndarray::Axis(0), idx),
    )
}

pub(crate) fn accuracy(pred: &Array1<usize>, y: &Array1<usize>) -> f64 {
    pred.iter().zip(y).filter(|(a, b)| a == b).count() as f64 / y.len() as f64
}
