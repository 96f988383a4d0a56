//! `sync --full`: read every configured object type once, through the Search API.
//!
//! Why search rather than the list endpoint: a search page holds 200 records (the list holds
//! 100) and reports the total up front, which gives the progress bar its length and ETA for
//! free. Associations, which search cannot return, are read in blocks of 1,000 records (one
//! call per associated type per block: the batch association read's maximum).
//!
//! The minimum number of calls for a type with `n` records is therefore
//! `ceil(n / 200)` search pages + `ceil(n / 1000)` association reads per associated type, plus
//! one property-definitions read for enumeration labels. [`minimum_calls`] computes it; the
//! backfill test and benchmark compare the sandbox's request log with it.
//!
//! Resume: after each block the last `hs_object_id` is checkpointed (`backfill:<type>`). A
//! restarted backfill continues above it (`hs_object_id > last`, ascending), so a crash costs at
//! most one block of re-reading. A finished type is checkpointed `done`; `--restart` clears the
//! checkpoints.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use super::engine::{backfill_query, Applied, SyncEngine, SyncError};
use super::patience::until_permanent;
use crate::hubspot::model::CrmObject;
use crate::hubspot::Lane;

/// What a backfill did for one type.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TypeReport {
    pub object_type: String,
    pub total: u64,
    pub indexed: usize,
    pub search_calls: usize,
    /// Already complete from an earlier run.
    pub skipped: bool,
    /// Resumed above this id.
    pub resumed_above: Option<String>,
    pub applied: Applied,
}

/// The minimum calls to read `n` records of a type with `assoc_types` associated types.
pub fn minimum_calls(n: u64, assoc_types: usize) -> u64 {
    n.div_ceil(200) + assoc_types as u64 * n.div_ceil(1_000) + 1
}

/// Runs (or resumes) the full backfill. `progress` draws bars on stderr when it is a terminal.
///
/// # Errors
/// HubSpot, embedding or index failures; progress so far stays checkpointed.
pub async fn full_sync(
    engine: &SyncEngine,
    restart: bool,
    progress: bool,
) -> Result<Vec<TypeReport>, SyncError> {
    let started = chrono::Utc::now().timestamp_millis();
    let types = engine.mapping().object_types();
    let mut reports = Vec::new();
    for ty in &types {
        reports.push(backfill_type(engine, ty, restart, progress).await?);
    }
    engine
        .state()
        .set_checkpoint("caught_up_ms", Some(&started.to_string()))
        .await?;
    // Build HNSW now rather than on the first search.
    if let Some(h) = engine.optimize_in_background() {
        let _ = h.await;
    }
    Ok(reports)
}

/// Records how far a type's backfill is (`backfill_progress:<type>`: done and total this run,
/// rate, ETA), for `sync --status` and the log of a server that backfills by itself.
async fn progress_report(
    engine: &SyncEngine,
    ty: &str,
    report: &TypeReport,
    started: std::time::Instant,
    finished: bool,
) -> Result<(), SyncError> {
    let secs = started.elapsed().as_secs_f64().max(0.001);
    let done = report.indexed as u64;
    let total = report.total.max(done);
    let rate = done as f64 / secs;
    let eta = if rate > 0.0 {
        ((total - done) as f64 / rate).round() as u64
    } else {
        0
    };
    tracing::info!(
        object_type = ty,
        done,
        total,
        rate_per_s = (rate * 10.0).round() / 10.0,
        eta_s = eta,
        resumed_above = report.resumed_above.as_deref().unwrap_or(""),
        "backfill progress"
    );
    let value = serde_json::json!({
        "done": done,
        "total": total,
        "ratePerSec": (rate * 10.0).round() / 10.0,
        "etaSecs": eta,
        "resumedAbove": report.resumed_above,
        "finished": finished,
    });
    checkpoint(
        engine,
        format!("backfill_progress:{ty}"),
        Some(value.to_string()),
    )
    .await
}

async fn checkpoint(
    engine: &SyncEngine,
    name: String,
    value: Option<String>,
) -> Result<(), SyncError> {
    Ok(engine
        .state()
        .set_checkpoint(&name, value.as_deref())
        .await?)
}

async fn backfill_type(
    engine: &SyncEngine,
    ty: &str,
    restart: bool,
    progress: bool,
) -> Result<TypeReport, SyncError> {
    let name = format!("backfill:{ty}");
    if restart {
        checkpoint(engine, name.clone(), None).await?;
    }
    let cp = engine.state().checkpoint(&name).await?;
    let mut report = TypeReport {
        object_type: ty.to_string(),
        ..Default::default()
    };
    if cp.as_deref() == Some("done") {
        report.skipped = true;
        return Ok(report);
    }
    let mut above = cp.filter(|v| !v.is_empty());
    report.resumed_above = above.clone();
    let props = engine.mapping().properties(ty);
    let bar = if progress {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>10} [{bar:30}] {pos}/{len} records  {per_sec}  ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_prefix(ty.to_string());
    let started = std::time::Instant::now();
    let mut after: Option<String> = None;
    let mut block: Vec<CrmObject> = Vec::new();
    let block_size = engine.settings().backfill_block.max(200);
    loop {
        let query = backfill_query(&props, above.as_deref(), after.clone());
        let page = until_permanent(ty, "search", || {
            engine.client().search(Lane::Background, ty, &query)
        })
        .await?;
        report.search_calls += 1;
        if report.search_calls == 1 {
            report.total = page.total;
            bar.set_length(page.total);
            // Known from the first page: readers see "0 of N" at once, not nothing.
            progress_report(engine, ty, &report, started, false).await?;
        }
        let got = page.results.len();
        let next = page.paging.and_then(|p| p.next).map(|n| n.after);
        block.extend(page.results);
        let last_page = got == 0 || next.is_none();
        if block.len() >= block_size || last_page {
            let last_id = block.last().map(|r| r.id.clone());
            let n = block.len();
            let block = std::mem::take(&mut block);
            let applied =
                until_permanent(ty, "index", || engine.index_block(ty, block.clone())).await?;
            report.applied += applied;
            report.indexed += n;
            bar.inc(n as u64);
            progress_report(engine, ty, &report, started, last_page).await?;
            if let Some(id) = last_id {
                checkpoint(engine, name.clone(), Some(id.clone())).await?;
                // Restart the paging above the checkpoint: it keeps `after` far from the
                // 10,000-result cap and makes the next page exactly what a resume would read.
                above = Some(id);
                after = None;
                if last_page {
                    break;
                }
                continue;
            }
        }
        if last_page {
            break;
        }
        after = next;
    }
    checkpoint(engine, name, Some("done".into())).await?;
    bar.finish_and_clear();
    if progress {
        eprintln!(
            "{ty}: {} records indexed ({} search calls)",
            report.indexed, report.search_calls
        );
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimum_calls_counts_pages_association_blocks_and_metadata() {
        assert_eq!(minimum_calls(5_000, 1), 25 + 5 + 1);
        assert_eq!(minimum_calls(3_000, 2), 15 + 6 + 1);
        assert_eq!(minimum_calls(1_000, 0), 5 + 1);
        assert_eq!(minimum_calls(1, 2), 1 + 2 + 1);
    }
}
