//! Asking the person in the client before a refused change is handed off.
//!
//! The question shows the truth, per record: its id, and for each property its current value
//! (read from HubSpot just before asking) and the value HubSpot would store. A batch is never
//! merged into one map: two deals show as two blocks, each with its own name and amount.
//!
//! Where it can be asked:
//! - stdio and stateful HTTP sessions: MCP elicitation (`elicitation/create`), when the client
//!   declared the capability;
//! - stateless HTTP with a 2026-07-28 client that declares elicitation in the request's
//!   `_meta`: an input-required result (multi round-trip requests, SEP-2322). The tool answers
//!   `resultType: "input_required"` with the question; the client asks the person and calls
//!   the same tool again with the answer. Nothing is kept on the server between the rounds:
//!   `requestState` is an HMAC (a per-process key) over the tool and the question, so an
//!   answer counts only for the question it answers; a changed record or argument is a new
//!   question. A retry that reaches another replica is asked again.
//! - stateless HTTP with an older client: there is no channel to the person, so the change is
//!   handed off on the record (nothing of it is written) and the result carries the same
//!   per-record preview.

use std::collections::BTreeMap;

use rmcp::model::{
    ElicitRequest, ElicitRequestParams, ElicitationSchema, InputRequest, InputRequests,
    InputRequiredResult, InputResponses, ProtocolVersion,
};
use rmcp::service::{ElicitationError, RequestContext};
use rmcp::RoleServer;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::tools::ToolError;
use super::HubSpotMcp;
use crate::hubspot::limit::Lane;

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

/// One record of a change as the person sees it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordPreview {
    /// The record id (update), the unique value (upsert), or `new #N` (create).
    pub record: String,
    /// Does the record exist? `None` for a create.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exists: Option<bool>,
    pub changes: Vec<Change>,
}

/// One property of a record: what it is and what it would become.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    pub property: String,
    /// `None` when the record does not exist or the property has no value.
    pub current: Option<String>,
    /// As HubSpot would store it.
    pub proposed: String,
}

/// One record of a gated change: its key (id, unique value, or none for a create) and its
/// properties as HubSpot would store them.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordChange {
    pub id: Option<String>,
    pub properties: BTreeMap<String, String>,
}

/// What the person answered.
#[derive(Debug, Clone)]
pub enum Answer {
    Approved(Confirmation),
    Rejected,
    /// No answer (timeout, cancelled, no content, a transport failure): handed off.
    Unanswered(String),
}

impl Answer {
    /// The decision-path entry for this answer.
    pub fn rule(&self) -> Value {
        let (verdict, inputs) = match self {
            Self::Approved(c) => ("pass", json!({"answer": c})),
            Self::Rejected => ("rejected", json!({"answer": "declined"})),
            Self::Unanswered(why) => ("handoff", json!({"answer": "none", "reason": why})),
        };
        json!({"rule": "user_confirmation", "inputs": inputs, "verdict": verdict})
    }
}

/// Control characters and markup-like breaks cannot forge lines in the question.
/// Shown whole (a cut value could hide a difference), quoted and escaped.
fn shown(v: &str) -> String {
    format!("{v:?}")
}

/// The question: the action, the reasons it was stopped, then every record with each
/// property's current and proposed value.
pub fn question(
    action: &str,
    object_type: &str,
    previews: &[RecordPreview],
    confidence: f64,
    labels: &[String],
    rationale: &str,
    reasons: &[String],
) -> String {
    // Everything the agent chose is escaped: no newline or escape sequence can forge a line
    // of the question or push the real change out of sight.
    let labels: Vec<String> = labels.iter().map(|l| shown(l)).collect();
    let mut q = format!(
        "The AI wants to {} {} {} record(s). Confidence {confidence:.2}. Labels: {}. Rationale: {}\nStopped by: {}\n",
        shown(action),
        previews.len(),
        object_type.escape_debug(),
        if labels.is_empty() { "none".to_string() } else { labels.join(", ") },
        shown(rationale),
        if reasons.is_empty() { "policy".to_string() } else { reasons.join("; ").escape_debug().to_string() },
    );
    for p in previews {
        let state = match p.exists {
            Some(false) => " (not found)",
            _ => "",
        };
        q.push_str(&format!(
            "\n{} {}{state}:\n",
            object_type.escape_debug(),
            p.record.escape_debug()
        ));
        if p.changes.is_empty() {
            q.push_str("  (no property changes)\n");
        }
        for c in &p.changes {
            q.push_str(&format!(
                "  {}: {} -> {}\n",
                c.property.escape_debug(),
                c.current.as_deref().map_or("(empty)".to_string(), shown),
                shown(&c.proposed)
            ));
        }
    }
    q.push_str("\nApply all of it?");
    q
}

