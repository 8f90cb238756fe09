//! The bounded state behind [`super::PerformanceMonitor`]: the limits, the per-bucket exact
//! aggregates, the fixed-resolution latency histogram and the filter that recognises the ids
//! of evicted requests.

use std::collections::BTreeMap;
use std::hash::BuildHasher;

use serde::{Deserialize, Serialize};

use crate::error::{MonitorError, Result};

/// How much a [`super::PerformanceMonitor`] keeps in memory, live and when replaying its log.
///
/// Memory is bounded by these numbers whatever the traffic:
/// * per-request detail (ids, predictions, confidences, latencies, labels — roughly
///   150 B plus the id's length per request) for the most recent `max_retained_requests`
///   requests (a batch without request counts as one);
/// * the most recent `max_feature_rows` feature rows, for drift;
/// * at most `max_buckets` time buckets of `bucket_seconds` each, per model version, of exact
///   counts and a latency histogram (at most [`LATENCY_BINS`] bins of 16 B; a few dozen in
///   practice) — 1 440 one-minute buckets (24 h) by default.
///
/// Build one with [`MonitorLimits::default`] and the `with_*` setters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorLimits {
    /// Requests whose detail is kept (default 100 000). Labels can only be joined to these;
    /// a label for an older request is reported as expired.
    pub max_retained_requests: usize,
    /// Feature rows kept for [`super::PerformanceMonitor::recent_features`] (default 10 000):
    /// the most recent ones.
    pub max_feature_rows: usize,
    /// Width of an aggregate time bucket, in seconds (default 60).
    pub bucket_seconds: u32,
    /// Time buckets kept (default 1 440: 24 h of one-minute buckets); older ones are dropped,
    /// so no summary reaches further back than `max_buckets × bucket_seconds`.
    pub max_buckets: usize,
    /// Seed of the hashes of the expired-id filter, so results are reproducible.
    pub seed: u64,
}

impl Default for MonitorLimits {
    fn default() -> Self {
        Self {
            max_retained_requests: 100_000,
            max_feature_rows: 10_000,
            bucket_seconds: 60,
            max_buckets: 1_440,
            seed: 0x5eed_0b35_1e7f,
        }
    }
}

impl MonitorLimits {
    /// Sets [`MonitorLimits::max_retained_requests`].
    pub fn with_max_retained_requests(mut self, n: usize) -> Self {
        self.max_retained_requests = n;
        self
    }

    /// Sets [`MonitorLimits::max_feature_rows`].
    pub fn with_max_feature_rows(mut self, n: usize) -> Self {
        self.max_feature_rows = n;
        self
    }

    /// Sets [`MonitorLimits::bucket_seconds`].
    pub fn with_bucket_seconds(mut self, s: u32) -> Self {
        self.bucket_seconds = s;
        self
    }

    /// Sets [`MonitorLimits::max_buckets`].
    pub fn with_max_buckets(mut self, n: usize) -> Self {
        self.max_buckets = n;
        self
    }

    /// Sets [`MonitorLimits::seed`].
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.bucket_seconds == 0 {
            return Err(MonitorError::InvalidConfig {
                field: "bucket_seconds",
                value: "0".into(),
                expected: "at least 1 second".into(),
            });
        }
        if self.max_buckets == 0 {
            return Err(MonitorError::InvalidConfig {
                field: "max_buckets",
                value: "0".into(),
                expected: "at least 1 bucket".into(),
            });
        }
        Ok(())
    }
}

