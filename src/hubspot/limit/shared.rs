//! [`RedisGovernor`]: one HubSpot budget for every process on every machine.
//!
//! Design (measured facts in `../shared/docs/scale-out.md`):
//! - **Exact.** Each bucket is a sliding-window log (a ZSET of admission times) in Redis,
//!   trimmed, counted and added to in one Lua script (`shared.lua`) that reads "now" from
//!   Redis's own `TIME`, so no machine's clock decides. GCRA would admit about 2N−1 in a
//!   window; it only paces background work here, under the log. A search spends the search
//!   budget (5/s) and the daily count, not the burst window: HubSpot's burst limit "excludes
//!   the CRM Search API" (`../shared/docs/hubspot-api.md` §9a), and the sandbox enforces the
//!   same, so charging searches to the burst would waste up to 50 of its 190 slots.
//! - **In flight counts.** An admitted request is logged at `now + hold` (the request
//!   timeout) and rescored at its answer's time on release: HubSpot counts a request somewhere
//!   between our send and its answer, so this never undercounts. A process that dies mid-call
//!   leaves an entry that expires by itself.
//! - **Lanes across processes.** An interactive caller that has to wait registers in a waiters
//!   ZSET (scored by expiry, refreshed while it waits); the script admits no background work
//!   while any live waiter exists, in any process.
//! - **One backoff.** A 429 seen by any process sets a shared cooldown key (PX = `Retry-After`,
//!   or the window filled as HubSpot's count says), so every process backs off. Rate headers
//!   revealing traffic the log does not know (another integration on the portal) add
//!   phantom entries for everyone.
//! - **Redis away.** Every Redis call has a short timeout (`timeout_ms`), so no caller stalls
//!   on the client's reconnect backoff. On a failure the process falls back to a local
//!   sliding log sized `floor(limit / processes last seen)` (processes heartbeat into a ZSET
//!   while Redis is up), counted as already full for its share of the window, because what
//!   the others spent is unknown. It never runs unlimited. A background probe notices Redis
//!   again; the process then hands its local log to the shared one and rejoins. The mode is
//!   logged, in [`GovernorSnapshot`] (metrics) and in `sync --status`. With
//!   `when_redis_is_down = "refuse"` calls fail with [`LimitError::Unavailable`] instead.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures::future::BoxFuture;
use parking_lot::Mutex;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::Notify;

use super::{
    Bucket, GovernorMode, GovernorSettings, GovernorSnapshot, Lane, LimitError, LocalGovernor,
    Permit, RateGovernor, RateObservation, Throttle, Ticket,
};
use crate::time::SharedClock;

/// What a process does while Redis is unreachable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WhenRedisIsDown {
    /// Run on a conservative local share of the budget (the default).
    #[default]
    Share,
    /// Refuse calls until Redis returns.
    Refuse,
}

/// `[governor]`: where the budget is shared.
#[derive(Clone, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SharedSettings {
    /// `redis://host:port/db`; none keeps the budget in this process. It may carry a
    /// password, so it is a secret (never logged). `HUBSPOT_MCP_GOVERNOR__REDIS_URL`.
    #[serde(skip_serializing)]
    pub redis_url: Option<SecretString>,
    /// Key prefix: one per HubSpot app (the budget is per app and account).
    pub prefix: String,
    /// The longest any one Redis call may take before the process falls back.
    pub timeout_ms: u64,
    /// Processes assumed to share the budget when Redis has never been reached.
    pub fallback_processes: u32,
    pub when_redis_is_down: WhenRedisIsDown,
    /// How often a process says it is alive (and, while in fallback, probes Redis).
    pub heartbeat_ms: u64,
}

impl Default for SharedSettings {
    fn default() -> Self {
        Self {
            redis_url: None,
            prefix: "hubspot-mcp".into(),
            timeout_ms: 100,
            fallback_processes: 4,
            when_redis_is_down: WhenRedisIsDown::Share,
            heartbeat_ms: 1_000,
        }
    }
}

