//! Time sources. Everything in this crate that asks "what time is it?" (windows, guards,
//! experiment durations) asks an injected [`Clock`], so tests drive time with a
//! [`ManualClock`] instead of sleeping.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Duration, Utc};

/// A source of the current time (UTC).
///
/// Implemented by [`SystemClock`] for production and [`ManualClock`] for tests and
/// simulations; implement it yourself to replay recorded traffic on its own timeline.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock, [`Utc::now`]. The default everywhere a clock is optional.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to, so tests of windows, guards and expiry are exact
/// and never sleep.
///
/// Clones share the same time: hand one clone to the component under test and keep another
/// to move time forward.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Arc::new(Mutex::new(start)),
        }
    }

    /// Sets the time (it may go backwards, to test clock skew).
    pub fn set(&self, at: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = at;
    }

    /// Moves the time forward by `by` (backward if negative). A move past the end of
    /// chrono's range leaves the clock where it was.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(t) = now.checked_add_signed(by) {
            *now = t;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
