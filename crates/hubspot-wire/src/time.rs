//! Time as a dependency.
//!
//! Everything that enforces a window (the sandbox's rate limits and token expiry, later the
//! client's token buckets) reads time through [`Clock`], so tests can drive it exactly with
//! [`ManualClock`] instead of sleeping. Wall-clock waits that only pace I/O (webhook retries,
//! injected latency) use tokio's timer, which tests can pause separately.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

/// A source of the current time, in milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    fn now_ms(&self) -> i64;

    /// The same instant as a `DateTime<Utc>`.
    fn now(&self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.now_ms())
            .single()
            .unwrap_or_default()
    }
}

/// A shared, dynamically dispatched clock.
pub type SharedClock = Arc<dyn Clock>;

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        Utc::now().timestamp_millis()
    }
}

/// A clock that only moves when told to. Cloning shares the same time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<AtomicI64>,
}

impl ManualClock {
    /// Starts at `start_ms` (milliseconds since the epoch).
    pub fn new(start_ms: i64) -> Self {
        Self {
            now: Arc::new(AtomicI64::new(start_ms)),
        }
    }

    /// Moves time forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.now.fetch_add(
            i64::try_from(by.as_millis()).unwrap_or(i64::MAX),
            Ordering::SeqCst,
        );
    }

    /// Sets the time to `ms` since the epoch.
    pub fn set_ms(&self, ms: i64) {
        self.now.store(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }
}

/// Epoch milliseconds that follow tokio's clock, from `start_ms` at creation. Under a paused
/// runtime (`#[tokio::test(start_paused = true)]`) it moves exactly as tokio's timers do, so
/// a governor and its sleeps agree and a timing test runs in no real time.
#[derive(Debug, Clone)]
pub struct TokioClock {
    origin: tokio::time::Instant,
    start_ms: i64,
}

impl TokioClock {
    pub fn new(start_ms: i64) -> Self {
        Self {
            origin: tokio::time::Instant::now(),
            start_ms,
        }
    }
}

impl Clock for TokioClock {
    fn now_ms(&self) -> i64 {
        self.start_ms + i64::try_from(self.origin.elapsed().as_millis()).unwrap_or(i64::MAX)
    }
}

/// Formats epoch milliseconds the way HubSpot's v3 APIs do: `2026-03-10T23:04:41.164Z`.
pub fn iso_ms(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// Parses a HubSpot date or datetime value: epoch milliseconds, an ISO 8601 datetime, or a
/// `YYYY-MM-DD` date (midnight UTC). Returns epoch milliseconds.
pub fn parse_hs_datetime(value: &str) -> Option<i64> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    if let Ok(ms) = v.parse::<i64>() {
        return Some(ms);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(v) {
        return Some(dt.timestamp_millis());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let clock = ManualClock::new(1_000);
        assert_eq!(clock.now_ms(), 1_000);
        clock.advance(Duration::from_millis(250));
        assert_eq!(clock.clone().now_ms(), 1_250);
    }

    #[test]
    fn parses_every_hubspot_date_spelling() {
        assert_eq!(parse_hs_datetime("1700000000000"), Some(1_700_000_000_000));
        assert_eq!(
            parse_hs_datetime("2026-03-10T23:04:41.164Z"),
            Some(1_773_183_881_164)
        );
        assert_eq!(parse_hs_datetime("2026-03-10"), Some(1_773_100_800_000));
        assert_eq!(parse_hs_datetime("soon"), None);
        assert_eq!(iso_ms(1_773_183_881_164), "2026-03-10T23:04:41.164Z");
    }
}
