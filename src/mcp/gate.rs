//! The handoff gate on the plain write tools (`handoff.gate_writes`, on by default once the
//! gate is enabled).
//!
//! While writes are gated, `create_objects`, `update_objects`, `upsert_objects` and
//! `associate_objects` take three more arguments — `confidence` (0-1), `rationale` and
//! optional `labels` — and each call goes through the same policy as `propose_action`:
//!
//! - `applied`: the write runs as usual; the decision path is audited with the call.
//! - `handed_off`: when the client can elicit, the user is asked first (approve runs the write,
//!   reject writes nothing). Otherwise, or without an answer in time, nothing is written; for
//!   `update_objects` the work is handed off on each record (the suggested change, a note with
//!   the agent's context, a review task: the same idempotent writes as `propose_action`, at most
//!   10 records per call). The tool answers with an error result that says so and carries the
//!   decision path, so the agent knows the write did not happen.
//!
//! The value thresholds see the largest numeric value each property takes across the batch
//! (a batch that sets one deal amount above the threshold is handed off as a whole).

use std::collections::BTreeMap;

use rmcp::model::{CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock};
use rmcp::service::RequestContext;
use rmcp::RoleServer;
use serde_json::{json, Map, Value};

use super::governance::{Confirmation, ProposeActionParams};
use super::HubSpotMcp;
use crate::handoff::{evaluate, Outcome, Proposal};

/// The extra arguments every gated write takes.
pub const GATE_FIELDS: [&str; 3] = ["confidence", "rationale", "labels"];
/// At most this many records are handed off by one gated `update_objects` call.
pub const MAX_HANDOFFS: usize = 10;

/// What the gate decided for one call.
pub enum Gate {
    /// Run the write (the arguments are stripped of the gate fields).
    Proceed { path: Vec<Value>, rationale: String },
    /// Do not run it; answer with this.
    Stop {
        path: Vec<Value>,
        rationale: String,
        response: CallToolResponse,
    },
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Every property the batch sets; for numbers, the largest value in the batch.
fn batch_properties(args: &Map<String, Value>) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for input in args
        .get("records")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for (k, v) in input
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let Some(text) = scalar_text(v) else { continue };
            match (
                out.get(k).and_then(|o| o.parse::<f64>().ok()),
                text.parse::<f64>().ok(),
            ) {
                (Some(old), Some(new)) if new <= old => {}
                _ => {
                    out.insert(k.clone(), text);
                }
            }
        }
    }
    out
}

fn invalid(msg: String) -> rmcp::ErrorData {
    rmcp::ErrorData::invalid_params(msg, None)
}

impl HubSpotMcp {
    /// The gate's action name for a write tool, when writes are gated: the verb of its name
    /// (`update_objects` → `update`). Only tools of the write area are gated; `propose_action`
    /// (governance) is the gate itself.
    pub(crate) fn gated_action(&self, tool: &str) -> Option<String> {
        if !(self.policy.enabled && self.policy.gate_writes) {
            return None;
        }
        if self.class_of(tool) != Some(super::Toolset::Write) {
            return None;
        }
        let verb = tool.split('_').next().unwrap_or(tool);
        Some(verb.to_string())
    }

    /// Adds the gate fields to a write tool's input schema (when writes are gated).
    pub(crate) fn gate_schema(&self, tool: &str, schema: &mut Map<String, Value>) {
        if self.gated_action(tool).is_none() {
            return;
        }
        if let Some(Value::Object(props)) = schema.get_mut("properties") {
            props.insert("confidence".into(), json!({"type": "number", "minimum": 0, "maximum": 1, "description": "Your confidence this write is right (0-1); low confidence is handed to a person."}));
            props.insert("rationale".into(), json!({"type": "string", "description": "Why; recorded and shown to the reviewer."}));
            props.insert("labels".into(), json!({"type": "array", "items": {"type": "string"}, "description": "Severity labels (security, legal, outage, ...)."}));
        }
        let req = schema
            .entry("required")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(r) = req {
            r.push(json!("confidence"));
            r.push(json!("rationale"));
        }
    }

