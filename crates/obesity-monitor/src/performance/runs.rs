//! Request ids issued from a counter, kept as runs rather than one string per request.
//!
//! A server that numbers its requests (`{prefix}{n:x}`) serves a 100-row batch under 100
//! consecutive ids. Logged one by one, each costs a string, a hash-index entry, its eviction
//! and a Bloom-filter insert: most of what monitoring a served row costs. As a run
//! ([`IdRun`]) the batch costs one entry, found again by parsing a label's id back into
//! prefix and counter. Runs and listed ids share one namespace: the monitor refuses an id
//! logged twice whichever way it was given.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A run of `len` request ids issued from a counter: the ids `{prefix}{n:x}` (lowercase hex,
/// no leading zeros) for `n` in `first..first + len`.
///
/// ```
/// use obesity_monitor::IdRun;
///
/// let run = IdRun::new("00c0ffee-", 0xfe, 3);
/// assert_eq!(run.id(1).as_deref(), Some("00c0ffee-ff"));
/// assert_eq!(run.position("00c0ffee-100"), Some(2));
/// assert_eq!(run.position("00c0ffee-0ff"), None); // not the counter's own text
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdRun {
    /// The text before the counter (not empty).
    pub prefix: String,
    /// The first counter value.
    pub first: u64,
    /// How many ids (at least 1).
    pub len: u64,
}

impl IdRun {
    /// The run of `len` ids from `{prefix}{first:x}`.
    pub fn new(prefix: impl Into<String>, first: u64, len: u64) -> Self {
        IdRun {
            prefix: prefix.into(),
            first,
            len,
        }
    }

    /// The text of the run's `i`-th id, `None` past its end.
    pub fn id(&self, i: u64) -> Option<String> {
        (i < self.len).then(|| format!("{}{:x}", self.prefix, self.first.wrapping_add(i)))
    }

    /// Where `id` is in the run, if it is one of the run's ids.
    pub fn position(&self, id: &str) -> Option<u64> {
        let n = counter_of(&self.prefix, id)?;
        let i = n.checked_sub(self.first)?;
        (i < self.len).then_some(i)
    }

    /// The last counter value; `None` for an empty run or one past `u64::MAX`.
    pub(crate) fn last(&self) -> Option<u64> {
        self.first.checked_add(self.len.checked_sub(1)?)
    }
}

/// The counter `id` encodes after `prefix`, when `id` is exactly `{prefix}{n:x}`: lowercase
/// hex digits, no leading zero (so each id has one text, as the formatter writes it).
pub(crate) fn counter_of(prefix: &str, id: &str) -> Option<u64> {
    let digits = id.strip_prefix(prefix)?;
    let canonical = !digits.is_empty()
        && digits.len() <= 16
        && digits
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        && (digits == "0" || !digits.starts_with('0'));
    if !canonical {
        return None;
    }
    u64::from_str_radix(digits, 16).ok()
}

/// What a retained run joins labels to.
#[derive(Debug, Clone)]
pub(crate) struct RunEntry {
    pub(crate) len: u64,
    pub(crate) bucket: i64,
    pub(crate) version: Arc<str>,
    /// Predicted class of each id of the run.
    pub(crate) predicted: Vec<usize>,
    /// Position in the run → true label, for the ids labelled so far.
    pub(crate) labels: BTreeMap<u64, usize>,
}

/// The runs of one prefix.
#[derive(Debug, Default)]
struct PrefixRuns {
    /// First counter → run.
    runs: BTreeMap<u64, RunEntry>,
    /// Counters of listed (string) ids retained in this prefix's namespace, so a run is
    /// refused when it would repeat one.
    listed: BTreeSet<u64>,
}

/// The retained runs, by prefix.
#[derive(Debug, Default)]
pub(crate) struct RunIndex {
    by_prefix: HashMap<Arc<str>, PrefixRuns>,
}

impl RunIndex {
    /// The shared text of `prefix`, when runs of it are retained.
    pub(crate) fn interned(&self, prefix: &str) -> Option<Arc<str>> {
        self.by_prefix.get_key_value(prefix).map(|(k, _)| k.clone())
    }

    /// Whether runs of `prefix` are retained (a prefix the index already tracks listed ids
    /// for).
    #[cfg(test)]
    pub(crate) fn knows(&self, prefix: &str) -> bool {
        self.by_prefix.contains_key(prefix)
    }

