//! The sync engine: queue → workers → normalize → embed → index, plus search.
//!
//! Apply step (one leased batch):
//! 1. Group the batch's events by object: many events on one record become one refresh
//!    (coalescing; the worker also waits `coalesce_ms` after a wake-up so bursts batch up).
//! 2. Batch-read every touched record (100 per call) and its associations (1,000 per call).
//!    A record the read does not return is gone (deleted, privacy-deleted, merged away): its
//!    vectors and row are removed. Merge losers are removed explicitly.
//! 3. Normalize; skip records whose digest equals the indexed one (so a redelivered event, or a
//!    property change that does not reach the document, writes nothing).
//! 4. Embed the changed records' chunks, upsert them, drop stale chunks, then record the new
//!    digests. Only after all of that are the events acked.
//!
//! A crash anywhere before the ack leaves the events leased; on restart the leases are freed
//! and the batch is applied again. Because step 3 compares digests, applying twice writes the
//! index once: delivery is at-least-once, the effect is exactly-once.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::normalize::{labels, normalize, Canonical, Labels, Mapping};
use super::patience::until_permanent;
use super::seams::{Claim, ClaimRequest, EventQueue, Failed, Leased, RecordRow, RecordState};
use crate::embed::Embedder;
use crate::hubspot::model::{CrmObject, Filter, SearchQuery};
use crate::hubspot::{HubSpotClient, Lane};
use crate::index::{best_per_record, Exactness, Hit, Point, SearchFilter, VectorStore};
use crate::time::SharedClock;

/// Tuning.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineSettings {
    /// Wait this long after a wake-up so that a burst's events share a batch.
    pub coalesce_ms: u64,
    /// Events per leased batch.
    pub batch: usize,
    /// A leased batch not acked within this comes back (a dead worker's batch).
    pub lease_ms: i64,
    /// Dedupe keys are kept this long (HubSpot retries for up to 24 h).
    pub dedupe_retention_hours: i64,
    /// Rebuild HNSW in the background after this many new points.
    pub optimize_after: usize,
    /// HNSW search breadth.
    pub ef: usize,
    /// Catch-up re-reads changes this far before the last event we saw.
    pub catch_up_margin_ms: i64,
    /// Records per backfill block (one association read and one checkpoint per block).
    pub backfill_block: usize,
    /// An event whose apply fails this many times with a permanent error (a 4xx that
    /// retrying cannot fix, a record that cannot be embedded) goes to the dead letters.
    pub max_failures: i64,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            coalesce_ms: 50,
            batch: 1_000,
            lease_ms: 120_000,
            dedupe_retention_hours: 72,
            optimize_after: 5_000,
            ef: 128,
            catch_up_margin_ms: 5 * 60_000,
            backfill_block: 1_000,
            max_failures: 5,
        }
    }
}

pub use super::error::SyncError;

/// Semantic search over an index: embed the query (on the blocking pool, ahead of background
/// work), search, keep each record's best chunk. The one search both the engine and
/// `hubspot-mcp search` run.
///
/// # Errors
/// Embedding or index failures.
pub async fn search_index(
    embedder: Arc<dyn Embedder>,
    store: &dyn VectorStore,
    query: &str,
    k: usize,
    filter: &SearchFilter,
    ef: usize,
) -> Result<Vec<Hit>, SyncError> {
    // Chunks of one record compete for slots: ask for more, keep the best per record.
    let fetch = (k * 3).max(k + 10);
    let ef = ef.max(fetch);
    let q = query.to_string();
    let v = tokio::task::spawn_blocking(move || embedder.embed_for(Lane::Interactive, &[q]))
        .await
        .map_err(|e| SyncError::Task(e.to_string()))??
        .pop()
        .ok_or_else(|| SyncError::Task("the embedder returned no vector".into()))?;
    let hits = store
        .search(&v, fetch, filter, Exactness::Approximate { ef })
        .await?;
    Ok(best_per_record(hits, k))
}

/// The index's records of one type in ascending id order, read from the record state a page
/// at a time.
struct LocalRecords {
    state: Arc<dyn RecordState>,
    object_type: String,
    page: std::collections::VecDeque<(i64, Option<i64>)>,
    after: i64,
    exhausted: bool,
    /// Records handed out so far.
    seen: usize,
}

impl LocalRecords {
    fn new(state: Arc<dyn RecordState>, object_type: String) -> Self {
        Self {
            state,
            object_type,
            page: std::collections::VecDeque::new(),
            after: i64::MIN,
            exhausted: false,
            seen: 0,
        }
    }

    async fn peek(&mut self) -> Result<Option<(i64, Option<i64>)>, SyncError> {
        if self.page.is_empty() && !self.exhausted {
            let rows = self
                .state
                .record_versions_page(&self.object_type, self.after, 1_000)
                .await?;
            self.exhausted = rows.len() < 1_000;
            if let Some((last, _)) = rows.last() {
                self.after = *last;
            }
            self.page.extend(rows);
        }
        Ok(self.page.front().copied())
    }

    fn advance(&mut self) {
        if self.page.pop_front().is_some() {
            self.seen += 1;
        }
    }
}

