//! Circuit breakers, one per endpoint group (objects, search, associations, metadata, oauth).
//!
//! `Closed` counts outcomes; it opens after `consecutive` failures in a row or when the
//! failure rate over the last `window` calls reaches `rate`. `Open` fails fast with a clear
//! error until `open_for` passes, then `HalfOpen` lets one probe through: success closes it,
//! failure reopens it for twice as long (capped). Failures are what say HubSpot is unwell:
//! 5xx, timeouts and dropped connections, never a 4xx caused by the request itself, and never
//! a 429: a 429 says HubSpot is healthy but busy, which is the rate governor's business
//! ([`CircuitBreaker::busy`]). Counting 429s here once turned another process's burst into
//! failed tool calls for everyone.
//! State changes are logged and counted.

use std::collections::VecDeque;
use std::time::Duration;

use parking_lot::Mutex;
use serde::Serialize;

use super::error::EndpointGroup;
use crate::time::SharedClock;

/// Breaker settings.
#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerSettings {
    pub consecutive: u32,
    pub window: usize,
    pub rate: f64,
    pub open_ms: i64,
    pub max_open_ms: i64,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        Self {
            consecutive: 5,
            window: 40,
            rate: 0.6,
            open_ms: 2_000,
            max_open_ms: 30_000,
        }
    }
}

/// The visible state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

/// How long one half-open probe may stay unanswered before another is admitted (longer than
/// any request's timeout).
const PROBE_TTL_MS: i64 = 35_000;

#[derive(Debug)]
enum Inner {
    Closed {
        consecutive: u32,
    },
    Open {
        until: i64,
        next_open_ms: i64,
    },
    /// `probing_since`: when the one probe in flight was admitted. A probe whose caller gave
    /// up (its future dropped before `success` or `failure`) must not keep the breaker shut,
    /// so after [`PROBE_TTL_MS`] another probe is let through.
    HalfOpen {
        probing_since: Option<i64>,
        next_open_ms: i64,
    },
}

#[derive(Debug)]
struct State {
    inner: Inner,
    recent: VecDeque<bool>,
    last_failure: String,
    opened: u64,
}

/// One breaker.
#[derive(Debug)]
pub struct CircuitBreaker {
    group: EndpointGroup,
    settings: BreakerSettings,
    clock: SharedClock,
    state: Mutex<State>,
}

/// Refused: the breaker is open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub retry_in: Duration,
    pub last_failure: String,
}

impl CircuitBreaker {
    /// A closed breaker.
    pub fn new(group: EndpointGroup, settings: BreakerSettings, clock: SharedClock) -> Self {
        let state = State {
            inner: Inner::Closed { consecutive: 0 },
            recent: VecDeque::new(),
            last_failure: String::new(),
            opened: 0,
        };
        Self {
            group,
            settings,
            clock,
            state: Mutex::new(state),
        }
    }

    /// May a call go ahead?
    ///
    /// # Errors
    /// [`Rejected`] while open, or while half-open with a probe in flight.
    pub fn admit(&self) -> Result<(), Rejected> {
        let now = self.clock.now_ms();
        let mut st = self.state.lock();
        match st.inner {
            Inner::Closed { .. } => Ok(()),
            Inner::Open {
                until,
                next_open_ms,
            } if now >= until => {
                st.inner = Inner::HalfOpen {
                    probing_since: Some(now),
                    next_open_ms,
                };
                tracing::info!(
                    group = self.group.name(),
                    "circuit half-open: probing HubSpot"
                );
                Ok(())
            }
            Inner::Open { until, .. } => Err(Rejected {
                retry_in: Duration::from_millis((until - now) as u64),
                last_failure: st.last_failure.clone(),
            }),
            Inner::HalfOpen {
                probing_since,
                next_open_ms,
            } if probing_since.is_none_or(|t| now - t >= PROBE_TTL_MS) => {
                st.inner = Inner::HalfOpen {
                    probing_since: Some(now),
                    next_open_ms,
                };
                Ok(())
            }
            Inner::HalfOpen { .. } => Err(Rejected {
                retry_in: Duration::from_millis(100),
                last_failure: st.last_failure.clone(),
            }),
        }
    }

    /// Records a call that HubSpot answered well (or whose failure was the caller's).
    pub fn success(&self) {
        let mut st = self.state.lock();
        push(&mut st.recent, true, self.settings.window);
        if matches!(st.inner, Inner::HalfOpen { .. }) {
            tracing::info!(
                group = self.group.name(),
                "circuit closed: HubSpot recovered"
            );
            st.recent.clear();
        }
        st.inner = Inner::Closed { consecutive: 0 };
    }

