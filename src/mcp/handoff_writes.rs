//! What a handoff writes onto a record, and nothing more.
//!
//! A handoff is the gate saying "a person decides this". It must never apply the change it
//! refused, so it writes only:
//! - the suggestion fields, where the portal has them: `ai_suggested_priority` (tickets, when a
//!   priority was suggested) and `ai_confidence`; a portal without them is told which to create
//!   (`suggestionFieldsMissing`), and the note carries the suggestion either way;
//! - the ticket's real `hs_ticket_priority` only when the policy's `escalate_priority` names one
//!   of the proposal's labels, only upward, and never toward the refused value;
//! - a note with the summary, rationale, confidence, labels, the proposed change, similar
//!   records and a link to the record in HubSpot;
//! - a review task assigned to the policy's reviewer (the gate does not start without one).
//!
//! Similar records come from the record's own indexed text (not the agent's rationale),
//! exclude the record itself, and must score at least `similar_min_score`; the note says when
//! nothing scored that high. A marker derived from the proposal makes the handoff idempotent.
//! [`HandoffWrites::writes`] lists every HubSpot write the handoff made, in order, so the
//! result and the audit entry's HubSpot calls can be compared.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::tools::{PropertyMap, Scalar, ToolError};
use super::HubSpotMcp;
use crate::hubspot::client::WriteOp;
use crate::hubspot::limit::Lane;
use crate::hubspot::model::WriteInput;
use crate::hubspot::path::ObjectType;

/// What a person is handed: the refused change's context.
#[derive(Debug, Clone, Default)]
pub struct HandoffRequest {
    pub action: String,
    pub confidence: f64,
    pub labels: Vec<String>,
    pub rationale: String,
    pub summary: Option<String>,
    /// For tickets: the priority the agent suggests (written to `ai_suggested_priority`).
    pub suggested_priority: Option<String>,
    /// Records the agent relied on; empty: the index is asked.
    pub similar_record_ids: Vec<String>,
}

/// One HubSpot write.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Written {
    /// `create` or `update`.
    pub op: String,
    pub object_type: String,
    pub id: String,
    /// The properties written (note and task bodies as their length).
    pub properties: BTreeMap<String, String>,
}

/// What a handoff wrote.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HandoffWrites {
    pub note_id: Option<String>,
    pub task_id: Option<String>,
    /// The ticket's real priority, when the policy escalated it.
    pub priority_escalated: Option<String>,
    /// The same proposal was already handed off: nothing new was written.
    pub duplicate: bool,
    /// Every HubSpot write this handoff made, in order.
    pub writes: Vec<Written>,
    /// Suggestion fields the portal lacks (create them to have the suggestion on the record).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suggestion_fields_missing: Vec<String>,
    /// Similar records the server retrieved from the semantic index for the note.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retrieved: Vec<RetrievedRecord>,
    /// The record in HubSpot's UI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_url: Option<String>,
    /// The handoff stopped part-way (after the writes listed); repeating it completes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A record retrieved as context.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetrievedRecord {
    pub id: String,
    /// The record's type; `knowledge` for a knowledge article.
    pub object_type: String,
    pub score: f64,
    pub title: String,
    /// Where the reviewer reads an article.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// The note → record association type id (shared object table).
fn note_type(object_type: &str) -> Option<u32> {
    crate::objects::by_name(object_type).and_then(|o| o.note_association)
}

/// The task → record association type id (shared object table).
fn task_type(object_type: &str) -> Option<u32> {
    crate::objects::by_name(object_type).and_then(|o| o.task_association)
}

fn failure(e: impl std::fmt::Display) -> ToolError {
    ToolError::Internal(e.to_string())
}

/// HTML-escapes text placed in a note or task body.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn summarized(props: &Value) -> BTreeMap<String, String> {
    props
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let s = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                    let shown = if k.ends_with("_body") {
                        format!("({} characters)", s.chars().count())
                    } else {
                        s
                    };
                    (k.clone(), shown)
                })
                .collect()
        })
        .unwrap_or_default()
}

