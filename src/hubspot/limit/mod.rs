//! The rate governor: one budget for every worker that talks to HubSpot.
//!
//! HubSpot limits an app to N requests in any 10-second window (110/100/190/250 by app kind),
//! an account to a daily count, and search to 5 requests/s. Independent workers that each
//! believe they own the budget are why integrations hit 429s; here every request asks one
//! [`RateGovernor`] first, and hands the [`Permit`] it got back through
//! [`release`](RateGovernor::release) when HubSpot has answered (or the request was dropped).
//! (tower's `RateLimit` keeps its window per service value and clones do not share it, so it
//! cannot do this job.)
//!
//! Two backends sit behind the trait, one per file:
//! - [`local`]: [`LocalGovernor`], the embedded default, one budget per process: an exact
//!   sliding log, a pacer for background work, and interactive callers first.
//! - [`shared`]: [`RedisGovernor`], one budget for every process on every machine, claimed in
//!   one Lua script on Redis's own clock, with a conservative local share while Redis is away.
//!
//! Both learn from HubSpot's answers: `X-HubSpot-RateLimit-*` headers reveal the real limit and
//! other consumers, and a 429 backs off every caller that shares the governor. A 429 is a
//! signal to slow down, never a fault: the circuit breakers do not hear of it.

use std::time::Duration;

use futures::future::BoxFuture;
use serde::Serialize;

/// Who is asking: interactive tool calls are served before background sync work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lane {
    Interactive,
    Background,
}

/// Which budget a request spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    /// The ten-second window every non-search request counts against.
    Burst,
    /// The search API's own per-second limit.
    Search,
}

/// What a response said about the budget.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateObservation {
    pub max: Option<u32>,
    pub remaining: Option<u32>,
    pub interval_ms: Option<i64>,
    pub daily: Option<u64>,
    pub daily_remaining: Option<u64>,
}

impl RateObservation {
    /// Reads the `X-HubSpot-RateLimit-*` headers.
    pub fn from_headers(h: &reqwest::header::HeaderMap) -> Self {
        fn num<T: std::str::FromStr>(h: &reqwest::header::HeaderMap, n: &str) -> Option<T> {
            h.get(n)?.to_str().ok()?.trim().parse().ok()
        }
        Self {
            max: num(h, "x-hubspot-ratelimit-max"),
            remaining: num(h, "x-hubspot-ratelimit-remaining"),
            interval_ms: num(h, "x-hubspot-ratelimit-interval-milliseconds"),
            daily: num(h, "x-hubspot-ratelimit-daily"),
            daily_remaining: num(h, "x-hubspot-ratelimit-daily-remaining"),
        }
    }
}

/// A 429 the governor must respect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttle {
    /// `TEN_SECONDLY_ROLLING` or an unknown burst policy.
    Burst { retry_after: Option<Duration> },
    /// `SECONDLY` (search).
    Secondly { retry_after: Option<Duration> },
    /// `DAILY`: nothing until the reset.
    Daily { retry_after: Option<Duration> },
}

/// Why a permit was refused outright.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// The daily budget is spent.
    #[error("the daily budget is spent; it resets in {0:?}")]
    DailyExhausted(Duration),
    /// The shared budget cannot be reached and the configuration says to refuse rather than
    /// run on a local share.
    #[error("the shared rate budget (Redis) is unavailable: {0}")]
    Unavailable(String),
}

/// Where the budget is kept right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GovernorMode {
    /// In this process only (no shared backend configured).
    Local,
    /// In Redis, shared by every process.
    Shared,
    /// Redis is unreachable: a conservative local share (the limit divided by the processes
    /// last seen) until it returns.
    Fallback,
}

/// A slot in the budget, admitted by [`RateGovernor::acquire`] for one request. Hand it back
/// to [`RateGovernor::release`] when the request was answered or will not be sent: its slot
/// then counts from that moment. A permit can only be released once, and only by the
/// governor that issued it (anything else releases nothing).
#[derive(Debug)]
#[must_use = "a permit holds a slot until it is released"]
pub struct Permit {
    bucket: Bucket,
    waited: Duration,
    ticket: Ticket,
}

