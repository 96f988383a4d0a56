//! The handoff gate on the plain write tools (`handoff.gate_writes`, on by default once the
//! gate is enabled).
//!
//! While writes are gated, `create_objects`, `update_objects`, `upsert_objects` and
//! `associate_objects` take three more arguments — `confidence` (0-1), `rationale` and
//! optional `labels` — and each call goes through the same policy as `propose_action`:
//!
//! - Every value is judged as HubSpot will store it (the property index normalizes it the way
//!   HubSpot reads it: `" 999999"` is 999999), and the tool later writes that same string.
//! - Each record of a batch is judged on its own; the batch is handed off when any record is.
//!   With more than one record, every rule in the decision path names its record.
//! - `applied`: the write runs as usual; the decision path is audited with the call.
//! - `handed_off`: when the client can be asked, the person sees every record's id and each
//!   property's current and proposed value ([`super::confirm`]); approve runs the write, reject
//!   writes nothing. Otherwise nothing of the change is written: for `update_objects` each
//!   record is handed off (suggestion fields, note, review task: at most 10 records per call).
//!   The tool answers with an error result that lists exactly what was written and carries the
//!   per-record preview and the decision path.

use std::collections::BTreeMap;

use rmcp::model::{CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock};
use rmcp::service::RequestContext;
use rmcp::RoleServer;
use serde_json::{json, Map, Value};

use super::confirm::{question, reasons, Answer, Asked, RecordChange, Round};
use super::handoff_writes::HandoffRequest;
use super::tools::{PropertyMap, ToolError};
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
        /// What the audit records: `pending`, `rejected` or `handed_off`.
        decision: &'static str,
        response: CallToolResponse,
    },
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn invalid(msg: String) -> rmcp::ErrorData {
    rmcp::ErrorData::invalid_params(msg, None)
}

fn invalid_of(e: ToolError) -> rmcp::ErrorData {
    e.into_error_data()
}

/// The records a write's arguments name, each with its properties as sent.
fn records_of(
    action: &str,
    args: &Map<String, Value>,
) -> Result<Vec<(Option<String>, PropertyMap)>, rmcp::ErrorData> {
    if action == "associate" {
        let id = args.get("id").and_then(scalar_text);
        return Ok(vec![(id, PropertyMap::new())]);
    }
    let Some(records) = args.get("records").and_then(Value::as_array) else {
        return Err(invalid("records: required, an array of records".into()));
    };
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let id = r.get("id").and_then(scalar_text);
            let props: PropertyMap =
                serde_json::from_value(r.get("properties").cloned().unwrap_or_else(|| json!({})))
                    .map_err(|e| invalid(format!("records[{i}].properties: {e}")))?;
            Ok((id, props))
        })
        .collect()
}

