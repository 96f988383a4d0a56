//! `Parameters<T>`: tool arguments that fail with the JSON path of the problem.
//!
//! rmcp's own wrapper reports "failed to deserialize parameters" without saying where; an
//! agent cannot fix what it cannot find. This wrapper has the same name (rmcp's `#[tool]`
//! macro finds the input schema through it), the same schema, and decodes with
//! `serde_path_to_error`, so an invalid argument becomes an `invalid_params` error such as
//! `filters[0].operator: unknown variant "LIKE", expected one of EQ, NEQ, …`.

use std::borrow::Cow;

use rmcp::handler::server::common::FromContextPart;
use rmcp::handler::server::tool::ToolCallContext;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;

/// Tool arguments of type `T`.
#[derive(Debug, Clone)]
pub struct Parameters<T>(pub T);

impl<T: JsonSchema> JsonSchema for Parameters<T> {
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

impl<S, T: DeserializeOwned> FromContextPart<ToolCallContext<'_, S>> for Parameters<T> {
    fn from_context_part(context: &mut ToolCallContext<S>) -> Result<Self, rmcp::ErrorData> {
        let arguments = context.arguments.take().unwrap_or_default();
        decode(serde_json::Value::Object(arguments)).map(Parameters)
    }
}

/// Decodes arguments, naming the JSON path of the first problem.
///
/// # Errors
/// `invalid_params` with the path and what was expected.
pub fn decode<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, rmcp::ErrorData> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." {
            "arguments".to_string()
        } else {
            path
        };
        rmcp::ErrorData::invalid_params(
            format!("invalid argument at {at}: {}", e.inner()),
            Some(serde_json::json!({"path": at})),
        )
    })
}
