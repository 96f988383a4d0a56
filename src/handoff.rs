//! The confidence gate: an AI's proposed change is applied only when every rule of the policy
//! passes; otherwise it is handed to a person, with the AI's context written onto the record.
//!
//! Rules (all evaluated, in order, each with its inputs and verdict, so the decision path shows
//! exactly why):
//! 1. `min_confidence`: the action type's floor (create, update, close_ticket, change_deal_stage,
//!    set_priority, …; `default_min_confidence` otherwise).
//! 2. `always_human_labels`: severity labels that always go to a person (security, legal, outage).
//! 3. `value_thresholds`: numeric properties above a limit (a deal amount over X).
//! 4. `complexity`: too many properties changed at once.
//!
//! [`evaluate`] is pure; the MCP tool applies or hands off, and the audit log stores the path.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A numeric limit on a property.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct ValueThreshold {
    pub property: String,
    pub max: f64,
}

/// The handoff policy (TOML `[handoff]`; its JSON Schema is `schemas/handoff-policy.json`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(default)]
pub struct HandoffPolicy {
    /// Offer `propose_action` (the governance toolset).
    pub enabled: bool,
    pub default_min_confidence: f64,
    /// Minimum confidence per action type.
    pub min_confidence: BTreeMap<String, f64>,
    /// Labels that always go to a person.
    pub always_human_labels: Vec<String>,
    pub value_thresholds: Vec<ValueThreshold>,
    /// More changed properties than this is too complex to apply unattended.
    pub max_properties: usize,
    /// Owner (person or queue) the review task is assigned to.
    pub review_owner_id: Option<String>,
    /// Write the AI's suggested priority to `hs_ticket_priority` on handoff.
    pub set_ticket_priority: bool,
    /// Create a review task on handoff.
    pub create_task: bool,
    /// Before handing off, ask the user in the client (MCP elicitation) when it can.
    pub elicit: bool,
    /// How long to wait for that answer before handing off on the record.
    pub elicit_timeout_secs: u64,
    /// While the gate is enabled, the plain write tools pass through it too (they then take
    /// `confidence`, `rationale` and `labels`).
    pub gate_writes: bool,
}

impl Default for HandoffPolicy {
    fn default() -> Self {
        let floors = [
            ("create", 0.6),
            ("update", 0.7),
            ("set_priority", 0.7),
            ("close_ticket", 0.85),
            ("change_deal_stage", 0.8),
        ];
        Self {
            enabled: false,
            default_min_confidence: 0.75,
            min_confidence: floors.iter().map(|(k, v)| ((*k).to_string(), *v)).collect(),
            always_human_labels: ["security", "legal", "outage", "data_breach", "gdpr"]
                .iter()
                .map(|s| (*s).to_string())
                .collect(),
            value_thresholds: vec![ValueThreshold {
                property: "amount".into(),
                max: 50_000.0,
            }],
            max_properties: 10,
            review_owner_id: None,
            set_ticket_priority: true,
            create_task: true,
            elicit: true,
            elicit_timeout_secs: 120,
            gate_writes: true,
        }
    }
}

/// What the AI proposes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Proposal {
    pub action: String,
    pub properties: BTreeMap<String, String>,
    pub confidence: f64,
    pub labels: Vec<String>,
}

/// The gate's verdict.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Applied,
    HandedOff,
}

/// One evaluated rule.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RuleResult {
    pub rule: String,
    pub inputs: Value,
    /// `pass` or `handoff`.
    pub verdict: String,
}

/// The decision and how it was reached.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Decision {
    pub outcome: Outcome,
    pub path: Vec<RuleResult>,
}

fn rule(name: &str, inputs: Value, pass: bool) -> RuleResult {
    RuleResult {
        rule: name.into(),
        inputs,
        verdict: if pass { "pass" } else { "handoff" }.into(),
    }
}

/// Evaluates every rule; any `handoff` verdict hands the work to a person.
pub fn evaluate(policy: &HandoffPolicy, p: &Proposal) -> Decision {
    let mut path = Vec::new();
    let floor = policy
        .min_confidence
        .get(&p.action)
        .copied()
        .unwrap_or(policy.default_min_confidence);
    let confident = p.confidence.is_finite() && p.confidence >= floor;
    path.push(rule(
        "min_confidence",
        json!({"action": p.action, "confidence": p.confidence, "min": floor}),
        confident,
    ));
    let severe: Vec<&String> = p
        .labels
        .iter()
        .filter(|l| {
            policy
                .always_human_labels
                .iter()
                .any(|h| h.eq_ignore_ascii_case(l))
        })
        .collect();
    path.push(rule(
        "always_human_labels",
        json!({"labels": p.labels, "matched": severe}),
        severe.is_empty(),
    ));
    for t in &policy.value_thresholds {
        if let Some(v) = p.properties.get(&t.property) {
            let n: f64 = v.trim().parse().unwrap_or(f64::INFINITY);
            path.push(rule(
                "value_threshold",
                json!({"property": t.property, "value": v, "max": t.max}),
                n <= t.max,
            ));
        }
    }
    path.push(rule(
        "complexity",
        json!({"properties_changed": p.properties.len(), "max": policy.max_properties}),
        p.properties.len() <= policy.max_properties,
    ));
    let outcome = if path.iter().all(|r| r.verdict == "pass") {
        Outcome::Applied
    } else {
        Outcome::HandedOff
    };
    Decision { outcome, path }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proposal(
        action: &str,
        confidence: f64,
        labels: &[&str],
        props: &[(&str, &str)],
    ) -> Proposal {
        Proposal {
            action: action.into(),
            confidence,
            labels: labels.iter().map(|s| (*s).to_string()).collect(),
            properties: props
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
        }
    }

    #[test]
    fn high_confidence_is_applied_and_every_rule_is_in_the_path() {
        let d = evaluate(
            &HandoffPolicy::default(),
            &proposal(
                "set_priority",
                0.92,
                &["billing"],
                &[("hs_ticket_priority", "HIGH")],
            ),
        );
        assert_eq!(d.outcome, Outcome::Applied);
        let rules: Vec<&str> = d.path.iter().map(|r| r.rule.as_str()).collect();
        assert_eq!(
            rules,
            ["min_confidence", "always_human_labels", "complexity"]
        );
    }

    #[test]
    fn low_confidence_severity_and_large_values_hand_off() {
        let p = HandoffPolicy::default();
        assert_eq!(
            evaluate(&p, &proposal("close_ticket", 0.8, &[], &[])).outcome,
            Outcome::HandedOff
        );
        let d = evaluate(&p, &proposal("update", 0.99, &["Security"], &[]));
        assert_eq!(d.outcome, Outcome::HandedOff);
        assert_eq!(d.path[1].verdict, "handoff");
        assert_eq!(
            evaluate(&p, &proposal("update", 0.99, &[], &[("amount", "75000")])).outcome,
            Outcome::HandedOff
        );
        assert_eq!(
            evaluate(&p, &proposal("update", f64::NAN, &[], &[])).outcome,
            Outcome::HandedOff
        );
    }
}
