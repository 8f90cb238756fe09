//! The dashboard's time series: traffic, latency, class mix, labels and drift in fixed-width
//! steps, kept in bounded rings.
//!
//! The monitor thread records into it (never a request), and `/dashboard` copies it out.
//! Memory is `points × (classes + latency bins)` counters whatever the traffic: the oldest
//! step is dropped when a new one begins past the capacity. Latency goes into log-spaced
//! bins (four per octave from 10 µs), so a step's percentiles cost no per-request storage
//! and are within ±9 % of the exact value — good enough for a chart, which is all this is
//! for (the alert rules use the performance monitor's exact figures).

use std::collections::VecDeque;

use chrono::{DateTime, Utc};

/// Bins per doubling of latency.
const BINS_PER_OCTAVE: f64 = 4.0;
/// Lower edge of the first latency bin, milliseconds.
const FIRST_EDGE_MS: f64 = 0.01;
/// Latency bins: 10 µs to ~10.5 s, everything above in the last one.
const LATENCY_BINS: usize = 81;
/// Drift checks kept.
const DRIFT_POINTS: usize = 240;

/// One step of the series.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Step {
    /// Unix time of the step's start, seconds.
    pub(crate) start: i64,
    /// Requests that reached the model or were refused by validation.
    pub(crate) requests: u64,
    /// Of those, refused or failed.
    pub(crate) errors: u64,
    /// Predictions per class index.
    pub(crate) classes: Vec<u64>,
    /// Late labels joined in this step.
    pub(crate) labelled: u64,
    /// Of those, the prediction was right.
    pub(crate) correct: u64,
    latency: Box<[u32; LATENCY_BINS]>,
}

impl Step {
    fn new(start: i64) -> Self {
        Step {
            start,
            requests: 0,
            errors: 0,
            classes: Vec::new(),
            labelled: 0,
            correct: 0,
            latency: Box::new([0; LATENCY_BINS]),
        }
    }

    /// The `q` quantile of the step's latency in milliseconds (the geometric middle of its
    /// bin), or `None` without requests.
    pub(crate) fn latency_quantile_ms(&self, q: f64) -> Option<f64> {
        let total: u64 = self.latency.iter().map(|&n| u64::from(n)).sum();
        if total == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * total as f64).ceil().max(1.0) as u64;
        let mut seen = 0u64;
        for (i, &n) in self.latency.iter().enumerate() {
            seen += u64::from(n);
            if seen >= rank {
                return Some(bin_middle_ms(i));
            }
        }
        Some(bin_middle_ms(LATENCY_BINS - 1))
    }

    /// The step's start as a time.
    pub(crate) fn at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.start, 0).unwrap_or_default()
    }
}

fn latency_bin(ms: f64) -> usize {
    if ms.is_nan() || ms <= FIRST_EDGE_MS {
        return 0;
    }
    let i = ((ms / FIRST_EDGE_MS).log2() * BINS_PER_OCTAVE).floor();
    (i as usize).min(LATENCY_BINS - 1)
}

fn bin_middle_ms(i: usize) -> f64 {
    FIRST_EDGE_MS * ((i as f64 + 0.5) / BINS_PER_OCTAVE).exp2()
}

/// The rings.
#[derive(Debug, Clone)]
pub(crate) struct Timeline {
    step_secs: i64,
    capacity: usize,
    steps: VecDeque<Step>,
    /// `(checked at, share of drifted columns)` of each drift check.
    drift: VecDeque<(DateTime<Utc>, f64)>,
}

impl Timeline {
    /// Rings of `capacity` steps of `step_secs` seconds (each at least 1).
    pub(crate) fn new(step_secs: u64, capacity: usize) -> Self {
        Timeline {
            step_secs: i64::try_from(step_secs.max(1)).unwrap_or(i64::MAX),
            capacity: capacity.max(1),
            steps: VecDeque::new(),
            drift: VecDeque::new(),
        }
    }

    /// Seconds per step.
    pub(crate) fn step_secs(&self) -> i64 {
        self.step_secs
    }

    /// The steps, oldest first (steps without any event are absent).
    pub(crate) fn steps(&self) -> &VecDeque<Step> {
        &self.steps
    }