/// How long a failing event waits before its next attempt: 1 s doubling to 5 min.
fn failure_backoff_ms(failures: i64) -> i64 {
    (1_000i64 << failures.clamp(0, 9)).min(300_000)
}

/// What one refresh did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Applied {
    pub read: usize,
    pub upserted: usize,
    pub unchanged: usize,
    pub deleted: usize,
    pub chunks: usize,
}

impl std::ops::AddAssign for Applied {
    fn add_assign(&mut self, o: Self) {
        self.read += o.read;
        self.upserted += o.upserted;
        self.unchanged += o.unchanged;
        self.deleted += o.deleted;
        self.chunks += o.chunks;
    }
}

/// Counters for `/readyz`, `sync --status` and the benchmarks.
#[derive(Debug, Default)]
pub struct EngineStats {
    pub batches: AtomicU64,
    pub events: AtomicU64,
    pub upserted: AtomicU64,
    pub unchanged: AtomicU64,
    pub deleted: AtomicU64,
    pub embedded_texts: AtomicU64,
    pub optimizations: AtomicU64,
    pub apply_errors: AtomicU64,
    pub dead_lettered: AtomicU64,
    /// Events older than their object's last applied change: acked without a read.
    pub superseded: AtomicU64,
    /// Acks refused because another worker had reclaimed the events (this one was too slow).
    pub acks_refused: AtomicU64,
    /// Records read before a newer version or a deletion was indexed: not written.
    pub stale_reads: AtomicU64,
}

struct Inner {
    client: HubSpotClient,
    queue: Arc<dyn EventQueue>,
    state: Arc<dyn RecordState>,
    store: Arc<dyn VectorStore>,
    embedder: Arc<dyn Embedder>,
    mapping: Arc<Mapping>,
    settings: EngineSettings,
    clock: SharedClock,
    notify: Arc<Notify>,
    labels: Mutex<HashMap<String, (Instant, Arc<Labels>)>>,
    unindexed: AtomicUsize,
    optimizing: AtomicBool,
    stats: EngineStats,
}

/// The engine; cheap to clone.
#[derive(Clone)]
pub struct SyncEngine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SyncEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncEngine")
            .field("store", &self.inner.store.name())
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

pub use crate::objects::last_modified_property;