impl std::fmt::Debug for SharedSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedSettings")
            .field("redis_url", &self.redis_url.as_ref().map(|_| "[redacted]"))
            .field("prefix", &self.prefix)
            .field("timeout_ms", &self.timeout_ms)
            .field("fallback_processes", &self.fallback_processes)
            .field("when_redis_is_down", &self.when_redis_is_down)
            .finish()
    }
}

/// Redis's address without its credentials (user, password, query), for logs and status.
pub fn redacted_url(url: &SecretString) -> String {
    let u = url.expose_secret();
    let u = u.split(['?', '#']).next().unwrap_or_default();
    match (u.find("://"), u.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://…@{}", &u[..s], &u[at + 1..]),
        _ => u.to_string(),
    }
}

const ADMIT: &str = include_str!("shared.lua");

/// Rescores an answered request at the answer's time (only ever earlier: `LT`).
const RELEASE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for _, key in ipairs(KEYS) do redis.call('ZADD', key, 'XX', 'LT', now, ARGV[1]) end
return 1";

/// A 429: every process waits `ARGV[1]` ms; with `ARGV[2] == '1'` the burst window is also
/// counted full (HubSpot counted more than the log did).
const COOLDOWN: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ms = tonumber(ARGV[1])
if ms > redis.call('PTTL', KEYS[1]) then redis.call('SET', KEYS[1], '1', 'PX', ms) end
if ARGV[2] == '1' then
  local iv = tonumber(ARGV[4])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - iv)
  local n = redis.call('ZCARD', KEYS[2])
  for k = n + 1, tonumber(ARGV[3]) do redis.call('ZADD', KEYS[2], now, ARGV[5] .. ':' .. k) end
  redis.call('PEXPIRE', KEYS[2], iv * 3)
end
return 1";

/// Rate headers say `ARGV[1]` requests are in the window: add what the log lacks beyond the
/// margin `ARGV[2]`, spread over the window so they free one at a time.
const PHANTOMS: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local used, margin, iv = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - iv)
local n = redis.call('ZCARD', KEYS[1])
if used <= n + margin then return 0 end
local missing = used - n
local step = math.floor(iv / (missing + 1))
for k = 1, missing do redis.call('ZADD', KEYS[1], now - iv + step * k, ARGV[4] .. ':' .. k) end
redis.call('PEXPIRE', KEYS[1], iv * 3)
return missing";

/// Adds a rejoining process's recent requests (`ARGV[2..]` are ages in ms) to a log.
const MERGE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], now - tonumber(ARGV[i]), ARGV[1] .. ':' .. i) end
redis.call('PEXPIRE', KEYS[1], 30000)
return #ARGV - 1";

/// A process is alive: returns how many were alive in the last `ARGV[2]` ms.
const HEARTBEAT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
return redis.call('ZCARD', KEYS[1])";

struct Scripts {
    admit: Script,
    release: Script,
    cooldown: Script,
    phantoms: Script,
    merge: Script,
    heartbeat: Script,
}

/// The budget as this process knows it (configured, then learned from HubSpot's headers).
#[derive(Debug, Clone, Copy)]
struct Budget {
    burst_max: u32,
    margin: u32,
    interval_ms: i64,
    search: u32,
    daily: Option<u64>,
}

impl Budget {
    fn capacity(&self) -> u32 {
        self.burst_max.saturating_sub(self.margin).max(1)
    }
    fn spacing_ms(&self) -> i64 {
        (self.interval_ms / i64::from(self.capacity())).max(1)
    }
}

enum Mode {
    Shared,
    /// Redis failed: a local share, and when it started.
    Fallback {
        local: Arc<LocalGovernor>,
    },
}

struct Inner {
    conn: ConnectionManager,
    settings: SharedSettings,
    base: GovernorSettings,
    clock: SharedClock,
    scripts: Scripts,
    process: String,
    budget: Mutex<Budget>,
    mode: Mutex<Mode>,
    /// Processes seen alive in Redis (0: never reached).
    processes: AtomicU32,
    next: AtomicU64,
    notify: Notify,
    throttled: AtomicU64,
    waiting_interactive: AtomicU32,
    last_in_window: AtomicU32,
    /// When this process's own shared admissions were made (local clock), per bucket, for the
    /// last window: carried into a fallback, so a process that was busy stays within what it
    /// already spent.
    own: Mutex<[std::collections::VecDeque<i64>; 2]>,
    /// 429 cooldowns this process saw, until the shared ones are surely set: (burst, search).
    cooldown: Mutex<(Option<tokio::time::Instant>, Option<tokio::time::Instant>)>,
}

