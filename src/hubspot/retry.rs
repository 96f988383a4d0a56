//! Retry decisions, kept apart from the error types (after smithy-rs's classifiers).
//!
//! [`classify`] looks at one attempt's outcome and the request's safety and says what to do.
//! Rules (../shared/docs/hubspot-api.md §9c, §10):
//! - `TEN_SECONDLY_ROLLING` and `SECONDLY` 429s wait for `Retry-After` when sent, else back off
//!   with full jitter; the governor is told either way, so every worker slows down.
//! - `DAILY` is never retried: the caller gets the reset time.
//! - 423 waits at least 2 s; 477 honours `Retry-After`.
//! - 5xx, timeouts and dropped connections are retried only for requests safe to repeat: GET,
//!   search, batch read, upsert by `idProperty`, and writes carrying `objectWriteTraceId`.
//!   A connection that was refused before anything was sent is retried for any request.
//! - 401 `EXPIRED_AUTHENTICATION` forces one refresh and one replay.
//!
//! A [`RetryQuota`] bounds the retries a failing HubSpot can cause: each retry spends tokens
//! (timeouts and 5xx more than throttling), each success refunds one, and an empty quota means
//! failures are returned at once instead of retried. A struggling HubSpot gets fewer retries,
//! not more.

use std::time::Duration;

use parking_lot::Mutex;
use rand::Rng;

/// What one attempt produced, as the classifier needs it.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome<'a> {
    /// HubSpot answered.
    Status {
        status: u16,
        category: Option<&'a str>,
        policy: Option<&'a str>,
        retry_after: Option<Duration>,
    },
    /// No answer in time.
    Timeout,
    /// The connection could not be made; nothing was sent.
    ConnectFailed,
    /// The connection broke after the request may have been sent.
    Dropped,
}

/// What to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAction {
    /// Done: success or a final error.
    Stop,
    /// Wait exactly this long (the server said so), then retry.
    RetryAfter(Duration),
    /// Back off with jitter, then retry.
    Backoff(RetryKind),
    /// Refresh the credentials and replay once.
    RefreshAndReplay,
}

/// Why a retry happens; it sets the quota cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryKind {
    Throttled,
    ServerError,
    Timeout,
}

/// Decides what to do after an attempt. `safe` says whether the request may be repeated.
pub fn classify(outcome: &Outcome<'_>, safe: bool) -> RetryAction {
    match outcome {
        Outcome::Status {
            status,
            category,
            policy,
            retry_after,
        } => match *status {
            200..=399 => RetryAction::Stop,
            401 if *category == Some("EXPIRED_AUTHENTICATION") => RetryAction::RefreshAndReplay,
            429 => match *policy {
                Some("DAILY") => RetryAction::Stop,
                _ => retry_after.map_or(
                    RetryAction::Backoff(RetryKind::Throttled),
                    RetryAction::RetryAfter,
                ),
            },
            423 => {
                RetryAction::RetryAfter(retry_after.unwrap_or_default().max(Duration::from_secs(2)))
            }
            477 => RetryAction::RetryAfter(retry_after.unwrap_or(Duration::from_secs(60))),
            500..=599 if safe => match retry_after {
                Some(d) => RetryAction::RetryAfter(*d),
                None => RetryAction::Backoff(RetryKind::ServerError),
            },
            _ => RetryAction::Stop,
        },
        Outcome::ConnectFailed => RetryAction::Backoff(RetryKind::ServerError),
        Outcome::Timeout | Outcome::Dropped if safe => RetryAction::Backoff(RetryKind::Timeout),
        Outcome::Timeout | Outcome::Dropped => RetryAction::Stop,
    }
}

/// Exponential backoff with full jitter, capped.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Backoff {
    pub base_ms: u64,
    pub cap_ms: u64,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The longest server-requested wait the client will sit through (477 can ask for 24 h).
    pub max_retry_after_ms: u64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base_ms: 250,
            cap_ms: 10_000,
            max_attempts: 6,
            max_retry_after_ms: 30_000,
        }
    }
}

impl Backoff {
    /// The delay before retry number `attempt` (0-based): uniform in `[0, min(cap, base·2^attempt)]`.
    pub fn delay(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        let ceiling = self
            .base_ms
            .saturating_mul(1u64 << attempt.min(30))
            .min(self.cap_ms);
        Duration::from_millis(rng.gen_range(0..=ceiling))
    }
}

/// Retry tokens shared by every request of a client.
#[derive(Debug)]
pub struct RetryQuota {
    capacity: u32,
    tokens: Mutex<u32>,
}

