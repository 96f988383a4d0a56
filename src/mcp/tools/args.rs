//! The argument and record shapes every tool area shares: scalars as HubSpot stores them,
//! record ids (strings or numbers), property maps and records as returned.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::error::ToolError;

/// A scalar value: string, number or boolean (HubSpot stores all as strings).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Scalar {
    Text(String),
    Number(f64),
    Flag(bool),
}

impl Scalar {
    pub fn text(&self) -> String {
        match self {
            Self::Text(s) => s.clone(),
            Self::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", *n as i64),
            Self::Number(n) => n.to_string(),
            Self::Flag(b) => b.to_string(),
        }
    }
}

/// A record id: HubSpot ids are numeric strings; numbers are accepted too.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum RecordId {
    Text(String),
    Number(u64),
}

impl RecordId {
    pub fn text(&self) -> String {
        match self {
            Self::Text(s) => s.trim().to_string(),
            Self::Number(n) => n.to_string(),
        }
    }

    /// The id as a URL path segment (digits only), or `invalid_params` naming the argument.
    pub fn path_id(&self, arg: &str) -> Result<crate::hubspot::path::RecordId, ToolError> {
        crate::hubspot::path::RecordId::parse(&self.text())
            .map_err(|e| ToolError::invalid(format!("{arg}: {e}")))
    }
}

impl JsonSchema for Scalar {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Scalar".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": ["string", "number", "boolean"]})
    }
}

impl JsonSchema for RecordId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RecordId".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": ["string", "integer"]})
    }
}

// ---- inputs ------------------------------------------------------------------------------

// No arguments.

// Properties to write: property name → value.
pub type PropertyMap = BTreeMap<String, Scalar>;

// A record.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RecordOut {
    pub id: String,
    pub properties: BTreeMap<String, Option<String>>,
}

/// One value a property had: when, and what set it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct VersionOut {
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// `INTEGRATION sandbox-private-app`, `CRM_UI user 123`, `IMPORT`…
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// A HubSpot record as tools return it.
pub(crate) fn record(o: crate::hubspot::model::CrmObject) -> RecordOut {
    RecordOut {
        id: o.id,
        properties: o.properties,
    }
}

/// A record's `propertiesWithHistory` as tools return it (empty when none was asked for).
pub(crate) fn history(o: &crate::hubspot::model::CrmObject) -> BTreeMap<String, Vec<VersionOut>> {
    o.properties_with_history
        .iter()
        .map(|(name, versions)| {
            let versions = versions
                .iter()
                .map(|v| {
                    let parts: Vec<String> = v
                        .source_type
                        .iter()
                        .chain(v.source_id.iter())
                        .cloned()
                        .chain(v.updated_by_user_id.map(|u| format!("user {u}")))
                        .collect();
                    VersionOut {
                        value: v.value.clone(),
                        at: v.timestamp.clone(),
                        by: (!parts.is_empty()).then(|| parts.join(" ")),
                    }
                })
                .collect();
            (name.clone(), versions)
        })
        .collect()
}