impl SyncEngine {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        client: HubSpotClient,
        queue: Arc<dyn EventQueue>,
        state: Arc<dyn RecordState>,
        store: Arc<dyn VectorStore>,
        embedder: Arc<dyn Embedder>,
        mapping: Arc<Mapping>,
        settings: EngineSettings,
        clock: SharedClock,
        notify: Arc<Notify>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                client,
                queue,
                state,
                store,
                embedder,
                mapping,
                settings,
                clock,
                notify,
                labels: Mutex::new(HashMap::new()),
                unindexed: AtomicUsize::new(0),
                optimizing: AtomicBool::new(false),
                stats: EngineStats::default(),
            }),
        }
    }

    pub async fn readiness(&self) -> Result<super::readiness::IndexReadiness, SyncError> {
        let types = self.mapping().object_types();
        Ok(super::readiness::IndexReadiness::read(&*self.inner.state, &types).await?)
    }

    /// Whether each part sync depends on answers now (`/readyz`): the queue, the record
    /// state and the index, each within 2 s. Why one does not goes to the log.
    pub async fn parts_ready(&self) -> Vec<(&'static str, bool)> {
        let t = Duration::from_secs(2);
        let now = self.inner.clock.now_ms();
        let queue = tokio::time::timeout(t, self.inner.queue.depth(now)).await;
        let state = tokio::time::timeout(t, self.inner.state.checkpoint("caught_up_ms")).await;
        let index = tokio::time::timeout(t, self.inner.store.count()).await;
        let ok = |part: &str, r: Result<Result<(), String>, tokio::time::error::Elapsed>| match r {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                tracing::warn!(part, error = %e, "not ready");
                false
            }
            Err(_) => {
                tracing::warn!(part, "not ready: no answer within 2 s");
                false
            }
        };
        vec![
            (
                "queue",
                ok(
                    "queue",
                    queue.map(|r| r.map(|_| ()).map_err(|e| e.to_string())),
                ),
            ),
            (
                "record state",
                ok(
                    "record state",
                    state.map(|r| r.map(|_| ()).map_err(|e| e.to_string())),
                ),
            ),
            (
                "index",
                ok(
                    "index",
                    index.map(|r| r.map(|_| ()).map_err(|e| e.to_string())),
                ),
            ),
        ]
    }

    /// The event queue (SQLite, or Redis Streams shared with other workers).
    pub fn queue(&self) -> &Arc<dyn EventQueue> {
        &self.inner.queue
    }
    /// Record digests, versions and checkpoints (SQLite, or Redis).
    pub fn state(&self) -> &Arc<dyn RecordState> {
        &self.inner.state
    }
    pub fn store(&self) -> &Arc<dyn VectorStore> {
        &self.inner.store
    }
    pub fn client(&self) -> &HubSpotClient {
        &self.inner.client
    }
    pub fn mapping(&self) -> &Mapping {
        &self.inner.mapping
    }
    pub fn stats(&self) -> &EngineStats {
        &self.inner.stats
    }
    pub fn settings(&self) -> &EngineSettings {
        &self.inner.settings
    }

    async fn blocking<T: Send + 'static>(
        f: impl FnOnce() -> Result<T, SyncError> + Send + 'static,
    ) -> Result<T, SyncError> {
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| SyncError::Task(e.to_string()))?
    }

    /// Enumeration labels of a type's properties (cached 15 minutes; metadata is cached by the
    /// client too, so a refresh rarely costs a call).
    async fn labels(&self, object_type: &str) -> Arc<Labels> {
        if let Some((at, l)) = self.inner.labels.lock().get(object_type) {
            if at.elapsed() < Duration::from_secs(900) {
                return l.clone();
            }
        }
        let l = match self.inner.client.properties(object_type).await {
            Ok(v) => Arc::new(labels(&v)),
            Err(e) => {
                tracing::warn!(object_type, error = %e, "property definitions unavailable; enumeration values stay raw");
                Arc::new(Labels::new())
            }
        };
        self.inner
            .labels
            .lock()
            .insert(object_type.to_string(), (Instant::now(), l.clone()));
        l
    }

    /// Reads associations for records of a type, as the mapping asks.
    async fn associations(
        &self,
        object_type: &str,
        ids: &[String],
    ) -> Result<HashMap<String, BTreeMap<String, Vec<String>>>, SyncError> {
        let mut out: HashMap<String, BTreeMap<String, Vec<String>>> = HashMap::new();
        let Some(om) = self.inner.mapping.objects.get(object_type) else {
            return Ok(out);
        };
        if ids.is_empty() {
            return Ok(out);
        }
        for to in &om.associations {
            let (map, _) = self
                .inner
                .client
                .associations(Lane::Background, object_type, to, ids)
                .await?;
            for (from, list) in map {
                let mut v: Vec<String> = list.into_iter().map(|a| a.to_object_id).collect();
                v.sort();
                v.dedup();
                if !v.is_empty() {
                    out.entry(from).or_default().insert(to.clone(), v);
                }
            }
        }
        Ok(out)
    }

    /// Re-reads records from HubSpot and brings the index in line: upsert what changed, remove
    /// what is gone.
    ///
    /// # Errors
    /// HubSpot, embedding or index failures (nothing is recorded as indexed then).
    pub async fn refresh(&self, object_type: &str, ids: &[String]) -> Result<Applied, SyncError> {
        let mut out = Applied::default();
        if ids.is_empty() || !self.inner.mapping.objects.contains_key(object_type) {
            return Ok(out);
        }
        let props = self.inner.mapping.properties(object_type);
        // Before the read: a deletion recorded after this time came after what is read.
        let read_ms = self.inner.clock.now_ms();
        let read = self
            .inner
            .client
            .batch_read(Lane::Background, object_type, ids, &props, None)
            .await?;
        let found: HashSet<&str> = read.results.iter().map(|r| r.id.as_str()).collect();
        let gone: Vec<String> = ids
            .iter()
            .filter(|id| !found.contains(id.as_str()))
            .map(|id| format!("{object_type}/{id}"))
            .collect();
        out.read = read.results.len();
        let live: Vec<CrmObject> = read.results.into_iter().filter(|r| !r.archived).collect();
        out += self
            .index_records(object_type, live, false, read_ms)
            .await?;
        out.deleted += self.forget(gone).await?;
        Ok(out)
    }

    /// Removes records from the index and the record table.
    ///
    /// # Errors
    /// Index or database failures.
    pub async fn forget(&self, refs: Vec<String>) -> Result<usize, SyncError> {
        if refs.is_empty() {
            return Ok(0);
        }
        let n = refs.len();
        self.inner.store.delete_records(&refs).await?;
        let now = self.inner.clock.now_ms();
        self.inner.state.delete_records(&refs, now).await?;
        self.inner
            .stats
            .deleted
            .fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    /// Normalizes, embeds and indexes records read from HubSpot. `fresh` skips stale-chunk
    /// deletion (backfill of records not indexed before).
    async fn index_records(
        &self,
        object_type: &str,
        records: Vec<CrmObject>,
        fresh: bool,
        read_ms: i64,
    ) -> Result<Applied, SyncError> {
        let mut out = Applied::default();
        if records.is_empty() {
            return Ok(out);
        }
        let Some(om) = self.inner.mapping.objects.get(object_type).cloned() else {
            return Ok(out);
        };
        let labels = self.labels(object_type).await;
        let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
        let assocs = self.associations(object_type, &ids).await?;
        let canon: Vec<Canonical> = records
            .iter()
            .filter_map(|r| {
                normalize(
                    &self.inner.mapping,
                    object_type,
                    r,
                    &labels,
                    assocs.get(&r.id).cloned().unwrap_or_default(),
                )
            })
            .collect();
        let refs: Vec<String> = canon.iter().map(Canonical::reference).collect();
        let known = self.inner.state.digests(&refs).await?;
        let mut changed = Vec::new();
        for c in canon {
            let d = c.digest(&om);
            if known.get(&c.reference()) == Some(&d) {
                out.unchanged += 1;
            } else {
                changed.push((c, d));
            }
        }
        // Workers sharing the record state: one writes a record at a time, and never an
        // older version over a newer one or over a later deletion.
        if !changed.is_empty() {
            let writes: Vec<ClaimRequest> = changed
                .iter()
                .map(|(c, d)| ClaimRequest {
                    reference: c.reference(),
                    digest: d.clone(),
                    updated_ms: c.updated_ms,
                    read_ms,
                })
                .collect();
            let claims = self
                .inner
                .state
                .claim(&writes, self.inner.settings.lease_ms)
                .await?;
            let granted: Vec<String> = writes
                .iter()
                .zip(&claims)
                .filter(|(_, c)| **c == Claim::Granted)
                .map(|(w, _)| w.reference.clone())
                .collect();
            if let Some(n) = claims.iter().position(|c| *c == Claim::Contended) {
                let _ = self.inner.state.release(&granted).await;
                return Err(SyncError::Contended(format!(
                    "{} is being written by another worker; this batch retries shortly",
                    writes[n].reference
                )));
            }
            let mut kept = Vec::with_capacity(changed.len());
            for (pair, claim) in changed.into_iter().zip(claims) {
                match claim {
                    Claim::Granted => kept.push(pair),
                    Claim::Stale => {
                        self.inner.stats.stale_reads.fetch_add(1, Ordering::Relaxed);
                        out.unchanged += 1;
                    }
                    _ => out.unchanged += 1,
                }
            }
            changed = kept;
            if !changed.is_empty() {
                let refs: Vec<String> = changed.iter().map(|(c, _)| c.reference()).collect();
                let written = self.write_claimed(changed, &known, fresh, &mut out).await;
                if written.is_err() {
                    let _ = self.inner.state.release(&refs).await;
                }
                return written.map(|()| out);
            }
        }
        self.inner
            .stats
            .unchanged
            .fetch_add(out.unchanged as u64, Ordering::Relaxed);
        Ok(out)
    }

    /// Embeds and writes claimed records, then records them (which releases the claims).
    async fn write_claimed(
        &self,
        changed: Vec<(Canonical, String)>,
        known: &HashMap<String, String>,
        fresh: bool,
        out: &mut Applied,
    ) -> Result<(), SyncError> {
        let Some(om) = self
            .inner
            .mapping
            .objects
            .get(&changed[0].0.object_type)
            .cloned()
        else {
            return Ok(());
        };
        let mut texts = Vec::new();
        let mut owners = Vec::new();
        for (i, (c, _)) in changed.iter().enumerate() {
            for (j, t) in c.chunks(&om).into_iter().enumerate() {
                texts.push(t);
                owners.push((i, j as u32));
            }
        }
        let embedder = self.inner.embedder.clone();
        let texts_for_embed = texts.clone();
        let vectors =
            Self::blocking(move || Ok(embedder.embed_for(Lane::Background, &texts_for_embed)?))
                .await?;
        self.inner
            .stats
            .embedded_texts
            .fetch_add(texts.len() as u64, Ordering::Relaxed);
        let mut points = Vec::with_capacity(vectors.len());
        let mut chunk_counts = vec![0u32; changed.len()];
        for ((vector, text), (i, j)) in vectors.into_iter().zip(texts).zip(owners) {
            let c = &changed[i].0;
            chunk_counts[i] = chunk_counts[i].max(j + 1);
            points.push(Point {
                record: c.reference(),
                chunk: j,
                vector,
                payload: crate::index::Payload {
                    object_type: c.object_type.clone(),
                    record_id: c.id.clone(),
                    title: c.title.clone(),
                    snippet: snippet(&text),
                    owner_id: c.field("owner_id"),
                    pipeline: c.field("pipeline"),
                    stage: c.field("stage"),
                    created_ms: c.created_ms,
                    updated_ms: c.updated_ms,
                    associations: c
                        .associations
                        .iter()
                        .flat_map(|(t, ids)| ids.iter().map(move |id| format!("{t}/{id}")))
                        .collect(),
                    url: None,
                },
            });
        }
        let rows: Vec<RecordRow> = changed
            .iter()
            .map(|(c, d)| RecordRow {
                reference: c.reference(),
                object_type: c.object_type.clone(),
                id: c.id.clone(),
                title: c.title.clone(),
                updated_ms: c.updated_ms,
                digest: d.clone(),
                email: c.field("email"),
                domain: c.field("domain"),
                phone: c.field("phone").or_else(|| c.field("mobile")),
            })
            .collect();
        // Records that were indexed before may have had more chunks than now.
        let stale: Vec<(String, u32)> = if fresh {
            Vec::new()
        } else {
            changed
                .iter()
                .zip(&chunk_counts)
                .filter(|((c, _), _)| known.contains_key(&c.reference()))
                .map(|((c, _), n)| (c.reference(), *n))
                .collect()
        };
        let n_points = points.len();
        self.inner.store.upsert(points).await?;
        self.inner.store.delete_chunks_from(&stale).await?;
        self.inner.state.put_records(&rows).await?;
        out.upserted = changed.len();
        out.chunks = n_points;
        self.inner
            .stats
            .upserted
            .fetch_add(out.upserted as u64, Ordering::Relaxed);
        self.inner
            .stats
            .unchanged
            .fetch_add(out.unchanged as u64, Ordering::Relaxed);
        self.note_unindexed(n_points);
        Ok(())
    }

    /// Counts points written since the last HNSW build and starts one in the background when
    /// enough have piled up (never two at once; searches continue meanwhile).
    fn note_unindexed(&self, n: usize) {
        let total = self.inner.unindexed.fetch_add(n, Ordering::Relaxed) + n;
        if total >= self.inner.settings.optimize_after {
            self.optimize_in_background();
        }
    }

    /// Starts an HNSW build in the background unless one is running (the embedded index runs
    /// it on the blocking pool; a server optimizes by itself).
    pub fn optimize_in_background(&self) -> Option<tokio::task::JoinHandle<()>> {
        if self.inner.optimizing.swap(true, Ordering::AcqRel) {
            return None;
        }
        self.inner.unindexed.store(0, Ordering::Relaxed);
        let me = self.clone();
        Some(tokio::spawn(async move {
            let started = Instant::now();
            match me.inner.store.optimize().await {
                Ok(changed) => {
                    me.inner.stats.optimizations.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(
                        changed,
                        ms = started.elapsed().as_millis() as u64,
                        "index optimized"
                    );
                }
                Err(e) => {
                    tracing::warn!(error = %e, "index optimization failed; searches stay exact")
                }
            }
            me.inner.optimizing.store(false, Ordering::Release);
        }))
    }

    /// Applies one leased batch (see the module docs). Events older than their object's last
    /// applied change are superseded: that apply read the record after they happened, so
    /// they need no read of their own (association changes and merges are always applied:
    /// they touch other records too).
    ///
    /// # Errors
    /// Any failure: the batch is then not acked and comes back.
    pub async fn apply(&self, batch: &[Leased]) -> Result<Applied, SyncError> {
        let primary = |c: &crate::webhook::Change| format!("{}/{}", c.object_type, c.object_id);
        let refs: Vec<String> = batch.iter().map(|l| primary(&l.change)).collect();
        let applied = self.inner.state.applied_at(&refs).await?;
        let mut touched: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut remove: Vec<String> = Vec::new();
        let mut marks: BTreeMap<String, i64> = BTreeMap::new();
        let mut superseded = 0u64;
        for l in batch {
            let c = &l.change;
            let r = primary(c);
            let always = matches!(c.kind.as_str(), "merge" | "associationChange");
            if !always && applied.get(&r).is_some_and(|at| c.occurred_ms <= *at) {
                superseded += 1;
                continue;
            }
            let m = marks.entry(r).or_insert(c.occurred_ms);
            *m = (*m).max(c.occurred_ms);
            touched
                .entry(c.object_type.clone())
                .or_default()
                .insert(c.object_id.clone());
            match c.kind.as_str() {
                "merge" => remove.extend(c.related.iter().cloned()),
                "associationChange" => {
                    for r in &c.related {
                        if let Some((t, id)) = r.split_once('/') {
                            touched
                                .entry(t.to_string())
                                .or_default()
                                .insert(id.to_string());
                        }
                    }
                }
                "privacyDeletion" | "deletion" => {
                    remove.push(format!("{}/{}", c.object_type, c.object_id));
                }
                _ => {}
            }
        }
        let mut out = Applied::default();
        // Privacy first: deleted people leave the index before anything else happens.
        remove.sort();
        remove.dedup();
        out.deleted += self.forget(remove.clone()).await?;
        let removed: HashSet<String> = remove.into_iter().collect();
        for (ty, ids) in touched {
            let ids: Vec<String> = ids
                .into_iter()
                .filter(|id| !removed.contains(&format!("{ty}/{id}")))
                .collect();
            out += self.refresh(&ty, &ids).await?;
        }
        // Only after the index holds the result: a crash before this applies them again.
        let marks: Vec<(String, i64)> = marks.into_iter().collect();
        self.inner.state.mark_applied(&marks).await?;
        self.inner
            .stats
            .superseded
            .fetch_add(superseded, Ordering::Relaxed);
        Ok(out)
    }

    /// [`apply`](Self::apply), keeping the batch's lease while it runs (every third of the
    /// lease), so that a long apply is not reclaimed by another worker.
    async fn apply_held(&self, batch: &[Leased]) -> Result<Applied, SyncError> {
        self.apply_holding(batch, batch).await
    }

    /// Applies `batch` while keeping the lease of everything in `held` (a superset: the
    /// parts of an isolated batch still waiting their turn).
    async fn apply_holding(&self, batch: &[Leased], held: &[Leased]) -> Result<Applied, SyncError> {
        let lease = self.inner.settings.lease_ms;
        let every = Duration::from_millis((lease / 3).max(20) as u64);
        let apply = self.apply(batch);
        tokio::pin!(apply);
        loop {
            tokio::select! {
                r = &mut apply => return r,
                () = tokio::time::sleep(every) => {
                    let now = self.inner.clock.now_ms();
                    if let Err(e) = self.inner.queue.keep(held, now, lease).await {
                        tracing::warn!(error = %e, "cannot keep the batch's lease; another worker may take it over (the apply is idempotent)");
                    }
                }
            }
        }
    }

    /// Acks a batch; logs what another worker took over meanwhile.
    async fn ack(&self, batch: &[Leased]) {
        let now = self.inner.clock.now_ms();
        match self.inner.queue.ack(batch, now).await {
            Ok(a) if a.refused > 0 => {
                self.inner
                    .stats
                    .acks_refused
                    .fetch_add(a.refused as u64, Ordering::Relaxed);
                tracing::warn!(
                    refused = a.refused,
                    "events were reclaimed by another worker before this one acked them; theirs is the ack"
                );
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, "applied but not acked; the events will be applied again (idempotently)")
            }
        }
    }

    /// The worker loop: wait for events, lease, apply, ack; until `cancel`. Many workers, in
    /// this process or others, may run it on one shared queue.
    pub async fn run_worker(self, cancel: CancellationToken) {
        match self.inner.queue.start_worker().await {
            Ok(n) if n > 0 => {
                tracing::info!(events = n, "re-queued events a previous process had leased")
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "cannot release old leases"),
        }
        let mut last_prune = Instant::now() - Duration::from_secs(3600);
        let mut failures = 0u32;
        loop {
            if last_prune.elapsed() > Duration::from_secs(600) {
                last_prune = Instant::now();
                let before = self.inner.clock.now_ms()
                    - self.inner.settings.dedupe_retention_hours * 3_600_000;
                if let Err(e) = self.inner.queue.prune(before).await {
                    tracing::warn!(error = %e, "dedupe pruning failed");
                }
            }
            let now = self.inner.clock.now_ms();
            let (max, lease) = (self.inner.settings.batch, self.inner.settings.lease_ms);
            let batch = tokio::select! {
                () = cancel.cancelled() => return,
                b = self.inner.queue.lease(max, now, lease) => b,
            };
            let batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(error = %e, "cannot lease events");
                    Vec::new()
                }
            };
            if batch.is_empty() {
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = self.inner.notify.notified() => {
                        tokio::time::sleep(Duration::from_millis(self.inner.settings.coalesce_ms)).await;
                    }
                    () = tokio::time::sleep(Duration::from_millis(500)) => {}
                }
                continue;
            }
            let started = Instant::now();
            match self.apply_held(&batch).await {
                Ok(applied) => {
                    failures = 0;
                    self.ack(&batch).await;
                    self.inner.stats.batches.fetch_add(1, Ordering::Relaxed);
                    self.inner
                        .stats
                        .events
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    tracing::debug!(
                        events = batch.len(),
                        ?applied,
                        ms = started.elapsed().as_millis() as u64,
                        "batch applied"
                    );
                }
                Err(e) => {
                    failures += 1;
                    self.inner
                        .stats
                        .apply_errors
                        .fetch_add(1, Ordering::Relaxed);
                    if e.is_transient() {
                        // Everything would fail now: wait, and leave the events (only these)
                        // for later. Other workers' leases are not touched.
                        let backoff =
                            Duration::from_millis((500u64 << failures.min(6)).min(30_000));
                        tracing::warn!(error = %e, events = batch.len(), retry_in_ms = backoff.as_millis() as u64, "batch failed (transient); it stays queued");
                        let now = self.inner.clock.now_ms();
                        if let Err(e) = self
                            .inner
                            .queue
                            .retry_later(&batch, now, backoff.as_millis() as i64)
                            .await
                        {
                            tracing::warn!(error = %e, "cannot hold the batch back; it comes back when its lease lapses");
                        }
                        tokio::select! {
                            () = cancel.cancelled() => return,
                            () = tokio::time::sleep(backoff) => {}
                        }
                    } else {
                        // Something in the batch is bad: apply the events one by one, so the
                        // good ones land now and only the bad one is held back.
                        tracing::warn!(error = %e, events = batch.len(), "batch failed (permanent); isolating the failing events");
                        self.isolate(batch, &cancel).await;
                    }
                }
            }
        }
    }

    /// Finds the failing events of a batch that failed permanently by halving it: parts that
    /// apply are acked, parts that fail are halved again, so k bad events among n cost about
    /// 2·k·log2(n) applies instead of n. A single failing event is counted (dead-lettered at
    /// `max_failures`); a transient failure puts the part back for later.
    async fn isolate(&self, mut batch: Vec<Leased>, cancel: &CancellationToken) {
        let right = batch.split_off(batch.len() / 2);
        let mut parts = vec![right, batch];
        let q = &self.inner.queue;
        while let Some(mut part) = parts.pop() {
            if cancel.is_cancelled() {
                return;
            }
            if part.is_empty() {
                continue;
            }
            let waiting: Vec<Leased> = parts.iter().flatten().chain(&part).cloned().collect();
            if part.len() > 1 {
                match self.apply_holding(&part, &waiting).await {
                    Ok(_) => self.ack(&part).await,
                    Err(e) if e.is_transient() => {
                        let now = self.inner.clock.now_ms();
                        let _ = q.retry_later(&part, now, 5_000).await;
                    }
                    Err(_) => {
                        let right = part.split_off(part.len() / 2);
                        parts.push(right);
                        parts.push(part);
                    }
                }
                continue;
            }
            let event = part.remove(0);
            let result = self
                .apply_holding(std::slice::from_ref(&event), &waiting)
                .await;
            let now = self.inner.clock.now_ms();
            let max = self.inner.settings.max_failures;
            let stored = match result {
                Ok(_) => {
                    self.ack(std::slice::from_ref(&event)).await;
                    Ok(None)
                }
                Err(e) if e.is_transient() => q
                    .retry_later(std::slice::from_ref(&event), now, 5_000)
                    .await
                    .map(|()| None),
                Err(e) => {
                    let msg = e.to_string();
                    q.fail(&event, &msg, now, max, failure_backoff_ms)
                        .await
                        .map(|f| Some((f, msg)))
                }
            };
            match stored {
                Ok(Some((Failed::DeadLettered { failures }, error))) => {
                    self.inner
                        .stats
                        .dead_lettered
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::error!(object_type = %event.change.object_type, object_id = %event.change.object_id, failures, %error, "event moved to the dead letters; see `sync --dead-letters`");
                }
                Ok(Some((Failed::Retrying { failures, at_ms }, error))) => {
                    tracing::warn!(object_type = %event.change.object_type, object_id = %event.change.object_id, failures, retry_in_ms = at_ms - now, %error, "event failed; it will be retried");
                }
                Ok(Some((Failed::NotHeld, _))) => {
                    tracing::warn!(object_type = %event.change.object_type, object_id = %event.change.object_id, "event failed, but another worker had taken it over; its outcome is theirs");
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(error = %e, "cannot record the event's outcome; it comes back when its lease expires")
                }
            }
        }
    }

    /// The text a record is indexed by (its first chunk), read from HubSpot now: what "similar
    /// to this record" means. `None` when the mapping does not cover the type or the record
    /// is gone.
    ///
    /// # Errors
    /// HubSpot failures.
    pub async fn record_text(
        &self,
        object_type: &str,
        id: &str,
    ) -> Result<Option<String>, SyncError> {
        let Some(om) = self.inner.mapping.objects.get(object_type).cloned() else {
            return Ok(None);
        };
        let props = self.inner.mapping.properties(object_type);
        let read = self
            .inner
            .client
            .batch_read(
                Lane::Interactive,
                object_type,
                &[id.to_string()],
                &props,
                None,
            )
            .await?;
        let Some(record) = read.results.into_iter().find(|r| !r.archived) else {
            return Ok(None);
        };
        let labels = self.labels(object_type).await;
        Ok(normalize(
            &self.inner.mapping,
            object_type,
            &record,
            &labels,
            BTreeMap::new(),
        )
        .and_then(|c| c.chunks(&om).into_iter().next()))
    }

    /// Semantic search: embed the query, search the index, keep each record's best chunk.
    ///
    /// # Errors
    /// Embedding or index failures.
    pub async fn search(
        &self,
        query: &str,
        k: usize,
        filter: &SearchFilter,
    ) -> Result<Vec<Hit>, SyncError> {
        search_index(
            self.inner.embedder.clone(),
            &*self.inner.store,
            query,
            k,
            filter,
            self.inner.settings.ef,
        )
        .await
    }

    /// Re-reads records changed since `since_ms` (downtime catch-up) and applies them.
    ///
    /// # Errors
    /// HubSpot or index failures.
    pub async fn catch_up(&self, since_ms: i64) -> Result<Applied, SyncError> {
        let mut out = Applied::default();
        for ty in self.inner.mapping.object_types() {
            let filters = [Filter::new(
                last_modified_property(&ty),
                "GTE",
                since_ms.to_string(),
            )];
            // One search page and one refresh block in memory at a time, whatever changed.
            let mut pages = self
                .inner
                .client
                .search_pages(Lane::Background, &ty, &filters, &[]);
            let mut ids: Vec<String> = Vec::new();
            while let Some(page) = crate::hubspot::patience::next_page(&mut pages).await? {
                ids.extend(page.into_iter().map(|r| r.id));
                if ids.len() >= 1_000 {
                    let block = std::mem::take(&mut ids);
                    out += until_permanent(&ty, "catch-up", || self.refresh(&ty, &block)).await?;
                }
            }
            if !ids.is_empty() {
                out += until_permanent(&ty, "catch-up", || self.refresh(&ty, &ids)).await?;
            }
        }
        Ok(out)
    }

    /// Catch-up from the last watermark (the later of the last event received and the last
    /// completed backfill or catch-up), minus a safety margin. Does nothing on a fresh
    /// database (run `sync --full` first).
    ///
    /// # Errors
    /// As [`catch_up`](Self::catch_up).
    pub async fn catch_up_from_watermark(&self) -> Result<Option<Applied>, SyncError> {
        let state = &self.inner.state;
        let (a, b) = (
            state.checkpoint("last_received_ms").await?,
            state.checkpoint("caught_up_ms").await?,
        );
        let mark = [a, b]
            .into_iter()
            .flatten()
            .filter_map(|v| v.parse::<i64>().ok())
            .max();
        let Some(mark) = mark else { return Ok(None) };
        let started = self.inner.clock.now_ms();
        let out = self
            .catch_up(mark - self.inner.settings.catch_up_margin_ms)
            .await?;
        self.inner
            .state
            .set_checkpoint("caught_up_ms", Some(&started.to_string()))
            .await?;
        Ok(Some(out))
    }

    /// Compares HubSpot's ids and update times with the index; repairs drift.
    ///
    /// # Errors
    /// HubSpot or index failures.
    pub async fn reconcile(&self) -> Result<Vec<ReconcileReport>, SyncError> {
        let mut reports = Vec::new();
        for ty in self.inner.mapping.object_types() {
            reports.push(self.reconcile_type(&ty).await?);
        }
        Ok(reports)
    }

    /// Reconciles one type as a merge of two ascending id streams, HubSpot's search pages
    /// and the index's records, so memory holds a page of each and a repair block, never the
    /// whole type.
    async fn reconcile_type(&self, ty: &str) -> Result<ReconcileReport, SyncError> {
        const BLOCK: usize = 1_000;
        let lm = last_modified_property(ty).to_string();
        let mut pages = self
            .inner
            .client
            .search_pages(Lane::Background, ty, &[], &[lm.clone()]);
        let mut local = LocalRecords::new(self.inner.state.clone(), ty.to_string());
        let mut report = ReconcileReport {
            object_type: ty.to_string(),
            in_hubspot: 0,
            in_index: 0,
            missing: 0,
            stale: 0,
            extra: 0,
            repaired: 0,
            requests: 0,
        };
        let mut repair: Vec<String> = Vec::new();
        // Index records HubSpot does not have; deleted only once the whole walk is done, so
        // that nothing is deleted when the walk turns out to be unreliable.
        let mut extra: Vec<String> = Vec::new();
        let mut previous: Option<i64> = None;
        while let Some(page) = crate::hubspot::patience::next_page(&mut pages).await? {
            for r in page {
                report.in_hubspot += 1;
                let Ok(id) = r.id.parse::<i64>() else {
                    continue;
                };
                // The merge needs HubSpot's ids strictly ascending (the search sorts on
                // hs_object_id); if they are not, stop before deleting anything.
                if let Some(p) = previous.filter(|p| id <= *p) {
                    return Err(SyncError::Task(format!(
                        "reconcile of {ty} stopped: HubSpot's search returned id {id} after {p}; nothing was deleted"
                    )));
                }
                previous = Some(id);
                // Index records below this id are not in HubSpot any more.
                while let Some((lid, _)) = local.peek().await? {
                    if lid >= id {
                        break;
                    }
                    extra.push(format!("{ty}/{lid}"));
                    local.advance();
                }
                let remote_ms = r
                    .updated_at
                    .as_deref()
                    .or_else(|| r.prop(&lm))
                    .and_then(super::normalize::parse_date_ms);
                match local.peek().await? {
                    Some((lid, version)) if lid == id => {
                        local.advance();
                        if remote_ms.is_some() && version != remote_ms {
                            report.stale += 1;
                            repair.push(r.id.clone());
                        }
                    }
                    _ => {
                        report.missing += 1;
                        repair.push(r.id.clone());
                    }
                }
            }
            if repair.len() >= BLOCK {
                let block = std::mem::take(&mut repair);
                report.repaired += until_permanent(ty, "reconcile", || self.refresh(ty, &block))
                    .await?
                    .upserted;
            }
        }
        while let Some((lid, _)) = local.peek().await? {
            extra.push(format!("{ty}/{lid}"));
            local.advance();
        }
        if !repair.is_empty() {
            report.repaired += until_permanent(ty, "reconcile", || self.refresh(ty, &repair))
                .await?
                .upserted;
        }
        let n = self.forget(extra).await?;
        report.extra += n;
        report.repaired += n;
        report.in_index = local.seen;
        report.requests = pages.requests();
        Ok(report)
    }
}