/// Every rule of every record, each naming its record when the batch has several.
fn batch_path(decisions: &[(String, crate::handoff::Decision)]) -> Vec<Value> {
    let named = decisions.len() > 1;
    decisions
        .iter()
        .flat_map(|(record, d)| {
            d.path.iter().map(move |r| {
                let mut v = serde_json::to_value(r).unwrap_or_default();
                if named {
                    v["inputs"]["record"] = json!(record);
                }
                v
            })
        })
        .collect()
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
    /// `invalid_params` when the gate fields are missing or out of range, or a value is one
    /// HubSpot would refuse.
    pub(crate) async fn gate_write(
        &self,
        action: &str,
        request: &mut CallToolRequestParams,
        context: &RequestContext<RoleServer>,
    ) -> Result<Gate, rmcp::ErrorData> {
        // What an answer in an input-required round is bound to: this exact call.
        let binding = serde_json::to_string(&request.arguments).unwrap_or_default();
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
        let object_type = args
            .get("objectType")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let t = self.object_type(&object_type).await.map_err(invalid_of)?;
        let id_property = args
            .get("idProperty")
            .and_then(Value::as_str)
            .map(str::to_string);
        // Each record as HubSpot will store it; a value HubSpot would refuse stops the call
        // here, before anything is judged or written.
        let sent = records_of(action, args)?;
        let idx = if action == "associate" {
            None
        } else {
            Some(self.property_index_pub(&t).await.map_err(invalid_of)?)
        };
        let mut records = Vec::with_capacity(sent.len());
        for (i, (id, props)) in sent.iter().enumerate() {
            let properties = match &idx {
                Some(idx) => idx.check_writable_pub(props).map_err(|e| {
                    let mut d = invalid_of(e);
                    d.message = format!("records[{i}]: {}", d.message).into();
                    d
                })?,
                None => BTreeMap::new(),
            };
            records.push(RecordChange {
                id: id.clone(),
                properties,
            });
        }
        let decisions: Vec<(String, crate::handoff::Decision)> = records
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let name = r.id.clone().unwrap_or_else(|| format!("new #{}", i + 1));
                let d = evaluate(
                    &self.policy,
                    &Proposal {
                        action: action.to_string(),
                        also: Vec::new(),
                        properties: r.properties.clone(),
                        confidence,
                        labels: labels.clone(),
                    },
                );
                (name, d)
            })
            .collect();
        let mut path = batch_path(&decisions);
        if decisions.iter().all(|(_, d)| d.outcome == Outcome::Applied) {
            return Ok(Gate::Proceed { path, rationale });
        }
        let by = if action == "upsert" {
            id_property.as_deref()
        } else {
            None
        };
        let mut previews = self.previews(&t, &records, by).await.map_err(invalid_of)?;
        // What else the person must see: which record an upsert matches by, and what an
        // association links to.
        if let Some(idp) = by {
            for p in &mut previews {
                p.record = format!("{idp}={}", p.record);
            }
        }
        if action == "associate" {
            let to = |k: &str| args.get(k).and_then(scalar_text).unwrap_or_default();
            let label = args
                .get("associationTypeId")
                .and_then(Value::as_u64)
                .map_or("the default association".to_string(), |id| {
                    format!("association type {id}")
                });
            if let Some(p) = previews.first_mut() {
                p.changes.push(super::confirm::Change {
                    property: "association".into(),
                    current: None,
                    proposed: format!("{} {} ({label})", to("toObjectType"), to("toId")),
                });
            }
        }
        let message = question(
            action,
            &t,
            &previews,
            confidence,
            &labels,
            &rationale,
            &reasons(&path),
        );
        let round = Round {
            context,
            tool: &request.name,
            binding,
            input_responses: request.input_responses.as_ref(),
            request_state: request.request_state.as_deref(),
        };
        let asked = self.ask(&round, message).await;
        if let Asked::Pending(input) = asked {
            path.push(json!({"rule": "user_confirmation", "inputs": {"answer": "asked (input required)"}, "verdict": "pending"}));
            return Ok(Gate::Stop {
                path,
                rationale,
                decision: "pending",
                response: CallToolResponse::InputRequired(input),
            });
        }
        if let Asked::Answered(answer) = asked {
            path.push(answer.rule());
            match answer {
                Answer::Approved(c) => {
                    // The person's corrected priority replaces the agent's wherever the batch
                    // sets one; it is checked like any value when the tool runs.
                    if let Some(prio) = c.priority.filter(|_| t == "tickets") {
                        if let Some(Value::Array(rs)) = args.get_mut("records") {
                            for r in rs {
                                if let Some(p) =
                                    r.get_mut("properties").and_then(Value::as_object_mut)
                                {
                                    if p.contains_key("hs_ticket_priority") {
                                        p.insert("hs_ticket_priority".into(), json!(prio));
                                    }
                                }
                            }
                        }
                    }
                    return Ok(Gate::Proceed { path, rationale });
                }
                Answer::Rejected => {
                    let text = json!({"decision": "rejected", "written": [], "records": previews, "decisionPath": path, "message": "The user rejected this write in the client; nothing was written."});
                    return Ok(Gate::Stop {
                        path,
                        rationale,
                        decision: "rejected",
                        response: CallToolResult::error(vec![ContentBlock::text(text.to_string())])
                            .into(),
                    });
                }
                Answer::Unanswered(_) => {}
            }
        }
        // Hand off on the records (update_objects); nothing of the change is written.
        let mut handoffs = Vec::new();
        let mut written = Vec::new();
        if action == "update" && records.len() <= MAX_HANDOFFS {
            for r in &records {
                let Some(id) = &r.id else { continue };
                let request = HandoffRequest {
                    action: action.to_string(),
                    confidence,
                    labels: labels.clone(),
                    rationale: rationale.clone(),
                    ..Default::default()
                };
                match self.hand_off(&t, Some(id), &request, &r.properties).await {
                    Ok(w) => {
                        written.extend(w.writes.iter().cloned());
                        handoffs.push(json!({"id": id, "handoff": w}));
                    }
                    Err(e) => {
                        let m = e.message();
                        handoffs.push(json!({"id": id, "error": m}));
                    }
                }
            }
        }
        let message = if handoffs.is_empty() {
            format!("Handed off: the gate did not let this {action} through and nothing was written. Call propose_action with your context so a person can review it, or gather evidence and retry with a justified confidence.")
        } else {
            "Handed off: the change was not written; each record now carries the suggestion, a note and a review task for a person (listed in `written`).".to_string()
        };
        let text = json!({"decision": "handed_off", "written": written, "records": previews, "decisionPath": path, "handoffs": handoffs, "message": message});
        Ok(Gate::Stop {
            path,
            rationale,
            decision: "handed_off",
            response: CallToolResult::error(vec![ContentBlock::text(text.to_string())]).into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_read_one_by_one_with_their_ids() {
        let args = json!({"records": [
            {"id": " 101", "properties": {"amount": " 999999", "dealname": "A"}},
            {"id": 102, "properties": {"amount": 1}},
        ]});
        let r = records_of("update", args.as_object().unwrap()).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].0.as_deref(), Some("101"));
        assert_eq!(r[1].0.as_deref(), Some("102"));
        assert_eq!(r[0].1.len(), 2);
        let a = records_of("associate", json!({"id": "7"}).as_object().unwrap()).unwrap();
        assert_eq!((a[0].0.as_deref(), a[0].1.len()), (Some("7"), 0));
    }
}
