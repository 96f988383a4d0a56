//! Generated JSON Schemas.
//!
//! - Per object type, from the portal's own property definitions: every property with its
//!   HubSpot type, enumeration values, and which are unique, read-only and required. Served as
//!   `hubspot://schemas/{objectType}` resources.
//! - Per tool, the definitions `tools/list` serves (input and output schemas, annotations),
//!   written by `hubspot-mcp schemas export` to `schemas/`, which is checked in; a test fails
//!   when the code and `schemas/` drift apart.

use std::path::Path;

use crate::hubspot::model::PropertyDef;
use serde_json::{json, Map, Value};

use super::HubSpotMcp;

/// The JSON Schema of one object type's records. HubSpot stores every value as a string, so
/// every property is a string, with `format` and `x-hubspot-type` saying what it holds.
pub fn object_schema(object_type: &str, properties: &[PropertyDef]) -> Value {
    let mut props = Map::new();
    let mut unique = Vec::new();
    for p in properties.iter().filter(|p| !p.name.is_empty()) {
        let kind = if p.kind.is_empty() {
            "string"
        } else {
            p.kind.as_str()
        };
        let mut s = json!({"type": ["string", "null"], "title": p.label, "x-hubspot-type": kind});
        if !p.description.is_empty() {
            s["description"] = json!(p.description);
        }
        match kind {
            "date" => s["format"] = json!("date"),
            "datetime" => s["format"] = json!("date-time"),
            "number" => s["pattern"] = json!("^-?[0-9]+(\\.[0-9]+)?$"),
            _ => {}
        }
        if !p.options.is_empty() && !p.multi_valued() {
            let mut e: Vec<Value> = p.options.iter().map(|o| json!(o.value)).collect();
            e.push(Value::Null);
            s["enum"] = Value::Array(e);
        }
        if p.read_only() {
            s["readOnly"] = json!(true);
        }
        if p.has_unique_value {
            unique.push(json!(p.name));
        }
        props.insert(p.name.clone(), s);
    }
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": format!("hubspot://schemas/{object_type}"),
        "title": object_type,
        "type": "object",
        "properties": props,
        "additionalProperties": false,
        "x-unique-properties": unique,
    })
}

/// The tool definitions as `schemas/` holds them: name → definition.
pub fn tool_definitions(server: &HubSpotMcp) -> Vec<(String, Value)> {
    server
        .tools()
        .into_iter()
        .map(|t| {
            (
                t.name.to_string(),
                serde_json::to_value(&t).unwrap_or_default(),
            )
        })
        .collect()
}

/// Every file `schemas/` holds: one per tool of every toolset (optional ones included), the
/// handoff policy's schema and the sync mapping's schema.
pub fn all_files(server: &HubSpotMcp) -> Vec<(String, Value)> {
    let every = server.clone().with_every_tool();
    let mut files: Vec<(String, Value)> = tool_definitions(&every)
        .into_iter()
        .map(|(n, d)| (format!("{n}.json"), d))
        .collect();
    let policy = serde_json::to_value(schemars::schema_for!(crate::handoff::HandoffPolicy))
        .unwrap_or_default();
    files.push(("handoff-policy.json".into(), policy));
    let mapping = serde_json::to_value(schemars::schema_for!(crate::sync::normalize::Mapping))
        .unwrap_or_default();
    files.push(("mapping.json".into(), mapping));
    files
}

/// Writes one `{tool}.json` per tool, `handoff-policy.json` and `mapping.json` into `dir`.
///
/// # Errors
/// When the directory cannot be written.
pub fn export(server: &HubSpotMcp, dir: &Path) -> std::io::Result<Vec<String>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for (name, def) in all_files(server) {
        let path = dir.join(name);
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&def).unwrap_or_default() + "\n",
        )?;
        written.push(path.display().to_string());
    }
    Ok(written)
}
