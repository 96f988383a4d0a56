//! [`ToolError`]: why a tool call did not produce its result, as one type.
//!
//! Whose fault it is decides how it reads and what the caller should do:
//! - [`ToolError::InvalidArguments`]: the caller's (fix the arguments and call again);
//! - [`ToolError::HubSpot`] and [`ToolError::Rejected`]: HubSpot answered with an error, refused
//!   records of a write, or could not be reached, with the status and HubSpot's correlation id;
//! - [`ToolError::Unavailable`]: a part of this server is not running or a dependency of ours
//!   is away (the index, Redis), or this deployment's configuration refuses the call;
//! - [`ToolError::Internal`]: a bug on our side (a panic, an answer we could not read). It is
//!   never worded as HubSpot's fault.
//!
//! It becomes an MCP answer in one place ([`IntoCallToolResult`]): an `isError` result the model
//! reads. On the way it leaves its [`Failure`] (kind, status, correlation id) in the slot that
//! [`capture`] opened around the call, so the audit log's outcome is read from the type, not
//! parsed out of the text.

use std::future::Future;
use std::sync::{Arc, OnceLock};

use rmcp::handler::server::tool::IntoCallToolResult;
use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock, InputRequiredResult};
use serde_json::Value;

use crate::hubspot::error::ApiError;

/// Why a tool call did not produce a result.
#[derive(Debug)]
pub enum ToolError {
    /// The arguments are wrong: the message names the argument and the fix.
    InvalidArguments(String),
    /// HubSpot answered with an error, or could not be reached.
    HubSpot {
        /// HubSpot's HTTP status, when it answered.
        status: Option<u16>,
        correlation_id: Option<String>,
        message: String,
    },
    /// HubSpot refused records of a write: the structured content (the tool's own output
    /// shape) lists what was written and, per record, what was refused.
    Rejected { text: String, structured: Value },
    /// A person (or the policy) refused the call: the structured content carries the
    /// decision path.
    Refused { text: String, structured: Value },
    /// This server cannot do it now: a part is not running, a dependency of ours is away, or
    /// the configuration refuses it.
    Unavailable(String),
    /// A bug on our side.
    Internal(String),
    /// The person in the client must answer first (a 2026-07-28 input-required round).
    InputRequired(InputRequiredResult),
}

/// The kind of a [`ToolError`], as the audit log records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidArguments,
    HubSpot,
    Unavailable,
    Internal,
    InputRequired,
    Refused,
}

impl ErrorKind {
    /// The word the audit log's outcome starts with.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidArguments => "invalid",
            Self::HubSpot => "hubspot",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
            Self::InputRequired => "pending",
            Self::Refused => "refused",
        }
    }
}

/// What a failed call left for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: ErrorKind,
    pub status: Option<u16>,
    pub correlation_id: Option<String>,
}

impl Failure {
    /// The audit outcome: `hubspot 404: …`, `invalid: …`, `internal: …`.
    pub fn outcome(&self, text: &str) -> String {
        match self.status {
            Some(s) => format!("{} {s}: {text}", self.kind.as_str()),
            None => format!("{}: {text}", self.kind.as_str()),
        }
    }
}

tokio::task_local! {
    static SLOT: Arc<OnceLock<Failure>>;
}

/// Runs a tool call and returns what its [`ToolError`] (if it failed with one) left behind.
pub async fn capture<F: Future>(fut: F) -> (F::Output, Option<Failure>) {
    let slot = Arc::new(OnceLock::new());
    let out = SLOT.scope(slot.clone(), fut).await;
    (out, slot.get().cloned())
}

impl ToolError {
    /// An [`ToolError::InvalidArguments`].
    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::InvalidArguments(msg.into())
    }

    /// HubSpot refused a record (a per-record error of a batch).
    pub fn hubspot_refused(msg: impl Into<String>) -> Self {
        Self::HubSpot {
            status: None,
            correlation_id: None,
            message: msg.into(),
        }
    }

    /// Prefixes an argument error with where it was found (`filters[2].property: …`).
    #[must_use]
    /// A message that starts with a field (`value: …`) becomes `path.value: …`.
    pub fn at(self, path: &str) -> Self {
        match self {
            Self::InvalidArguments(m) => {
                let field = m.split_once(": ").map(|(head, _)| head).filter(|h| {
                    !h.is_empty()
                        && h.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "_[].".contains(c))
                });
                Self::InvalidArguments(match field {
                    Some(_) => format!("{path}.{m}"),
                    None => format!("{path}: {m}"),
                })
            }
            other => other,
        }
    }

    /// What the audit log records of it.
    pub fn failure(&self) -> Failure {
        let (kind, status, correlation_id) = match self {
            Self::InvalidArguments(_) => (ErrorKind::InvalidArguments, None, None),
            Self::HubSpot {
                status,
                correlation_id,
                ..
            } => (ErrorKind::HubSpot, *status, correlation_id.clone()),
            Self::Rejected { .. } => (ErrorKind::HubSpot, None, None),
            Self::Refused { .. } => (ErrorKind::Refused, None, None),
            Self::Unavailable(_) => (ErrorKind::Unavailable, None, None),
            Self::Internal(_) => (ErrorKind::Internal, None, None),
            Self::InputRequired(_) => (ErrorKind::InputRequired, None, None),
        };
        Failure {
            kind,
            status,
            correlation_id,
        }
    }

    /// What went wrong, as the model reads it.
    pub fn message(self) -> String {
        match self {
            Self::InvalidArguments(m) => format!("invalid arguments: {m}"),
            Self::HubSpot { message, .. }
            | Self::Rejected { text: message, .. }
            | Self::Refused { text: message, .. } => message,
            Self::Unavailable(m) => m,
            Self::Internal(m) => format!(
                "internal error in hubspot-mcp (not a HubSpot failure; nothing further was sent to HubSpot): {m}"
            ),
            Self::InputRequired(_) => "unexpected input-required round".into(),
        }
    }

    /// As a JSON-RPC error, for a surface that has no tool result (a resource read).
    pub fn into_error_data(self) -> rmcp::ErrorData {
        match self {
            Self::InvalidArguments(m) => rmcp::ErrorData::invalid_params(m, None),
            other => rmcp::ErrorData::internal_error(other.message(), None),
        }
    }
}

