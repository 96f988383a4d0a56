//! The index toolset: `semantic_search` and `find_duplicates`, offered when the server runs
//! with the sync engine (the semantic index of the CRM).
//!
//! What `semantic_search` returns (record ids and scores) is what the audit log records as the
//! call's retrieved context.

use rmcp::{tool, tool_router, Json};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::error::ToolError;
use crate::index::SearchFilter;
use crate::knowledge::KIND as ARTICLE_KIND;
use crate::mcp::params::Parameters;
use crate::mcp::HubSpotMcp;

/// What a semantic search returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HitKind {
    /// CRM records (contacts, companies, deals, tickets, …).
    Records,
    /// Knowledge articles (help centre, runbooks).
    Articles,
}

/// `semantic_search` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SemanticSearchParams {
    /// What to look for, in plain words (or give similarTo).
    #[serde(default)]
    pub query: Option<String>,
    /// Find what is similar to this record, e.g. "tickets/123" (the record itself is left
    /// out).
    #[serde(default)]
    pub similar_to: Option<String>,
    /// Results (1-50, default 10).
    #[serde(default)]
    pub k: Option<u32>,
    /// records, articles, or both (the default; with objectTypes given, records only).
    #[serde(default)]
    pub kinds: Vec<HitKind>,
    /// Only these record types, e.g. ["tickets"].
    #[serde(default)]
    pub object_types: Vec<String>,
    #[serde(default)]
    pub owner_id: Option<String>,
    /// Pipeline id.
    #[serde(default)]
    pub pipeline: Option<String>,
    /// Stage id.
    #[serde(default)]
    pub stage: Option<String>,
    /// Updated since (ISO 8601 or epoch ms).
    #[serde(default)]
    pub updated_after: Option<String>,
}

/// One hit.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SemanticHit {
    /// `record` or `article`.
    pub kind: &'static str,
    pub id: String,
    /// The record's type; `knowledge` for an article.
    pub object_type: String,
    /// Cosine similarity, 3 decimals.
    pub score: f64,
    pub title: String,
    pub snippet: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// The pipeline stage's label, and whether it is a closed stage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed: Option<bool>,
    /// Associated records, `type/id`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub associations: Vec<String>,
    /// Where a person reads it: the record in HubSpot, or the article.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// `semantic_search` result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SemanticSearchOutput {
    pub results: Vec<SemanticHit>,
    /// Present only while the index is still being built: results then cover only what is
    /// indexed so far.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<crate::sync::readiness::IndexReadiness>,
    /// What `index` means, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `find_duplicates` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FindDuplicatesParams {
    /// email, domain or phone (compared normalized).
    pub field: String,
    #[serde(default)]
    pub object_type: Option<String>,
    /// Groups (default 20, at most 200).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// A group of records sharing one normalized value.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DuplicateGroup {
    pub value: String,
    /// `type/id: title`.
    pub records: Vec<String>,
}

/// `find_duplicates` result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct FindDuplicatesOutput {
    pub groups: Vec<DuplicateGroup>,
}

fn invalid(msg: impl Into<String>) -> ToolError {
    ToolError::InvalidArguments(msg.into())
}