    /// The run holding `id` and its position in it.
    pub(crate) fn get(&self, id: &str) -> Option<(&RunEntry, u64)> {
        self.by_prefix.iter().find_map(|(prefix, p)| {
            let n = counter_of(prefix, id)?;
            let (first, entry) = p.runs.range(..=n).next_back()?;
            let i = n - first;
            (i < entry.len).then_some((entry, i))
        })
    }

    /// [`RunIndex::get`], mutable.
    pub(crate) fn get_mut(&mut self, id: &str) -> Option<(&mut RunEntry, u64)> {
        self.by_prefix.iter_mut().find_map(|(prefix, p)| {
            let n = counter_of(prefix, id)?;
            let (first, entry) = p.runs.range_mut(..=n).next_back()?;
            let i = n - first;
            (i < entry.len).then_some((entry, i))
        })
    }

    /// Whether any id of `run` is already retained, as a run or as a listed id. `listed`
    /// gives the retained listed ids, read only when the prefix is new to the index.
    pub(crate) fn overlaps<'a>(
        &self,
        run: &IdRun,
        listed: impl IntoIterator<Item = &'a str>,
    ) -> bool {
        let Some(last) = run.last() else {
            return true;
        };
        match self.by_prefix.get(run.prefix.as_str()) {
            Some(p) => {
                // Retained runs are valid: `first + len - 1` fits.
                let before = p
                    .runs
                    .range(..run.first)
                    .next_back()
                    .is_some_and(|(first, e)| first + (e.len - 1) >= run.first);
                before
                    || p.runs.range(run.first..=last).next().is_some()
                    || p.listed.range(run.first..=last).next().is_some()
            }
            None => listed
                .into_iter()
                .filter_map(|id| counter_of(&run.prefix, id))
                .any(|n| (run.first..=last).contains(&n)),
        }
    }

    /// Adds a run (checked with [`RunIndex::overlaps`] first). `listed` gives the retained
    /// listed ids, read only when the prefix is new, to start tracking those in its
    /// namespace.
    pub(crate) fn insert<'a>(
        &mut self,
        prefix: Arc<str>,
        first: u64,
        entry: RunEntry,
        listed: impl IntoIterator<Item = &'a str>,
    ) {
        let p = self.by_prefix.entry(prefix.clone()).or_insert_with(|| {
            let listed = listed
                .into_iter()
                .filter_map(|id| counter_of(&prefix, id))
                .collect();
            PrefixRuns {
                runs: BTreeMap::new(),
                listed,
            }
        });
        p.runs.insert(first, entry);
    }

    /// Forgets a run; a prefix left without runs is forgotten too (its listed ids are
    /// found again by a scan if it comes back).
    pub(crate) fn remove(&mut self, prefix: &str, first: u64) -> Option<RunEntry> {
        let p = self.by_prefix.get_mut(prefix)?;
        let entry = p.runs.remove(&first);
        if p.runs.is_empty() {
            self.by_prefix.remove(prefix);
        }
        entry
    }

    /// Notes a retained listed id in the namespace of every tracked prefix it parses into.
    pub(crate) fn note_listed(&mut self, id: &str) {
        for (prefix, p) in &mut self.by_prefix {
            if let Some(n) = counter_of(prefix, id) {
                p.listed.insert(n);
            }
        }
    }

    /// Forgets a listed id noted with [`RunIndex::note_listed`].
    pub(crate) fn forget_listed(&mut self, id: &str) {
        for (prefix, p) in &mut self.by_prefix {
            if let Some(n) = counter_of(prefix, id) {
                p.listed.remove(&n);
            }
        }
    }

    /// The labels of the retained run starting at `first` of `prefix`, with the predicted
    /// class of each labelled id.
    pub(crate) fn labels_of(
        &self,
        prefix: &str,
        first: u64,
    ) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.by_prefix
            .get(prefix)
            .and_then(|p| p.runs.get(&first))
            .into_iter()
            .flat_map(|e| {
                e.labels
                    .iter()
                    .filter_map(|(&i, &y)| Some((y, *e.predicted.get(i as usize)?)))
            })
    }

    /// Ids held in runs.
    pub(crate) fn ids(&self) -> usize {
        self.entries().map(|e| e.len as usize).sum()
    }

    /// Labelled ids held in runs.
    pub(crate) fn labelled(&self) -> usize {
        self.entries().map(|e| e.labels.len()).sum()
    }

    fn entries(&self) -> impl Iterator<Item = &RunEntry> {
        self.by_prefix.values().flat_map(|p| p.runs.values())
    }
}

