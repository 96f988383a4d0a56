//! How complete the index is, for the people and models who read from it.
//!
//! An index being built answers searches from what it holds so far, so an empty answer can
//! mean "nothing similar" or "not indexed yet". [`IndexReadiness`] tells them apart: per
//! mapped type, whether its backfill is finished (`backfill:<type>` = `done`), and otherwise
//! how far it is (`backfill_progress:<type>`: done, total, rate, ETA). `semantic_search`
//! carries it in its result while the index is incomplete; `/readyz` and `sync --status`
//! report it too.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;

use super::seams::{QueueError, RecordState};

/// The checkpoint set while the index is being checked against the portal (a reconcile after
/// an in-process sandbox restarted from its seed).
pub const RECONCILING: &str = "reconciling";

/// One type's backfill.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TypeReadiness {
    /// `indexed` (finished), `building` (a backfill is reading it) or `waiting` (not begun).
    pub state: String,
    /// Records indexed by the current backfill.
    pub indexed: u64,
    /// Records the portal holds, as the backfill's first page reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// Seconds until this type is indexed, at the current rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eta_secs: Option<u64>,
}

/// The index as a whole.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IndexReadiness {
    /// Every mapped type is indexed, and no check against the portal is under way.
    pub complete: bool,
    /// The index is being checked against the portal (after a sandbox restart): until it is
    /// done it may still hold records the portal no longer has.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reconciling: bool,
    pub types: BTreeMap<String, TypeReadiness>,
}

impl IndexReadiness {
    /// Reads the backfill checkpoints of `types`.
    ///
    /// # Errors
    /// The record state cannot be read.
    pub async fn read(state: &dyn RecordState, types: &[String]) -> Result<Self, QueueError> {
        let progress: BTreeMap<String, serde_json::Value> = state
            .checkpoints_under("backfill_progress:")
            .await?
            .into_iter()
            .filter_map(|(ty, v)| Some((ty, serde_json::from_str(&v).ok()?)))
            .collect();
        let mut out = BTreeMap::new();
        for ty in types {
            let done = state.checkpoint(&format!("backfill:{ty}")).await?;
            let p = progress.get(ty);
            let indexed = p.and_then(|p| p["done"].as_u64()).unwrap_or(0);
            let total = p.and_then(|p| p["total"].as_u64());
            let state = match (done.as_deref(), p) {
                (Some("done"), _) => "indexed",
                (_, Some(_)) => "building",
                (Some(_), None) => "building",
                (None, None) => "waiting",
            };
            out.insert(
                ty.clone(),
                TypeReadiness {
                    state: state.into(),
                    indexed: if state == "indexed" {
                        total.unwrap_or(indexed).max(indexed)
                    } else {
                        indexed
                    },
                    total,
                    eta_secs: (state == "building")
                        .then(|| p.and_then(|p| p["etaSecs"].as_u64()))
                        .flatten(),
                },
            );
        }
        let reconciling = state.checkpoint(RECONCILING).await?.is_some();
        Ok(Self {
            complete: !reconciling && out.values().all(|t| t.state == "indexed"),
            reconciling,
            types: out,
        })
    }

    /// One line for a person or a model: `tickets 1,200/6,000 (about 40 s left), deals waiting`.
    pub fn summary(&self) -> String {
        if self.complete {
            return "the index is complete".into();
        }
        if self.reconciling {
            return "the index is being checked against the portal after a restart: until that ends it may still return records the portal no longer has (get_objects tells)".into();
        }
        let parts: Vec<String> = self
            .types
            .iter()
            .filter(|(_, t)| t.state != "indexed")
            .map(|(ty, t)| match (t.state.as_str(), t.total, t.eta_secs) {
                ("building", Some(total), Some(eta)) => {
                    format!("{ty} {}/{total} indexed (about {eta} s left)", t.indexed)
                }
                ("building", Some(total), None) => format!("{ty} {}/{total} indexed", t.indexed),
                ("building", None, _) => format!("{ty} being indexed"),
                _ => format!("{ty} not indexed yet"),
            })
            .collect();
        format!(
            "the index is still being built ({}): results cover only what is indexed so far, so a missing match is not evidence that none exists",
            parts.join(", ")
        )
    }
}
