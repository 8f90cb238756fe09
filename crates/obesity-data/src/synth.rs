//! A seeded generator of records with the UCI schema and a realistic joint structure, for
//! tests, benches and demos that must not depend on the real file.
//!
//! What it reproduces (tables calibrated on the UCI file's per-class frequencies, rounded):
//! * the UCI class shares (exact counts by largest remainder, rows shuffled);
//! * gender by class (Obesity_Type_II almost all male, Obesity_Type_III almost all female);
//! * height by gender (normal, 1.64 ± 0.075 m for women, 1.76 ± 0.072 m for men);
//! * weight drawn so that `Weight / Height²` lands in the class's BMI range, which is how the
//!   UCI labels were made: Insufficient < 18.5 ≤ Normal < 25 ≤ Overweight I < 27.5 ≤
//!   Overweight II < 30 ≤ Obesity I < 35 ≤ Obesity II < 40 ≤ Obesity III (checked after
//!   rounding);
//! * lifestyle columns whose distributions shift with the class: family history and FAVC
//!   rise with the class, FAF falls, CAEC moves from `Frequently` to `Sometimes`, MTRANS
//!   (also shifted towards `Automobile` from age 30), CALC, SCC, SMOKE, FCVC, NCP, CH2O, TUE.
//!
//! Values are rounded as a questionnaire would record them: age in whole years, height to
//! the centimetre, weight to 0.1 kg, and the 1-to-3 (or 0-to-3) scores to whole answers.
//! Unlike the UCI file (77% SMOTE-generated), no fractional answers are produced.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use crate::record::{Frequency, Gender, ObesityLevel, ObesityRecord, Transport};