/// The cross-process governor (see the module docs).
#[derive(Clone)]
pub struct RedisGovernor {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RedisGovernor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisGovernor")
            .field("prefix", &self.inner.settings.prefix)
            .field("process", &self.inner.process)
            .finish_non_exhaustive()
    }
}

/// Key names, all under one hash tag so a Redis Cluster keeps them in one slot.
fn key(prefix: &str, name: &str) -> String {
    format!("{{{prefix}}}:{name}")
}

const DAY_MS: i64 = 86_400_000;

impl RedisGovernor {
    /// A governor sharing `base`'s budget through Redis. Never waits for Redis: an unreachable
    /// server means starting in fallback; only a malformed URL is an error.
    ///
    /// # Errors
    /// The URL cannot be parsed or names an unsupported scheme.
    pub fn new(
        base: GovernorSettings,
        settings: SharedSettings,
        clock: SharedClock,
    ) -> Result<Self, String> {
        let url = settings
            .redis_url
            .as_ref()
            .ok_or("no redis_url is configured")?;
        let client = redis::Client::open(url.expose_secret())
            .map_err(|e| format!("[governor] redis_url is not a Redis URL: {e}"))?;
        let timeout = Duration::from_millis(settings.timeout_ms.max(1));
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| format!("cannot set up the Redis connection: {e}"))?;
        let margin = base.margin.unwrap_or_else(|| (base.burst_max / 50).max(1));
        let budget = Budget {
            burst_max: base.burst_max,
            margin,
            interval_ms: base.interval_ms,
            search: base.search_per_second,
            daily: base.daily,
        };
        let process = format!("{}:{}", std::process::id(), uuid::Uuid::new_v4().simple());
        let inner = Arc::new(Inner {
            conn,
            scripts: Scripts {
                admit: Script::new(ADMIT),
                release: Script::new(RELEASE),
                cooldown: Script::new(COOLDOWN),
                phantoms: Script::new(PHANTOMS),
                merge: Script::new(MERGE),
                heartbeat: Script::new(HEARTBEAT),
            },
            settings,
            base,
            clock,
            process,
            budget: Mutex::new(budget),
            mode: Mutex::new(Mode::Shared),
            processes: AtomicU32::new(0),
            next: AtomicU64::new(0),
            notify: Notify::new(),
            throttled: AtomicU64::new(0),
            waiting_interactive: AtomicU32::new(0),
            last_in_window: AtomicU32::new(0),
            cooldown: Mutex::new((None, None)),
            own: Mutex::new([Default::default(), Default::default()]),
        });
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(heartbeat(Arc::downgrade(&inner)));
        }
        Ok(Self { inner })
    }

    /// Where the budget is kept now.
    pub fn mode(&self) -> GovernorMode {
        match *self.inner.mode.lock() {
            Mode::Shared => GovernorMode::Shared,
            Mode::Fallback { .. } => GovernorMode::Fallback,
        }
    }

    /// Says it is alive and reads how many processes share the budget. Used by the heartbeat
    /// and by `sync --status`.
    ///
    /// # Errors
    /// Redis did not answer in time.
    pub async fn heartbeat(&self) -> Result<u32, String> {
        self.inner.beat().await
    }
}

impl Inner {
    fn timeout(&self) -> Duration {
        Duration::from_millis(self.settings.timeout_ms.max(1))
    }