    /// Runs the gate for a write call, stripping the gate fields from its arguments.
    ///
    /// # Errors
    /// `invalid_params` when the gate fields are missing or out of range.
    pub(crate) async fn gate_write(
        &self,
        action: &str,
        request: &mut CallToolRequestParams,
        context: &RequestContext<RoleServer>,
    ) -> Result<Gate, rmcp::ErrorData> {
        let args = request.arguments.get_or_insert_with(Map::new);
        let confidence = args.remove("confidence");
        let rationale = args.remove("rationale");
        let labels = args.remove("labels");
        let confidence = confidence
            .as_ref()
            .and_then(Value::as_f64)
            .filter(|c| (0.0..=1.0).contains(c))
            .ok_or_else(|| invalid(format!(
                "confidence: required while writes are gated (handoff.gate_writes), a number from 0 to 1; got {}",
                confidence.map_or("nothing".to_string(), |v| v.to_string())
            )))?;
        let rationale = rationale
            .as_ref()
            .and_then(Value::as_str)
            .filter(|r| !r.trim().is_empty())
            .map(str::to_string)
            .ok_or_else(|| invalid("rationale: required while writes are gated (handoff.gate_writes): say why this write is right".into()))?;
        let labels: Vec<String> = match labels {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            Some(other) => {
                return Err(invalid(format!(
                    "labels: expected an array of strings, got {other}"
                )))
            }
        };
        let props = batch_properties(args);
        let decision = evaluate(
            &self.policy,
            &Proposal {
                action: action.to_string(),
                properties: props.clone(),
                confidence,
                labels: labels.clone(),
            },
        );
        let mut path: Vec<Value> = decision
            .path
            .iter()
            .map(|r| serde_json::to_value(r).unwrap_or_default())
            .collect();
        if decision.outcome == Outcome::Applied {
            return Ok(Gate::Proceed { path, rationale });
        }
        let inputs = args
            .get("records")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        // Ask the person in the client first, when it can be asked.
        if self.policy.elicit
            && context
                .peer
                .peer_info()
                .is_some_and(|i| i.capabilities.elicitation.is_some())
        {
            let question = format!(
                "The AI wants to {action} {inputs} {} record(s): {}. Confidence {confidence:.2}. Rationale: {rationale}. Apply it?",
                args.get("objectType").and_then(Value::as_str).unwrap_or("?"),
                serde_json::to_string(&props).unwrap_or_default(),
            );
            let answer = context
                .peer
                .elicit_with_timeout::<Confirmation>(
                    question,
                    Some(std::time::Duration::from_secs(
                        self.policy.elicit_timeout_secs,
                    )),
                )
                .await;
            let verdict = match &answer {
                Ok(Some(c)) if c.approve => "pass",
                Ok(Some(_)) | Err(rmcp::service::ElicitationError::UserDeclined) => "rejected",
                _ => "handoff",
            };
            path.push(json!({"rule": "user_confirmation", "inputs": {"answer": match &answer { Ok(Some(c)) => json!(c), Ok(None) => json!("no content"), Err(e) => json!(e.to_string()) }}, "verdict": verdict}));
            match verdict {
                "pass" => return Ok(Gate::Proceed { path, rationale }),
                "rejected" => {
                    let text = json!({"decision": "rejected", "written": 0, "decisionPath": path, "message": "The user rejected this write in the client; nothing was written."});
                    return Ok(Gate::Stop {
                        path,
                        rationale,
                        response: CallToolResult::error(vec![ContentBlock::text(text.to_string())])
                            .into(),
                    });
                }
                _ => {}
            }
        }
        // Hand off on the records (update_objects), or report that nothing was written.
        let mut handoffs = Vec::new();
        let object_type = args
            .get("objectType")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if action == "update" && inputs <= MAX_HANDOFFS {
            let t = self.object_type(&object_type).await.map_err(|_| {
                invalid(format!(
                    "objectType: {object_type:?} is not an object type of this portal"
                ))
            })?;
            for input in args
                .get("records")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
            {
                let Some(id) = input.get("id").and_then(scalar_text) else {
                    continue;
                };
                let props: BTreeMap<String, String> = input
                    .get("properties")
                    .and_then(Value::as_object)
                    .map(|m| {
                        m.iter()
                            .filter_map(|(k, v)| Some((k.clone(), scalar_text(v)?)))
                            .collect()
                    })
                    .unwrap_or_default();
                let params: ProposeActionParams = serde_json::from_value(json!({
                    "action": action,
                    "objectType": t,
                    "recordId": id,
                    "properties": props,
                    "confidence": confidence,
                    "labels": labels,
                    "rationale": rationale,
                    "suggestedPriority": props.get("hs_ticket_priority"),
                }))
                .map_err(|e| invalid(e.to_string()))?;
                match self.hand_off_pub(&t, Some(&id), &params, &props).await {
                    Ok(w) => handoffs.push(json!({"id": id, "handoff": w})),
                    Err(super::tools::ToolFailure::Failed(m)) => {
                        handoffs.push(json!({"id": id, "error": m}));
                    }
                    Err(super::tools::ToolFailure::Invalid(e)) => {
                        handoffs.push(json!({"id": id, "error": e.message}));
                    }
                }
            }
        }
        let message = if handoffs.is_empty() {
            format!("Handed off: the gate did not let this {action} through and nothing was written. Call propose_action with your context so a person can review it, or gather evidence and retry with a justified confidence.")
        } else {
            "Handed off: nothing was written; each record now carries the suggested change in a note and a review task for a person.".to_string()
        };
        let text = json!({"decision": "handed_off", "written": 0, "decisionPath": path, "handoffs": handoffs, "message": message});
        Ok(Gate::Stop {
            path,
            rationale,
            response: CallToolResult::error(vec![ContentBlock::text(text.to_string())]).into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_properties_keep_the_largest_number_and_every_name() {
        let args = json!({"records": [
            {"properties": {"amount": "5000", "dealname": "A"}},
            {"properties": {"amount": 90000, "dealstage": "won"}},
            {"properties": {"amount": "70000"}}
        ]});
        let p = batch_properties(args.as_object().unwrap());
        assert_eq!(p["amount"], "90000");
        assert_eq!(p["dealname"], "A");
        assert_eq!(p["dealstage"], "won");
    }
}