/// Class counts in the UCI file, in [`ObesityLevel::ALL`] order.
const UCI_COUNTS: [usize; 7] = [272, 287, 290, 290, 351, 297, 324];
/// BMI range `[lo, hi)` per class.
const BMI_RANGE: [(f64, f64); 7] = [
    (15.0, 18.5),
    (18.5, 25.0),
    (25.0, 27.5),
    (27.5, 30.0),
    (30.0, 35.0),
    (35.0, 40.0),
    (40.0, 50.0),
];
/// BMI mean and spread per class (before truncation to the range).
const BMI_CENTRE: [(f64, f64); 7] = [
    (17.4, 0.9),
    (22.0, 1.6),
    (26.0, 0.8),
    (28.3, 0.7),
    (32.3, 1.3),
    (36.8, 1.2),
    (42.3, 2.5),
];
/// Age mean and standard deviation per class.
const AGE: [(f64, f64); 7] = [
    (19.8, 2.7),
    (21.7, 5.1),
    (23.4, 6.1),
    (27.0, 8.1),
    (25.9, 7.8),
    (28.2, 4.9),
    (23.5, 2.8),
];
const AGE_MIN: f64 = 14.0;
const AGE_MAX: f64 = 61.0;
const P_MALE: [f64; 7] = [0.36, 0.51, 0.50, 0.64, 0.56, 0.97, 0.03];
const P_FAMILY_HISTORY: [f64; 7] = [0.46, 0.54, 0.72, 0.94, 0.97, 0.99, 0.99];
const P_FAVC: [f64; 7] = [0.81, 0.72, 0.92, 0.74, 0.97, 0.98, 0.99];
const P_SMOKE: [f64; 7] = [0.01, 0.045, 0.01, 0.02, 0.02, 0.05, 0.01];
const P_SCC: [f64; 7] = [0.08, 0.10, 0.13, 0.015, 0.01, 0.01, 0.005];
/// FCVC answers 1, 2, 3.
const FCVC: [[f64; 3]; 7] = [
    [0.08, 0.32, 0.60],
    [0.06, 0.54, 0.40],
    [0.05, 0.64, 0.31],
    [0.03, 0.66, 0.31],
    [0.05, 0.73, 0.22],
    [0.07, 0.46, 0.47],
    [0.02, 0.18, 0.80],
];
/// NCP answers 1, 2, 3, 4.
const NCP: [[f64; 4]; 7] = [
    [0.14, 0.07, 0.53, 0.26],
    [0.18, 0.02, 0.70, 0.10],
    [0.26, 0.08, 0.54, 0.12],
    [0.17, 0.18, 0.63, 0.02],
    [0.23, 0.13, 0.63, 0.01],
    [0.08, 0.12, 0.77, 0.03],
    [0.05, 0.10, 0.83, 0.02],
];
/// CH2O answers 1, 2, 3.
const CH2O: [[f64; 3]; 7] = [
    [0.31, 0.52, 0.17],
    [0.29, 0.57, 0.14],
    [0.21, 0.53, 0.26],
    [0.16, 0.64, 0.20],
    [0.19, 0.49, 0.32],
    [0.28, 0.59, 0.13],
    [0.19, 0.35, 0.46],
];
/// FAF answers 0, 1, 2, 3.
const FAF: [[f64; 4]; 7] = [
    [0.26, 0.26, 0.44, 0.04],
    [0.28, 0.34, 0.24, 0.14],
    [0.29, 0.43, 0.20, 0.08],
    [0.33, 0.43, 0.18, 0.06],
    [0.37, 0.35, 0.21, 0.07],
    [0.23, 0.56, 0.20, 0.01],
    [0.58, 0.21, 0.20, 0.01],
];
/// TUE answers 0, 1, 2.
const TUE: [[f64; 3]; 7] = [
    [0.35, 0.46, 0.19],
    [0.45, 0.42, 0.13],
    [0.57, 0.28, 0.15],
    [0.39, 0.50, 0.11],
    [0.48, 0.35, 0.17],
    [0.58, 0.35, 0.07],
    [0.34, 0.64, 0.02],
];
/// CAEC levels in [`Frequency::ALL`] order: no, Sometimes, Frequently, Always.
const CAEC: [[f64; 4]; 7] = [
    [0.01, 0.54, 0.44, 0.01],
    [0.03, 0.56, 0.29, 0.12],
    [0.12, 0.81, 0.05, 0.02],
    [0.005, 0.925, 0.06, 0.01],
    [0.005, 0.955, 0.02, 0.02],
    [0.005, 0.985, 0.005, 0.005],
    [0.002, 0.99, 0.006, 0.002],
];
/// CALC levels in [`Frequency::ALL`] order.
const CALC: [[f64; 4]; 7] = [
    [0.43, 0.565, 0.004, 0.001],
    [0.37, 0.565, 0.06, 0.005],
    [0.17, 0.77, 0.06, 0.0],
    [0.44, 0.49, 0.07, 0.0],
    [0.47, 0.49, 0.04, 0.0],
    [0.24, 0.75, 0.01, 0.0],
    [0.01, 0.99, 0.0, 0.0],
];
/// MTRANS in [`Transport::ALL`] order: Automobile, Bike, Motorbike, Public_Transportation,
/// Walking.
const MTRANS: [[f64; 5]; 7] = [
    [0.17, 0.0, 0.0, 0.81, 0.02],
    [0.16, 0.01, 0.02, 0.70, 0.11],
    [0.23, 0.01, 0.005, 0.725, 0.03],
    [0.32, 0.0, 0.005, 0.655, 0.02],
    [0.31, 0.0, 0.01, 0.67, 0.01],
    [0.32, 0.003, 0.0, 0.67, 0.007],
    [0.005, 0.0, 0.0, 0.995, 0.0],
];
/// How much more likely `Automobile` is from age 30.
const CAR_AGE_FACTOR: f64 = 2.5;

/// `n` records drawn from a ChaCha8 generator seeded with `seed`: the same `(n, seed)` gives
/// the same records on every platform and thread count.
///
/// Every record is labelled, within the schema's ranges, and its BMI lies in its class's
/// range. See the [module docs](self) for the joint structure.
pub fn generate(n: usize, seed: u64) -> Vec<ObesityRecord> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut labels = Vec::with_capacity(n);
    for (level, count) in ObesityLevel::ALL.iter().zip(class_counts(n)) {
        labels.extend(std::iter::repeat_n(*level, count));
    }
    labels.shuffle(&mut rng);
    labels
        .into_iter()
        .map(|class| record(&mut rng, class))
        .collect()
}

/// Rows per class for `n` rows, proportional to the UCI counts (largest remainder).
pub fn class_counts(n: usize) -> [usize; 7] {
    let total: usize = UCI_COUNTS.iter().sum();
    let mut counts = UCI_COUNTS.map(|c| c * n / total);
    let assigned: usize = counts.iter().sum();
    let mut order: Vec<usize> = (0..7).collect();
    // Largest remainder first; ties go to the earlier class, so the result is deterministic.
    order.sort_by_key(|&i| (std::cmp::Reverse((UCI_COUNTS[i] * n) % total), i));
    for &i in order.iter().take(n - assigned) {
        counts[i] += 1;
    }
    counts
}

