//! The request pipeline: every call to HubSpot, attempt after attempt, in named steps.

use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::stream::{self, StreamExt};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tracing::Instrument;

use super::{Backoff, Call, HubSpotClient, Reply};
use crate::hubspot::auth::Credentials;
use crate::hubspot::error::{ApiError, HubSpotErrorBody};
use crate::hubspot::limit::{
    Bucket, Lane, LimitError, Permit, RateGovernor, RateObservation, Throttle,
};
use crate::hubspot::observe::route_of;
use crate::hubspot::retry::{classify, Outcome, RetryAction, RetryKind};

fn record_call(method: &Method, path: &str, status: Option<u16>, correlation_id: Option<&str>) {
    crate::hubspot::observe::report(crate::hubspot::observe::ObservedCall {
        method: method.to_string(),
        route: route_of(path),
        status,
        correlation_id: correlation_id.map(str::to_string),
    });
}

fn retry_after(h: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = h
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()?;
    // `inf`, `NaN` or 1e30 from a hostile or broken server must not panic: a day at most
    // (the client caps what it sits through anyway).
    (v >= 0.0).then(|| Duration::try_from_secs_f64(v.min(86_400.0)).unwrap_or_default())
}

impl HubSpotClient {
    /// Sends one call with every policy applied.
    ///
    /// # Errors
    /// [`ApiError`] once retries are exhausted or not allowed.
    pub async fn execute(&self, call: &Call) -> Result<Reply, ApiError> {
        if call.write {
            self.guard().await?;
        }
        self.execute_unguarded(call).await
    }

    pub(super) async fn execute_unguarded(&self, call: &Call) -> Result<Reply, ApiError> {
        let span = tracing::debug_span!("hubspot", route = %route_of(call.path.as_str()), method = %call.method, lane = ?call.lane, status = tracing::field::Empty, attempt = tracing::field::Empty, waited_ms = tracing::field::Empty, correlation_id = tracing::field::Empty);
        self.attempts(call).instrument(span).await
    }

    /// One call, attempt after attempt, in named steps: [`admit`](Self::admit) (breaker and
    /// governor), [`send`](Self::send), [`read_answer`](Self::read_answer) (headers learned,
    /// the call reported to observers), then [`decode`](Self::decode) a success or classify a
    /// failure ([`transport_failure`](Self::transport_failure),
    /// [`refusal`](Self::refusal)), and [`settle`](Self::settle) it: retry after a pause,
    /// refresh the token and replay once, or give up.
    async fn attempts(&self, call: &Call) -> Result<Reply, ApiError> {
        let url = format!("{}{}", self.inner.settings.base_url, call.path);
        let mut run = Run::new(call.lane);
        loop {
            let slot = if run.throttled > 0 && call.lane == Lane::Interactive {
                // After a 429 an interactive call waits for its turn only until its deadline.
                let deadline = Duration::from_millis(self.inner.settings.interactive_deadline_ms);
                let left = deadline.saturating_sub(run.started.elapsed());
                match tokio::time::timeout(left, self.admit(call, &mut run)).await {
                    Ok(slot) => slot?,
                    Err(_) => {
                        self.inner.metrics.failures.fetch_add(1, Ordering::Relaxed);
                        return Err(ApiError::RateLimited {
                            policy: run.policy.clone(),
                            attempts: run.throttled,
                            waited: run.started.elapsed(),
                            correlation_id: None,
                        });
                    }
                }
            } else {
                self.admit(call, &mut run).await?
            };
            let (token, generation) = self.bearer().await?;
            let sent = self.send(call, &url, &token, &run).await;
            // The slot is held until HubSpot answers (or the attempt is dropped mid-flight).
            drop(slot);
            let failed = match sent {
                Err(e) => self.transport_failure(call, e, run.attempt),
                Ok(res) => match self.read_answer(call, res, run.attempt).await {
                    Err(broke_off) => broke_off,
                    Ok(answer) if answer.is_success() => return self.decode(call, answer, &run),
                    Ok(answer) => self.refusal(call, answer, run.attempt).await,
                },
            };
            if call.once && !matches!(failed.action, RetryAction::RefreshAndReplay) {
                self.inner.metrics.failures.fetch_add(1, Ordering::Relaxed);
                return Err(failed.error);
            }
            self.settle(failed, generation, &mut run).await?;
        }
    }

