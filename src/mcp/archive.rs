//! `archive_objects`: the one destructive tool, and always gated.
//!
//! Archiving is never decided by the agent's confidence alone: every call asks the person in
//! the client first (elicitation, or a 2026-07-28 input-required round), showing the records
//! and the agent's reason. Only an approval archives; a rejection, no answer, or a client that
//! cannot ask archives nothing and says so. Every path is a decision path in the result and
//! in the audit log. The tool is in the governance area, so `--read-only`, a grant without
//! write scopes, or a disabled handoff policy never offer it.

use rmcp::model::InputRequiredResult;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::confirm::{Answer, Asked, RecordChange, RecordPreview, Round};
use super::tools::{RecordId, ToolError};
use super::HubSpotMcp;
use crate::hubspot::limit::Lane;

/// `archive_objects` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArchiveObjectsParams {
    pub object_type: String,
    /// The records to archive (at most 20: the person sees every one).
    pub ids: Vec<RecordId>,
    /// Why they should go; shown to the person who confirms, and recorded.
    pub rationale: String,
}

/// `archive_objects` result.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArchiveObjectsOutput {
    /// `archived`, `rejected` (the person declined) or `refused` (nobody confirmed).
    pub decision: String,
    /// The ids archived (empty unless `archived`).
    pub archived: Vec<String>,
    /// What the person was shown.
    pub records: Vec<RecordPreview>,
    pub decision_path: Vec<Value>,
    pub message: String,
}

/// The question the person answers.
/// Records one archive may name: the question lists every one.
pub const MAX_ARCHIVE: usize = 20;

fn question(object_type: &str, ids: &[String], rationale: &str) -> String {
    format!(
        "The agent asks to ARCHIVE {} {object_type} record(s): {}.\nIts reason: {}\nArchived records leave every list, search and report; HubSpot keeps them restorable for 90 days. Approve?",
        ids.len(),
        ids.join(", "),
        rationale.escape_debug()
    )
}

/// What [`HubSpotMcp::archive`] ends with: a result, or a round the client must answer.
pub enum Archived {
    Done(ArchiveObjectsOutput),
    Ask(InputRequiredResult),
}

impl HubSpotMcp {
    /// Asks, then archives only what a person approved.
    pub(crate) async fn archive(
        &self,
        p: &ArchiveObjectsParams,
        round: Round<'_>,
    ) -> Result<Archived, ToolError> {
        let t = self.object_type(&p.object_type).await?;
        super::tools::validate::limit_inputs(&p.ids, "ids")?;
        if p.ids.len() > MAX_ARCHIVE {
            return Err(ToolError::invalid(format!(
                "ids has {} entries; at most {MAX_ARCHIVE} per archive, so that the person confirming sees every record",
                p.ids.len()
            )));
        }
        if p.rationale.trim().is_empty() {
            return Err(ToolError::invalid(
                "rationale: say why these records should be archived; the person confirming reads it",
            ));
        }
        let mut ids = Vec::with_capacity(p.ids.len());
        for (i, id) in p.ids.iter().enumerate() {
            ids.push(id.path_id(&format!("ids[{i}]"))?.to_string());
        }
        ids.sort();
        ids.dedup();
        let changes: Vec<RecordChange> = ids
            .iter()
            .map(|id| RecordChange {
                id: Some(id.clone()),
                properties: Default::default(),
            })
            .collect();
        let records = self.previews(&t, &changes, None).await?;
        let missing: Vec<&str> = records
            .iter()
            .filter(|r| r.exists == Some(false))
            .map(|r| r.record.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(ToolError::invalid(format!(
                "ids: {} do not exist on {t} (or are archived already); nothing was archived",
                missing.join(", ")
            )));
        }
        let mut path = vec![json!({
            "rule": "destructive_change",
            "inputs": {"action": "archive", "objectType": t, "records": ids.len()},
            "verdict": "confirm",
        })];
        let message = question(&t, &ids, &p.rationale);
        let answer = match self.ask(&round, message).await {
            Asked::Pending(input) => return Ok(Archived::Ask(input)),
            Asked::Answered(a) => a,
            Asked::Nobody => Answer::Unanswered(
                "this client cannot be asked (no elicitation), or asking is off (handoff.elicit)"
                    .into(),
            ),
        };
        path.push(answer.rule());
        let (decision, message, archived) = match answer {
            Answer::Approved(_) => {
                self.client.batch_archive(Lane::Interactive, &t, &ids).await?;
                (
                    "archived",
                    format!("A person approved: {} {t} record(s) archived.", ids.len()),
                    ids,
                )
            }
            Answer::Rejected => (
                "rejected",
                "The person declined: nothing was archived.".to_string(),
                Vec::new(),
            ),
            Answer::Unanswered(why) => (
                "refused",
                format!("Archiving needs a person's confirmation and none was given ({why}): nothing was archived. Ask a person to archive these records in HubSpot, or use a client that supports elicitation."),
                Vec::new(),
            ),
        };
        Ok(Archived::Done(ArchiveObjectsOutput {
            decision: decision.into(),
            archived,
            records,
            decision_path: path,
            message,
        }))
    }
}