fn record(rng: &mut ChaCha8Rng, class: ObesityLevel) -> ObesityRecord {
    let c = class.index();
    let gender = if rng.gen_bool(P_MALE[c]) {
        Gender::Male
    } else {
        Gender::Female
    };
    let age = draw_age(rng, c);
    let (h_mean, h_sd) = match gender {
        Gender::Female => (1.643, 0.075),
        Gender::Male => (1.759, 0.072),
    };
    let height = round_to(truncated_normal(rng, h_mean, h_sd, 1.45, 1.98), 100.0);
    let weight = draw_weight(rng, c, height);
    let mut mtrans_weights = MTRANS[c];
    if age >= 30.0 {
        mtrans_weights[0] *= CAR_AGE_FACTOR;
    }
    ObesityRecord {
        gender,
        age,
        height,
        weight,
        family_history_with_overweight: rng.gen_bool(P_FAMILY_HISTORY[c]),
        favc: rng.gen_bool(P_FAVC[c]),
        fcvc: 1.0 + pick(rng, &FCVC[c]) as f64,
        ncp: 1.0 + pick(rng, &NCP[c]) as f64,
        caec: Frequency::ALL[pick(rng, &CAEC[c])],
        smoke: rng.gen_bool(P_SMOKE[c]),
        ch2o: 1.0 + pick(rng, &CH2O[c]) as f64,
        scc: rng.gen_bool(P_SCC[c]),
        faf: pick(rng, &FAF[c]) as f64,
        tue: pick(rng, &TUE[c]) as f64,
        calc: Frequency::ALL[pick(rng, &CALC[c])],
        mtrans: Transport::ALL[pick(rng, &mtrans_weights)],
        target: Some(class),
    }
}

/// Age in whole years: 14 plus a log-normal with the class's mean and spread (ages are
/// right-skewed: mostly students, a tail of older adults), capped at 61 as in the UCI file.
fn draw_age(rng: &mut ChaCha8Rng, c: usize) -> f64 {
    let (mean, sd) = AGE[c];
    let m = mean - AGE_MIN;
    let sigma2 = (1.0 + (sd * sd) / (m * m)).ln();
    let mu = m.ln() - sigma2 / 2.0;
    let sigma = sigma2.sqrt();
    for _ in 0..1000 {
        let z: f64 = rng.sample(rand_distr::StandardNormal);
        let age = (AGE_MIN + (mu + sigma * z).exp()).round();
        if (AGE_MIN..=AGE_MAX).contains(&age) {
            return age;
        }
    }
    mean.round()
}

/// Weight to 0.1 kg such that the BMI (after rounding) is in the class's range.
fn draw_weight(rng: &mut ChaCha8Rng, c: usize, height: f64) -> f64 {
    let (lo, hi) = BMI_RANGE[c];
    let (centre, spread) = BMI_CENTRE[c];
    let bmi = truncated_normal(rng, centre, spread, lo, hi);
    let h2 = height * height;
    let mut weight = round_to(bmi * h2, 10.0);
    // Rounding can push the BMI just across a boundary; step back inside by 0.1 kg.
    for _ in 0..100 {
        let b = weight / h2;
        if b < lo {
            weight = round_to(weight + 0.1, 10.0);
        } else if b >= hi {
            weight = round_to(weight - 0.1, 10.0);
        } else {
            break;
        }
    }
    weight
}

/// A normal draw kept inside `[lo, hi)` by rejection (the centre if the range is far out).
fn truncated_normal(rng: &mut ChaCha8Rng, mean: f64, sd: f64, lo: f64, hi: f64) -> f64 {
    if let Ok(dist) = Normal::new(mean, sd) {
        for _ in 0..1000 {
            let x = dist.sample(rng);
            if x >= lo && x < hi {
                return x;
            }
        }
    }
    (lo + hi) / 2.0
}

/// An index drawn with probability proportional to `weights`.
fn pick(rng: &mut ChaCha8Rng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut u = rng.r#gen::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if u < *w {
            return i;
        }
        u -= w;
    }
    // Rounding in the running difference: fall back to the last level with weight.
    weights.iter().rposition(|w| *w > 0.0).unwrap_or(0)
}

/// `x` rounded to `1 / scale` (100.0 for centimetres), as the nearest f64 to that decimal.
fn round_to(x: f64, scale: f64) -> f64 {
    (x * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_counts_reproduce_uci_and_sum_to_n() {
        assert_eq!(class_counts(2111), UCI_COUNTS);
        for n in [0, 1, 6, 7, 100, 999, 5000] {
            assert_eq!(class_counts(n).iter().sum::<usize>(), n, "n = {n}");
        }
    }

    #[test]
    fn pick_never_returns_zero_weight_levels() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..10_000 {
            assert_ne!(pick(&mut rng, &[0.5, 0.0, 0.5]), 1);
        }
    }
}