    /// Records a 429: HubSpot answered, so it is up, but busy. Neither a failure nor a
    /// success in the counts (the governor slows down instead); a half-open probe that gets
    /// one has shown HubSpot answers, so the breaker closes.
    pub fn busy(&self) {
        let mut st = self.state.lock();
        if matches!(st.inner, Inner::HalfOpen { .. }) {
            tracing::info!(
                group = self.group.name(),
                "circuit closed: HubSpot answers (busy, not failing)"
            );
            st.recent.clear();
            st.inner = Inner::Closed { consecutive: 0 };
        }
    }

    /// Records a failure that says HubSpot is unwell.
    pub fn failure(&self, what: &str) {
        let now = self.clock.now_ms();
        let mut st = self.state.lock();
        st.last_failure = what.to_string();
        push(&mut st.recent, false, self.settings.window);
        let s = self.settings;
        match st.inner {
            Inner::Closed { consecutive } => {
                let consecutive = consecutive + 1;
                let failures = st.recent.iter().filter(|ok| !**ok).count();
                let rate_hit = st.recent.len() >= s.window
                    && failures as f64 / st.recent.len() as f64 >= s.rate;
                if consecutive >= s.consecutive || rate_hit {
                    st.inner = Inner::Open {
                        until: now + s.open_ms,
                        next_open_ms: (s.open_ms * 2).min(s.max_open_ms),
                    };
                    st.opened += 1;
                    tracing::warn!(
                        group = self.group.name(),
                        consecutive,
                        failures,
                        "circuit open: failing fast for {} ms",
                        s.open_ms
                    );
                } else {
                    st.inner = Inner::Closed { consecutive };
                }
            }
            Inner::HalfOpen { next_open_ms, .. } => {
                st.inner = Inner::Open {
                    until: now + next_open_ms,
                    next_open_ms: (next_open_ms * 2).min(s.max_open_ms),
                };
                st.opened += 1;
                tracing::warn!(
                    group = self.group.name(),
                    "probe failed: circuit open again for {next_open_ms} ms"
                );
            }
            Inner::Open { .. } => {}
        }
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        let now = self.clock.now_ms();
        match self.state.lock().inner {
            Inner::Closed { .. } => BreakerState::Closed,
            Inner::Open { until, .. } if now >= until => BreakerState::HalfOpen,
            Inner::Open { .. } => BreakerState::Open,
            Inner::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// How many times it has opened.
    pub fn times_opened(&self) -> u64 {
        self.state.lock().opened
    }
}

fn push(q: &mut VecDeque<bool>, v: bool, cap: usize) {
    if q.len() == cap {
        q.pop_front();
    }
    q.push_back(v);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::ManualClock;
    use std::sync::Arc;

    fn breaker() -> (CircuitBreaker, ManualClock) {
        let clock = ManualClock::new(0);
        (
            CircuitBreaker::new(
                EndpointGroup::Objects,
                BreakerSettings {
                    consecutive: 3,
                    ..Default::default()
                },
                Arc::new(clock.clone()),
            ),
            clock,
        )
    }

    #[test]
    fn opens_on_consecutive_failures_and_probes_when_half_open() {
        let (b, clock) = breaker();
        for _ in 0..3 {
            assert!(b.admit().is_ok());
            b.failure("503");
        }
        assert_eq!(b.state(), BreakerState::Open);
        let r = b.admit().unwrap_err();
        assert_eq!(r.retry_in, Duration::from_millis(2_000));
        assert_eq!(r.last_failure, "503");
        clock.advance(Duration::from_millis(2_000));
        assert!(b.admit().is_ok(), "one probe");
        assert!(b.admit().is_err(), "only one probe at a time");
        b.failure("503");
        assert_eq!(
            b.admit().unwrap_err().retry_in,
            Duration::from_millis(4_000),
            "reopens for longer"
        );
        clock.advance(Duration::from_millis(4_000));
        assert!(b.admit().is_ok());
        b.success();
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.times_opened(), 2);
    }

    /// A probe whose caller gave up (cancelled, timed out) reports nothing: the breaker lets
    /// another probe through after the probe's time-to-live instead of staying shut for good.
    #[test]
    fn an_abandoned_probe_does_not_keep_the_breaker_shut() {
        let (b, clock) = breaker();
        for _ in 0..3 {
            assert!(b.admit().is_ok());
            b.failure("503");
        }
        clock.advance(Duration::from_millis(2_000));
        assert!(b.admit().is_ok(), "the probe, then its caller vanishes");
        assert!(b.admit().is_err());
        clock.advance(Duration::from_millis(PROBE_TTL_MS as u64));
        assert!(b.admit().is_ok(), "a new probe after the time-to-live");
        b.success();
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn opens_on_failure_rate() {
        let clock = ManualClock::new(0);
        let b = CircuitBreaker::new(
            EndpointGroup::Search,
            BreakerSettings {
                consecutive: 100,
                window: 10,
                rate: 0.5,
                ..Default::default()
            },
            Arc::new(clock),
        );
        for i in 0..11 {
            if i % 2 == 0 {
                b.failure("429");
            } else {
                b.success();
            }
        }
        assert_eq!(b.state(), BreakerState::Open);
    }
}