    fn member(&self, kind: &str) -> String {
        format!(
            "{kind}:{}:{}",
            self.process,
            self.next.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// Runs a script with the call timeout; any failure is a string for the log.
    async fn run<T: redis::FromRedisValue>(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<T, String> {
        let mut conn = self.conn.clone();
        match tokio::time::timeout(self.timeout(), invocation.invoke_async(&mut conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!(
                "no answer within {} ms",
                self.timeout().as_millis()
            )),
        }
    }

    async fn beat(&self) -> Result<u32, String> {
        let ttl = (self.settings.heartbeat_ms.max(100) * 5) as i64;
        let mut inv = self
            .scripts
            .heartbeat
            .key(key(&self.settings.prefix, "processes"));
        inv.arg(&self.process).arg(ttl);
        let n: u32 = self.run(&inv).await?;
        self.processes.store(n.max(1), Ordering::Relaxed);
        Ok(n)
    }

    /// The local share while Redis is away: burst slots per window, and search requests per
    /// search window (one per several seconds when the processes outnumber the searches).
    fn share(&self) -> (u32, (u32, i64)) {
        let seen = match self.processes.load(Ordering::Relaxed) {
            0 => self.settings.fallback_processes.max(1),
            n => n,
        };
        let b = *self.budget.lock();
        let search = b.search.max(1);
        let search_share = if search >= seen {
            (search / seen, 1_000)
        } else {
            (1, 1_000 * i64::from(seen.div_ceil(search)))
        };
        ((b.burst_max / seen).max(1), search_share)
    }

    /// Redis failed: switch to the local share (once), and return it.
    fn fall_back(&self, why: &str) -> Arc<LocalGovernor> {
        let mut mode = self.mode.lock();
        if let Mode::Fallback { local } = &*mode {
            return local.clone();
        }
        let (burst, (search, search_interval_ms)) = self.share();
        let b = *self.budget.lock();
        let local = Arc::new(LocalGovernor::new(
            GovernorSettings {
                burst_max: burst,
                interval_ms: b.interval_ms,
                margin: None,
                search_per_second: search,
                search_interval_ms,
                daily: None,
                ..self.base.clone()
            },
            self.clock.clone(),
        ));
        // What this process spent is known: carried over. What the others spent is not: count
        // our share as spent (spread over the window), so the fallback starts at the pace, not
        // with a burst.
        let now = self.clock.now_ms();
        {
            let own = self.own.lock();
            for (bucket, log) in [(Bucket::Burst, &own[0]), (Bucket::Search, &own[1])] {
                let ages: Vec<i64> = log.iter().map(|t| (now - t).max(0)).collect();
                local.seed(bucket, &ages);
            }
        }
        local.assume_spent(burst);
        tracing::warn!(
            reason = why,
            share = burst,
            of = b.burst_max,
            processes = self.processes.load(Ordering::Relaxed),
            "the shared rate budget (Redis) is unreachable: running on a local share until it returns"
        );
        *mode = Mode::Fallback {
            local: local.clone(),
        };
        drop(mode);
        self.notify.notify_waiters();
        local
    }

    fn fallback(&self) -> Option<Arc<LocalGovernor>> {
        match &*self.mode.lock() {
            Mode::Shared => None,
            Mode::Fallback { local } => Some(local.clone()),
        }
    }

    /// Redis answers again: rejoin, then hand the local log over to the shared one. The mode
    /// changes first, so the replaced local share admits nothing after its log was read
    /// (a permit it hands out late is given back and the caller retries in Redis).
    async fn rejoin(&self, local: &LocalGovernor) -> Result<(), String> {
        *self.mode.lock() = Mode::Shared;
        self.notify.notify_waiters();
        for (bucket, name) in [(Bucket::Burst, "burst"), (Bucket::Search, "search")] {
            let ages = local.recent(bucket);
            if ages.is_empty() {
                continue;
            }
            let mut inv = self.scripts.merge.key(key(&self.settings.prefix, name));
            inv.arg(self.member("rejoin"));
            for a in ages {
                inv.arg(a);
            }
            if let Err(e) = self.run::<i64>(&inv).await {
                // Redis went away again at once: back to a local share (a fresh one, which
                // counts its share of the window as spent).
                self.fall_back(&e);
                return Err(e);
            }
        }
        tracing::info!("the shared rate budget (Redis) is back: rejoined it");
        Ok(())
    }

    /// What is left of a 429 cooldown this process saw itself.
    fn local_cooldown(&self, bucket: Bucket) -> Option<Duration> {
        let now = tokio::time::Instant::now();
        let (burst, search) = *self.cooldown.lock();
        let until = match bucket {
            Bucket::Burst => burst,
            Bucket::Search => burst.max(search),
        }?;
        (until > now).then(|| until - now)
    }

    fn day(&self, now: i64) -> (i64, i64) {
        let off = i64::from(self.base.utc_offset_minutes) * 60_000;
        let day = (now + off).div_euclid(DAY_MS);
        (day, (day + 1) * DAY_MS - off - now)
    }

    /// One admission attempt: `Ok(Ok(member))`, `Ok(Err(wait_ms))`, or the error of a spent
    /// daily budget; `Err` when Redis failed.
    async fn try_admit(
        &self,
        lane: Lane,
        bucket: Bucket,
        waiter: &str,
    ) -> Result<Result<Result<String, i64>, LimitError>, String> {
        let b = *self.budget.lock();
        let p = &self.settings.prefix;
        let (day, reset_ms) = self.day(self.clock.now_ms());
        let member = self.member("r");
        let hold = self.base_hold_ms();
        let mut inv = self.scripts.admit.prepare_invoke();
        inv.key(key(p, "burst"))
            .key(key(p, "search"))
            .key(key(p, "pacer"))
            .key(key(p, waiting_key(bucket)))
            .key(key(p, "cooldown:burst"))
            .key(key(p, "cooldown:search"))
            .key(key(p, &format!("daily:{day}")))
            .key(key(p, "daily:blocked"))
            .key(key(p, "pacer:interactive"))
            .arg(match lane {
                Lane::Interactive => "i",
                Lane::Background => "b",
            })
            .arg(match bucket {
                Bucket::Burst => "burst",
                Bucket::Search => "search",
            })
            .arg(&member)
            .arg(b.capacity())
            .arg(b.interval_ms)
            .arg(b.search.max(1))
            .arg(hold)
            .arg(b.spacing_ms())
            .arg(b.spacing_ms() * i64::from(self.base.background_burst))
            .arg(b.daily.unwrap_or(0))
            .arg(reset_ms)
            .arg(waiter)
            .arg(WAITER_TTL_MS)
            .arg(b.spacing_ms() * i64::from(self.base.interactive_burst_slots(b.margin)));
        let (status, ms, used): (i64, i64, u32) = self.run(&inv).await?;
        if bucket == Bucket::Burst {
            self.last_in_window.store(used, Ordering::Relaxed);
        }
        Ok(match status {
            1 => {
                let now = self.clock.now_ms();
                let window = match bucket {
                    Bucket::Burst => b.interval_ms,
                    Bucket::Search => 1_000,
                };
                let mut own = self.own.lock();
                let log = &mut own[usize::from(bucket == Bucket::Search)];
                log.push_back(now);
                while log.front().is_some_and(|t| *t <= now - window) {
                    log.pop_front();
                }
                Ok(Ok(member))
            }
            0 => Ok(Err(ms.max(1))),
            _ => Err(LimitError::DailyExhausted(Duration::from_millis(
                ms.max(0) as u64
            ))),
        })
    }

    /// How long an admitted request's entry counts as in flight if no release comes (the
    /// process died): long enough for any answer.
    fn base_hold_ms(&self) -> i64 {
        60_000
    }

    /// Runs a fire-and-forget script (release, cooldown, phantoms) off the caller's path.
    fn spawn(self: &Arc<Self>, f: impl FnOnce(Arc<Self>) -> BoxFuture<'static, ()>) {
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(f(self.clone()));
        }
    }
}

/// How long an interactive waiter's registration lives without a refresh (it refreshes at
/// every attempt, at most every [`INTERACTIVE_POLL_MS`]).
const WAITER_TTL_MS: i64 = 500;
/// The longest an interactive waiter sleeps between attempts (a release in another process
/// cannot wake it).
const INTERACTIVE_POLL_MS: i64 = 25;
const BACKGROUND_POLL_MS: i64 = 250;

/// Keeps this process counted among the budget's sharers, and while in fallback probes
/// Redis and rejoins. Ends when the governor is dropped.
async fn heartbeat(inner: Weak<Inner>) {
    loop {
        let Some(i) = inner.upgrade() else { return };
        let every = Duration::from_millis(i.settings.heartbeat_ms.max(50));
        match (i.beat().await, i.fallback()) {
            (Ok(_), Some(local)) => {
                if let Err(e) = i.rejoin(&local).await {
                    tracing::debug!(error = %e, "rejoining the shared budget failed; still on the local share");
                }
            }
            (Err(e), None) => {
                i.fall_back(&e);
            }
            _ => {}
        }
        drop(i);
        tokio::time::sleep(every).await;
    }
}

/// Interactive waiters are kept per bucket: one waiting for the burst window holds back
/// background work in that window only, not background searches.
fn waiting_key(bucket: Bucket) -> &'static str {
    match bucket {
        Bucket::Burst => "waiting",
        Bucket::Search => "waiting:search",
    }
}

/// A registered interactive waiter: its entry is removed when the wait ends or is abandoned.
struct Waiter {
    inner: Arc<Inner>,
    member: String,
    bucket: Bucket,
    registered: bool,
}

impl Drop for Waiter {
    fn drop(&mut self) {
        if !self.registered {
            return;
        }
        self.inner
            .waiting_interactive
            .fetch_sub(1, Ordering::Relaxed);
        let member = std::mem::take(&mut self.member);
        let bucket = self.bucket;
        self.inner.spawn(move |i| {
            Box::pin(async move {
                let mut conn = i.conn.clone();
                let k = key(&i.settings.prefix, waiting_key(bucket));
                let _ = tokio::time::timeout(
                    i.timeout(),
                    redis::cmd("ZREM").arg(k).arg(member).exec_async(&mut conn),
                )
                .await;
            })
        });
    }
}

impl RateGovernor for RedisGovernor {
    fn acquire(&self, lane: Lane, bucket: Bucket) -> BoxFuture<'_, Result<Permit, LimitError>> {
        Box::pin(async move {
            let inner = &self.inner;
            let started = tokio::time::Instant::now();
            let mut waiter = Waiter {
                inner: inner.clone(),
                member: inner.member("w"),
                bucket,
                registered: false,
            };
            loop {
                let changed = inner.notify.notified();
                tokio::pin!(changed);
                changed.as_mut().enable();
                if let Some(local) = inner.fallback() {
                    if inner.settings.when_redis_is_down == WhenRedisIsDown::Refuse {
                        return Err(LimitError::Unavailable("Redis does not answer".to_string()));
                    }
                    // Redis may come back while this caller waits: wake on the mode change.
                    tokio::select! {
                        r = local.acquire(lane, bucket) => {
                            let mut permit = r?;
                            let current = inner.fallback();
                            if !current.is_some_and(|c| Arc::ptr_eq(&c, &local)) {
                                // The share was replaced (rejoined) meanwhile: its log was
                                // handed over already, so this permit would count nowhere.
                                local.release(permit);
                                continue;
                            }
                            permit.waited = started.elapsed();
                            return Ok(permit);
                        }
                        () = &mut changed => continue,
                    }
                }
                if let Some(wait) = inner.local_cooldown(bucket) {
                    // A 429 this process just saw: wait here while the shared cooldown is
                    // being set (it is written off the caller's path).
                    tokio::time::sleep(
                        wait.min(Duration::from_millis(INTERACTIVE_POLL_MS as u64 * 4)),
                    )
                    .await;
                    continue;
                }
                let notified = changed;
                match inner.try_admit(lane, bucket, &waiter.member).await {
                    Err(e) => {
                        inner.fall_back(&e);
                    }
                    Ok(Err(e)) => return Err(e),
                    Ok(Ok(Ok(member))) => {
                        return Ok(Permit {
                            bucket,
                            waited: started.elapsed(),
                            ticket: Ticket::Shared { member },
                        })
                    }
                    Ok(Ok(Err(wait_ms))) => {
                        if lane == Lane::Interactive && !waiter.registered {
                            waiter.registered = true;
                            inner.waiting_interactive.fetch_add(1, Ordering::Relaxed);
                        }
                        let cap = match lane {
                            Lane::Interactive => INTERACTIVE_POLL_MS,
                            Lane::Background => BACKGROUND_POLL_MS,
                        };
                        let sleep = Duration::from_millis(wait_ms.min(cap) as u64);
                        tokio::select! {
                            () = tokio::time::sleep(sleep) => {}
                            () = notified => {}
                        }
                    }
                }
            }
        })
    }

