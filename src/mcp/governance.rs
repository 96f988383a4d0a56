//! `propose_action`: the confidence- and severity-gated write (the governance toolset).
//!
//! The AI proposes a change with a confidence, labels and a rationale. The handoff policy
//! ([`crate::handoff`]) decides: `applied` (the change is written) or `handed_off` (a person
//! decides). A handoff writes the AI's context onto the HubSpot record: the suggested ticket
//! priority, a note with the summary, the similar records it relied on, its confidence and
//! rationale, and a review task for an owner or queue. Handoffs are idempotent: a marker derived
//! from the proposal is stored in the note and task, and a repeated proposal finds them instead
//! of writing new ones. The decision path is returned and recorded in the audit log.

use std::collections::BTreeMap;

use rmcp::{tool, tool_router, Json};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::params::Parameters;
use super::tools::{PropertyMap, RecordId, ToolFailure};
use super::HubSpotMcp;
use crate::handoff::{evaluate, Outcome, Proposal, RuleResult};
use crate::hubspot::client::WriteOp;
use crate::hubspot::limit::Lane;
use crate::hubspot::model::WriteInput;
use crate::hubspot::path::ObjectType;

/// `propose_action` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProposeActionParams {
    /// create, update, set_priority, close_ticket, change_deal_stage, or another action name.
    pub action: String,
    pub object_type: String,
    /// The record to change; omit to create one.
    #[serde(default)]
    pub record_id: Option<RecordId>,
    /// The change: property name → value.
    #[serde(default)]
    pub properties: PropertyMap,
    /// Your confidence that the change is right, 0 to 1.
    pub confidence: f64,
    /// Severity or topic labels (security, legal, outage, billing, …).
    #[serde(default)]
    pub labels: Vec<String>,
    /// Why you propose this; recorded and shown to the reviewer.
    pub rationale: String,
    /// For tickets: the priority you suggest (LOW, MEDIUM, HIGH, URGENT).
    #[serde(default)]
    pub suggested_priority: Option<String>,
    /// Ids of the similar records you relied on.
    #[serde(default)]
    pub similar_record_ids: Vec<RecordId>,
    /// A one-paragraph summary for the reviewer.
    #[serde(default)]
    pub summary: Option<String>,
}

/// The user's answer when the client can be asked.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Confirmation {
    /// Apply the proposed change?
    pub approve: bool,
    /// A corrected ticket priority (LOW, MEDIUM, HIGH, URGENT), if the proposal's is wrong.
    #[serde(default)]
    pub priority: Option<String>,
}

rmcp::elicit_safe!(Confirmation);

/// What a handoff wrote.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HandoffWrites {
    pub note_id: Option<String>,
    pub task_id: Option<String>,
    pub priority_set: Option<String>,
    /// The same proposal was already handed off: nothing new was written.
    pub duplicate: bool,
    /// Similar records the server retrieved from the semantic index for the note (when the
    /// agent named none and the index runs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retrieved: Vec<RetrievedRecord>,
}

/// A record retrieved as context.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetrievedRecord {
    pub id: String,
    pub object_type: String,
    pub score: f64,
    pub title: String,
}

/// `propose_action` output.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProposeActionOutput {
    /// applied or handed_off.
    pub decision: String,
    pub decision_path: Vec<Value>,
    pub record_id: Option<String>,
    pub handoff: Option<HandoffWrites>,
}

/// The note → record association type id (shared object table).
fn note_type(object_type: &str) -> Option<u32> {
    crate::objects::by_name(object_type).and_then(|o| o.note_association)
}

/// The task → record association type id (shared object table).
fn task_type(object_type: &str) -> Option<u32> {
    crate::objects::by_name(object_type).and_then(|o| o.task_association)
}

fn failure(e: impl std::fmt::Display) -> ToolFailure {
    ToolFailure::Failed(e.to_string())
}

