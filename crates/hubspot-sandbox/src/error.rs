//! HubSpot's error bodies, built once and rendered by the gateway.
//!
//! Handlers return [`HsError`]; its `IntoResponse` parks the body in the response extensions
//! and the gateway renders it, adding the request's `correlationId`. That keeps the id in one
//! place and every error in HubSpot's canonical shape (../shared/docs/hubspot-api.md §10):
//! `{status:"error", message, correlationId, category, subCategory?, errors?, context?, links?}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{json, Map, Value};

/// One entry of `errors[]`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ErrorDetail {
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<Map<String, Value>>,
}

/// A HubSpot-shaped error response.
#[derive(Debug, Clone)]
pub struct HsError {
    pub status: StatusCode,
    /// The whole body except `correlationId`, which the gateway adds.
    pub body: Map<String, Value>,
    /// Extra response headers (for example `Retry-After`).
    pub headers: Vec<(&'static str, String)>,
}

impl HsError {
    /// An error with HubSpot's common fields.
    pub fn new(status: StatusCode, category: &str, message: impl Into<String>) -> Self {
        let mut body = Map::new();
        body.insert("status".into(), json!("error"));
        body.insert("message".into(), json!(message.into()));
        body.insert("category".into(), json!(category));
        Self {
            status,
            body,
            headers: Vec::new(),
        }
    }

    /// A raw body (429s and OAuth errors have their own shapes).
    pub fn raw(status: StatusCode, body: Value) -> Self {
        Self {
            status,
            body: body.as_object().cloned().unwrap_or_default(),
            headers: Vec::new(),
        }
    }

    /// 400 `VALIDATION_ERROR`.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message)
    }

    /// 404 `OBJECT_NOT_FOUND`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "OBJECT_NOT_FOUND", message)
    }

    /// 409 `CONFLICT`.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "CONFLICT", message)
    }

    /// Adds `errors[]`.
    pub fn with_errors(mut self, errors: Vec<ErrorDetail>) -> Self {
        self.body.insert(
            "errors".into(),
            serde_json::to_value(errors).unwrap_or(Value::Null),
        );
        self
    }

    /// Adds `context`.
    pub fn with_context(mut self, key: &str, values: Vec<String>) -> Self {
        let ctx = self
            .body
            .entry("context")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = ctx {
            m.insert(key.into(), json!(values));
        }
        self
    }

    /// Adds `subCategory`.
    pub fn with_sub_category(mut self, sub: &str) -> Self {
        self.body.insert("subCategory".into(), json!(sub));
        self
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The `message` field, for logs and tests.
    pub fn message(&self) -> &str {
        self.body
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// The body as a standalone error entry (for `errors[]` of a 207 batch response).
    /// HubSpot's `StandardError` requires `errors` and `links`, so both are always present.
    pub fn into_standard_error(self) -> Value {
        let mut body = self.body;
        body.insert("status".into(), json!("error"));
        body.entry("errors").or_insert_with(|| json!([]));
        body.entry("links").or_insert_with(|| json!({}));
        body.entry("context").or_insert_with(|| json!({}));
        Value::Object(body)
    }
}

/// Marker the gateway looks for: render this error with a correlation id.
#[derive(Debug, Clone)]
pub struct PendingError(pub HsError);

impl IntoResponse for HsError {
    fn into_response(self) -> Response {
        let mut res = self.status.into_response();
        res.extensions_mut().insert(PendingError(self));
        res
    }
}

/// Builds `errors[]` entries for one invalid property.
pub fn property_error(code: &str, message: String, property: &str) -> ErrorDetail {
    let mut ctx = Map::new();
    ctx.insert("propertyName".into(), json!([property]));
    ErrorDetail {
        message,
        code: Some(code.into()),
        context: Some(ctx),
    }
}

/// Renders a pending error into a JSON body with the given correlation id.
pub fn render(err: &HsError, correlation_id: &str) -> Vec<u8> {
    let mut body = err.body.clone();
    body.insert("correlationId".into(), json!(correlation_id));
    serde_json::to_vec(&Value::Object(body)).unwrap_or_default()
}