impl IntoCallToolResult for ToolError {
    fn into_call_tool_result(self) -> Result<CallToolResponse, rmcp::ErrorData> {
        let _ = SLOT.try_with(|s| s.set(self.failure()));
        match self {
            Self::InputRequired(input) => Ok(CallToolResponse::InputRequired(input)),
            Self::Rejected { text, structured } | Self::Refused { text, structured } => {
                let mut r = CallToolResult::structured_error(structured);
                r.content = vec![ContentBlock::text(text)];
                Ok(r.into())
            }
            other => Ok(CallToolResult::error(vec![ContentBlock::text(other.message())]).into()),
        }
    }
}

impl From<ApiError> for ToolError {
    fn from(e: ApiError) -> Self {
        match &e {
            // Ours, not HubSpot's: the shared budget (Redis) is away, or the production
            // guard refuses writes to this portal.
            ApiError::BudgetUnavailable { .. } | ApiError::ProductionGuard { .. } => {
                Self::Unavailable(e.to_string())
            }
            // Our client asked for something it cannot send, or could not read the answer.
            ApiError::Invalid(_) | ApiError::Decode { .. } => Self::Internal(e.to_string()),
            // Our credentials: missing, or a token store that cannot be used (its path and
            // reason are for the operator's log, not for the model).
            ApiError::Auth(
                crate::hubspot::auth::AuthError::Missing
                | crate::hubspot::auth::AuthError::Store { .. },
            ) => {
                tracing::error!(error = %e, "a tool call found no usable HubSpot credentials");
                Self::Unavailable(
                    "this server has no usable HubSpot credentials right now (the operator's log says why); nothing was sent to HubSpot".into(),
                )
            }
            _ => Self::HubSpot {
                status: e.status(),
                correlation_id: e.correlation_id().map(str::to_string),
                message: e.to_string(),
            },
        }
    }
}

impl From<crate::sync::seams::QueueError> for ToolError {
    fn from(e: crate::sync::seams::QueueError) -> Self {
        use crate::sync::seams::QueueError;
        match e {
            QueueError::Invalid(_) | QueueError::Task(_) => Self::Internal(e.to_string()),
            QueueError::Sqlite { .. } | QueueError::Shared { .. } => {
                Self::Unavailable(e.to_string())
            }
        }
    }
}

impl From<crate::sync::error::SyncError> for ToolError {
    fn from(e: crate::sync::error::SyncError) -> Self {
        use crate::sync::error::SyncError;
        match e {
            SyncError::HubSpot(e) => e.into(),
            SyncError::Queue(e) => e.into(),
            SyncError::Index(_) | SyncError::Contended(_) => Self::Unavailable(e.to_string()),
            SyncError::Embed(_) | SyncError::Task(_) => Self::Internal(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_audit_reads_the_kind_from_the_type() {
        let e = ToolError::from(ApiError::Http {
            status: 404,
            path: "/crm/v3/objects/contacts/1".into(),
            body: crate::hubspot::error::HubSpotErrorBody {
                message: "not found".into(),
                correlation_id: Some("abc-123".into()),
                ..Default::default()
            },
        });
        let (r, seen) = capture(async { e.into_call_tool_result() }).await;
        assert!(r.is_ok());
        let seen = seen.expect("the error left its failure");
        assert_eq!(seen.kind, ErrorKind::HubSpot);
        assert_eq!(seen.status, Some(404));
        assert_eq!(seen.correlation_id.as_deref(), Some("abc-123"));
        assert!(seen.outcome("x").starts_with("hubspot 404: "));
    }

    #[tokio::test]
    async fn a_bug_is_never_worded_as_hubspots_fault() {
        let e = ToolError::from(ApiError::Invalid("empty batch".into()));
        assert_eq!(e.failure().kind, ErrorKind::Internal);
        let text = e.message();
        assert!(text.contains("not a HubSpot failure"), "{text}");
        let budget = ToolError::from(ApiError::BudgetUnavailable {
            message: "connection refused".into(),
        });
        assert_eq!(budget.failure().kind, ErrorKind::Unavailable);
    }

    #[tokio::test]
    async fn nothing_is_captured_from_a_success_or_outside_a_capture() {
        let (_, seen) = capture(async { 1 }).await;
        assert!(seen.is_none());
        // Outside a capture the conversion still answers.
        assert!(ToolError::invalid("x").into_call_tool_result().is_ok());
    }
}