#[tool_router(router = governance_router, vis = "pub")]
impl HubSpotMcp {
    /// Proposes a change through the handoff gate.
    #[tool(
        description = "Propose a change with your confidence (0-1), labels and rationale. The policy applies it, or hands it to a person: the ticket gets your suggested priority, a note with your context and a review task. Repeating a proposal writes nothing new. Returns the decision path.",
        annotations(
            title = "Propose action",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn propose_action(
        &self,
        peer: rmcp::Peer<rmcp::RoleServer>,
        Parameters(p): Parameters<ProposeActionParams>,
    ) -> Result<Json<ProposeActionOutput>, ToolFailure> {
        if !(0.0..=1.0).contains(&p.confidence) {
            return Err(ToolFailure::Invalid(rmcp::ErrorData::invalid_params(
                format!("confidence {} is outside 0..1", p.confidence),
                None,
            )));
        }
        let t = self.object_type(&p.object_type).await?;
        let idx = self.property_index_pub(&t).await?;
        let props = idx.check_writable_pub(&p.properties)?;
        let proposal = Proposal {
            action: p.action.clone(),
            properties: props.clone(),
            confidence: p.confidence,
            labels: p.labels.clone(),
        };
        let decision = evaluate(&self.policy, &proposal);
        let mut path: Vec<Value> = decision
            .path
            .iter()
            .map(|r: &RuleResult| serde_json::to_value(r).unwrap_or_default())
            .collect();
        let record_id = p.record_id.as_ref().map(RecordId::text);
        let mut props = props;
        let mut outcome = decision.outcome;
        // Ask the person in the client first, when the client can be asked.
        if outcome == Outcome::HandedOff
            && self.policy.elicit
            && peer
                .peer_info()
                .is_some_and(|i| i.capabilities.elicitation.is_some())
        {
            let question = format!(
                "The AI proposes {} on {} {}: {}. Confidence {:.2}. Rationale: {}. Apply it?",
                p.action,
                t,
                record_id.as_deref().unwrap_or("(new record)"),
                serde_json::to_string(&props).unwrap_or_default(),
                p.confidence,
                p.rationale
            );
            let answer = peer
                .elicit_with_timeout::<Confirmation>(
                    question,
                    Some(std::time::Duration::from_secs(
                        self.policy.elicit_timeout_secs,
                    )),
                )
                .await;
            let (verdict, inputs) = match &answer {
                Ok(Some(c)) if c.approve => ("pass", json!({"answer": c})),
                Ok(Some(c)) => ("rejected", json!({"answer": c})),
                Err(rmcp::service::ElicitationError::UserDeclined) => {
                    ("rejected", json!({"answer": "declined"}))
                }
                Ok(None) => ("handoff", json!({"answer": "no content"})),
                Err(e) => (
                    "handoff",
                    json!({"answer": "none", "reason": e.to_string()}),
                ),
            };
            path.push(json!({"rule": "user_confirmation", "inputs": inputs, "verdict": verdict}));
            match (verdict, &answer) {
                ("pass", Ok(Some(c))) => {
                    if let (Some(prio), true) =
                        (&c.priority, props.contains_key("hs_ticket_priority"))
                    {
                        props.insert("hs_ticket_priority".into(), prio.clone());
                    }
                    outcome = Outcome::Applied;
                }
                ("rejected", _) => {
                    return Ok(Json(ProposeActionOutput {
                        decision: "rejected".into(),
                        decision_path: path,
                        record_id,
                        handoff: None,
                    }));
                }
                _ => {}
            }
        }
        if outcome == Outcome::Applied {
            let (op, input) = match &record_id {
                Some(id) => (
                    WriteOp::Update,
                    WriteInput {
                        id: Some(id.clone()),
                        id_property: None,
                        properties: props,
                    },
                ),
                None => (
                    WriteOp::Create,
                    WriteInput {
                        id: None,
                        id_property: None,
                        properties: props,
                    },
                ),
            };
            let out = self
                .client
                .batch_write(Lane::Interactive, &t, op, &[input])
                .await?;
            if let Some(e) = out.errors.first() {
                return Err(ToolFailure::Failed(format!(
                    "the change passed the gate but HubSpot refused it: {}",
                    e.message
                )));
            }
            let id = out.results.first().map(|r| r.id.clone()).or(record_id);
            return Ok(Json(ProposeActionOutput {
                decision: "applied".into(),
                decision_path: path,
                record_id: id,
                handoff: None,
            }));
        }
        let writes = self.hand_off(&t, record_id.as_deref(), &p, &props).await?;
        Ok(Json(ProposeActionOutput {
            decision: "handed_off".into(),
            decision_path: path,
            record_id,
            handoff: Some(writes),
        }))
    }
}

impl HubSpotMcp {
    /// Hands a change off on a record (the write gate uses it for gated updates).
    pub(crate) async fn hand_off_pub(
        &self,
        t: &str,
        record_id: Option<&str>,
        p: &ProposeActionParams,
        props: &BTreeMap<String, String>,
    ) -> Result<HandoffWrites, ToolFailure> {
        self.hand_off(t, record_id, p, props).await
    }

