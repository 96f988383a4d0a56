//! `ApiError`: what went wrong talking to HubSpot, with HubSpot's own body kept intact.
//!
//! Every variant renders a message a person can act on: what happened, why, and what to do
//! next, with HubSpot's `correlationId` when there is one (support asks for it). Secrets never
//! appear: request bodies and tokens are not part of any variant.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

/// One entry of HubSpot's `errors[]`.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Default)]
pub struct ErrorDetail {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub context: Option<Value>,
}

/// HubSpot's error body (`{status, message, category, errors[], context, correlationId, …}`).
/// HubSpot says to treat every field as optional; so does this type.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct HubSpotErrorBody {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub sub_category: Option<String>,
    #[serde(default)]
    pub errors: Vec<ErrorDetail>,
    #[serde(default)]
    pub context: Option<Value>,
    #[serde(default)]
    pub correlation_id: Option<String>,
    /// 429s: `TEN_SECONDLY_ROLLING`, `SECONDLY`, `DAILY`.
    #[serde(default)]
    pub policy_name: Option<String>,
}

impl HubSpotErrorBody {
    /// The message and `errors[]` read as a headline and per-property errors.
    pub fn field_errors(&self) -> crate::hubspot::rejection::FieldErrors {
        let errors: Vec<Value> = self
            .errors
            .iter()
            .filter_map(|e| serde_json::to_value(e).ok())
            .collect();
        crate::hubspot::rejection::FieldErrors::read(&self.message, &errors)
    }
}

/// The endpoint groups that have their own circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EndpointGroup {
    Objects,
    Search,
    Associations,
    Metadata,
    Oauth,
}

impl EndpointGroup {
    /// Every group.
    pub const ALL: [EndpointGroup; 5] = [
        Self::Objects,
        Self::Search,
        Self::Associations,
        Self::Metadata,
        Self::Oauth,
    ];

    /// Lowercase name, for logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Self::Objects => "objects",
            Self::Search => "search",
            Self::Associations => "associations",
            Self::Metadata => "metadata",
            Self::Oauth => "oauth",
        }
    }
}

/// Errors from the HubSpot client.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// HubSpot answered with an error status.
    #[error("{}", render_http(*status, body, path))]
    Http {
        status: u16,
        path: String,
        body: HubSpotErrorBody,
    },

    /// The account's daily budget is spent; retrying before the reset only adds errors.
    #[error("HubSpot's daily API limit for this account is used up (policy DAILY); requests resume after the reset in {} (at local midnight of the account). Reduce polling or request an API limit increase.{}", human(*resets_in), cid(correlation_id))]
    DailyLimit {
        resets_in: Duration,
        correlation_id: Option<String>,
    },

    /// Still rate limited when the interactive caller's deadline came (background callers
    /// wait 429s out instead).
    #[error("HubSpot was still busy (429 {policy}) after {attempts} attempts and {} of waiting for a turn in the shared budget; nothing is wrong with HubSpot or the request: retry in a few seconds.{}", human(*waited), cid(correlation_id))]
    RateLimited {
        policy: String,
        attempts: u32,
        waited: Duration,
        correlation_id: Option<String>,
    },

    /// The shared budget (Redis) is unreachable and the configuration says to refuse rather
    /// than run on a conservative local share (`[governor] when_redis_is_down = "refuse"`).
    #[error("the shared HubSpot rate budget is unavailable ({message}); this deployment is set to refuse calls until Redis returns. Check Redis, or set [governor] when_redis_is_down = \"share\" to run on a local share meanwhile.")]
    BudgetUnavailable { message: String },

    /// The circuit breaker for this endpoint group is open after repeated failures.
    #[error("HubSpot's {} endpoints are failing, so the client stopped calling them for {} to let them recover (circuit open). Retry after that; the last failure was: {last_failure}", group.name(), human(*retry_in))]
    CircuitOpen {
        group: EndpointGroup,
        retry_in: Duration,
        last_failure: String,
    },

    /// No answer in time.
    #[error("HubSpot did not answer {path} within {}; the request was {}retried.", human(*after), if *retried { "" } else { "not " })]
    Timeout {
        path: String,
        after: Duration,
        retried: bool,
    },

    /// The connection failed or was dropped.
    #[error("could not reach HubSpot for {path}: {message}. Check the network or HubSpot's status page; the request was {}retried.", if *retried { "" } else { "not " })]
    Transport {
        path: String,
        message: String,
        retried: bool,
    },

    /// The answer was not the JSON expected.
    #[error("HubSpot's answer to {path} could not be read at {at}: {message}. This is a client bug or an API change; report it with the correlation id.{}", cid(correlation_id))]
    Decode {
        path: String,
        at: String,
        message: String,
        correlation_id: Option<String>,
    },

    /// Credentials could not be obtained or refreshed.
    #[error(transparent)]
    Auth(#[from] super::auth::AuthError),

    /// The production guard refused a write.
    #[error("refusing to write: this portal's accountType is {account_type}, not a developer test account or sandbox, and the production guard is on (it is on by default in --test-mode). Point the client at a test portal, or turn the guard off deliberately with hubspot.production_guard = false.")]
    ProductionGuard { account_type: String },

    /// A caller asked for something the client cannot send.
    #[error("invalid request: {0}")]
    Invalid(String),
}