/// Recognises the ids of evicted runs, so a label for one is reported as expired rather
/// than unknown: the most recent runs holding up to `capacity` ids (as the listed ids'
/// filter remembers two generations of evictions), exactly.
#[derive(Debug, Clone)]
pub(crate) struct ExpiredRuns {
    runs: VecDeque<(Arc<str>, u64, u64)>,
    ids: u64,
    capacity: u64,
}

impl ExpiredRuns {
    pub(crate) fn new(capacity: usize) -> Self {
        ExpiredRuns {
            runs: VecDeque::new(),
            ids: 0,
            capacity: capacity.max(1) as u64,
        }
    }

    pub(crate) fn insert(&mut self, prefix: Arc<str>, first: u64, len: u64) {
        self.runs.push_back((prefix, first, len));
        self.ids += len;
        while self.ids > self.capacity && self.runs.len() > 1 {
            if let Some((_, _, n)) = self.runs.pop_front() {
                self.ids -= n;
            }
        }
    }

    pub(crate) fn contains(&self, id: &str) -> bool {
        self.runs.iter().any(|(prefix, first, len)| {
            counter_of(prefix, id)
                .and_then(|n| n.checked_sub(*first))
                .is_some_and(|i| i < *len)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_of_takes_only_the_formatters_text() {
        assert_eq!(counter_of("p-", "p-0"), Some(0));
        assert_eq!(counter_of("p-", "p-ff"), Some(255));
        assert_eq!(counter_of("p-", "p-ffffffffffffffff"), Some(u64::MAX));
        for bad in [
            "p-",
            "p-00",
            "p-0f",
            "p-FF",
            "p-g",
            "p- 1",
            "q-1",
            "p-10000000000000000",
        ] {
            assert_eq!(counter_of("p-", bad), None, "{bad}");
        }
        for n in [0u64, 1, 15, 16, 0xdead_beef, u64::MAX] {
            assert_eq!(counter_of("x", &format!("x{n:x}")), Some(n));
        }
    }

    fn entry(len: u64) -> RunEntry {
        RunEntry {
            len,
            bucket: 0,
            version: Arc::from("1"),
            predicted: (0..len as usize).collect(),
            labels: BTreeMap::new(),
        }
    }

    #[test]
    fn overlaps_see_runs_and_listed_ids_of_the_namespace() {
        let mut idx = RunIndex::default();
        // A listed id in the namespace before the prefix is known: found by the scan.
        let listed = ["p-14", "other"];
        assert!(idx.overlaps(&IdRun::new("p-", 0x10, 8), listed));
        assert!(!idx.overlaps(&IdRun::new("p-", 0x15, 8), listed));
        idx.insert(Arc::from("p-"), 0x15, entry(8), listed);
        // Now tracked: the listed id and the run.
        assert!(idx.overlaps(&IdRun::new("p-", 0x10, 5), []));
        assert!(!idx.overlaps(&IdRun::new("p-", 0x10, 4), []));
        assert!(idx.overlaps(&IdRun::new("p-", 0x1c, 1), []));
        assert!(!idx.overlaps(&IdRun::new("p-", 0x1d, 100), []));
        assert!(idx.overlaps(&IdRun::new("p-", 0x18, 1), []));
        assert!(idx.overlaps(&IdRun::new("p-", u64::MAX, 2), []), "overflow");
        assert!(!idx.overlaps(&IdRun::new("p-", u64::MAX, 1), []));
        idx.note_listed("p-40");
        assert!(idx.overlaps(&IdRun::new("p-", 0x40, 1), []));
        idx.forget_listed("p-40");
        assert!(!idx.overlaps(&IdRun::new("p-", 0x40, 1), []));
        let (e, i) = idx.get("p-17").unwrap();
        assert_eq!((e.len, i), (8, 2));
        assert!(idx.get("p-1d").is_none());
        assert!(idx.get("p-014").is_none());
        assert_eq!(idx.ids(), 8);
        idx.remove("p-", 0x15).unwrap();
        assert!(!idx.knows("p-"));
        assert_eq!(idx.ids(), 0);
    }

    #[test]
    fn expired_runs_remember_the_most_recent_capacity() {
        let mut x = ExpiredRuns::new(10);
        x.insert(Arc::from("a-"), 0, 6);
        x.insert(Arc::from("a-"), 6, 6);
        assert!(!x.contains("a-5"), "the oldest run went past the capacity");
        assert!(x.contains("a-6") && x.contains("a-b"));
        assert!(!x.contains("a-c") && !x.contains("b-6"));
    }
}
