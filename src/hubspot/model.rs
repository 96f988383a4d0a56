//! Wire types the client reads and writes, and the path scheme.
//!
//! Records keep HubSpot's `SimplePublicObject` shape: string ids, string property values
//! (`None` for a property with no value).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A CRM record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CrmObject {
    pub id: String,
    #[serde(default)]
    pub properties: BTreeMap<String, Option<String>>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub archived: bool,
    /// Present on batch create/update results when sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_write_trace_id: Option<String>,
    /// Upsert: was the record created?
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<bool>,
    /// Reads with `propertiesWithHistory`: each named property's values, newest first.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties_with_history: BTreeMap<String, Vec<PropertyVersion>>,
}

/// One value a property had (`propertiesWithHistory`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct PropertyVersion {
    #[serde(deserialize_with = "nullable")]
    pub value: String,
    pub timestamp: Option<String>,
    /// `CRM_UI`, `INTEGRATION`, `IMPORT`, `WORKFLOW`, ...
    pub source_type: Option<String>,
    pub source_id: Option<String>,
    pub updated_by_user_id: Option<u64>,
}

impl CrmObject {
    /// A property's value, if set.
    pub fn prop(&self, name: &str) -> Option<&str> {
        self.properties.get(name).and_then(|v| v.as_deref())
    }
}

/// One input of a batch write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct WriteInput {
    /// Record id (update), or the unique value (upsert); absent for create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The unique property `id` is a value of (upsert, or update by unique property).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_property: Option<String>,
    pub properties: BTreeMap<String, String>,
}

/// A failed input of a batch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemError {
    /// Index of the input in the caller's list, when known.
    pub index: Option<usize>,
    /// Ids the error names (batch read).
    pub ids: Vec<String>,
    pub category: String,
    /// HubSpot's message without JSON embedded in it.
    pub message: String,
    /// The refused property values, when HubSpot names them.
    pub fields: Vec<crate::hubspot::rejection::FieldError>,
}

impl ItemError {
    /// The message and the refused property values, as text.
    pub fn describe(&self) -> String {
        crate::hubspot::rejection::FieldErrors {
            headline: format!("{} {}", self.category, self.message),
            fields: self.fields.clone(),
        }
        .render()
    }
}

/// The result of a batch operation over any number of inputs (chunked at 100).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchOutcome {
    pub results: Vec<CrmObject>,
    pub errors: Vec<ItemError>,
    /// HubSpot requests spent.
    pub requests: usize,
}

/// A filter, as search takes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    pub property_name: String,
    pub operator: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
}

impl Filter {
    /// `property OP value`.
    pub fn new(property: &str, operator: &str, value: impl Into<String>) -> Self {
        Self {
            property_name: property.into(),
            operator: operator.into(),
            value: Some(value.into()),
            high_value: None,
            values: None,
        }
    }
}

/// A search request.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct SearchQuery {
    /// OR of ANDed groups.
    pub filter_groups: Vec<Vec<Filter>>,
    pub query: Option<String>,
    pub properties: Vec<String>,
    /// `(property, descending)`.
    pub sort: Option<(String, bool)>,
    pub limit: usize,
    pub after: Option<String>,
}

impl SearchQuery {
    /// The JSON body HubSpot takes.
    pub fn to_body(&self) -> Value {
        let mut body = serde_json::json!({
            "filterGroups": self.filter_groups.iter().map(|g| serde_json::json!({"filters": g})).collect::<Vec<_>>(),
            "properties": self.properties,
            "limit": self.limit.clamp(1, 200),
        });
        if let Some(q) = &self.query {
            body["query"] = Value::String(q.clone());
        }
        if let Some((p, desc)) = &self.sort {
            body["sorts"] = serde_json::json!([{"propertyName": p, "direction": if *desc { "DESCENDING" } else { "ASCENDING" }}]);
        }
        if let Some(a) = &self.after {
            body["after"] = Value::String(a.clone());
        }
        body
    }
}

/// One page of search results.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SearchPage {
    pub total: u64,
    pub results: Vec<CrmObject>,
    #[serde(default)]
    pub paging: Option<Paging>,
}

/// `paging.next.after`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Paging {
    pub next: Option<NextPage>,
}

/// `next.after`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct NextPage {
    pub after: String,
}

/// An associated record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssociatedId {
    #[serde(deserialize_with = "id_from_any")]
    pub to_object_id: String,
    #[serde(default)]
    pub association_types: Vec<Value>,
}

fn id_from_any<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        v => Err(serde::de::Error::custom(format!(
            "expected an id, found {v}"
        ))),
    }
}

/// Which path family to use: date-based (`2026-03`) by default, legacy `v3`/`v4` when asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ApiVersion {
    #[default]
    Dated,
    Legacy,
}

// The paths of each family are built in `super::path`, the one place that builds them.

// ---- metadata ---------------------------------------------------------------------------
// The portal's own definitions, typed once here. Fields HubSpot may leave out default, so a
// portal that sends less still decodes; fields we do not use are not declared.

/// A property definition (`/crm/properties/2026-03/{objectType}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PropertyDef {
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    #[serde(deserialize_with = "nullable")]
    pub label: String,
    #[serde(deserialize_with = "nullable")]
    pub description: String,
    /// `string`, `number`, `date`, `datetime`, `enumeration`, `bool`.
    #[serde(rename = "type")]
    #[serde(deserialize_with = "nullable")]
    pub kind: String,
    /// `text`, `select`, `checkbox` (several values, `;`-separated), `booleancheckbox`, ...
    #[serde(deserialize_with = "nullable")]
    pub field_type: String,
    #[serde(deserialize_with = "nullable")]
    pub options: Vec<PropertyOption>,
    #[serde(deserialize_with = "nullable")]
    pub hidden: bool,
    #[serde(deserialize_with = "nullable")]
    pub has_unique_value: bool,
    /// `OWNER` for owner pickers.
    pub referenced_object_type: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pub modification_metadata: ModificationMetadata,
}

