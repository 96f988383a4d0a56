//! Sync's background steps (backfill, catch-up, reconcile) finish under pressure: each step
//! runs until it succeeds or fails for a reason waiting cannot fix. HubSpot's failures are
//! judged by [`crate::hubspot::patience`] (an open breaker is waited out for the time it says,
//! an outage with jittered backoff; refused credentials, a spent daily budget and a request
//! HubSpot calls wrong stop the job, with the reason); the queue or index being away is
//! waited out too. Every wait is logged.

use std::time::Duration;

use super::error::SyncError;
use crate::hubspot::patience::{after_failure, Next};

/// Runs `attempt` until it succeeds or fails for good (see the module docs).
///
/// # Errors
/// The failure that waiting cannot fix.
pub async fn until_permanent<T, E, F, Fut>(
    ty: &str,
    what: &str,
    mut attempt: F,
) -> Result<T, SyncError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
    SyncError: From<E>,
{
    let mut waits = 0u32;
    loop {
        let e = match attempt().await.map_err(SyncError::from) {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let wait = match &e {
            SyncError::HubSpot(api) => match after_failure(api, waits) {
                Next::Wait(d) => d,
                Next::Stop => return Err(e),
            },
            e if e.is_transient() => Duration::from_millis((500u64 << waits.min(6)).min(30_000)),
            _ => return Err(e),
        };
        waits += 1;
        tracing::warn!(object_type = ty, step = what, error = %e, wait_ms = wait.as_millis() as u64, "sync waits before trying again");
        tokio::time::sleep(wait).await;
    }
}
