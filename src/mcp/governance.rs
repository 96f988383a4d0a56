//! `propose_action`: the confidence- and severity-gated write (the governance toolset).
//!
//! The AI proposes a change with a confidence, labels and a rationale. The handoff policy
//! ([`crate::handoff`]) decides: `applied` (the change is written) or `handed_off` (a person
//! decides). Before a handoff the person in the client is asked when it can be
//! ([`super::confirm`]: the record's current and proposed values). A handoff never writes the
//! refused change: it writes the suggestion fields, a note and a review task
//! ([`super::handoff_writes`]), idempotently. The result's `written` lists every HubSpot write
//! the call made; the decision path is returned and recorded in the audit log.

use rmcp::{tool, tool_router, Json};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use rmcp::handler::server::tool::{InputResponses as ToolInputResponses, RequestState};

use super::confirm::{question, reasons, Answer, Asked, RecordChange, RecordPreview, Round};
use super::handoff_writes::{HandoffRequest, HandoffWrites, Written};
use super::params::Parameters;
use super::tools::{PropertyMap, RecordId, Scalar, ToolError};
use super::HubSpotMcp;
use crate::handoff::{evaluate, Outcome, Proposal, RuleResult};
use crate::hubspot::client::WriteOp;
use crate::hubspot::limit::Lane;
use crate::hubspot::model::WriteInput;

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