/// Which backend holds a permit's slot.
#[derive(Debug)]
enum Ticket {
    /// A [`LocalGovernor`]'s in-flight entry: the governor's and the entry's ids.
    Local { governor: u64, id: u64 },
    /// A member of the shared logs in Redis.
    Shared { member: String },
}

impl Permit {
    /// The budget it spends.
    pub fn bucket(&self) -> Bucket {
        self.bucket
    }
    /// How long the caller waited for it.
    pub fn waited(&self) -> Duration {
        self.waited
    }
}

/// A snapshot for metrics and tests.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct GovernorSnapshot {
    pub burst_capacity: u32,
    pub burst_in_window: u32,
    pub search_capacity: u32,
    pub daily_remaining: Option<u64>,
    pub waiting_interactive: u32,
    pub throttled_429s: u64,
    pub mode: GovernorMode,
    /// Processes sharing the budget, as last seen in Redis (1 when local).
    pub processes: u32,
}

/// The shared limiter every request asks first.
pub trait RateGovernor: Send + Sync + std::fmt::Debug {
    /// Waits for a slot in `bucket` and returns it.
    ///
    /// # Cancel safety
    /// Cancel-safe: a cancelled wait takes no slot.
    fn acquire(&self, lane: Lane, bucket: Bucket) -> BoxFuture<'_, Result<Permit, LimitError>>;
    /// The request `permit` admitted was answered, or will not be sent: its slot now counts
    /// from this moment. The client does it from a drop guard, so a cancelled request is
    /// released too.
    fn release(&self, permit: Permit);
    /// Learns from a response's rate headers.
    fn observe(&self, bucket: Bucket, obs: &RateObservation);
    /// Learns from a 429.
    fn throttled(&self, t: Throttle);
    /// Current numbers.
    fn snapshot(&self) -> GovernorSnapshot;
    /// When the spent daily budget resets, if it is known to be spent. Never takes a slot.
    fn daily_reset(&self) -> Option<Duration> {
        None
    }
}

/// Settings of the local governor.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GovernorSettings {
    /// Requests per `interval` (the app kind's number; headers override it).
    pub burst_max: u32,
    pub interval_ms: i64,
    /// Slots kept free for skew and in-flight requests: `max(1, max / 50)` when `None`.
    pub margin: Option<u32>,
    /// Search requests per `search_interval_ms` (HubSpot: 5 per second).
    pub search_per_second: u32,
    /// The search window: 1,000 ms, longer only for a fallback share smaller than one
    /// search per second.
    pub search_interval_ms: i64,
    /// Daily budget, if any.
    pub daily: Option<u64>,
    /// Background burst allowance, in slots. Zero keeps background requests evenly spaced, so
    /// slots in the window free one at a time and an interactive caller never lands behind a
    /// cluster of background requests that used (and will free) several slots at once.
    pub background_burst: u32,
    /// Interactive burst allowance, in slots: an idle window lets this many interactive
    /// requests through at once, then interactive requests are paced at the window's rate.
    /// Default: a fifth of the window. A window spent in one burst frees in one burst ten
    /// seconds later, and agents that arrive in between wait most of a window; paced, a busy
    /// window frees a slot every `interval / max`.
    pub interactive_burst: Option<u32>,
    /// The account's UTC offset, for the daily reset.
    pub utc_offset_minutes: i32,
}

impl GovernorSettings {
    /// The interactive burst in slots (see [`interactive_burst`](Self::interactive_burst)).
    pub fn interactive_burst_slots(&self, margin: u32) -> u32 {
        self.interactive_burst
            .unwrap_or_else(|| (self.burst_max.saturating_sub(margin) / 5).max(1))
    }
}

impl Default for GovernorSettings {
    fn default() -> Self {
        Self {
            burst_max: 190,
            interval_ms: 10_000,
            margin: None,
            search_per_second: 5,
            search_interval_ms: 1_000,
            daily: None,
            background_burst: 0,
            interactive_burst: None,
            utc_offset_minutes: 0,
        }
    }
}

mod local;
mod shared;

pub use local::LocalGovernor;
pub use shared::{redacted_url, RedisGovernor, SharedSettings, WhenRedisIsDown};