    /// The drift checks, oldest first.
    pub(crate) fn drift(&self) -> &VecDeque<(DateTime<Utc>, f64)> {
        &self.drift
    }

    /// The step holding `at`, created (and the oldest dropped) as needed. An event older
    /// than the newest step (a clock step backwards) is counted in the newest one.
    fn step(&mut self, at: DateTime<Utc>) -> &mut Step {
        let start = at.timestamp().div_euclid(self.step_secs) * self.step_secs;
        let newer = self.steps.back().is_none_or(|s| start > s.start);
        if newer {
            if self.steps.len() == self.capacity {
                self.steps.pop_front();
            }
            self.steps.push_back(Step::new(start));
        }
        // Just pushed or already present.
        let last = self.steps.len() - 1;
        &mut self.steps[last]
    }

    /// Counts a served row.
    pub(crate) fn served(&mut self, at: DateTime<Utc>, class: usize, latency_ms: f64) {
        let s = self.step(at);
        s.requests += 1;
        if s.classes.len() <= class {
            s.classes.resize(class + 1, 0);
        }
        s.classes[class] += 1;
        s.latency[latency_bin(latency_ms)] += 1;
    }

    /// Counts a refused or failed request.
    pub(crate) fn failed(&mut self, at: DateTime<Utc>, latency_ms: f64) {
        let s = self.step(at);
        s.requests += 1;
        s.errors += 1;
        s.latency[latency_bin(latency_ms)] += 1;
    }

    /// Counts a late label.
    pub(crate) fn labelled(&mut self, at: DateTime<Utc>, correct: bool) {
        let s = self.step(at);
        s.labelled += 1;
        s.correct += u64::from(correct);
    }

    /// Records a drift check.
    pub(crate) fn drift_checked(&mut self, at: DateTime<Utc>, share: f64) {
        if self.drift.len() == DRIFT_POINTS {
            self.drift.pop_front();
        }
        self.drift.push_back((at, share));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    #[test]
    fn steps_are_bounded_and_ordered() {
        let mut tl = Timeline::new(10, 3);
        for i in 0..10 {
            tl.served(t(1_000 + i * 10), 2, 1.0);
        }
        assert_eq!(tl.steps().len(), 3);
        let starts: Vec<i64> = tl.steps().iter().map(|s| s.start).collect();
        assert_eq!(starts, vec![1_070, 1_080, 1_090]);
        // A late event lands in the newest step instead of reopening an old one.
        tl.failed(t(1_000), 3.0);
        assert_eq!(tl.steps().len(), 3);
        assert_eq!(tl.steps()[2].errors, 1);
        assert_eq!(tl.steps()[2].requests, 2);
        assert_eq!(tl.steps()[2].classes, vec![0, 0, 1]);
    }

    #[test]
    fn latency_quantiles_are_within_a_bin() {
        let mut tl = Timeline::new(60, 2);
        for i in 1..=100 {
            tl.served(t(60), 0, f64::from(i)); // 1..100 ms
        }
        let s = &tl.steps()[0];
        let p50 = s.latency_quantile_ms(0.5).unwrap();
        let p95 = s.latency_quantile_ms(0.95).unwrap();
        assert!((p50 / 50.0 - 1.0).abs() < 0.1, "p50 {p50}");
        assert!((p95 / 95.0 - 1.0).abs() < 0.1, "p95 {p95}");
        assert_eq!(Step::new(0).latency_quantile_ms(0.5), None);
        // Nonsense latencies land in the end bins instead of panicking.
        tl.served(t(60), 0, f64::NAN);
        tl.served(t(60), 0, 1e12);
        tl.served(t(60), 0, -1.0);
    }

    #[test]
    fn labels_and_drift_are_counted() {
        let mut tl = Timeline::new(60, 2);
        tl.labelled(t(0), true);
        tl.labelled(t(1), false);
        assert_eq!((tl.steps()[0].labelled, tl.steps()[0].correct), (2, 1));
        for i in 0..(DRIFT_POINTS + 5) {
            tl.drift_checked(t(i as i64), 0.25);
        }
        assert_eq!(tl.drift().len(), DRIFT_POINTS);
    }
}
