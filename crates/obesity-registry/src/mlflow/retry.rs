//! When and how long [`MlflowStore`](crate::MlflowStore) waits before trying a request again.

use std::time::Duration;

/// How an [`MlflowStore`](crate::MlflowStore) retries a failed request: exponential backoff on
/// connection errors and on the transient HTTP statuses (429, 500, 502, 503, 504), never on
/// another 4xx (a bad request stays bad however often it is sent).
///
/// 429 is the one 4xx that is retried: it means "come back later", and MLflow's own Python
/// client retries it too. The wait before retry `n` (1-based) is
/// `initial_backoff * multiplier^(n-1)`, capped at `max_backoff`; there is no random jitter,
/// so a test sees the same schedule every time.
///
/// Like MLflow's client, a POST that failed with a 5xx is sent again even though the server
/// may have applied it (e.g. created a run) before failing; with MLflow's SQL backends a failed
/// request is rolled back, so in practice this does not duplicate anything.
///
/// ```
/// use std::time::Duration;
/// use obesity_registry::RetryPolicy;
///
/// let policy = RetryPolicy::default()
///     .max_attempts(3)
///     .initial_backoff(Duration::from_millis(50));
/// assert_eq!(policy.backoff(1), Duration::from_millis(50));
/// assert_eq!(policy.backoff(2), Duration::from_millis(100));
/// assert!(!RetryPolicy::none().should_retry_status(503, 1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    multiplier: f64,
}

impl Default for RetryPolicy {
    /// 5 attempts in all, waiting 200 ms, 400 ms, 800 ms, 1.6 s between them (at most 5 s).
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            multiplier: 2.0,
        }
    }
}

impl RetryPolicy {
    /// A policy that sends every request exactly once.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The number of attempts in all, including the first (at least 1; 0 is read as 1).
    /// By default, this is 5.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The wait before the first retry. By default, this is 200 ms.
    pub fn initial_backoff(mut self, wait: Duration) -> Self {
        self.initial_backoff = wait;
        self
    }

    /// The longest wait between two attempts. By default, this is 5 s.
    pub fn max_backoff(mut self, wait: Duration) -> Self {
        self.max_backoff = wait;
        self
    }

    /// The factor by which the wait grows after each retry (values below 1 are read as 1).
    /// By default, this is 2.
    pub fn multiplier(mut self, factor: f64) -> Self {
        self.multiplier = if factor.is_finite() && factor >= 1.0 {
            factor
        } else {
            1.0
        };
        self
    }

    /// The configured number of attempts in all.
    pub fn attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The wait before retry number `retry` (1 for the first retry).
    pub fn backoff(&self, retry: u32) -> Duration {
        let exponent = retry.saturating_sub(1).min(63) as i32;
        let secs = self.initial_backoff.as_secs_f64() * self.multiplier.powi(exponent);
        let capped = secs.min(self.max_backoff.as_secs_f64());
        Duration::try_from_secs_f64(capped).unwrap_or(self.max_backoff)
    }

    /// Whether an HTTP status is worth another try after attempt number `attempt` (1-based).
    pub fn should_retry_status(&self, status: u16, attempt: u32) -> bool {
        attempt < self.max_attempts && is_transient_status(status)
    }

    /// Whether a failure to talk to the server at all is worth another try after `attempt`.
    pub(crate) fn should_retry_transport(&self, attempt: u32) -> bool {
        attempt < self.max_attempts
    }
}

/// 429 (rate limited), 500, 502, 503 and 504: statuses that can go away by themselves.
fn is_transient_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_and_is_capped() {
        let p = RetryPolicy::default()
            .initial_backoff(Duration::from_millis(100))
            .multiplier(3.0)
            .max_backoff(Duration::from_millis(1000));
        assert_eq!(p.backoff(1), Duration::from_millis(100));
        assert_eq!(p.backoff(2), Duration::from_millis(300));
        assert_eq!(p.backoff(3), Duration::from_millis(900));
        assert_eq!(p.backoff(4), Duration::from_millis(1000));
        assert_eq!(p.backoff(u32::MAX), Duration::from_millis(1000));
    }

    #[test]
    fn only_transient_statuses_are_retried_and_only_within_the_budget() {
        let p = RetryPolicy::default().max_attempts(3);
        for s in [429, 500, 502, 503, 504] {
            assert!(p.should_retry_status(s, 1), "{s}");
            assert!(p.should_retry_status(s, 2), "{s}");
            assert!(!p.should_retry_status(s, 3), "{s}");
        }
        for s in [200, 400, 401, 403, 404, 409, 501] {
            assert!(!p.should_retry_status(s, 1), "{s}");
        }
        assert!(!RetryPolicy::none().should_retry_transport(1));
        assert!(p.should_retry_transport(2));
    }

    #[test]
    fn nonsense_settings_are_clamped() {
        let p = RetryPolicy::default().max_attempts(0).multiplier(f64::NAN);
        assert_eq!(p.attempts(), 1);
        assert_eq!(
            p.initial_backoff(Duration::from_millis(7)).backoff(5),
            Duration::from_millis(7)
        );
    }
}