    async fn hand_off(
        &self,
        t: &str,
        record_id: Option<&str>,
        p: &ProposeActionParams,
        props: &BTreeMap<String, String>,
    ) -> Result<HandoffWrites, ToolFailure> {
        // The record the note and task are attached to, checked before anything is written,
        // so a bad id cannot leave half a handoff behind.
        let target = match record_id {
            Some(id) => Some(
                crate::hubspot::path::RecordId::parse(id).map_err(|e| failure(e.to_string()))?,
            ),
            None => None,
        };
        let key_src = json!([t, record_id, p.action, props, p.suggested_priority]);
        let marker = format!(
            "hmcp-handoff-{}",
            &hex::encode(Sha256::digest(key_src.to_string().as_bytes()))[..16]
        );
        // Idempotency: an earlier identical handoff left its marker in a note and a task.
        if let Some(id) = record_id {
            let note = self
                .find_marked(t, id, "notes", "hs_note_body", &marker)
                .await?;
            let task = self
                .find_marked(t, id, "tasks", "hs_task_body", &marker)
                .await?;
            if note.is_some() {
                return Ok(HandoffWrites {
                    note_id: note,
                    task_id: task,
                    priority_set: None,
                    duplicate: true,
                    retrieved: Vec::new(),
                });
            }
        }
        let mut priority_set = None;
        if let (Some(id), Some(prio), "tickets", true) = (
            record_id,
            p.suggested_priority.as_deref(),
            t,
            self.policy.set_ticket_priority,
        ) {
            let idx = self.property_index_pub(t).await?;
            let mut change = PropertyMap::new();
            change.insert(
                "hs_ticket_priority".into(),
                super::tools::Scalar::Text(prio.to_string()),
            );
            if idx.has("ai_suggested_priority") {
                change.insert(
                    "ai_suggested_priority".into(),
                    super::tools::Scalar::Text(prio.to_string()),
                );
            }
            if idx.has("ai_confidence") {
                change.insert(
                    "ai_confidence".into(),
                    super::tools::Scalar::Number(p.confidence),
                );
            }
            let props = idx.check_writable_pub(&change)?;
            self.client
                .batch_write(
                    Lane::Interactive,
                    t,
                    WriteOp::Update,
                    &[WriteInput {
                        id: Some(id.to_string()),
                        id_property: None,
                        properties: props,
                    }],
                )
                .await?;
            priority_set = Some(prio.to_string());
        }
        let mut similar: Vec<String> = p.similar_record_ids.iter().map(RecordId::text).collect();
        let mut retrieved = Vec::new();
        if similar.is_empty() {
            if let Some(engine) = &self.sync {
                // Ask the index for the most similar records of the same type.
                let query = format!("{} {}", p.summary.as_deref().unwrap_or(""), p.rationale);
                let filter = crate::index::SearchFilter {
                    object_types: vec![t.to_string()],
                    ..Default::default()
                };
                match engine.search(&query, 6, &filter).await {
                    Ok(hits) => {
                        for h in hits
                            .into_iter()
                            .filter(|h| Some(h.payload.record_id.as_str()) != record_id)
                            .take(5)
                        {
                            similar.push(format!(
                                "{} {} ({:.2}): {}",
                                h.payload.object_type,
                                h.payload.record_id,
                                h.score,
                                h.payload.title
                            ));
                            retrieved.push(RetrievedRecord {
                                id: h.payload.record_id.clone(),
                                object_type: h.payload.object_type.clone(),
                                score: (f64::from(h.score) * 1000.0).round() / 1000.0,
                                title: h.payload.title.clone(),
                            });
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "no similar records for the handoff note"),
                }
            }
        }
        let context = format!(
            "<p><strong>AI handoff</strong>: {} on {} {}</p><p>Summary: {}</p><p>Confidence: {:.2}. Labels: {}.</p><p>Rationale: {}</p><p>Proposed change: {}</p><p>Similar records: {}</p><p>{}</p>",
            p.action,
            t,
            record_id.unwrap_or("(new record)"),
            p.summary.as_deref().unwrap_or("—"),
            p.confidence,
            if p.labels.is_empty() { "none".into() } else { p.labels.join(", ") },
            p.rationale,
            serde_json::to_string(props).unwrap_or_default(),
            if similar.is_empty() { "none".into() } else { similar.join(", ") },
            marker
        );
        let now = crate::time::iso_ms(chrono::Utc::now().timestamp_millis());
        let on_record = |type_id: Option<u32>| target.clone().zip(type_id);
        let note = self
            .client
            .create_one(
                Lane::Interactive,
                &ObjectType::parse("notes").map_err(failure)?,
                json!({"hs_note_body": context, "hs_timestamp": now}),
                on_record(note_type(t)),
            )
            .await
            .map_err(failure)?;
        let note_id = Some(note.id);
        let mut task_id = None;
        if self.policy.create_task {
            let mut task_props = json!({
                "hs_task_subject": format!("Review AI proposal: {} on {} {}", p.action, t, record_id.unwrap_or("(new)")),
                "hs_task_body": context,
                "hs_task_status": "NOT_STARTED",
                "hs_task_priority": if p.labels.is_empty() { "MEDIUM" } else { "HIGH" },
                "hs_timestamp": now,
            });
            if let Some(owner) = &self.policy.review_owner_id {
                task_props["hubspot_owner_id"] = json!(owner);
            }
            let task = self
                .client
                .create_one(
                    Lane::Interactive,
                    &ObjectType::parse("tasks").map_err(failure)?,
                    task_props,
                    on_record(task_type(t)),
                )
                .await
                .map_err(failure)?;
            task_id = Some(task.id);
        }
        Ok(HandoffWrites {
            note_id,
            task_id,
            priority_set,
            duplicate: false,
            retrieved,
        })
    }

    /// The id of a note or task associated with the record whose body carries `marker`.
    async fn find_marked(
        &self,
        t: &str,
        id: &str,
        kind: &str,
        body_prop: &str,
        marker: &str,
    ) -> Result<Option<String>, ToolFailure> {
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
