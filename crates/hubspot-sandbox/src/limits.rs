//! HubSpot's rate limits, enforced exactly on a [`Clock`](hubspot_wire::time::Clock).
//!
//! Three independent policies (../shared/docs/hubspot-api.md §9):
//! - `TEN_SECONDLY_ROLLING`: a sliding window of `interval` per app (110/100/190/250 by app
//!   kind). It is a true sliding log, not fixed buckets, so "200 requests in one second" gives
//!   exactly `max` successes, and a slot frees exactly `interval` after the request that used it.
//! - `DAILY`: a per-account count that resets at midnight in the account's time zone.
//! - `SECONDLY`: the search API's own 5 requests/s per account, a 1 s sliding log. Search is
//!   excluded from the burst window, as HubSpot documents.
//!
//! Rejected requests do not consume budget. The module is pure (state + `now_ms` in, verdict
//! out) so that tests drive it on a `ManualClock`.

use std::collections::{HashMap, VecDeque};

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::error::HsError;

/// Which limit a request hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Policy {
    TenSecondlyRolling,
    Daily,
    Secondly,
}

impl Policy {
    /// HubSpot's `policyName`.
    pub fn name(self) -> &'static str {
        match self {
            Self::TenSecondlyRolling => "TEN_SECONDLY_ROLLING",
            Self::Daily => "DAILY",
            Self::Secondly => "SECONDLY",
        }
    }
}

/// Limit settings. `burst_max` and `daily` come from the app kind unless overridden.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LimitSettings {
    /// Turn every limit off (benchmarks of the sandbox itself).
    pub enabled: bool,
    /// Requests per `interval_ms` per app.
    pub burst_max: u32,
    /// The rolling window (10 s).
    pub interval_ms: i64,
    /// Requests per day per account; `None` for no daily limit (OAuth marketplace apps).
    pub daily: Option<u64>,
    /// Search requests per second per account.
    pub search_per_second: u32,
    /// The account's UTC offset, for the daily reset at local midnight.
    pub utc_offset_minutes: i32,
    /// Send `Retry-After` (seconds) on 429s. HubSpot does not always; off by default.
    pub retry_after: bool,
}

/// The numbers a response's `X-HubSpot-RateLimit-*` headers carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateState {
    pub max: u32,
    pub remaining: u32,
    pub interval_ms: i64,
    pub daily: Option<(u64, u64)>,
}

/// A rejection: which policy, and when a retry could succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub policy: Policy,
    pub retry_after_ms: i64,
}

/// Rolling windows and daily counters.
#[derive(Debug)]
pub struct RateLimits {
    pub settings: LimitSettings,
    burst: HashMap<String, VecDeque<i64>>,
    daily: HashMap<u64, (i64, u64)>,
    search: HashMap<u64, VecDeque<i64>>,
}

const DAY_MS: i64 = 86_400_000;

impl RateLimits {
    /// Fresh counters.
    pub fn new(settings: LimitSettings) -> Self {
        Self {
            settings,
            burst: HashMap::new(),
            daily: HashMap::new(),
            search: HashMap::new(),
        }
    }

    fn day_of(&self, now_ms: i64) -> i64 {
        (now_ms + i64::from(self.settings.utc_offset_minutes) * 60_000).div_euclid(DAY_MS)
    }

    fn next_midnight(&self, now_ms: i64) -> i64 {
        (self.day_of(now_ms) + 1) * DAY_MS - i64::from(self.settings.utc_offset_minutes) * 60_000
    }

    fn daily_used(&self, portal: u64, now_ms: i64) -> u64 {
        match self.daily.get(&portal) {
            Some((day, n)) if *day == self.day_of(now_ms) => *n,
            _ => 0,
        }
    }

    fn slide(log: &mut VecDeque<i64>, now_ms: i64, window: i64) {
        while log.front().is_some_and(|t| *t <= now_ms - window) {
            log.pop_front();
        }
    }

