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
//! [`evaluate`] is pure and judges one record's change, with the values as HubSpot will store
//! them (the caller normalizes them first, `hubspot_wire::values`); a batch is judged record by
//! record and handed off when any record is. The MCP tool applies or hands off, and the audit
//! log stores the path.
//!
//! A handoff never writes the change it refused. It writes the suggestion fields
//! (`ai_suggested_priority`, `ai_confidence`), a note and a review task; the ticket's real
//! priority changes only when [`HandoffPolicy::escalate_priority`] names one of the proposal's
//! labels, only upward, and never toward the refused value.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A numeric limit on a property.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ValueThreshold {
    pub property: String,
    pub max: f64,
}

/// The handoff policy (TOML `[handoff]`; its JSON Schema is `schemas/handoff-policy.json`).
/// Unknown keys are errors: a typo (`enable = true`) must not start a server without a gate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
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
    /// Owner (person or queue) the review task is assigned to. Required while the gate is
    /// enabled: a review task nobody owns is a change nobody reviews. An id is digits, and
    /// `HUBSPOT_MCP_HANDOFF__REVIEW_OWNER_ID=90000102` arrives as a number: both are taken.
    #[serde(deserialize_with = "id_text")]
    pub review_owner_id: Option<String>,
    /// On a ticket's handoff, raise its real `hs_ticket_priority` to this value when the
    /// proposal carries the label (`outage = "URGENT"`). Only upward, and never toward a
    /// refused value. Empty (the default): a handoff never touches the real priority.
    pub escalate_priority: BTreeMap<String, String>,
    /// Similar records listed in the handoff note must score at least this (cosine, 0-1).
    pub similar_min_score: f64,
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
            escalate_priority: BTreeMap::new(),
            similar_min_score: 0.5,
            create_task: true,
            elicit: true,
            elicit_timeout_secs: 120,
            gate_writes: true,
        }
    }
}

/// An owner id given as text or as a number.
fn id_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Text(String),
        Number(u64),
    }
    Ok(Option::<Id>::deserialize(d)?.map(|id| match id {
        Id::Text(s) => s,
        Id::Number(n) => n.to_string(),
    }))
}

impl HandoffPolicy {
    /// Checks what serde cannot: a reviewer while enabled, numbers in range.
    ///
    /// # Errors
    /// A message naming the setting and what to set.
    pub fn validate(&self) -> Result<(), String> {
        if self.enabled
            && self
                .review_owner_id
                .as_deref()
                .is_none_or(|o| o.trim().is_empty())
        {
            return Err("the handoff gate is enabled but has no reviewer: set [handoff] review_owner_id = \"<HubSpot owner id>\" (or HUBSPOT_MCP_HANDOFF__REVIEW_OWNER_ID); `list_owners` or HubSpot's Users settings show the ids (in the sandbox, the AI review queue is 90000102)".into());
        }
        let unit = |name: &str, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(format!("handoff.{name} = {v} is outside 0..1"))
            }
        };
        unit("default_min_confidence", self.default_min_confidence)?;
        unit("similar_min_score", self.similar_min_score)?;
        for (action, v) in &self.min_confidence {
            unit(&format!("min_confidence.{action}"), *v)?;
        }
        for t in &self.value_thresholds {
            if !t.max.is_finite() {
                return Err(format!(
                    "handoff.value_thresholds: max for {} must be a finite number",
                    t.property
                ));
            }
        }
        for (label, prio) in &self.escalate_priority {
            if priority_rank(prio).is_none() {
                return Err(format!(
                    "handoff.escalate_priority.{label} = {prio:?}: use LOW, MEDIUM, HIGH or URGENT"
                ));
            }
        }
        Ok(())
    }

    /// The priority a handoff may raise a ticket to: the highest that the proposal's labels
    /// name, when it is above `current` and the refused change does not raise the priority
    /// itself (escalating then would move toward the refused value).
    pub fn escalation(
        &self,
        labels: &[String],
        current: Option<&str>,
        refused: Option<&str>,
    ) -> Option<String> {
        let target = labels
            .iter()
            .filter_map(|l| {
                self.escalate_priority
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(l))
                    .map(|(_, v)| v)
            })
            .max_by_key(|p| priority_rank(p))?;
        let now = current.and_then(priority_rank).unwrap_or(0);
        let to = priority_rank(target)?;
        let toward_refused = refused.and_then(priority_rank).is_some_and(|r| r > now);
        (to > now && !toward_refused).then(|| target.clone())
    }
}

/// HubSpot's ticket priorities in order (`None` for anything else).
pub fn priority_rank(p: &str) -> Option<u8> {
    match p {
        "LOW" => Some(1),
        "MEDIUM" => Some(2),
        "HIGH" => Some(3),
        "URGENT" => Some(4),
        _ => None,
    }
}

/// What the AI proposes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Proposal {
    pub action: String,
    /// Other actions the change amounts to (the write it performs: `create` or `update`).
    /// The strictest floor of all of them, and of the actions its properties imply
    /// ([`implied_actions`]), applies.
    pub also: Vec<String>,
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