impl PropertyDef {
    /// HubSpot calculates it: writes are refused.
    pub fn read_only(&self) -> bool {
        self.modification_metadata.read_only_value
    }

    /// Several values, `;`-separated.
    pub fn multi_valued(&self) -> bool {
        self.field_type == "checkbox"
    }

    /// An enumeration (or bool) with declared options.
    pub fn is_enumeration(&self) -> bool {
        matches!(self.kind.as_str(), "enumeration" | "bool") && !self.options.is_empty()
    }

    /// An owner picker.
    pub fn is_owner(&self) -> bool {
        self.referenced_object_type.as_deref() == Some("OWNER")
    }
}

/// One allowed value of an enumeration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PropertyOption {
    #[serde(deserialize_with = "nullable")]
    pub value: String,
    #[serde(deserialize_with = "nullable")]
    pub label: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ModificationMetadata {
    #[serde(deserialize_with = "nullable")]
    pub read_only_value: bool,
}

/// A custom object's schema (`/crm-object-schemas/2026-03/schemas`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ObjectSchema {
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    /// `2-…`: also its path name.
    #[serde(deserialize_with = "nullable")]
    pub object_type_id: String,
    pub primary_display_property: Option<String>,
}

/// An owner (a user or a queue).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Owner {
    #[serde(deserialize_with = "nullable")]
    pub id: String,
    #[serde(deserialize_with = "nullable")]
    pub email: String,
    #[serde(deserialize_with = "nullable")]
    pub first_name: String,
    #[serde(deserialize_with = "nullable")]
    pub last_name: String,
    /// `PERSON` or `QUEUE`.
    #[serde(rename = "type")]
    #[serde(deserialize_with = "nullable")]
    pub kind: String,
}

impl Owner {
    /// First and last name, trimmed.
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
            .trim()
            .to_string()
    }
}

/// A deal or ticket pipeline and its stages.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Pipeline {
    #[serde(deserialize_with = "nullable")]
    pub id: String,
    #[serde(deserialize_with = "nullable")]
    pub label: String,
    #[serde(deserialize_with = "nullable")]
    pub stages: Vec<PipelineStage>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PipelineStage {
    #[serde(deserialize_with = "nullable")]
    pub id: String,
    #[serde(deserialize_with = "nullable")]
    pub label: String,
    /// HubSpot's stage metadata: `isClosed` and `probability` (deals), `ticketState`
    /// (`OPEN`/`CLOSED`, tickets); all values are strings.
    #[serde(deserialize_with = "nullable")]
    pub metadata: std::collections::BTreeMap<String, Value>,
}

impl PipelineStage {
    /// Is a record in this stage closed? From `isClosed` (deals) or `ticketState` (tickets);
    /// `None` when the stage does not say.
    pub fn closed(&self) -> Option<bool> {
        let text = |k: &str| {
            self.metadata
                .get(k)
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
        };
        if let Some(v) = text("isClosed") {
            return Some(v.eq_ignore_ascii_case("true"));
        }
        text("ticketState").map(|v| v.eq_ignore_ascii_case("CLOSED"))
    }

    /// A deal stage's win probability (0 to 1).
    pub fn probability(&self) -> Option<f64> {
        let v = self.metadata.get("probability")?;
        v.as_f64().or_else(|| v.as_str()?.trim().parse().ok())
    }
}

/// What identifies a metadata entry; entries without it are dropped when a list is read.
pub trait Named {
    fn name(&self) -> &str;
}

impl Named for PropertyDef {
    fn name(&self) -> &str {
        &self.name
    }
}

impl Named for ObjectSchema {
    /// A schema needs both its name and its type id to be usable.
    fn name(&self) -> &str {
        if self.object_type_id.is_empty() {
            ""
        } else {
            &self.name
        }
    }
}

impl Named for Owner {
    fn name(&self) -> &str {
        &self.id
    }
}

impl Named for Pipeline {
    fn name(&self) -> &str {
        &self.id
    }
}

/// `{"results": [...]}`, the envelope of every metadata list.
#[derive(Debug, Deserialize)]
pub(crate) struct Results<T> {
    #[serde(default = "Vec::new")]
    pub results: Vec<T>,
}

/// `null` (or a missing field, with `#[serde(default)]`) as the type's default.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

#[cfg(test)]
mod metadata_tests {
    use super::*;

    #[test]
    fn nulls_and_missing_fields_in_metadata_read_as_defaults() {
        let p: PropertyDef = serde_json::from_value(serde_json::json!({
            "name": "hs_ticket_priority", "label": null, "description": null, "type": "enumeration",
            "options": [{"value": "HIGH", "label": null}], "hidden": null,
            "modificationMetadata": null
        }))
        .unwrap();
        assert_eq!((p.label.as_str(), p.description.as_str()), ("", ""));
        assert!(p.is_enumeration() && !p.read_only() && !p.hidden);
        let o: Owner = serde_json::from_value(serde_json::json!({
            "id": "7", "email": null, "firstName": "Ada", "lastName": null, "type": "QUEUE"
        }))
        .unwrap();
        assert_eq!((o.full_name().as_str(), o.email.as_str()), ("Ada", ""));
        let pl: Pipeline =
            serde_json::from_value(serde_json::json!({"id": "0", "label": "Support"})).unwrap();
        assert!(pl.stages.is_empty());
    }
}