impl RetryQuota {
    /// Cost of a retry after throttling.
    pub const THROTTLE_COST: u32 = 1;
    /// Cost of a retry after a 5xx or refused connection.
    pub const ERROR_COST: u32 = 5;
    /// Cost of a retry after a timeout or dropped connection.
    pub const TIMEOUT_COST: u32 = 10;

    /// A full quota.
    pub fn new(capacity: u32) -> Self {
        Self {
            capacity,
            tokens: Mutex::new(capacity),
        }
    }

    /// Takes the cost of one retry; `false` when the quota cannot pay.
    pub fn try_spend(&self, kind: RetryKind) -> bool {
        let cost = match kind {
            RetryKind::Throttled => Self::THROTTLE_COST,
            RetryKind::ServerError => Self::ERROR_COST,
            RetryKind::Timeout => Self::TIMEOUT_COST,
        };
        let mut t = self.tokens.lock();
        if *t >= cost {
            *t -= cost;
            true
        } else {
            false
        }
    }

    /// A success refunds one token.
    pub fn refund(&self) {
        let mut t = self.tokens.lock();
        *t = (*t + 1).min(self.capacity);
    }

    /// Tokens left.
    pub fn available(&self) -> u32 {
        *self.tokens.lock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn status(s: u16, policy: Option<&str>, ra: Option<u64>) -> RetryAction {
        classify(
            &Outcome::Status {
                status: s,
                category: None,
                policy,
                retry_after: ra.map(Duration::from_secs),
            },
            false,
        )
    }

    #[test]
    fn retries_429_after_retry_after_and_never_daily() {
        assert_eq!(
            status(429, Some("TEN_SECONDLY_ROLLING"), Some(3)),
            RetryAction::RetryAfter(Duration::from_secs(3))
        );
        assert_eq!(
            status(429, Some("SECONDLY"), None),
            RetryAction::Backoff(RetryKind::Throttled)
        );
        assert_eq!(status(429, Some("DAILY"), Some(3)), RetryAction::Stop);
    }

    #[test]
    fn locked_waits_at_least_two_seconds_and_migration_honours_retry_after() {
        assert_eq!(
            status(423, None, None),
            RetryAction::RetryAfter(Duration::from_secs(2))
        );
        assert_eq!(
            status(423, None, Some(5)),
            RetryAction::RetryAfter(Duration::from_secs(5))
        );
        assert_eq!(
            status(477, None, Some(30)),
            RetryAction::RetryAfter(Duration::from_secs(30))
        );
    }

    #[test]
    fn server_errors_and_timeouts_are_retried_only_when_safe() {
        for s in [500, 502, 503, 504, 524] {
            assert_eq!(status(s, None, None), RetryAction::Stop, "unsafe {s}");
            assert_eq!(
                classify(
                    &Outcome::Status {
                        status: s,
                        category: None,
                        policy: None,
                        retry_after: None
                    },
                    true
                ),
                RetryAction::Backoff(RetryKind::ServerError)
            );
        }
        assert_eq!(classify(&Outcome::Timeout, false), RetryAction::Stop);
        assert_eq!(
            classify(&Outcome::Dropped, true),
            RetryAction::Backoff(RetryKind::Timeout)
        );
        assert_eq!(
            classify(&Outcome::ConnectFailed, false),
            RetryAction::Backoff(RetryKind::ServerError),
            "nothing was sent"
        );
        assert_eq!(status(400, None, None), RetryAction::Stop);
    }

    #[test]
    fn expired_token_refreshes_once() {
        let o = Outcome::Status {
            status: 401,
            category: Some("EXPIRED_AUTHENTICATION"),
            policy: None,
            retry_after: None,
        };
        assert_eq!(classify(&o, false), RetryAction::RefreshAndReplay);
    }

    #[test]
    fn an_empty_quota_stops_retries_and_successes_refill_it() {
        let q = RetryQuota::new(12);
        assert!(q.try_spend(RetryKind::Timeout));
        assert!(!q.try_spend(RetryKind::Timeout));
        assert!(q.try_spend(RetryKind::Throttled));
        q.refund();
        assert_eq!(q.available(), 2);
    }

    proptest! {
        #[test]
        fn backoff_never_exceeds_its_cap(attempt in 0u32..64, base in 1u64..5_000, cap in 1u64..60_000, seed in any::<u64>()) {
            use rand::SeedableRng;
            let b = Backoff { base_ms: base, cap_ms: cap, ..Default::default() };
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            prop_assert!(b.delay(attempt, &mut rng) <= Duration::from_millis(cap));
        }
    }
}