/// What a [`super::PerformanceMonitor`] holds in memory right now (see
/// [`super::PerformanceMonitor::retained`]): every figure stays at or under its
/// [`MonitorLimits`] cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MonitorStats {
    /// Batches whose per-request detail is kept.
    pub retained_batches: usize,
    /// Requests (served plus failed; a batch without request counts one) whose detail is
    /// kept: at most `max_retained_requests`.
    pub retained_requests: usize,
    /// Request ids labels can be joined to (served and failed): at most
    /// `max_retained_requests`.
    pub indexed_ids: usize,
    /// Labels currently joined to retained requests.
    pub labelled_ids: usize,
    /// Feature rows kept: at most `max_feature_rows`.
    pub feature_rows: usize,
    /// Time buckets of aggregates: at most `max_buckets`.
    pub buckets: usize,
    /// Aggregates (bucket × model version) over all buckets.
    pub bucket_aggregates: usize,
    /// Requests whose detail was evicted to stay under the cap since the monitor was made
    /// (or opened).
    pub evicted_requests: u64,
    /// Labels that arrived for requests whose detail was already evicted (live, or while
    /// replaying the log), so they could not be joined.
    pub expired_labels: u64,
}

/// Smallest latency (ms) with its own bins; smaller ones share bin 0.
const MIN_LATENCY_MS: f64 = 1e-3;
/// Ratio between consecutive bin edges: a value is reported within ±1 % of itself.
const GROWTH: f64 = 1.02;
/// Number of latency bins: bin 0 is `[0, 1 µs)`, bin `i ≥ 1` is
/// `[1 µs · 1.02^(i−1), 1 µs · 1.02^i)`, and the last bin also takes everything from
/// 10⁷ ms (about 2.8 h) up.
pub const LATENCY_BINS: u16 = 1_164;

/// A latency histogram of fixed resolution: log-spaced bins, sparse, exact min and max.
///
/// Any quantile it reports is within ±1 % (relative) of the exact numpy linear-interpolated
/// quantile, or within 1 µs for latencies under 1 µs; latencies over 10⁷ ms are not resolved.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct LatencyHist {
    bins: Vec<(u16, u64)>,
    n: u64,
    min: f64,
    max: f64,
}

fn bin_of(v: f64) -> u16 {
    if v.is_nan() || v < MIN_LATENCY_MS {
        return 0;
    }
    let i = ((v / MIN_LATENCY_MS).ln() / GROWTH.ln()).floor();
    if i >= f64::from(LATENCY_BINS - 2) {
        LATENCY_BINS - 1
    } else {
        1 + i as u16
    }
}

/// The geometric middle of a bin (half a microsecond for bin 0).
fn representative(bin: u16) -> f64 {
    if bin == 0 {
        MIN_LATENCY_MS / 2.0
    } else {
        MIN_LATENCY_MS * GROWTH.powf(f64::from(bin - 1) + 0.5)
    }
}

impl LatencyHist {
    #[cfg(test)]
    pub(crate) fn add(&mut self, v: f64) {
        self.add_many(v, 1);
    }

    /// Adds `k` (at least 1) observations of `v`.
    pub(crate) fn add_many(&mut self, v: f64, k: u64) {
        if k == 0 {
            return;
        }
        let first = self.n == 0;
        self.add_n(bin_of(v), k);
        if first {
            (self.min, self.max) = (v, v);
        } else {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
    }

    fn add_n(&mut self, bin: u16, k: u64) {
        match self.bins.binary_search_by_key(&bin, |&(b, _)| b) {
            Ok(i) => self.bins[i].1 += k,
            Err(i) => self.bins.insert(i, (bin, k)),
        }
        self.n += k;
    }

    pub(crate) fn merge(&mut self, other: &LatencyHist) {
        if other.n == 0 {
            return;
        }
        let first = self.n == 0;
        for &(b, k) in &other.bins {
            self.add_n(b, k);
        }
        if first {
            (self.min, self.max) = (other.min, other.max);
        } else {
            self.min = self.min.min(other.min);
            self.max = self.max.max(other.max);
        }
    }

    /// The value of rank `k` (0-based, sorted): the extremes exactly, else its bin's middle.
    fn value_at(&self, k: u64) -> f64 {
        if k == 0 {
            return self.min;
        }
        if k + 1 >= self.n {
            return self.max;
        }
        let mut seen = 0;
        for &(b, c) in &self.bins {
            seen += c;
            if k < seen {
                return representative(b).clamp(self.min, self.max);
            }
        }
        self.max
    }

    /// numpy's linear percentile over the binned values.
    pub(crate) fn quantile(&self, q: f64) -> Option<f64> {
        let last = self.n.checked_sub(1)?;
        let h = last as f64 * q;
        let lo = h.floor() as u64;
        let hi = (lo + 1).min(last);
        let (a, b) = (self.value_at(lo), self.value_at(hi));
        Some(a + (h - lo as f64) * (b - a))
    }
}

/// Exact aggregates of the batches of one time bucket and model version (or, while
/// summarising, of a whole window).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Agg {
    pub(crate) n_batches: usize,
    pub(crate) n_pred: usize,
    pub(crate) n_err: usize,
    pub(crate) invalid: usize,
    pub(crate) conf_sum: f64,
    pub(crate) drift_sum: f64,
    pub(crate) drift_n: usize,
    pub(crate) drift_max: Option<f64>,
    pub(crate) latency: LatencyHist,
    /// (true label, predicted class) → count, over labelled predictions.
    pub(crate) confusion: BTreeMap<(usize, usize), u64>,
}