impl HubSpotMcp {
    /// Hands a refused change to a person on the record (see the module docs).
    pub(crate) async fn hand_off(
        &self,
        t: &str,
        record_id: Option<&str>,
        p: &HandoffRequest,
        props: &BTreeMap<String, String>,
    ) -> Result<HandoffWrites, ToolError> {
        // The record the note and task are attached to, checked before anything is written,
        // so a bad id cannot leave half a handoff behind.
        let target = match record_id {
            Some(id) => Some(
                crate::hubspot::path::RecordId::parse(id)
                    .map_err(|e| ToolError::invalid(format!("recordId: {e}")))?,
            ),
            None => None,
        };
        let owner = self.policy.review_owner_id.clone().ok_or_else(|| {
            ToolError::Unavailable(
                "the handoff has no reviewer (handoff.review_owner_id); nothing was written".into(),
            )
        })?;
        let key_src = json!([t, record_id, p.action, props, p.suggested_priority]);
        let marker = format!(
            "hmcp-handoff-{}",
            &hex::encode(Sha256::digest(key_src.to_string().as_bytes()))[..16]
        );
        let record_url = match record_id {
            Some(id) => self.record_url(t, id).await,
            None => None,
        };
        // Idempotency: an earlier identical handoff left its marker in a note and a task. One
        // that stopped part-way (the note but no task) is completed, not repeated.
        let (mut existing_note, mut existing_task) = (None, None);
        if let Some(id) = record_id {
            existing_note = self
                .find_marked(t, id, "notes", "hs_note_body", &marker)
                .await?;
            existing_task = self
                .find_marked(t, id, "tasks", "hs_task_body", &marker)
                .await?;
            if existing_note.is_some() && (existing_task.is_some() || !self.policy.create_task) {
                return Ok(HandoffWrites {
                    note_id: existing_note,
                    task_id: existing_task,
                    priority_escalated: None,
                    duplicate: true,
                    writes: Vec::new(),
                    suggestion_fields_missing: Vec::new(),
                    retrieved: Vec::new(),
                    record_url,
                    error: None,
                });
            }
        }
        let mut writes = Vec::new();
        let mut missing = Vec::new();
        let mut escalated = None;
        if let (Some(id), None) = (record_id, &existing_note) {
            let idx = self.property_index_pub(t).await?;
            let mut change = PropertyMap::new();
            let suggested = p
                .suggested_priority
                .clone()
                .or_else(|| props.get("hs_ticket_priority").cloned())
                .filter(|_| t == "tickets");
            if let Some(prio) = &suggested {
                if idx.has("ai_suggested_priority") {
                    change.insert("ai_suggested_priority".into(), Scalar::Text(prio.clone()));
                } else {
                    missing.push("ai_suggested_priority".to_string());
                }
            }
            if idx.has("ai_confidence") {
                change.insert("ai_confidence".into(), Scalar::Number(p.confidence));
            } else {
                missing.push("ai_confidence".to_string());
            }
            if t == "tickets" && !self.policy.escalate_priority.is_empty() {
                let current = self
                    .client
                    .batch_read(
                        Lane::Interactive,
                        t,
                        &[id.to_string()],
                        &["hs_ticket_priority".to_string()],
                        None,
                    )
                    .await?
                    .results
                    .into_iter()
                    .next()
                    .and_then(|r| r.prop("hs_ticket_priority").map(str::to_string));
                escalated = self.policy.escalation(
                    &p.labels,
                    current.as_deref(),
                    props.get("hs_ticket_priority").map(String::as_str),
                );
                if let Some(to) = &escalated {
                    change.insert("hs_ticket_priority".into(), Scalar::Text(to.clone()));
                }
            }
            if !change.is_empty() {
                let checked = idx.check_writable_pub(&change)?;
                let out = self
                    .client
                    .batch_write(
                        Lane::Interactive,
                        t,
                        WriteOp::Update,
                        &[WriteInput {
                            id: Some(id.to_string()),
                            id_property: None,
                            properties: checked.clone(),
                        }],
                    )
                    .await?;
                if let Some(e) = out.errors.first() {
                    return Err(ToolError::hubspot_refused(format!(
                        "the handoff could not write the suggestion onto {t} {id}: {}; nothing else was written",
                        e.describe()
                    )));
                }
                writes.push(Written {
                    op: "update".into(),
                    object_type: t.to_string(),
                    id: id.to_string(),
                    properties: checked,
                });
            }
        }
        let (similar, retrieved) = self.similar_records(t, record_id, p).await;
        let context = format!(
            "<p><strong>AI handoff</strong>: {} on {} {}</p><p>Record: {}</p><p>Summary: {}</p><p>Confidence: {:.2}. Labels: {}.</p><p>Rationale: {}</p><p>Proposed change (not applied): {}</p><p>Similar records: {}</p><p>{}</p>",
            esc(&p.action),
            esc(t),
            esc(record_id.unwrap_or("(new record)")),
            record_url.as_deref().map_or_else(|| "(new record)".to_string(), |u| format!("<a href=\"{u}\">{u}</a>")),
            esc(p.summary.as_deref().unwrap_or("—")),
            p.confidence,
            esc(&if p.labels.is_empty() { "none".into() } else { p.labels.join(", ") }),
            esc(&p.rationale),
            esc(&serde_json::to_string(props).unwrap_or_default()),
            esc(&similar),
            marker
        );
        let now = crate::time::iso_ms(chrono::Utc::now().timestamp_millis());
        let on_record = |type_id: Option<u32>| target.clone().zip(type_id);
        let mut error = None;
        let note_id = match existing_note {
            Some(id) => Some(id),
            None => {
                let note_props = json!({"hs_note_body": context, "hs_timestamp": now});
                match self
                    .client
                    .create_one(
                        Lane::Interactive,
                        &ObjectType::parse("notes").map_err(failure)?,
                        note_props.clone(),
                        on_record(note_type(t)),
                    )
                    .await
                {
                    Ok(note) => {
                        writes.push(Written {
                            op: "create".into(),
                            object_type: "notes".into(),
                            id: note.id.clone(),
                            properties: summarized(&note_props),
                        });
                        Some(note.id)
                    }
                    Err(e) => {
                        error = Some(format!("the note could not be created: {e}"));
                        None
                    }
                }
            }
        };
        let mut task_id = existing_task;
        if self.policy.create_task && task_id.is_none() && error.is_none() {
            let task_props = json!({
                "hs_task_subject": format!("Review AI proposal: {} on {} {}", p.action, t, record_id.unwrap_or("(new)")),
                "hs_task_body": context,
                "hs_task_status": "NOT_STARTED",
                "hs_task_priority": if p.labels.is_empty() { "MEDIUM" } else { "HIGH" },
                "hs_timestamp": now,
                "hubspot_owner_id": owner,
            });
            match self
                .client
                .create_one(
                    Lane::Interactive,
                    &ObjectType::parse("tasks").map_err(failure)?,
                    task_props.clone(),
                    on_record(task_type(t)),
                )
                .await
            {
                Ok(task) => {
                    writes.push(Written {
                        op: "create".into(),
                        object_type: "tasks".into(),
                        id: task.id.clone(),
                        properties: summarized(&task_props),
                    });
                    task_id = Some(task.id);
                }
                Err(e) => error = Some(format!("the review task could not be created: {e}")),
            }
        }
        Ok(HandoffWrites {
            note_id,
            task_id,
            priority_escalated: escalated,
            duplicate: false,
            writes,
            suggestion_fields_missing: missing,
            retrieved,
            record_url,
            error,
        })
    }