#[tool_router(router = index_router, vis = "pub")]
impl HubSpotMcp {
    /// Searches the CRM by meaning.
    #[tool(
        description = "Find records and knowledge articles by meaning, not keywords (similar past tickets, the article that answers a question), or what is similar to a record (similarTo: \"tickets/123\"): top k with kind, score, title, snippet, stage label and a URL. Filters: kinds (records, articles), objectTypes, ownerId, pipeline, stage, updatedAfter.",
        annotations(
            title = "Semantic search",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn semantic_search(
        &self,
        Parameters(p): Parameters<SemanticSearchParams>,
    ) -> Result<Json<SemanticSearchOutput>, ToolError> {
        let Some(engine) = &self.sync else {
            return Err(ToolError::Unavailable(
                "the semantic index is not running on this server: start it with sync enabled (serve --sync)".into(),
            ));
        };
        let (query, exclude) =
            match (&p.query, &p.similar_to) {
                (Some(q), None) if !q.trim().is_empty() => (q.clone(), None),
                (Some(_), None) => return Err(invalid("query: must not be empty")),
                (None, Some(r)) => {
                    let (t, id) = r.split_once('/').ok_or_else(|| {
                        invalid(format!(
                            "similarTo: {r:?} is not a record reference like \"tickets/123\""
                        ))
                    })?;
                    let t = self.object_type(t).await.map_err(|e| e.at("similarTo"))?;
                    let id = crate::hubspot::path::RecordId::parse(id)
                        .map_err(|e| invalid(format!("similarTo: {e}")))?
                        .to_string();
                    let text = engine.record_text(&t, &id).await?.ok_or_else(|| {
                        invalid(format!(
                            "similarTo: {t}/{id} does not exist, or its type is not indexed"
                        ))
                    })?;
                    (text, Some(format!("{t}/{id}")))
                }
                (None, None) => return Err(invalid(
                    "give query (what to look for) or similarTo (a record, e.g. \"tickets/123\")",
                )),
                (Some(_), Some(_)) => return Err(invalid("give query or similarTo, not both")),
            };
        let k = p.k.unwrap_or(10);
        if !(1..=50).contains(&k) {
            return Err(invalid(format!("k: {k} is outside 1-50")));
        }
        let known = engine.mapping().object_types();
        let records = p.kinds.is_empty() || p.kinds.contains(&HitKind::Records);
        let articles = (p.kinds.is_empty() && p.object_types.is_empty())
            || p.kinds.contains(&HitKind::Articles);
        if !records && !p.object_types.is_empty() {
            return Err(invalid(
                "objectTypes: record types do not apply to kinds [\"articles\"]; add \"records\" to kinds or leave objectTypes out",
            ));
        }
        for t in &p.object_types {
            if !known.contains(t) {
                return Err(invalid(format!(
                    "objectTypes: {t:?} is not indexed; indexed types are {}",
                    known.join(", ")
                )));
            }
        }
        let updated_after_ms = p
            .updated_after
            .as_deref()
            .map(|s| super::validate::date_arg("updatedAfter", s))
            .transpose()?;
        let object_types = if !records {
            vec![ARTICLE_KIND.to_string()]
        } else if p.object_types.is_empty() {
            if articles {
                Vec::new()
            } else {
                known.clone()
            }
        } else {
            let mut t = p.object_types.clone();
            if articles {
                t.push(ARTICLE_KIND.into());
            }
            t
        };
        let filter = SearchFilter {
            object_types,
            owner_id: p.owner_id.clone(),
            pipeline: p.pipeline.clone(),
            stage: p.stage.clone(),
            updated_after_ms,
            ..Default::default()
        };
        let extra = usize::from(exclude.is_some());
        let mut hits = engine
            .search(&query, k as usize + extra, &filter)
            .await
            .map_err(ToolError::from)?;
        hits.retain(|h| Some(&h.record) != exclude.as_ref());
        hits.truncate(k as usize);
        let readiness = engine.readiness().await.map_err(ToolError::from)?;
        let (index, note) = if readiness.complete {
            (None, None)
        } else {
            let note = readiness.summary();
            (Some(readiness), Some(note))
        };
        let mut results = Vec::with_capacity(hits.len());
        for h in hits {
            let article = h.payload.object_type == ARTICLE_KIND;
            let url = if article {
                h.payload.url.clone()
            } else {
                self.record_url(&h.payload.object_type, &h.payload.record_id)
                    .await
            };
            let stage = match (&h.payload.pipeline, &h.payload.stage) {
                (Some(pl), Some(st)) => self.stage_of(&h.payload.object_type, pl, st).await,
                _ => None,
            };
            results.push((h, url, stage));
        }
        Ok(Json(SemanticSearchOutput {
            index,
            note,
            results: results
                .into_iter()
                .map(|(h, url, stage)| SemanticHit {
                    closed: stage.as_ref().and_then(|s| s.closed()),
                    stage: stage.map(|s| s.label),
                    kind: if h.payload.object_type == ARTICLE_KIND {
                        "article"
                    } else {
                        "record"
                    },
                    url,
                    id: h.payload.record_id.clone(),
                    object_type: h.payload.object_type.clone(),
                    score: (f64::from(h.score) * 1000.0).round() / 1000.0,
                    title: h.payload.title.clone(),
                    snippet: h.payload.snippet.clone(),
                    updated_at: h.payload.updated_ms.and_then(|ms| {
                        chrono::DateTime::from_timestamp_millis(ms)
                            .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                    }),
                    associations: h.payload.associations.clone(),
                })
                .collect(),
        }))
    }

    /// Reports records sharing a normalized email, domain or phone.
    #[tool(
        description = "Find likely duplicate records: groups sharing a normalized email, domain or phone (case, spaces and phone formats ignored).",
        annotations(
            title = "Find duplicates",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn find_duplicates(
        &self,
        Parameters(p): Parameters<FindDuplicatesParams>,
    ) -> Result<Json<FindDuplicatesOutput>, ToolError> {
        let Some(engine) = &self.sync else {
            return Err(ToolError::Unavailable(
                "the semantic index is not running on this server: start it with sync enabled (serve --sync)".into(),
            ));
        };
        if !matches!(p.field.as_str(), "email" | "domain" | "phone") {
            return Err(invalid(format!(
                "field: {:?} is not one of email, domain, phone",
                p.field
            )));
        }
        let limit = p.limit.unwrap_or(20).clamp(1, 200) as usize;
        let groups = engine
            .state()
            .duplicates(&p.field, p.object_type.as_deref(), limit)
            .await
            .map_err(ToolError::from)?;
        Ok(Json(FindDuplicatesOutput {
            groups: groups
                .into_iter()
                .map(|(value, rows)| DuplicateGroup {
                    value,
                    records: rows
                        .into_iter()
                        .map(|r| format!("{}: {}", r.reference, r.title))
                        .collect(),
                })
                .collect(),
        }))
    }
}

impl HubSpotMcp {
    /// A stage of a pipeline, from the metadata cache (no HubSpot call once cached); `None`
    /// when it cannot be read or no longer exists.
    async fn stage_of(
        &self,
        object_type: &str,
        pipeline: &str,
        stage: &str,
    ) -> Option<crate::hubspot::model::PipelineStage> {
        self.client
            .pipelines(object_type)
            .await
            .ok()?
            .into_iter()
            .find(|p| p.id == pipeline)?
            .stages
            .into_iter()
            .find(|s| s.id == stage)
    }
}