    fn release(&self, permit: Permit) {
        let inner = &self.inner;
        match permit.ticket {
            Ticket::Shared { member } => {
                let bucket = permit.bucket;
                inner.spawn(move |i| {
                    Box::pin(async move {
                        let p = &i.settings.prefix;
                        let log = match bucket {
                            Bucket::Burst => "burst",
                            Bucket::Search => "search",
                        };
                        let mut inv = i.scripts.release.key(key(p, log));
                        inv.arg(member);
                        // Unreleased, the entry still expires: it only counts a little longer.
                        let _ = i.run::<i64>(&inv).await;
                        i.notify.notify_waiters();
                    })
                });
            }
            Ticket::Local { .. } => {
                // Issued by the fallback share (the current one; an older one is gone).
                if let Some(local) = inner.fallback() {
                    local.release(permit);
                }
            }
        }
    }

    fn observe(&self, bucket: Bucket, obs: &RateObservation) {
        let inner = &self.inner;
        if let Some(local) = inner.fallback() {
            local.observe(bucket, obs);
        }
        if bucket != Bucket::Burst {
            return;
        }
        let b = {
            let mut b = inner.budget.lock();
            if let Some(max) = obs.max.filter(|m| *m > 0) {
                if max != b.burst_max {
                    tracing::info!(
                        from = b.burst_max,
                        to = max,
                        "HubSpot reports a different burst limit; adopting it"
                    );
                    b.burst_max = max;
                    b.margin = inner.base.margin.unwrap_or((max / 50).max(1));
                }
            }
            if let Some(iv) = obs.interval_ms.filter(|i| *i > 0) {
                b.interval_ms = iv;
            }
            if let Some(limit) = obs.daily {
                b.daily = Some(limit);
            }
            *b
        };
        let (Some(max), Some(rem)) = (obs.max, obs.remaining) else {
            return;
        };
        let used = max.saturating_sub(rem);
        // Only when HubSpot counts more than the shared log could: someone outside it.
        if used <= inner.last_in_window.load(Ordering::Relaxed) + b.margin {
            return;
        }
        self.inner.spawn(move |i| {
            Box::pin(async move {
                let mut inv = i.scripts.phantoms.key(key(&i.settings.prefix, "burst"));
                inv.arg(used)
                    .arg(b.margin)
                    .arg(b.interval_ms)
                    .arg(i.member("ph"));
                let _ = i.run::<i64>(&inv).await;
            })
        });
    }

