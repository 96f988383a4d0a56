//! How background work meets a busy or failing HubSpot: it waits, it does not exit.
//!
//! A backfill, a catch-up, a reconcile or an export runs for minutes or hours, beside agents
//! and other processes that share the budget. Whatever the pressure it finishes: it waits out
//! an open breaker (for the time the breaker says), an outage (backing off with jitter, up to
//! 30 s between tries), a shared budget that is away. Only what waiting cannot fix stops it:
//! credentials HubSpot refuses, a spent daily budget (the error says when it resets), and a
//! request HubSpot calls wrong (4xx), which would fail the same way again.
//! (429s never reach here from the background lane: the client waits them out itself.)

use std::time::Duration;

use rand::Rng;

use super::error::ApiError;

/// What a background job does after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Wait this long, then try the same step again.
    Wait(Duration),
    /// Stop: waiting cannot fix it.
    Stop,
}

/// The decision after the `waits`-th consecutive failure `e`.
pub fn after_failure(e: &ApiError, waits: u32) -> Next {
    let backoff = || {
        let ceiling = (500u64 << waits.min(6)).min(30_000);
        // Full jitter: workers that failed together do not come back together.
        Next::Wait(Duration::from_millis(
            rand::thread_rng().gen_range(ceiling / 2..=ceiling),
        ))
    };
    match e {
        // The token endpoint could not be reached: an outage, not a refusal.
        ApiError::Auth(super::auth::AuthError::Transport(_)) => backoff(),
        ApiError::Auth(_) | ApiError::DailyLimit { .. } | ApiError::ProductionGuard { .. } => {
            Next::Stop
        }
        ApiError::CircuitOpen { retry_in, .. } => {
            Next::Wait(*retry_in + Duration::from_millis(100))
        }
        ApiError::RateLimited { .. } | ApiError::BudgetUnavailable { .. } => {
            Next::Wait(Duration::from_secs(1))
        }
        ApiError::Timeout { .. } | ApiError::Transport { .. } => backoff(),
        ApiError::Http { status, .. } if *status >= 500 || matches!(status, 423 | 429 | 477) => {
            backoff()
        }
        ApiError::Http { .. } | ApiError::Decode { .. } | ApiError::Invalid(_) => Next::Stop,
    }
}

/// Runs `step` until it succeeds or fails for a reason waiting cannot fix, logging each wait
/// under `what`.
///
/// # Errors
/// The failure that stopped it.
pub async fn until_done<T, F, Fut>(what: &str, mut step: F) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ApiError>>,
{
    let mut waits = 0u32;
    loop {
        match step().await {
            Ok(v) => return Ok(v),
            Err(e) => match after_failure(&e, waits) {
                Next::Stop => return Err(e),
                Next::Wait(d) => {
                    waits += 1;
                    tracing::warn!(step = what, error = %e, wait_ms = d.as_millis() as u64, "waiting for HubSpot before trying again");
                    tokio::time::sleep(d).await;
                }
            },
        }
    }
}

/// The next page of a search read, waiting out whatever time fixes (the cursor retries the
/// same page).
///
/// # Errors
/// What waiting cannot fix.
pub async fn next_page(
    pages: &mut super::client::SearchPages,
) -> Result<Option<Vec<super::model::CrmObject>>, ApiError> {
    let mut waits = 0;
    loop {
        match pages.next_page().await {
            Ok(p) => return Ok(p),
            Err(e) => match after_failure(&e, waits) {
                Next::Stop => return Err(e),
                Next::Wait(d) => {
                    waits += 1;
                    tracing::warn!(error = %e, wait_ms = d.as_millis() as u64, "waiting for HubSpot before reading the page again");
                    tokio::time::sleep(d).await;
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hubspot::error::EndpointGroup;

    #[test]
    fn waits_out_what_time_fixes_and_stops_on_what_it_cannot() {
        let open = ApiError::CircuitOpen {
            group: EndpointGroup::Search,
            retry_in: Duration::from_secs(7),
            last_failure: "503".into(),
        };
        assert_eq!(
            after_failure(&open, 0),
            Next::Wait(Duration::from_millis(7_100))
        );
        let outage = ApiError::Timeout {
            path: "/x".into(),
            after: Duration::from_secs(30),
            retried: true,
        };
        match after_failure(&outage, 20) {
            Next::Wait(d) => assert!(d <= Duration::from_secs(30) && d >= Duration::from_secs(15)),
            Next::Stop => panic!("an outage is waited out"),
        }
        let daily = ApiError::DailyLimit {
            resets_in: Duration::from_secs(3600),
            correlation_id: None,
        };
        assert_eq!(after_failure(&daily, 0), Next::Stop);
        assert!(daily.to_string().contains("1 h") || daily.to_string().contains("reset"));
        let bad = ApiError::Invalid("no such property".into());
        assert_eq!(after_failure(&bad, 0), Next::Stop);
    }

    #[tokio::test(start_paused = true)]
    async fn until_done_retries_through_an_open_breaker() {
        let mut calls = 0;
        let r = until_done("test", || {
            calls += 1;
            let n = calls;
            async move {
                if n < 3 {
                    Err(ApiError::CircuitOpen {
                        group: EndpointGroup::Objects,
                        retry_in: Duration::from_secs(30),
                        last_failure: "503".into(),
                    })
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(r.unwrap(), 3);
    }
}