impl Agg {
    pub(crate) fn add_drift(&mut self, s: f64) {
        self.drift_sum += s;
        self.drift_n += 1;
        self.drift_max = Some(self.drift_max.map_or(s, |m| m.max(s)));
    }

    pub(crate) fn add_label(&mut self, truth: usize, pred: usize) {
        *self.confusion.entry((truth, pred)).or_insert(0) += 1;
    }

    pub(crate) fn remove_label(&mut self, truth: usize, pred: usize) {
        if let Some(c) = self.confusion.get_mut(&(truth, pred)) {
            *c -= 1;
            if *c == 0 {
                self.confusion.remove(&(truth, pred));
            }
        }
    }

    pub(crate) fn merge(&mut self, o: &Agg) {
        self.n_batches += o.n_batches;
        self.n_pred += o.n_pred;
        self.n_err += o.n_err;
        self.invalid += o.invalid;
        self.conf_sum += o.conf_sum;
        self.drift_sum += o.drift_sum;
        self.drift_n += o.drift_n;
        if let Some(m) = o.drift_max {
            self.drift_max = Some(self.drift_max.map_or(m, |s| s.max(m)));
        }
        self.latency.merge(&o.latency);
        for (&k, &c) in &o.confusion {
            *self.confusion.entry(k).or_insert(0) += c;
        }
    }
}

/// Macro F1 from a confusion count map, over the classes present in the labels or the
/// predictions (scikit-learn's `f1_score(average="macro", zero_division=0)`): per class
/// `2·tp / (2·tp + fp + fn)`. `None` without labels.
pub(crate) fn f1_from_confusion(confusion: &BTreeMap<(usize, usize), u64>) -> Option<f64> {
    if confusion.values().all(|&c| c == 0) {
        return None;
    }
    // class → (tp, fp, fn)
    let mut per: BTreeMap<usize, (u64, u64, u64)> = BTreeMap::new();
    for (&(t, p), &c) in confusion {
        if t == p {
            per.entry(t).or_default().0 += c;
        } else {
            per.entry(p).or_default().1 += c;
            per.entry(t).or_default().2 += c;
        }
    }
    let sum: f64 = per
        .values()
        .map(|&(tp, fp, fneg)| {
            let den = 2 * tp + fp + fneg;
            if den == 0 {
                0.0
            } else {
                (2 * tp) as f64 / den as f64
            }
        })
        .sum();
    Some(sum / per.len() as f64)
}