    fn throttled(&self, t: Throttle) {
        let inner = &self.inner;
        inner.throttled.fetch_add(1, Ordering::Relaxed);
        if let Some(local) = inner.fallback() {
            local.throttled(t);
        }
        let b = *inner.budget.lock();
        let p = inner.settings.prefix.clone();
        let (cooldown_key, ms, fill) = match t {
            Throttle::Burst { retry_after } => match retry_after {
                Some(d) => ("cooldown:burst", d.as_millis() as i64, false),
                // No Retry-After: HubSpot counted more than the log did, so the window is
                // full as far as anyone knows (it frees as the log slides).
                None => ("cooldown:burst", b.spacing_ms(), true),
            },
            Throttle::Secondly { retry_after } => (
                "cooldown:search",
                retry_after.map_or(1_000, |d| d.as_millis() as i64),
                false,
            ),
            Throttle::Daily { retry_after } => {
                let (_, reset) = inner.day(inner.clock.now_ms());
                (
                    "daily:blocked",
                    retry_after.map_or(reset, |d| d.as_millis() as i64),
                    false,
                )
            }
        };
        {
            let until = Some(tokio::time::Instant::now() + Duration::from_millis(ms.max(1) as u64));
            let mut c = inner.cooldown.lock();
            match cooldown_key {
                "cooldown:burst" => c.0 = c.0.max(until),
                "cooldown:search" => c.1 = c.1.max(until),
                _ => {}
            }
        }
        inner.spawn(move |i| {
            Box::pin(async move {
                let mut inv = i.scripts.cooldown.key(key(&p, cooldown_key));
                inv.key(key(&p, "burst"))
                    .arg(ms.max(1))
                    .arg(if fill { "1" } else { "0" })
                    .arg(b.burst_max)
                    .arg(b.interval_ms)
                    .arg(i.member("full"));
                if let Err(e) = i.run::<i64>(&inv).await {
                    tracing::debug!(error = %e, "could not share a 429 through Redis");
                }
            })
        });
    }