/// The reasons a decision path stopped a change, in words.
pub fn reasons(path: &[Value]) -> Vec<String> {
    path.iter()
        .filter(|r| r["verdict"] == "handoff")
        .map(|r| {
            let record = r["inputs"]["record"]
                .as_str()
                .map(|s| format!(" on {s}"))
                .unwrap_or_default();
            format!(
                "{} {}{record}",
                r["rule"].as_str().unwrap_or("?"),
                r["inputs"]
            )
        })
        .collect()
}

impl HubSpotMcp {
    /// Each record's current values of the properties the change sets, read from HubSpot
    /// (by id, or by the unique property for an upsert); creates have none.
    pub(crate) async fn previews(
        &self,
        object_type: &str,
        records: &[RecordChange],
        id_property: Option<&str>,
    ) -> Result<Vec<RecordPreview>, ToolError> {
        let ids: Vec<String> = records.iter().filter_map(|r| r.id.clone()).collect();
        let mut props: Vec<String> = records
            .iter()
            .flat_map(|r| r.properties.keys().cloned())
            .collect();
        props.sort();
        props.dedup();
        if let Some(p) = id_property {
            props.push(p.to_string());
        }
        let mut current: BTreeMap<String, BTreeMap<String, Option<String>>> = BTreeMap::new();
        if !ids.is_empty() {
            let read = self
                .client
                .batch_read(Lane::Interactive, object_type, &ids, &props, id_property)
                .await?;
            for r in read.results {
                let key = match id_property {
                    Some(p) => r.prop(p).unwrap_or_default().to_string(),
                    None => r.id.clone(),
                };
                let values = props
                    .iter()
                    .map(|p| (p.clone(), r.prop(p).map(str::to_string)))
                    .collect();
                current.insert(key, values);
            }
        }
        Ok(records
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let now = r.id.as_ref().and_then(|id| {
                    current.get(id).or_else(|| {
                        current
                            .iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(id))
                            .map(|(_, v)| v)
                    })
                });
                RecordPreview {
                    record: r.id.clone().unwrap_or_else(|| format!("new #{}", i + 1)),
                    exists: r.id.as_ref().map(|_| now.is_some()),
                    changes: r
                        .properties
                        .iter()
                        .map(|(k, v)| Change {
                            property: k.clone(),
                            current: now
                                .and_then(|m| m.get(k).cloned().flatten())
                                .filter(|s| !s.is_empty()),
                            proposed: v.clone(),
                        })
                        .collect(),
                }
            })
            .collect())
    }

    /// Asks the person in the client, when the policy allows it and the client can be asked
    /// (see the module docs for how, per transport).
    pub(crate) async fn ask(&self, round: &Round<'_>, message: String) -> Asked {
        if !self.policy.elicit {
            return Asked::Nobody;
        }
        let peer = &round.context.peer;
        // A session whose client declared elicitation at `initialize`: ask it now.
        if peer
            .peer_info()
            .is_some_and(|i| i.capabilities.elicitation.is_some())
        {
            let answer = peer
                .elicit_with_timeout::<Confirmation>(
                    message,
                    Some(std::time::Duration::from_secs(
                        self.policy.elicit_timeout_secs,
                    )),
                )
                .await;
            return Asked::Answered(match answer {
                Ok(Some(c)) if c.approve => Answer::Approved(c),
                Ok(Some(_)) | Err(ElicitationError::UserDeclined) => Answer::Rejected,
                Ok(None) => Answer::Unanswered("no content".into()),
                Err(e) => Answer::Unanswered(e.to_string()),
            });
        }
        // A 2026-07-28 request that can elicit: an input-required round.
        let modern = round
            .context
            .meta
            .protocol_version()
            .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28);
        let can = round
            .context
            .meta
            .client_capabilities()
            .is_some_and(|c| c.elicitation.is_some());
        if !(modern && can) {
            return Asked::Nobody;
        }
        let now = chrono::Utc::now().timestamp();
        // An answer is good for the call and question it answers, within the answer time.
        let answered = round.request_state.is_some_and(|s| {
            s.split_once('.').is_some_and(|(at, _)| {
                at.parse::<i64>().is_ok_and(|at| {
                    (0..=self.policy.elicit_timeout_secs as i64).contains(&(now - at))
                        && round_state(at, round.tool, &round.binding, &message) == s
                })
            })
        });
        let state = round_state(now, round.tool, &round.binding, &message);
        match round.input_responses.and_then(|r| r.get(CONFIRM_KEY)) {
            Some(reply) if answered => Asked::Answered(read_reply(reply)),
            _ => {
                let schema = match ElicitationSchema::from_type::<Confirmation>() {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::error!(error = %e, "the confirmation schema does not build; handing off");
                        return Asked::Nobody;
                    }
                };
                let mut requests = InputRequests::new();
                requests.insert(
                    CONFIRM_KEY.to_string(),
                    InputRequest::Elicitation(ElicitRequest::new(
                        ElicitRequestParams::FormElicitationParams {
                            meta: None,
                            message,
                            requested_schema: schema,
                        },
                    )),
                );
                Asked::Pending(InputRequiredResult::new(Some(requests), Some(state)))
            }
        }
    }
}