/// Recognises the ids of requests evicted from the retained detail, so a label for one is
/// reported as expired rather than unknown: two generations of a Bloom filter (10 bits per
/// id, 7 hashes: about 1 % false positives), each taking `capacity` ids. Ids evicted within
/// the last `capacity`–`2 × capacity` evictions are recognised; older ones read as unknown.
#[derive(Clone)]
pub(crate) struct ExpiredIds {
    current: Vec<u64>,
    previous: Vec<u64>,
    in_current: usize,
    capacity: usize,
    seed: u64,
}

impl std::fmt::Debug for ExpiredIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExpiredIds")
            .field("capacity", &self.capacity)
            .field("in_current", &self.in_current)
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}

const HASHES: u64 = 7;

impl ExpiredIds {
    pub(crate) fn new(capacity: usize, seed: u64) -> Self {
        Self {
            current: Vec::new(),
            previous: Vec::new(),
            in_current: 0,
            capacity: capacity.max(1_024),
            seed,
        }
    }

    fn words(&self) -> usize {
        (self.capacity * 10).div_ceil(64)
    }

    /// The two hashes of the double-hashing scheme (Kirsch–Mitzenmacher), from one 64-bit
    /// hash of the id: its two halves. foldhash with the configured seed, so the filter is
    /// the same on every run; the ids are ones the server issued.
    fn hashes(&self, id: &str) -> (u64, u64) {
        let h = foldhash::fast::FixedState::with_seed(self.seed).hash_one(id);
        (h & 0xffff_ffff, (h >> 32) | 1)
    }

    fn positions(&self, id: &str) -> impl Iterator<Item = (usize, u64)> + use<> {
        let (a, b) = self.hashes(id);
        let bits = (self.words() * 64) as u64;
        (0..HASHES).map(move |i| {
            let p = a.wrapping_add(i.wrapping_mul(b)) % bits;
            ((p / 64) as usize, 1u64 << (p % 64))
        })
    }

    pub(crate) fn insert(&mut self, id: &str) {
        if self.current.is_empty() {
            self.current = vec![0; self.words()];
        }
        if self.in_current >= self.capacity {
            let fresh = vec![0; self.words()];
            self.previous = std::mem::replace(&mut self.current, fresh);
            self.in_current = 0;
        }
        for (w, m) in self.positions(id) {
            self.current[w] |= m;
        }
        self.in_current += 1;
    }

    pub(crate) fn contains(&self, id: &str) -> bool {
        let hit =
            |bits: &[u64]| !bits.is_empty() && self.positions(id).all(|(w, m)| bits[w] & m != 0);
        hit(&self.current) || hit(&self.previous)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantiles_are_within_one_percent() {
        let values: Vec<f64> = (1..=10_000).map(|i| f64::from(i) * 0.37).collect();
        let mut h = LatencyHist::default();
        for &v in values.iter().rev() {
            h.add(v);
        }
        for q in [0.0, 0.01, 0.5, 0.95, 0.99, 1.0] {
            let exact = crate::performance::percentile(&values, q).unwrap_or(f64::NAN);
            let got = h.quantile(q).unwrap_or(f64::NAN);
            assert!(
                (got - exact).abs() <= 0.01 * exact,
                "q={q}: {got} vs {exact}"
            );
        }
        assert_eq!(h.quantile(0.0), Some(0.37));
        assert_eq!(LatencyHist::default().quantile(0.5), None);
        assert_eq!(bin_of(1e12), LATENCY_BINS - 1);
        assert_eq!(bin_of(0.0), 0);
        assert!(bin_of(9.99e6) < LATENCY_BINS);
    }

    #[test]
    fn expired_filter_remembers_recent_evictions() {
        let mut f = ExpiredIds::new(1_000, 7);
        for i in 0..1_024 {
            f.insert(&format!("id{i}"));
        }
        assert!((0..1_024).all(|i| f.contains(&format!("id{i}"))));
        let false_pos = (0..10_000)
            .filter(|i| f.contains(&format!("other{i}")))
            .count();
        assert!(false_pos < 300, "{false_pos}");
    }
}