    /// Admits (and counts) one non-search API request from `app` on `portal`.
    ///
    /// # Errors
    /// [`Limited`] with the policy hit and the wait until a slot frees.
    pub fn admit(&mut self, app: &str, portal: u64, now_ms: i64) -> Result<RateState, Limited> {
        let s = self.settings.clone();
        if !s.enabled {
            return Ok(RateState {
                max: s.burst_max,
                remaining: s.burst_max,
                interval_ms: s.interval_ms,
                daily: None,
            });
        }
        let used = self.daily_used(portal, now_ms);
        if let Some(limit) = s.daily {
            if used >= limit {
                return Err(Limited {
                    policy: Policy::Daily,
                    retry_after_ms: self.next_midnight(now_ms) - now_ms,
                });
            }
        }
        let log = self.burst.entry(app.to_string()).or_default();
        Self::slide(log, now_ms, s.interval_ms);
        if log.len() >= s.burst_max as usize {
            let oldest = log.front().copied().unwrap_or(now_ms);
            return Err(Limited {
                policy: Policy::TenSecondlyRolling,
                retry_after_ms: oldest + s.interval_ms - now_ms,
            });
        }
        log.push_back(now_ms);
        let remaining = s.burst_max.saturating_sub(log.len() as u32);
        let day = self.day_of(now_ms);
        let entry = self.daily.entry(portal).or_insert((day, 0));
        if entry.0 != day {
            *entry = (day, 0);
        }
        entry.1 += 1;
        let daily = s.daily.map(|limit| (limit, limit.saturating_sub(entry.1)));
        Ok(RateState {
            max: s.burst_max,
            remaining,
            interval_ms: s.interval_ms,
            daily,
        })
    }

    /// Admits one search request. Search has its own per-second limit and sends no headers;
    /// it still counts toward the daily budget.
    ///
    /// # Errors
    /// [`Limited`] with `SECONDLY` (or `DAILY`).
    pub fn admit_search(&mut self, portal: u64, now_ms: i64) -> Result<(), Limited> {
        let s = self.settings.clone();
        if !s.enabled {
            return Ok(());
        }
        if let Some(limit) = s.daily {
            if self.daily_used(portal, now_ms) >= limit {
                return Err(Limited {
                    policy: Policy::Daily,
                    retry_after_ms: self.next_midnight(now_ms) - now_ms,
                });
            }
        }
        let log = self.search.entry(portal).or_default();
        Self::slide(log, now_ms, 1_000);
        if log.len() >= s.search_per_second as usize {
            let oldest = log.front().copied().unwrap_or(now_ms);
            return Err(Limited {
                policy: Policy::Secondly,
                retry_after_ms: oldest + 1_000 - now_ms,
            });
        }
        log.push_back(now_ms);
        let day = self.day_of(now_ms);
        let entry = self.daily.entry(portal).or_insert((day, 0));
        if entry.0 != day {
            *entry = (day, 0);
        }
        entry.1 += 1;
        Ok(())
    }

    /// Forgets all counts (admin reset).
    pub fn reset(&mut self) {
        self.burst.clear();
        self.daily.clear();
        self.search.clear();
    }
}