/// `propose_action` output.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProposeActionOutput {
    /// applied, handed_off or rejected.
    pub decision: String,
    pub decision_path: Vec<Value>,
    pub record_id: Option<String>,
    /// Every HubSpot write this call made (the change when applied; the handoff's suggestion
    /// fields, note and task when handed off; nothing when rejected).
    pub written: Vec<Written>,
    /// The record as the person was (or would have been) asked about it: each property's
    /// current and proposed value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<RecordPreview>,
    pub handoff: Option<HandoffWrites>,
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
        context: rmcp::service::RequestContext<rmcp::RoleServer>,
        RequestState(state): RequestState,
        ToolInputResponses(responses): ToolInputResponses,
        Parameters(p): Parameters<ProposeActionParams>,
    ) -> Result<Json<ProposeActionOutput>, ToolError> {
        if !(0.0..=1.0).contains(&p.confidence) {
            return Err(ToolError::invalid(format!(
                "confidence {} is outside 0..1",
                p.confidence
            )));
        }
        let t = self.object_type(&p.object_type).await?;
        let idx = self.property_index_pub(&t).await?;
        // Judged as HubSpot will store it: the same strings are written when applied.
        let mut props = idx.check_writable_pub(&p.properties)?;
        let proposal = Proposal {
            action: p.action.clone(),
            // The write it performs is judged too: a "create" with a record id is an update.
            also: vec![if p.record_id.is_some() {
                "update"
            } else {
                "create"
            }
            .to_string()],
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
        let mut outcome = decision.outcome;
        let mut records = Vec::new();
        if outcome == Outcome::HandedOff {
            let change = RecordChange {
                id: record_id.clone(),
                properties: props.clone(),
            };
            records = self.previews(&t, &[change], None).await?;
            let message = question(
                &p.action,
                &t,
                &records,
                p.confidence,
                &p.labels,
                &p.rationale,
                &reasons(&path),
            );
            // Ask the person in the client first, when the client can be asked.
            let round = Round {
                context: &context,
                tool: "propose_action",
                binding: serde_json::json!([
                    record_id,
                    props,
                    p.action,
                    p.confidence,
                    p.labels,
                    p.rationale,
                    p.suggested_priority,
                    p.summary
                ])
                .to_string(),
                input_responses: responses.as_ref(),
                request_state: state.as_deref(),
            };
            let asked = self.ask(&round, message).await;
            if let Asked::Pending(input) = asked {
                return Err(ToolError::InputRequired(input));
            }
            if let Asked::Answered(answer) = asked {
                path.push(answer.rule());
                match answer {
                    Answer::Approved(c) => {
                        if let (Some(prio), true) =
                            (&c.priority, props.contains_key("hs_ticket_priority"))
                        {
                            let mut corrected = PropertyMap::new();
                            corrected
                                .insert("hs_ticket_priority".into(), Scalar::Text(prio.clone()));
                            props.extend(idx.check_writable_pub(&corrected)?);
                        }
                        outcome = Outcome::Applied;
                    }
                    Answer::Rejected => {
                        return Ok(Json(ProposeActionOutput {
                            decision: "rejected".into(),
                            decision_path: path,
                            record_id,
                            written: Vec::new(),
                            records,
                            handoff: None,
                        }));
                    }
                    Answer::Unanswered(_) => {}
                }
            }
        }
        if outcome == Outcome::Applied {
            let (op, input) = match &record_id {
                Some(id) => (
                    WriteOp::Update,
                    WriteInput {
                        id: Some(id.clone()),
                        id_property: None,
                        properties: props.clone(),
                    },
                ),
                None => (
                    WriteOp::Create,
                    WriteInput {
                        id: None,
                        id_property: None,
                        properties: props.clone(),
                    },
                ),
            };
            let out = self
                .client
                .batch_write(Lane::Interactive, &t, op, &[input])
                .await?;
            if let Some(e) = out.errors.first() {
                return Err(ToolError::hubspot_refused(format!(
                    "the change passed the gate but HubSpot refused it: {}",
                    e.describe()
                )));
            }
            let id = out.results.first().map(|r| r.id.clone()).or(record_id);
            let written = id
                .iter()
                .map(|id| Written {
                    op: if p.record_id.is_some() {
                        "update"
                    } else {
                        "create"
                    }
                    .into(),
                    object_type: t.clone(),
                    id: id.clone(),
                    properties: props.clone(),
                })
                .collect();
            return Ok(Json(ProposeActionOutput {
                decision: "applied".into(),
                decision_path: path,
                record_id: id,
                written,
                records,
                handoff: None,
            }));
        }
        let request = HandoffRequest {
            action: p.action.clone(),
            confidence: p.confidence,
            labels: p.labels.clone(),
            rationale: p.rationale.clone(),
            summary: p.summary.clone(),
            suggested_priority: p.suggested_priority.clone(),
            similar_record_ids: p.similar_record_ids.iter().map(RecordId::text).collect(),
        };
        let writes = self
            .hand_off(&t, record_id.as_deref(), &request, &props)
            .await?;
        if let Some(e) = &writes.error {
            return Err(ToolError::hubspot_refused(format!(
                "the handoff failed part-way: {e}. Nothing of the change was written; written so far: {}. Repeating the proposal completes it.",
                serde_json::to_string(&writes.writes).unwrap_or_default()
            )));
        }
        Ok(Json(ProposeActionOutput {
            decision: "handed_off".into(),
            decision_path: path,
            record_id,
            written: writes.writes.clone(),
            records,
            handoff: Some(writes),
        }))
    }

    /// Archives records, only with a person's confirmation.
    #[tool(
        description = "Archive up to 20 records (they leave lists and search; restorable in HubSpot for 90 days). Always asks the person in the client first, showing the records and your rationale; without their approval nothing is archived. Returns the decision path.",
        annotations(
            title = "Archive records",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn archive_objects(
        &self,
        context: rmcp::service::RequestContext<rmcp::RoleServer>,
        RequestState(state): RequestState,
        ToolInputResponses(responses): ToolInputResponses,
        Parameters(p): Parameters<super::archive::ArchiveObjectsParams>,
    ) -> Result<Json<super::archive::ArchiveObjectsOutput>, ToolError> {
        let round = Round {
            context: &context,
            tool: "archive_objects",
            binding: serde_json::json!([p.object_type, p.ids, p.rationale]).to_string(),
            input_responses: responses.as_ref(),
            request_state: state.as_deref(),
        };
        match self.archive(&p, round).await? {
            super::archive::Archived::Ask(input) => Err(ToolError::InputRequired(input)),
            super::archive::Archived::Done(out) if out.decision == "archived" => Ok(Json(out)),
            super::archive::Archived::Done(out) => Err(ToolError::Refused {
                text: out.message.clone(),
                structured: serde_json::to_value(&out).unwrap_or_default(),
            }),
        }
    }
}