impl ApiError {
    /// HubSpot's correlation id, when the failure came from HubSpot.
    pub fn correlation_id(&self) -> Option<&str> {
        match self {
            Self::Http { body, .. } => body.correlation_id.as_deref(),
            Self::DailyLimit { correlation_id, .. }
            | Self::RateLimited { correlation_id, .. }
            | Self::Decode { correlation_id, .. } => correlation_id.as_deref(),
            _ => None,
        }
    }

    /// The HTTP status, when HubSpot answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Http { status, .. } => Some(*status),
            Self::DailyLimit { .. } | Self::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    /// Is this a "not found"?
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

fn cid(c: &Option<String>) -> String {
    c.as_ref()
        .map(|c| format!(" (HubSpot correlation id {c})"))
        .unwrap_or_default()
}

/// A duration for people: "2.5 s", "3 min", "5 h 12 min".
pub fn human(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        format!("{s:.1} s")
    } else if s < 3600.0 {
        format!("{:.0} min", s / 60.0)
    } else {
        format!("{} h {} min", d.as_secs() / 3600, (d.as_secs() % 3600) / 60)
    }
}

fn advice(status: u16, category: Option<&str>) -> &'static str {
    match (status, category) {
        (400, _) => "Fix the request as the details say; retrying it unchanged will fail again.",
        (401, Some("EXPIRED_AUTHENTICATION")) => "The access token expired and could not be refreshed; run `hubspot-mcp auth login` again.",
        (401, _) => "The credentials were rejected; check the token or run `hubspot-mcp auth login`.",
        (403, _) => "The app lacks a scope this call needs; add the scope named above to the app and reinstall it.",
        (404, _) => "The record or route does not exist (it may have been deleted or merged); check the id and object type.",
        (409, _) => "The value conflicts with an existing record; use the existing id, or upsert by the unique property.",
        (423, _) => "HubSpot held a sync lock; the client waited and retried, so try again shortly.",
        (477, _) => "The portal is migrating between data centers; try again after the Retry-After delay.",
        (s, _) if s >= 500 => "HubSpot failed on its side; safe requests were retried. Try again later and quote the correlation id if it persists.",
        _ => "See HubSpot's message above.",
    }
}

fn render_http(status: u16, body: &HubSpotErrorBody, path: &str) -> String {
    let mut out = format!("HubSpot answered {status}");
    if let Some(c) = &body.category {
        out.push_str(&format!(" {c}"));
    }
    out.push_str(&format!(" for {path}"));
    let fields = body.field_errors();
    let text = fields.render();
    if !text.is_empty() {
        out.push_str(&format!(": {text}"));
    }
    out.push_str(". ");
    out.push_str(advice(status, body.category.as_deref()));
    out.push_str(&cid(&body.correlation_id));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_errors_say_what_happened_and_what_to_do() {
        let body: HubSpotErrorBody = serde_json::from_str(
            r#"{"status":"error","message":"Property values were not valid","category":"VALIDATION_ERROR","correlationId":"c-1",
                "errors":[{"message":"Property \"x\" does not exist","code":"PROPERTY_DOESNT_EXIST","context":{"propertyName":["x"]}}]}"#,
        )
        .unwrap();
        let e = ApiError::Http {
            status: 400,
            path: "/crm/objects/2026-03/contacts".into(),
            body,
        };
        let msg = e.to_string();
        assert!(msg.contains("400 VALIDATION_ERROR"), "{msg}");
        assert!(msg.contains("PROPERTY_DOESNT_EXIST"), "{msg}");
        assert!(msg.contains("Fix the request"), "{msg}");
        assert!(msg.contains("correlation id c-1"), "{msg}");
        assert_eq!(e.correlation_id(), Some("c-1"));
    }

    #[test]
    fn daily_limit_gives_the_reset_time() {
        let e = ApiError::DailyLimit {
            resets_in: Duration::from_secs(3 * 3600 + 120),
            correlation_id: None,
        };
        assert!(e.to_string().contains("3 h 2 min"), "{e}");
    }
}