    /// The records the agent named, or the index's nearest neighbours of the record's own text
    /// above the policy's floor (never the record itself). The text for the note, and what was
    /// retrieved (for the audit).
    async fn similar_records(
        &self,
        t: &str,
        record_id: Option<&str>,
        p: &HandoffRequest,
    ) -> (String, Vec<RetrievedRecord>) {
        let named = &p.similar_record_ids;
        if !named.is_empty() {
            return (
                format!("named by the agent: {}", named.join(", ")),
                Vec::new(),
            );
        }
        let Some(engine) = &self.sync else {
            return (
                "none (the semantic index is not running)".into(),
                Vec::new(),
            );
        };
        let floor = self.policy.similar_min_score;
        let query = match record_id {
            Some(id) => match engine.record_text(t, id).await {
                Ok(Some(text)) => text,
                Ok(None) => return ("none (the record has no indexable text)".into(), Vec::new()),
                Err(e) => {
                    tracing::warn!(error = %e, "no similar records for the handoff note");
                    return ("none (the record could not be read)".into(), Vec::new());
                }
            },
            // A new record: what it would say is the proposed change itself.
            None => p.summary.clone().unwrap_or_else(|| p.rationale.clone()),
        };
        let filter = crate::index::SearchFilter {
            object_types: vec![t.to_string()],
            ..Default::default()
        };
        let hits = match engine.search(&query, 8, &filter).await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "no similar records for the handoff note");
                return ("none (the semantic index failed)".into(), Vec::new());
            }
        };
        // The knowledge articles that answer it, for the reviewer (best two above the floor).
        let article_filter = crate::index::SearchFilter {
            object_types: vec![crate::knowledge::KIND.to_string()],
            ..Default::default()
        };
        let articles = engine
            .search(&query, 2, &article_filter)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "no knowledge articles for the handoff note");
                Vec::new()
            });
        let retrieved: Vec<RetrievedRecord> = hits
            .into_iter()
            .filter(|h| Some(h.payload.record_id.as_str()) != record_id)
            .filter(|h| f64::from(h.score) >= floor)
            .take(5)
            .chain(articles.into_iter().filter(|h| f64::from(h.score) >= floor))
            .map(|h| RetrievedRecord {
                id: h.payload.record_id.clone(),
                object_type: h.payload.object_type.clone(),
                score: (f64::from(h.score) * 1000.0).round() / 1000.0,
                title: h.payload.title.clone(),
                url: h.payload.url.clone(),
            })
            .collect();
        if retrieved.is_empty() {
            return (
                format!("none scored {floor} or more (handoff.similar_min_score)"),
                retrieved,
            );
        }
        let text = retrieved
            .iter()
            .map(|r| match &r.url {
                Some(url) => format!(
                    "{} {} ({:.2}): {} {url}",
                    r.object_type, r.id, r.score, r.title
                ),
                None => format!("{} {} ({:.2}): {}", r.object_type, r.id, r.score, r.title),
            })
            .collect::<Vec<_>>()
            .join(", ");
        (text, retrieved)
    }

    /// The id of a note or task associated with the record whose body carries `marker`.
    async fn find_marked(
        &self,
        t: &str,
        id: &str,
        kind: &str,
        body_prop: &str,
        marker: &str,
    ) -> Result<Option<String>, ToolError> {
        let (links, _) = self
            .client
            .associations(Lane::Interactive, t, kind, &[id.to_string()])
            .await?;
        let ids: Vec<String> = links
            .get(id)
            .map(|v| v.iter().map(|a| a.to_object_id.clone()).collect())
            .unwrap_or_default();
        if ids.is_empty() {
            return Ok(None);
        }
        let out = self
            .client
            .batch_read(
                Lane::Interactive,
                kind,
                &ids,
                &[body_prop.to_string()],
                None,
            )
            .await?;
        Ok(out
            .results
            .into_iter()
            .find(|r| r.prop(body_prop).is_some_and(|b| b.contains(marker)))
            .map(|r| r.id))
    }
}