/// The key of the confirmation in an input-required round.
const CONFIRM_KEY: &str = "confirm";

/// What the current call carries for a confirmation round.
pub struct Round<'a> {
    pub context: &'a RequestContext<RoleServer>,
    /// The tool called: an answer counts only for the same tool and question.
    pub tool: &'a str,
    /// The call's arguments, in full: an answer counts only for the same call.
    pub binding: String,
    pub input_responses: Option<&'a InputResponses>,
    pub request_state: Option<&'a str>,
}

/// The outcome of asking.
pub enum Asked {
    Answered(Answer),
    /// Answer with this input-required result; the client calls again with the answer.
    Pending(InputRequiredResult),
    /// Nobody can be asked here.
    Nobody,
}

/// `requestState` for a question: when it was asked, and HMAC-SHA256 under a per-process key
/// of that time, the tool, the call's arguments and the question, so that an answer cannot be
/// carried over to another call or question, or kept for later.
fn round_state(at: i64, tool: &str, binding: &str, message: &str) -> String {
    use hmac::{Hmac, Mac};
    use sha2::Sha256;
    static KEY: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();
    let key = KEY.get_or_init(|| {
        let mut k = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut k);
        k
    });
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    for part in [at.to_string().as_str(), tool, binding, message] {
        m.update(part.as_bytes());
        m.update(b"\n");
    }
    format!("{at}.{}", hex::encode(m.finalize().into_bytes()))
}

/// An elicitation result (`{action, content}`) as an answer.
fn read_reply(reply: &Value) -> Answer {
    match reply["action"].as_str() {
        Some("accept") => match serde_json::from_value::<Confirmation>(reply["content"].clone()) {
            Ok(c) if c.approve => Answer::Approved(c),
            Ok(_) => Answer::Rejected,
            Err(e) => Answer::Unanswered(format!("the answer did not parse: {e}")),
        },
        Some("decline") => Answer::Rejected,
        Some(other) => Answer::Unanswered(format!("the person chose {other}")),
        None => Answer::Unanswered("an answer without an action".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_question_shows_every_record_with_current_and_proposed_values() {
        let previews = vec![
            RecordPreview {
                record: "101".into(),
                exists: Some(true),
                changes: vec![
                    Change {
                        property: "amount".into(),
                        current: Some("5000".into()),
                        proposed: "999999".into(),
                    },
                    Change {
                        property: "dealname".into(),
                        current: Some("Acme".into()),
                        proposed: "WIPE: closed lost, fraud".into(),
                    },
                ],
            },
            RecordPreview {
                record: "102".into(),
                exists: Some(true),
                changes: vec![Change {
                    property: "dealname".into(),
                    current: None,
                    proposed: "Renewal\u{1b}[2J".into(),
                }],
            },
        ];
        let q = question(
            "update",
            "deals",
            &previews,
            0.99,
            &[],
            "tidy up",
            &["value_threshold".into()],
        );
        assert!(q.contains("deals 101:\n  amount: \"5000\" -> \"999999\"\n  dealname: \"Acme\" -> \"WIPE: closed lost, fraud\""), "{q}");
        assert!(
            q.contains("deals 102:\n  dealname: (empty) -> \"Renewal\\u{1b}[2J\""),
            "{q}"
        );
        assert!(!q.contains('\u{1b}'), "control characters are escaped");
    }
}