    fn daily_reset(&self) -> Option<Duration> {
        let inner = &self.inner;
        if let Some(local) = inner.fallback() {
            return local.daily_reset();
        }
        // Only asked after a DAILY 429: the budget resets at the account's midnight.
        let (_, reset) = inner.day(inner.clock.now_ms());
        Some(Duration::from_millis(reset.max(0) as u64))
    }

    fn snapshot(&self) -> GovernorSnapshot {
        let inner = &self.inner;
        let b = *inner.budget.lock();
        let fallback = inner.fallback();
        let local = fallback.as_ref().map(|l| l.snapshot());
        GovernorSnapshot {
            burst_capacity: local.as_ref().map_or(b.capacity(), |l| l.burst_capacity),
            burst_in_window: local
                .as_ref()
                .map_or(inner.last_in_window.load(Ordering::Relaxed), |l| {
                    l.burst_in_window
                }),
            search_capacity: local.as_ref().map_or(b.search, |l| l.search_capacity),
            daily_remaining: None,
            waiting_interactive: inner.waiting_interactive.load(Ordering::Relaxed),
            throttled_429s: inner.throttled.load(Ordering::Relaxed),
            mode: if fallback.is_some() {
                GovernorMode::Fallback
            } else {
                GovernorMode::Shared
            },
            processes: inner.processes.load(Ordering::Relaxed).max(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fallback share never adds up to more than the limit, search included: eight
    /// processes share 5 searches per second as one each every two seconds.
    #[tokio::test]
    async fn the_fallback_share_never_exceeds_the_limit() {
        let g = RedisGovernor::new(
            GovernorSettings::default(),
            SharedSettings {
                redis_url: Some(SecretString::from("redis://127.0.0.1:1/".to_string())),
                ..Default::default()
            },
            Arc::new(crate::time::SystemClock),
        )
        .unwrap();
        for (processes, burst, search) in [
            (1, 190, (5, 1_000)),
            (3, 63, (1, 1_000)),
            (8, 23, (1, 2_000)),
            (11, 17, (1, 3_000)),
        ] {
            g.inner.processes.store(processes, Ordering::Relaxed);
            let (b, (n, every_ms)) = g.inner.share();
            assert_eq!((b, (n, every_ms)), (burst, search), "{processes} processes");
            assert!(b * processes <= 190);
            assert!(f64::from(n * processes) * 1_000.0 / every_ms as f64 <= 5.0);
        }
    }

    #[test]
    fn redis_urls_are_printed_without_credentials() {
        for (url, shown) in [
            (
                "redis://:s3cret@10.0.0.5:6379/0",
                "redis://…@10.0.0.5:6379/0",
            ),
            ("rediss://user:s3cret@host/1", "rediss://…@host/1"),
            (
                "redis+unix:///run/redis.sock?pass=s3cret&db=2",
                "redis+unix:///run/redis.sock",
            ),
            ("redis://127.0.0.1:6379/", "redis://127.0.0.1:6379/"),
        ] {
            let printed = redacted_url(&SecretString::from(url.to_string()));
            assert_eq!(printed, shown);
            assert!(!printed.contains("s3cret"));
        }
        let s = SharedSettings {
            redis_url: Some(SecretString::from("redis://:s3cret@h/".to_string())),
            ..Default::default()
        };
        assert!(!format!("{s:?}").contains("s3cret"));
    }
}