/// The actions a change amounts to by the properties it sets, whatever the agent calls it:
/// moving a deal's stage is `change_deal_stage`, moving a ticket's stage may close it
/// (`close_ticket`), setting its priority is `set_priority`.
pub fn implied_actions(properties: &BTreeMap<String, String>) -> Vec<&'static str> {
    [
        ("dealstage", "change_deal_stage"),
        ("hs_pipeline_stage", "close_ticket"),
        ("hs_ticket_priority", "set_priority"),
    ]
    .iter()
    .filter(|(prop, _)| properties.contains_key(*prop))
    .map(|(_, action)| *action)
    .collect()
}

/// Evaluates every rule; any `handoff` verdict hands the work to a person.
pub fn evaluate(policy: &HandoffPolicy, p: &Proposal) -> Decision {
    let mut path = Vec::new();
    // The strictest floor of every action the change amounts to; names are matched without
    // regard to case (`Close_Ticket` is `close_ticket`).
    let mut actions: Vec<String> = vec![p.action.to_ascii_lowercase()];
    actions.extend(p.also.iter().map(|a| a.to_ascii_lowercase()));
    actions.extend(
        implied_actions(&p.properties)
            .into_iter()
            .map(str::to_string),
    );
    let (floor, from) = actions
        .iter()
        .map(|a| {
            let f = policy
                .min_confidence
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(a))
                .map_or(policy.default_min_confidence, |(_, v)| *v);
            (f, a.clone())
        })
        .fold((f64::NEG_INFINITY, String::new()), |best, x| {
            if x.0 > best.0 {
                x
            } else {
                best
            }
        });
    let confident = p.confidence.is_finite() && p.confidence >= floor;
    path.push(rule(
        "min_confidence",
        json!({"action": p.action, "confidence": p.confidence, "min": floor, "floorOf": from}),
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
            // The value as HubSpot stores it; one that is not a number is not under the limit.
            let n = hubspot_wire::values::number_of(v).unwrap_or(f64::INFINITY);
            path.push(rule(
                "value_threshold",
                json!({"property": t.property, "value": v, "max": t.max}),
                n.abs() <= t.max || v.is_empty(),
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
            also: Vec::new(),
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
    fn the_strictest_floor_applies_whatever_the_action_is_called() {
        let p = HandoffPolicy::default();
        // A stage move sent as a plain update is judged as one (0.8, not 0.7).
        let d = evaluate(
            &p,
            &proposal("update", 0.75, &[], &[("dealstage", "closedwon")]),
        );
        assert_eq!(d.outcome, Outcome::HandedOff);
        assert_eq!(d.path[0].inputs["floorOf"], "change_deal_stage");
        // Case does not pick the default floor.
        let d = evaluate(&p, &proposal("Close_Ticket", 0.8, &[], &[]));
        assert_eq!(d.outcome, Outcome::HandedOff, "close_ticket's 0.85 applies");
        // A "create" that updates a record is judged as an update too.
        let mut upd = proposal("create", 0.65, &[], &[]);
        upd.also = vec!["update".into()];
        assert_eq!(evaluate(&p, &upd).outcome, Outcome::HandedOff);
    }

    #[test]
    fn thresholds_see_the_number_hubspot_stores() {
        let p = HandoffPolicy::default();
        for v in [
            " 999999",
            "5000000\n",
            "\t7777777",
            "1e6",
            "-9999999",
            "50000.5",
            "not a number",
        ] {
            let d = evaluate(&p, &proposal("update", 0.99, &[], &[("amount", v)]));
            assert_eq!(d.outcome, Outcome::HandedOff, "{v:?}");
        }
        for v in ["50000", " 1 ", "", "-5"] {
            let d = evaluate(&p, &proposal("update", 0.99, &[], &[("amount", v)]));
            assert_eq!(d.outcome, Outcome::Applied, "{v:?}");
        }
    }

    #[test]
    fn escalation_only_goes_up_never_toward_the_refused_value_and_needs_a_named_label() {
        let mut p = HandoffPolicy::default();
        let labels = |l: &[&str]| l.iter().map(|s| (*s).to_string()).collect::<Vec<_>>();
        assert_eq!(
            p.escalation(&labels(&["outage"]), Some("LOW"), None),
            None,
            "not named"
        );
        p.escalate_priority.insert("outage".into(), "URGENT".into());
        assert_eq!(
            p.escalation(&labels(&["Outage"]), Some("HIGH"), Some("LOW"))
                .as_deref(),
            Some("URGENT")
        );
        assert_eq!(
            p.escalation(&labels(&["outage"]), Some("URGENT"), None),
            None,
            "never down or equal"
        );
        assert_eq!(
            p.escalation(&labels(&["outage"]), Some("LOW"), Some("HIGH")),
            None,
            "the refused change raised it"
        );
        assert_eq!(p.escalation(&labels(&["billing"]), Some("LOW"), None), None);
    }

    #[test]
    fn an_enabled_policy_needs_a_reviewer_and_sane_numbers() {
        let mut p = HandoffPolicy {
            enabled: true,
            ..Default::default()
        };
        assert!(p.validate().unwrap_err().contains("review_owner_id"));
        p.review_owner_id = Some("90000102".into());
        assert!(p.validate().is_ok());
        p.escalate_priority.insert("outage".into(), "urgent".into());
        assert!(p.validate().unwrap_err().contains("URGENT"));
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