/// One type's reconcile outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReconcileReport {
    pub object_type: String,
    pub in_hubspot: usize,
    pub in_index: usize,
    /// In HubSpot, not in the index.
    pub missing: usize,
    /// In both, with a different update time.
    pub stale: usize,
    /// In the index, gone from HubSpot.
    pub extra: usize,
    pub repaired: usize,
    /// HubSpot requests spent listing.
    pub requests: usize,
}

/// The first 240 characters of a chunk, on a word boundary.
pub fn snippet(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= 240 {
        return flat;
    }
    let cut: String = flat.chars().take(240).collect();
    match cut.rfind(' ') {
        Some(i) => format!("{}…", &cut[..i]),
        None => format!("{cut}…"),
    }
}

/// Builds the search query for a backfill page (ids above `above`, ascending).
pub(crate) fn backfill_query(
    properties: &[String],
    above: Option<&str>,
    after: Option<String>,
) -> SearchQuery {
    let mut group = Vec::new();
    if let Some(a) = above {
        group.push(Filter::new("hs_object_id", "GT", a.to_string()));
    }
    SearchQuery {
        filter_groups: if group.is_empty() {
            Vec::new()
        } else {
            vec![group]
        },
        query: None,
        properties: properties.to_vec(),
        sort: Some(("hs_object_id".into(), false)),
        limit: 200,
        after,
    }
}

impl SyncEngine {
    /// Indexes a backfill block (records known to be fresh reads).
    pub(crate) async fn index_block(
        &self,
        object_type: &str,
        records: Vec<CrmObject>,
    ) -> Result<Applied, SyncError> {
        // The page was read just before; its exact read time is not known here, so a deletion
        // racing a backfill block is caught by the next reconcile, not by the claim.
        let read_ms = self.inner.clock.now_ms();
        self.index_records(object_type, records, false, read_ms)
            .await
    }
}