    /// Step 1: the breaker admits the call and the governor gives it a permit.
    async fn admit(&self, call: &Call, run: &mut Run) -> Result<Slot<'_>, ApiError> {
        let inner = &self.inner;
        inner.breakers[&call.group]
            .admit()
            .map_err(|r| ApiError::CircuitOpen {
                group: call.group,
                retry_in: r.retry_in,
                last_failure: r.last_failure,
            })?;
        let permit = inner
            .governor
            .acquire(call.lane, call.bucket)
            .await
            .map_err(|e| match e {
                LimitError::DailyExhausted(d) => ApiError::DailyLimit {
                    resets_in: d,
                    correlation_id: None,
                },
                LimitError::Unavailable(message) => ApiError::BudgetUnavailable { message },
            })?;
        run.waited += permit.waited();
        Ok(Slot {
            governor: &*inner.governor,
            permit: Some(permit),
        })
    }

    /// Step 2: one HTTP request.
    async fn send(
        &self,
        call: &Call,
        url: &str,
        token: &SecretString,
        run: &Run,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let inner = &self.inner;
        inner.metrics.requests.fetch_add(1, Ordering::Relaxed);
        let mut req = inner
            .http
            .request(call.method.clone(), url)
            .bearer_auth(token.expose_secret())
            .timeout(Duration::from_millis(inner.settings.timeout_ms));
        if !call.query.is_empty() {
            req = req.query(&call.query);
        }
        if let Some(b) = &call.body {
            req = req.json(b);
        }
        let span = tracing::Span::current();
        span.record("attempt", run.attempt);
        span.record("waited_ms", run.waited.as_millis() as u64);
        inner
            .metrics
            .waited_us
            .fetch_add(run.waited.as_micros() as u64, Ordering::Relaxed);
        req.send().await
    }

    /// Step 3a: no answer (timeout, refused or dropped connection).
    fn transport_failure(&self, call: &Call, e: reqwest::Error, attempt: u32) -> Failed {
        let path = call.path.to_string();
        let (outcome, error) = if e.is_timeout() {
            let after = Duration::from_millis(self.inner.settings.timeout_ms);
            let retried = attempt > 0;
            (
                Outcome::Timeout,
                ApiError::Timeout {
                    path,
                    after,
                    retried,
                },
            )
        } else {
            let outcome = if e.is_connect() {
                Outcome::ConnectFailed
            } else {
                Outcome::Dropped
            };
            let message = e.without_url().to_string();
            let retried = attempt > 0;
            (
                outcome,
                ApiError::Transport {
                    path,
                    message,
                    retried,
                },
            )
        };
        self.inner.breakers[&call.group].failure(&error.to_string());
        record_call(&call.method, call.path.as_str(), None, None);
        Failed {
            action: classify(&outcome, call.safe),
            error,
        }
    }

    /// Step 3b: an answer: the call is reported, rate headers are learned, the body is read.
    async fn read_answer(
        &self,
        call: &Call,
        res: reqwest::Response,
        attempt: u32,
    ) -> Result<Answer, Failed> {
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let correlation_id = headers
            .get("x-hubspot-correlation-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let span = tracing::Span::current();
        span.record("status", status);
        if let Some(c) = &correlation_id {
            span.record("correlation_id", c.as_str());
        }
        record_call(
            &call.method,
            call.path.as_str(),
            Some(status),
            correlation_id.as_deref(),
        );
        if call.bucket == Bucket::Burst {
            self.inner
                .governor
                .observe(Bucket::Burst, &RateObservation::from_headers(&headers));
        }
        match res.bytes().await {
            Ok(bytes) => Ok(Answer {
                status,
                headers,
                correlation_id,
                bytes,
            }),
            Err(e) => {
                let error = ApiError::Transport {
                    path: call.path.to_string(),
                    message: format!("the answer broke off: {}", e.without_url()),
                    retried: attempt > 0,
                };
                if status != 429 {
                    // A busy HubSpot is not a failing one, even when its answer broke off.
                    self.inner.breakers[&call.group].failure(&error.to_string());
                }
                Err(Failed {
                    action: classify(&Outcome::Dropped, call.safe),
                    error,
                })
            }
        }
    }

    /// Step 4a: a 2xx: the breaker and the retry quota hear of it; the body is decoded.
    fn decode(&self, call: &Call, answer: Answer, run: &Run) -> Result<Reply, ApiError> {
        self.inner.breakers[&call.group].success();
        self.inner.quota.refund();
        let body = if answer.bytes.is_empty() {
            Value::Null
        } else {
            let de = &mut serde_json::Deserializer::from_slice(&answer.bytes);
            serde_path_to_error::deserialize(de).map_err(|e| ApiError::Decode {
                path: call.path.to_string(),
                at: e.path().to_string(),
                message: e.inner().to_string(),
                correlation_id: answer.correlation_id.clone(),
            })?
        };
        Ok(Reply {
            status: answer.status,
            body,
            correlation_id: answer.correlation_id,
            waited: run.waited,
        })
    }

    /// Step 4b: HubSpot refused: the error body is read, a 429 tells the governor (and only
    /// the governor: busy is not unwell), the breaker counts HubSpot's faults (not the
    /// request's), and the failure is classified.
    async fn refusal(&self, call: &Call, answer: Answer, attempt: u32) -> Failed {
        let inner = &self.inner;
        let breaker = &inner.breakers[&call.group];
        let Answer {
            status,
            headers,
            correlation_id,
            bytes,
        } = answer;
        let mut body: HubSpotErrorBody =
            serde_json::from_slice(&bytes).unwrap_or_else(|_| HubSpotErrorBody {
                message: String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
                    .trim()
                    .to_string(),
                ..Default::default()
            });
        if body.correlation_id.is_none() {
            body.correlation_id = correlation_id;
        }
        let ra = retry_after(&headers);
        let policy = body.policy_name.clone();
        if status == 429 {
            inner.metrics.throttled.fetch_add(1, Ordering::Relaxed);
            let t = match policy.as_deref() {
                Some("DAILY") => Throttle::Daily { retry_after: ra },
                Some("SECONDLY") => Throttle::Secondly { retry_after: ra },
                _ if call.bucket == Bucket::Search => Throttle::Secondly { retry_after: ra },
                _ => Throttle::Burst { retry_after: ra },
            };
            inner.governor.throttled(t);
            breaker.busy();
        } else if status >= 500 || status == 423 || status == 477 {
            breaker.failure(&format!("{status} {}", body.message));
        } else {
            // The request's own fault (4xx): HubSpot is healthy.
            breaker.success();
        }
        let action = classify(
            &Outcome::Status {
                status,
                category: body.category.as_deref(),
                policy: policy.as_deref(),
                retry_after: ra,
            },
            call.safe,
        );
        let error = if status == 429 && policy.as_deref() == Some("DAILY") {
            // How long until the daily budget resets, as the governor now knows it (asking
            // it takes no slot).
            let resets_in = inner.governor.daily_reset().or(ra).unwrap_or_default();
            ApiError::DailyLimit {
                resets_in,
                correlation_id: body.correlation_id.clone(),
            }
        } else if status == 429 {
            ApiError::RateLimited {
                policy: policy.unwrap_or_else(|| "unknown".into()),
                attempts: attempt + 1,
                waited: Duration::ZERO,
                correlation_id: body.correlation_id.clone(),
            }
        } else {
            ApiError::Http {
                status,
                path: call.path.to_string(),
                body,
            }
        };
        Failed { action, error }
    }

    /// Step 5: what a failure leads to: `Ok` to try again (after a pause, or a token refresh
    /// and one replay), the error when no retry is allowed.
    async fn settle(
        &self,
        failed: Failed,
        generation: Option<u64>,
        run: &mut Run,
    ) -> Result<(), ApiError> {
        let inner = &self.inner;
        let Failed { action, mut error } = failed;
        let retry = match action {
            RetryAction::Stop => false,
            // A 429 (not DAILY): HubSpot is busy, and the governor now holds every caller back
            // until it has room, so the next admission is the wait. Background work waits it
            // out however long it takes; an interactive call until its deadline.
            _ if matches!(error, ApiError::RateLimited { .. }) => {
                run.throttled += 1;
                let deadline = Duration::from_millis(inner.settings.interactive_deadline_ms);
                if let ApiError::RateLimited {
                    attempts,
                    waited,
                    policy,
                    ..
                } = &mut error
                {
                    *attempts = run.throttled;
                    *waited = run.started.elapsed();
                    run.policy = policy.clone();
                }
                inner.metrics.retries.fetch_add(1, Ordering::Relaxed);
                call_lane_waits(run.lane, run.started.elapsed(), deadline)
            }
            RetryAction::RefreshAndReplay => match (&inner.creds, run.replayed) {
                (Credentials::OAuth(session), false) => {
                    run.replayed = true;
                    inner.metrics.auth_replays.fetch_add(1, Ordering::Relaxed);
                    session.refresh(generation).await?;
                    true
                }
                _ => false,
            },
            action => {
                self.pause(action, &mut run.attempt, inner.settings.backoff)
                    .await
            }
        };
        if retry {
            Ok(())
        } else {
            inner.metrics.failures.fetch_add(1, Ordering::Relaxed);
            Err(error)
        }
    }

    /// Waits before a retry; `false` when no retry is allowed (attempts, quota, wait too long).
    async fn pause(&self, action: RetryAction, attempt: &mut u32, backoff: Backoff) -> bool {
        if *attempt + 1 >= backoff.max_attempts {
            return false;
        }
        let wait = match action {
            RetryAction::RetryAfter(d) => {
                if d > Duration::from_millis(backoff.max_retry_after_ms)
                    || !self.inner.quota.try_spend(RetryKind::Throttled)
                {
                    return false;
                }
                d
            }
            RetryAction::Backoff(kind) => {
                if !self.inner.quota.try_spend(kind) {
                    tracing::warn!("retry quota empty: returning the failure instead of retrying");
                    return false;
                }
                backoff.delay(*attempt, &mut rand::thread_rng())
            }
            _ => return false,
        };
        self.inner.metrics.retries.fetch_add(1, Ordering::Relaxed);
        *attempt += 1;
        tokio::time::sleep(wait).await;
        true
    }

    /// Runs calls with up to four in flight, answers in order.
    pub(super) async fn run_all(&self, calls: Vec<Call>) -> Vec<Result<Reply, ApiError>> {
        stream::iter(calls)
            .map(|call| async move { self.execute(&call).await })
            .buffered(4)
            .collect()
            .await
    }

    /// Sends and decodes.
    ///
    /// # Errors
    /// As [`execute`](Self::execute), or a decode error naming the JSON path.
    pub async fn fetch<T: DeserializeOwned>(&self, call: &Call) -> Result<T, ApiError> {
        let reply = self.execute(call).await?;
        serde_path_to_error::deserialize(reply.body).map_err(|e| ApiError::Decode {
            path: call.path.to_string(),
            at: e.path().to_string(),
            message: e.inner().to_string(),
            correlation_id: reply.correlation_id,
        })
    }
}