/// The 429 response HubSpot sends for `limited`, with its exact body shape per policy.
pub fn too_many_requests(
    limited: Limited,
    app_id: &str,
    portal: u64,
    retry_after: bool,
) -> HsError {
    let request_id = uuid::Uuid::new_v4().to_string();
    let body = match limited.policy {
        Policy::Daily => json!({
            "status": "error", "message": "You have reached your daily limit.", "errorType": "RATE_LIMIT",
            "policyName": "DAILY", "requestId": request_id,
        }),
        Policy::TenSecondlyRolling => json!({
            "status": "error", "message": "You have reached your ten_secondly_rolling limit.", "errorType": "RATE_LIMIT",
            "policyName": "TEN_SECONDLY_ROLLING", "groupName": format!("publicapi:app-api-calls-ten-secondly:{app_id}"),
        }),
        Policy::Secondly => json!({
            "status": "error", "message": "You have reached your secondly limit.", "errorType": "RATE_LIMIT",
            "groupName": format!("publicapi:search-secondly:{portal}"), "policyName": "SECONDLY", "requestId": request_id,
        }),
    };
    let mut err = HsError::raw(StatusCode::TOO_MANY_REQUESTS, body);
    if retry_after {
        let secs = (limited.retry_after_ms.max(1) + 999) / 1000;
        err = err.with_header("retry-after", secs.to_string());
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn settings(max: u32) -> LimitSettings {
        LimitSettings {
            enabled: true,
            burst_max: max,
            interval_ms: 10_000,
            daily: Some(1_000),
            search_per_second: 5,
            utc_offset_minutes: 0,
            retry_after: true,
        }
    }

    #[test]
    fn rolling_window_frees_each_slot_exactly_one_interval_later() {
        let mut l = RateLimits::new(settings(190));
        let t0 = 1_000_000;
        // 190 requests spread over the first 1.9 s, then the 191st is refused.
        for i in 0..190 {
            let st = l.admit("app", 1, t0 + i * 10).unwrap();
            assert_eq!(st.remaining, 189 - i as u32);
        }
        let err = l.admit("app", 1, t0 + 1_900).unwrap_err();
        assert_eq!(err.policy, Policy::TenSecondlyRolling);
        assert_eq!(err.retry_after_ms, 10_000 - 1_900);
        // One millisecond before the first slot frees: still refused.
        assert!(l.admit("app", 1, t0 + 9_999).is_err());
        // Exactly one interval after the first request, one slot is free, and only one.
        assert!(l.admit("app", 1, t0 + 10_000).is_ok());
        assert!(l.admit("app", 1, t0 + 10_000).is_err());
        // Another app has its own window.
        assert!(l.admit("other", 1, t0 + 10_000).is_ok());
    }

    #[test]
    fn daily_limit_resets_at_local_midnight() {
        let mut s = settings(10_000);
        s.daily = Some(3);
        s.utc_offset_minutes = -300; // UTC-5
        let mut l = RateLimits::new(s);
        let midnight_local = 20_000 * DAY_MS + 300 * 60_000;
        let t = midnight_local - 1_000;
        for _ in 0..3 {
            l.admit("a", 1, t).unwrap();
        }
        let err = l.admit("a", 1, t).unwrap_err();
        assert_eq!(err.policy, Policy::Daily);
        assert_eq!(err.retry_after_ms, 1_000);
        assert!(l.admit("a", 1, midnight_local).is_ok());
    }

    #[test]
    fn search_has_its_own_secondly_limit() {
        let mut l = RateLimits::new(settings(1));
        for _ in 0..5 {
            l.admit_search(1, 0).unwrap();
        }
        assert_eq!(l.admit_search(1, 999).unwrap_err().policy, Policy::Secondly);
        assert!(l.admit_search(1, 1_000).is_ok());
        // Search did not consume the burst window.
        assert!(l.admit("a", 1, 0).is_ok());
    }

    #[test]
    fn bodies_carry_policy_names() {
        for (policy, msg) in [
            (Policy::Daily, "You have reached your daily limit."),
            (
                Policy::TenSecondlyRolling,
                "You have reached your ten_secondly_rolling limit.",
            ),
            (Policy::Secondly, "You have reached your secondly limit."),
        ] {
            let e = too_many_requests(
                Limited {
                    policy,
                    retry_after_ms: 1_500,
                },
                "1",
                2,
                true,
            );
            assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
            assert_eq!(e.body["policyName"], policy.name());
            assert_eq!(e.body["errorType"], "RATE_LIMIT");
            assert_eq!(e.message(), msg);
            assert_eq!(e.headers, vec![("retry-after", "2".to_string())]);
        }
    }

    proptest! {
        #[test]
        fn never_admits_more_than_max_in_any_window(gaps in proptest::collection::vec(0i64..400, 1..600), max in 1u32..50) {
            let mut s = settings(max);
            s.daily = None;
            let mut l = RateLimits::new(s);
            let mut now = 0;
            let mut admitted: Vec<i64> = Vec::new();
            for g in gaps {
                now += g;
                if l.admit("a", 1, now).is_ok() {
                    admitted.push(now);
                }
                let in_window = admitted.iter().filter(|t| **t > now - 10_000).count();
                prop_assert!(in_window <= max as usize);
            }
        }
    }
}