/// Whether a call that met a busy HubSpot tries again: background work always does (it
/// finishes under pressure); an interactive call while its deadline has not passed.
fn call_lane_waits(lane: Lane, elapsed: Duration, deadline: Duration) -> bool {
    lane == Lane::Background || elapsed < deadline
}

/// Where a call's attempts stand.
#[derive(Debug)]
struct Run {
    lane: Lane,
    started: tokio::time::Instant,
    /// 429s met so far (they do not count as attempts: they are waited out), and the last
    /// one's policy.
    throttled: u32,
    policy: String,
    attempt: u32,
    /// The token was refreshed and the call replayed once already.
    replayed: bool,
    /// Time spent waiting for the governor, over every attempt.
    waited: Duration,
}

/// HubSpot's answer, read.
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    correlation_id: Option<String>,
    bytes: bytes::Bytes,
}

impl Run {
    fn new(lane: Lane) -> Self {
        Self {
            lane,
            started: tokio::time::Instant::now(),
            throttled: 0,
            policy: String::new(),
            attempt: 0,
            replayed: false,
            waited: Duration::ZERO,
        }
    }
}

impl Answer {
    fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A failed attempt: what to do about it, and the error to return if nothing is done.
struct Failed {
    action: RetryAction,
    error: ApiError,
}

/// The permit of one attempt; released when the attempt ends, however it ends.
struct Slot<'a> {
    governor: &'a dyn RateGovernor,
    permit: Option<Permit>,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Some(permit) = self.permit.take() {
            self.governor.release(permit);
        }
    }
}
