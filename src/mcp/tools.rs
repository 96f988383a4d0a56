//! The tools. Each one is written for a model: what it does, when to use it, its limits.
//!
//! Discovery first (`list_object_types` → `describe_properties`, `list_owners`,
//! `list_pipelines`, all served from the metadata cache), then reads (`search_objects`,
//! `get_objects`, `get_associations`) and batch writes (`create_objects`, `update_objects`,
//! `upsert_objects`, `associate_objects`). Property names and enumeration values are checked
//! against the portal's metadata before any HubSpot call; mistakes come back as
//! `invalid_params` naming the close matches, and HubSpot failures as `isError` results that
//! say what to do and carry HubSpot's correlation id.

use std::collections::{BTreeMap, HashMap};

use rmcp::handler::server::tool::IntoCallToolResult;
use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock};
use rmcp::{tool, tool_router, Json};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::params::Parameters;
use super::HubSpotMcp;
use crate::hubspot::client::WriteOp;
use crate::hubspot::error::ApiError;
use crate::hubspot::limit::Lane;
use crate::hubspot::model::{Filter as WireFilter, PropertyDef, SearchQuery, WriteInput};
use crate::hubspot::path::ObjectType;

use crate::objects::STANDARD_OBJECTS;

/// Why a tool call did not produce a result.
#[derive(Debug)]
pub enum ToolFailure {
    /// The arguments are wrong: a JSON-RPC `invalid_params` error.
    Invalid(rmcp::ErrorData),
    /// HubSpot or the client failed: an `isError` result the model can read.
    Failed(String),
    /// HubSpot refused records of a write: an `isError` result whose structured content (the
    /// tool's own output shape) lists what was written and, per record, what was refused.
    Rejected { text: String, structured: Value },
    /// The person in the client must answer first (a 2026-07-28 input-required round).
    InputRequired(rmcp::model::InputRequiredResult),
}

impl IntoCallToolResult for ToolFailure {
    fn into_call_tool_result(self) -> Result<CallToolResponse, rmcp::ErrorData> {
        match self {
            Self::Invalid(e) => Err(e),
            Self::Failed(msg) => Ok(CallToolResult::error(vec![ContentBlock::text(msg)]).into()),
            Self::Rejected { text, structured } => {
                let mut r = CallToolResult::structured_error(structured);
                r.content = vec![ContentBlock::text(text)];
                Ok(r.into())
            }
            Self::InputRequired(input) => Ok(CallToolResponse::InputRequired(input)),
        }
    }
}

impl ToolFailure {
    /// What went wrong, as text (for a caller that folds the failure into its own answer).
    pub fn message(self) -> String {
        match self {
            Self::Invalid(e) => e.message.to_string(),
            Self::Failed(m) | Self::Rejected { text: m, .. } => m,
            Self::InputRequired(_) => "unexpected input-required round".into(),
        }
    }

    /// As a JSON-RPC error, for a surface that has no tool result (a resource read).
    pub fn into_error_data(self) -> rmcp::ErrorData {
        match self {
            Self::Invalid(d) => d,
            other => rmcp::ErrorData::internal_error(other.message(), None),
        }
    }
}

impl From<ApiError> for ToolFailure {
    fn from(e: ApiError) -> Self {
        Self::Failed(e.to_string())
    }
}

fn invalid(msg: impl Into<String>) -> ToolFailure {
    ToolFailure::Invalid(rmcp::ErrorData::invalid_params(msg.into(), None))
}

/// A scalar value: string, number or boolean (HubSpot stores all as strings).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Scalar {
    Text(String),
    Number(f64),
    Flag(bool),
}

impl Scalar {
    fn text(&self) -> String {
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
    pub fn path_id(&self, arg: &str) -> Result<crate::hubspot::path::RecordId, ToolFailure> {
        crate::hubspot::path::RecordId::parse(&self.text())
            .map_err(|e| invalid(format!("{arg}: {e}")))
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
#[derive(Debug, Deserialize, JsonSchema)]
pub struct NoArgs {}

// Which object type.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DescribePropertiesParams {
    /// Object type: `contacts`, `companies`, `deals`, `tickets`, `notes`, `tasks`, or a custom
    /// object's name or id (`2-…`) from `list_object_types`.
    pub object_type: String,
    /// Only properties whose name or label contains this text (case-insensitive).
    #[serde(default)]
    pub name_contains: Option<String>,
    /// Include read-only (system-calculated) properties. Default false.
    #[serde(default)]
    pub include_read_only: bool,
}

// Search operators.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Operator {
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
    Between,
    In,
    NotIn,
    HasProperty,
    NotHasProperty,
    ContainsToken,
    NotContainsToken,
}

impl Operator {
    fn wire(self) -> &'static str {
        match self {
            Self::Eq => "EQ",
            Self::Neq => "NEQ",
            Self::Lt => "LT",
            Self::Lte => "LTE",
            Self::Gt => "GT",
            Self::Gte => "GTE",
            Self::Between => "BETWEEN",
            Self::In => "IN",
            Self::NotIn => "NOT_IN",
            Self::HasProperty => "HAS_PROPERTY",
            Self::NotHasProperty => "NOT_HAS_PROPERTY",
            Self::ContainsToken => "CONTAINS_TOKEN",
            Self::NotContainsToken => "NOT_CONTAINS_TOKEN",
        }
    }
}

/// One filter. All filters of a search are ANDed.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FilterParam {
    /// Property name (from `describe_properties`).
    pub property: String,
    pub operator: Operator,
    /// The value for EQ, NEQ, LT, LTE, GT, GTE, CONTAINS_TOKEN (supports `*`), and the low end of BETWEEN.
    #[serde(default)]
    pub value: Option<Scalar>,
    /// The high end of BETWEEN.
    #[serde(default)]
    pub high_value: Option<Scalar>,
    /// The values for IN and NOT_IN.
    #[serde(default)]
    pub values: Option<Vec<Scalar>>,
}

// Sort direction.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Direction {
    Ascending,
    Descending,
}

// A sort.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SortParam {
    pub property: String,
    #[serde(default = "ascending")]
    pub direction: Direction,
}

fn ascending() -> Direction {
    Direction::Ascending
}

/// `search_objects` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SearchObjectsParams {
    pub object_type: String,
    /// Filters, ANDed (at most 6).
    #[serde(default)]
    pub filters: Vec<FilterParam>,
    /// Free text matched against the type's searchable properties (names, emails, subjects…).
    #[serde(default)]
    pub query: Option<String>,
    /// Properties to return; default: the type's default set.
    #[serde(default)]
    pub properties: Vec<String>,
    #[serde(default)]
    pub sort: Option<SortParam>,
    /// Results per page, 1–200 (default 20).
    #[serde(default)]
    pub limit: Option<u32>,
    /// `nextAfter` from the previous page.
    #[serde(default)]
    pub after: Option<String>,
}

/// `get_objects` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetObjectsParams {
    pub object_type: String,
    /// Record ids (or unique values when `idProperty` is set), at most 100.
    pub ids: Vec<RecordId>,
    /// A unique property the ids are values of, e.g. `email` for contacts.
    #[serde(default)]
    pub id_property: Option<String>,
    #[serde(default)]
    pub properties: Vec<String>,
}

// Properties to write: property name → value.
pub type PropertyMap = BTreeMap<String, Scalar>;

// One record to create.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRecord {
    pub properties: PropertyMap,
}

/// `create_objects` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateObjectsParams {
    pub object_type: String,
    /// At most 100 records.
    pub records: Vec<NewRecord>,
}

// One record to change.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangedRecord {
    /// Record id (update) or the unique value (upsert).
    pub id: RecordId,
    pub properties: PropertyMap,
}

/// `update_objects` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateObjectsParams {
    pub object_type: String,
    /// At most 100 records.
    pub records: Vec<ChangedRecord>,
}

/// `upsert_objects` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpsertObjectsParams {
    pub object_type: String,
    /// The unique property the ids are values of (e.g. `email`, or a custom unique id).
    pub id_property: String,
    /// At most 100 records.
    pub records: Vec<ChangedRecord>,
}

/// `get_associations` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetAssociationsParams {
    pub object_type: String,
    /// At most 100 record ids.
    pub ids: Vec<RecordId>,
    pub to_object_type: String,
}

/// `associate_objects` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AssociateObjectsParams {
    pub object_type: String,
    pub id: RecordId,
    pub to_object_type: String,
    pub to_id: RecordId,
    /// A labelled association type id; omit for the default (unlabelled) association.
    #[serde(default)]
    pub association_type_id: Option<u32>,
}

/// `list_owners` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListOwnersParams {
    /// Only the owner with this email.
    #[serde(default)]
    pub email: Option<String>,
}

/// `list_pipelines` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListPipelinesParams {
    /// `deals` or `tickets`.
    pub object_type: String,
}

// ---- outputs -----------------------------------------------------------------------------

// An object type.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectTypeInfo {
    pub name: String,
    pub object_type_id: String,
    pub custom: bool,
}

/// `list_object_types` output.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListObjectTypesOutput {
    pub object_types: Vec<ObjectTypeInfo>,
}

// An enumeration option.
#[derive(Debug, Serialize, JsonSchema)]
pub struct OptionInfo {
    pub value: String,
    pub label: String,
}

// A property.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PropertyInfo {
    pub name: String,
    pub label: String,
    /// string, number, date, datetime, enumeration, bool, phone_number.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<OptionInfo>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unique: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// Values are owner ids (see `list_owners`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub owner: bool,
}

/// `describe_properties` output.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DescribePropertiesOutput {
    pub object_type: String,
    pub properties: Vec<PropertyInfo>,
}

// A record.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RecordOut {
    pub id: String,
    pub properties: BTreeMap<String, Option<String>>,
}

/// `search_objects` output.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchObjectsOutput {
    pub total: u64,
    pub results: Vec<RecordOut>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<String>,
}

/// `get_objects` output.
#[derive(Debug, Serialize, JsonSchema)]
pub struct GetObjectsOutput {
    pub results: Vec<RecordOut>,
    /// Ids that do not exist (or were deleted or merged).
    pub missing: Vec<String>,
}

// A refused input of a write.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WriteError {
    /// Position in `records`, when known.
    pub index: Option<usize>,
    /// HubSpot's category (`VALIDATION_ERROR`, `CONFLICT`, …).
    pub category: String,
    pub message: String,
    /// The refused property values: property, HubSpot's code, message.
    pub fields: Vec<crate::hubspot::rejection::FieldError>,
}

/// Output of the write tools.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WriteOutput {
    pub results: Vec<RecordOut>,
    pub errors: Vec<WriteError>,
}

/// `get_associations` output.
#[derive(Debug, Serialize, JsonSchema)]
pub struct GetAssociationsOutput {
    /// Record id → associated record ids.
    pub associations: BTreeMap<String, Vec<String>>,
}

/// `associate_objects` output.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AssociateOutput {
    pub associated: bool,
}

// An owner.
#[derive(Debug, Serialize, JsonSchema)]
pub struct OwnerInfo {
    pub id: String,
    pub name: String,
    pub email: String,
    /// PERSON or QUEUE.
    #[serde(rename = "type")]
    pub kind: String,
}

/// `list_owners` output.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ListOwnersOutput {
    pub owners: Vec<OwnerInfo>,
}

// A stage.
#[derive(Debug, Serialize, JsonSchema)]
pub struct StageInfo {
    pub id: String,
    pub label: String,
}

// A pipeline.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PipelineInfo {
    pub id: String,
    pub label: String,
    pub stages: Vec<StageInfo>,
}

/// `list_pipelines` output.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ListPipelinesOutput {
    pub pipelines: Vec<PipelineInfo>,
}

// ---- validation against the portal's metadata ------------------------------------------------

/// Close matches for a mistyped name.
pub fn close_matches<'a>(wanted: &str, candidates: impl Iterator<Item = &'a str>) -> Vec<String> {
    let w = wanted.to_lowercase();
    let mut scored: Vec<(f64, &str)> = candidates
        .map(|c| {
            let cl = c.to_lowercase();
            let mut score = strsim::jaro_winkler(&w, &cl);
            if cl.contains(&w) || w.contains(&cl) {
                score = score.max(0.9);
            }
            (score, c)
        })
        .filter(|(s, _)| *s >= 0.75)
        .collect();
    scored.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
    scored
        .into_iter()
        .take(5)
        .map(|(_, c)| c.to_string())
        .collect()
}

/// A type's property definitions, by name.
pub struct PropertyIndex {
    object_type: String,
    defs: HashMap<String, PropertyDef>,
}

impl PropertyIndex {
    /// Does the portal have this property?
    pub fn has(&self, name: &str) -> bool {
        self.defs.contains_key(name)
    }

    /// Validates a write (names, read-only, enumeration values) and returns each value as
    /// HubSpot will store it ([`hubspot_wire::values::read_value`]).
    ///
    /// # Errors
    /// `invalid_params` naming the property and the fix.
    pub fn check_writable_pub(
        &self,
        props: &PropertyMap,
    ) -> Result<BTreeMap<String, String>, ToolFailure> {
        self.check_writable(props)
    }

    fn check_name(&self, name: &str) -> Result<&PropertyDef, ToolFailure> {
        self.defs.get(name).ok_or_else(|| {
            let near = close_matches(name, self.defs.keys().map(String::as_str));
            let hint = if near.is_empty() {
                format!("call describe_properties for {}", self.object_type)
            } else {
                format!("did you mean {}?", near.join(", "))
            };
            invalid(format!(
                "property \"{name}\" does not exist on {}; {hint}",
                self.object_type
            ))
        })
    }

    fn check_value(&self, name: &str, value: &str) -> Result<(), ToolFailure> {
        let def = self.check_name(name)?;
        let options: Vec<(&str, &str)> = def
            .options
            .iter()
            .filter(|o| !o.value.is_empty())
            .map(|o| (o.value.as_str(), o.label.as_str()))
            .collect();
        if !def.is_enumeration() || value.is_empty() {
            return Ok(());
        }
        let parts: Vec<&str> = if def.multi_valued() {
            value.split(';').collect()
        } else {
            vec![value]
        };
        for p in parts {
            if options.iter().any(|(v, _)| *v == p) {
                continue;
            }
            if let Some((v, l)) = options
                .iter()
                .find(|(v, l)| v.eq_ignore_ascii_case(p) || l.eq_ignore_ascii_case(p))
            {
                return Err(invalid(format!("\"{p}\" is not a value of {name}; use the value \"{v}\" (label \"{l}\"). Enumeration values are case-sensitive.")));
            }
            let allowed: Vec<&str> = options.iter().map(|(v, _)| *v).take(30).collect();
            return Err(invalid(format!(
                "\"{p}\" is not a value of {name}; allowed values: {}",
                allowed.join(", ")
            )));
        }
        Ok(())
    }

    fn check_writable(&self, props: &PropertyMap) -> Result<BTreeMap<String, String>, ToolFailure> {
        let mut out = BTreeMap::new();
        for (k, v) in props {
            let def = self.check_name(k)?;
            if def.read_only() {
                return Err(invalid(format!(
                    "property \"{k}\" is read-only (HubSpot calculates it); leave it out"
                )));
            }
            // The value as HubSpot will store it (a padded or exponent number is the number
            // it stands for): what the gate judges and what is written are the same string.
            let text = hubspot_wire::values::read_value(&def.kind, &v.text()).map_err(|e| {
                invalid(format!(
                    "property \"{k}\": {e}{}",
                    e.suggestion
                        .as_deref()
                        .map(|s| format!("; did you mean \"{s}\"?"))
                        .unwrap_or_default()
                ))
            })?;
            self.check_value(k, &text)?;
            out.insert(k.clone(), text);
        }
        Ok(out)
    }
}

fn record(o: crate::hubspot::model::CrmObject) -> RecordOut {
    RecordOut {
        id: o.id,
        properties: o.properties,
    }
}

fn limit_inputs<T>(items: &[T], what: &str) -> Result<(), ToolFailure> {
    if items.is_empty() {
        return Err(invalid(format!("{what} is empty: pass at least one")));
    }
    if items.len() > 100 {
        return Err(invalid(format!(
            "{what} has {} entries; at most 100 per call (split the work into several calls)",
            items.len()
        )));
    }
    Ok(())
}

impl HubSpotMcp {
    /// Resolves a user-supplied object type to the path name HubSpot accepts.
    pub(crate) async fn object_type(&self, name: &str) -> Result<String, ToolFailure> {
        let n = name.trim().to_lowercase();
        if let Some(o) = STANDARD_OBJECTS
            .iter()
            .find(|o| o.name == n || o.type_id == n || o.singular == n)
        {
            return Ok(o.name.to_string());
        }
        let customs: Vec<(String, String)> = self
            .client
            .schemas()
            .await?
            .into_iter()
            .map(|s| (s.name, s.object_type_id))
            .collect();
        if let Some((_, id)) = customs
            .iter()
            .find(|(nm, id)| nm.eq_ignore_ascii_case(&n) || id.eq_ignore_ascii_case(&n))
        {
            return Ok(id.clone());
        }
        let all: Vec<String> = STANDARD_OBJECTS
            .iter()
            .map(|o| o.name.to_string())
            .chain(customs.iter().map(|(n, _)| n.clone()))
            .collect();
        let near = close_matches(name, all.iter().map(String::as_str));
        Err(invalid(format!(
            "unknown object type \"{name}\"; {}",
            if near.is_empty() {
                format!("known types: {}", all.join(", "))
            } else {
                format!("did you mean {}?", near.join(", "))
            }
        )))
    }

    /// The property index of a type (from the metadata cache).
    ///
    /// # Errors
    /// When the properties cannot be fetched.
    pub(crate) async fn property_index_pub(
        &self,
        object_type: &str,
    ) -> Result<PropertyIndex, ToolFailure> {
        self.property_index(object_type).await
    }

    async fn property_index(&self, object_type: &str) -> Result<PropertyIndex, ToolFailure> {
        let defs = self
            .client
            .properties(object_type)
            .await?
            .into_iter()
            .map(|p| (p.name.clone(), p))
            .collect();
        Ok(PropertyIndex {
            object_type: object_type.to_string(),
            defs,
        })
    }
}

// Discovery: what the portal has (cached metadata, no record reads).
#[tool_router(router = discovery_router, vis = "pub")]
impl HubSpotMcp {
    /// Lists the CRM object types of this portal.
    #[tool(
        description = "List the portal's CRM object types (standard and custom) with their ids. Start here, then describe_properties. Cached.",
        annotations(
            title = "List object types",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn list_object_types(
        &self,
        Parameters(_): Parameters<NoArgs>,
    ) -> Result<Json<ListObjectTypesOutput>, ToolFailure> {
        let mut object_types: Vec<ObjectTypeInfo> = STANDARD_OBJECTS
            .iter()
            .map(|o| ObjectTypeInfo {
                name: o.name.into(),
                object_type_id: o.type_id.into(),
                custom: false,
            })
            .collect();
        for s in self.client.schemas().await? {
            object_types.push(ObjectTypeInfo {
                name: s.name,
                object_type_id: s.object_type_id,
                custom: true,
            });
        }
        Ok(Json(ListObjectTypesOutput { object_types }))
    }

    /// Describes the properties of an object type.
    #[tool(
        description = "Describe an object type's properties: name, label, type and, for enumerations, the allowed values. Use before searching or writing to get exact names and values; nameContains keeps it short. Cached.",
        annotations(
            title = "Describe properties",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn describe_properties(
        &self,
        Parameters(p): Parameters<DescribePropertiesParams>,
    ) -> Result<Json<DescribePropertiesOutput>, ToolFailure> {
        let t = self.object_type(&p.object_type).await?;
        let props = self.client.properties(&t).await?;
        let needle = p.name_contains.as_deref().map(str::to_lowercase);
        let mut properties = Vec::new();
        for d in props {
            let (name, label) = (d.name.as_str(), d.label.as_str());
            let read_only = d.read_only();
            if read_only && !p.include_read_only && name != "hs_object_id" {
                continue;
            }
            if d.hidden {
                continue;
            }
            if let Some(n) = &needle {
                if !name.to_lowercase().contains(n) && !label.to_lowercase().contains(n) {
                    continue;
                }
            }
            let options = d
                .options
                .iter()
                .filter(|o| !o.value.is_empty())
                .map(|o| OptionInfo {
                    value: o.value.clone(),
                    label: o.label.clone(),
                })
                .collect();
            properties.push(PropertyInfo {
                name: name.into(),
                label: label.into(),
                kind: if d.kind.is_empty() {
                    "string".into()
                } else {
                    d.kind.clone()
                },
                options,
                unique: d.has_unique_value,
                read_only,
                owner: d.is_owner(),
            });
        }
        Ok(Json(DescribePropertiesOutput {
            object_type: t,
            properties,
        }))
    }

    /// Lists owners.
    #[tool(
        description = "List owners (users and queues) with ids, names and emails; the id goes in hubspot_owner_id. Cached.",
        annotations(
            title = "List owners",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn list_owners(
        &self,
        Parameters(p): Parameters<ListOwnersParams>,
    ) -> Result<Json<ListOwnersOutput>, ToolFailure> {
        let owners = self.client.owners().await?;
        let want = p.email.map(|e| e.trim().to_lowercase());
        let owners = owners
            .into_iter()
            .filter(|o| want.as_ref().is_none_or(|e| o.email == *e))
            .map(|o| OwnerInfo {
                name: o.full_name(),
                kind: if o.kind.is_empty() {
                    "PERSON".into()
                } else {
                    o.kind
                },
                id: o.id,
                email: o.email,
            })
            .collect();
        Ok(Json(ListOwnersOutput { owners }))
    }

    /// Lists pipelines and stages.
    #[tool(
        description = "List deal or ticket pipelines and their stages; stage ids go in dealstage or hs_pipeline_stage. Cached.",
        annotations(
            title = "List pipelines",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn list_pipelines(
        &self,
        Parameters(p): Parameters<ListPipelinesParams>,
    ) -> Result<Json<ListPipelinesOutput>, ToolFailure> {
        let t = self.object_type(&p.object_type).await?;
        let pipelines = self
            .client
            .pipelines(&t)
            .await?
            .into_iter()
            .map(|pl| PipelineInfo {
                id: pl.id,
                label: pl.label,
                stages: pl
                    .stages
                    .into_iter()
                    .map(|s| StageInfo {
                        id: s.id,
                        label: s.label,
                    })
                    .collect(),
            })
            .collect();
        Ok(Json(ListPipelinesOutput { pipelines }))
    }
}

// Reads of records and their associations.
#[tool_router(router = read_router, vis = "pub")]
impl HubSpotMcp {
    /// Searches records with typed filters.
    #[tool(
        description = "Search one object type with filters (ANDed, at most 6), free-text query, one sort and paging (limit 1-200; pass nextAfter as after). Names and enum values are checked first. At most 10,000 results per query: narrow filters to go further. Dates: ISO 8601 or epoch ms.",
        annotations(
            title = "Search records",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn search_objects(
        &self,
        Parameters(p): Parameters<SearchObjectsParams>,
    ) -> Result<Json<SearchObjectsOutput>, ToolFailure> {
        let t = self.object_type(&p.object_type).await?;
        if p.filters.len() > 6 {
            return Err(invalid(format!(
                "{} filters given; HubSpot allows at most 6 in one search",
                p.filters.len()
            )));
        }
        let limit = p.limit.unwrap_or(20);
        if !(1..=200).contains(&limit) {
            return Err(invalid(format!(
                "limit {limit} is out of range: use 1 to 200"
            )));
        }
        if p.query.as_ref().is_some_and(|q| q.chars().count() > 3_000) {
            return Err(invalid("query is longer than HubSpot's 3,000 characters"));
        }
        let idx = self.property_index(&t).await?;
        let mut filters = Vec::new();
        for (i, f) in p.filters.iter().enumerate() {
            idx.check_name(&f.property).map_err(|e| match e {
                ToolFailure::Invalid(mut d) => {
                    d.message = format!("filters[{i}].property: {}", d.message).into();
                    ToolFailure::Invalid(d)
                }
                other => other,
            })?;
            let needs_value = !matches!(
                f.operator,
                Operator::HasProperty | Operator::NotHasProperty | Operator::In | Operator::NotIn
            );
            if needs_value && f.value.is_none() {
                return Err(invalid(format!(
                    "filters[{i}].value is required for {}",
                    f.operator.wire()
                )));
            }
            if f.operator == Operator::Between && f.high_value.is_none() {
                return Err(invalid(format!(
                    "filters[{i}].highValue is required for BETWEEN"
                )));
            }
            if matches!(f.operator, Operator::In | Operator::NotIn)
                && f.values.as_ref().is_none_or(Vec::is_empty)
            {
                return Err(invalid(format!(
                    "filters[{i}].values is required for {}",
                    f.operator.wire()
                )));
            }
            if let Some(v) = &f.value {
                if matches!(f.operator, Operator::Eq | Operator::Neq) {
                    idx.check_value(&f.property, &v.text())?;
                }
            }
            for v in f.values.iter().flatten() {
                idx.check_value(&f.property, &v.text())?;
            }
            filters.push(WireFilter {
                property_name: f.property.clone(),
                operator: f.operator.wire().into(),
                value: f.value.as_ref().map(Scalar::text),
                high_value: f.high_value.as_ref().map(Scalar::text),
                values: f
                    .values
                    .as_ref()
                    .map(|v| v.iter().map(Scalar::text).collect()),
            });
        }
        for prop in &p.properties {
            idx.check_name(prop)?;
        }
        if let Some(s) = &p.sort {
            idx.check_name(&s.property)?;
        }
        let q = SearchQuery {
            filter_groups: if filters.is_empty() {
                Vec::new()
            } else {
                vec![filters]
            },
            query: p.query.clone(),
            properties: p.properties.clone(),
            sort: p.sort.as_ref().map(|s| {
                (
                    s.property.clone(),
                    matches!(s.direction, Direction::Descending),
                )
            }),
            limit: limit as usize,
            after: p.after.clone(),
        };
        let page = self.client.search(Lane::Interactive, &t, &q).await?;
        let next_after = page
            .paging
            .and_then(|pg| pg.next)
            .map(|n| n.after)
            .filter(|a| a.parse::<u64>().map_or(true, |n| n < 10_000));
        Ok(Json(SearchObjectsOutput {
            total: page.total,
            results: page.results.into_iter().map(record).collect(),
            next_after,
        }))
    }

    /// Reads records by id or unique property.
    #[tool(
        description = "Get up to 100 records by id, or by a unique property (idProperty, e.g. email), in one batch request. Unknown ids are listed in missing.",
        annotations(
            title = "Get records",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn get_objects(
        &self,
        Parameters(p): Parameters<GetObjectsParams>,
    ) -> Result<Json<GetObjectsOutput>, ToolFailure> {
        let t = self.object_type(&p.object_type).await?;
        limit_inputs(&p.ids, "ids")?;
        let idx = self.property_index(&t).await?;
        for prop in p.properties.iter().chain(p.id_property.iter()) {
            idx.check_name(prop)?;
        }
        let ids: Vec<String> = p.ids.iter().map(RecordId::text).collect();
        let out = self
            .client
            .batch_read(
                Lane::Interactive,
                &t,
                &ids,
                &p.properties,
                p.id_property.as_deref(),
            )
            .await?;
        let missing = out.errors.into_iter().flat_map(|e| e.ids).collect();
        Ok(Json(GetObjectsOutput {
            results: out.results.into_iter().map(record).collect(),
            missing,
        }))
    }

    /// Reads associations.
    #[tool(
        description = "Get the ids associated with up to 100 records (e.g. the companies of contacts, the contacts of a ticket). Read them with get_objects.",
        annotations(
            title = "Get associations",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn get_associations(
        &self,
        Parameters(p): Parameters<GetAssociationsParams>,
    ) -> Result<Json<GetAssociationsOutput>, ToolFailure> {
        let from = self.object_type(&p.object_type).await?;
        let to = self.object_type(&p.to_object_type).await?;
        limit_inputs(&p.ids, "ids")?;
        let ids: Vec<String> = p.ids.iter().map(RecordId::text).collect();
        let (map, _) = self
            .client
            .associations(Lane::Interactive, &from, &to, &ids)
            .await?;
        let associations = map
            .into_iter()
            .map(|(k, v)| (k, v.into_iter().map(|a| a.to_object_id).collect()))
            .collect();
        Ok(Json(GetAssociationsOutput { associations }))
    }
}

// Writes: batch create, update, upsert, and associations.
#[tool_router(router = write_router, vis = "pub")]
impl HubSpotMcp {
    /// Creates records in one batch.
    #[tool(
        description = "Create up to 100 records in one batch, each {properties: {name: value}}. Names and enum values are checked first; rejected inputs are reported by index while the others are created.",
        annotations(
            title = "Create records",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    pub async fn create_objects(
        &self,
        Parameters(p): Parameters<CreateObjectsParams>,
    ) -> Result<Json<WriteOutput>, ToolFailure> {
        limit_inputs(&p.records, "records")?;
        let records = p.records.iter().map(|r| (None, &r.properties)).collect();
        self.write_objects(&p.object_type, WriteOp::Create, None, records)
            .await
    }

    /// Updates records in one batch.
    #[tool(
        description = "Update up to 100 records by id in one batch. Only the given properties change; an empty string clears a value. Failures are reported by index.",
        annotations(
            title = "Update records",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn update_objects(
        &self,
        Parameters(p): Parameters<UpdateObjectsParams>,
    ) -> Result<Json<WriteOutput>, ToolFailure> {
        limit_inputs(&p.records, "records")?;
        let records = p
            .records
            .iter()
            .map(|r| (Some(r.id.text()), &r.properties))
            .collect();
        self.write_objects(&p.object_type, WriteOp::Update, None, records)
            .await
    }

    /// Creates or updates records by a unique property.
    #[tool(
        description = "Create or update up to 100 records by a unique property (idProperty, e.g. email): existing ones are updated, others created. Safe to repeat.",
        annotations(
            title = "Upsert records",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn upsert_objects(
        &self,
        Parameters(p): Parameters<UpsertObjectsParams>,
    ) -> Result<Json<WriteOutput>, ToolFailure> {
        limit_inputs(&p.records, "records")?;
        let records = p
            .records
            .iter()
            .map(|r| (Some(r.id.text()), &r.properties))
            .collect();
        self.write_objects(
            &p.object_type,
            WriteOp::Upsert,
            Some(&p.id_property),
            records,
        )
        .await
    }

    /// Associates two records.
    #[tool(
        description = "Associate two records (e.g. a contact with a company): the default association, or the labelled associationTypeId. Repeating it changes nothing.",
        annotations(
            title = "Associate records",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn associate_objects(
        &self,
        Parameters(p): Parameters<AssociateObjectsParams>,
    ) -> Result<Json<AssociateOutput>, ToolFailure> {
        let from = self.object_type(&p.object_type).await?;
        let to = self.object_type(&p.to_object_type).await?;
        let from_t = ObjectType::parse(&from).map_err(|e| invalid(e.to_string()))?;
        let to_t = ObjectType::parse(&to).map_err(|e| invalid(e.to_string()))?;
        let a = p.id.path_id("id")?;
        let b = p.to_id.path_id("toId")?;
        let label = match p.association_type_id {
            None => None,
            Some(id) => {
                // The category comes from the portal's own label definitions (cached).
                let labels = self.client.association_labels(&from, &to).await?;
                let known: Vec<&Value> = labels["results"]
                    .as_array()
                    .map(|a| a.iter().collect())
                    .unwrap_or_default();
                let Some(def) = known
                    .iter()
                    .find(|l| l["typeId"].as_u64() == Some(u64::from(id)))
                else {
                    let ids: Vec<String> = known
                        .iter()
                        .map(|l| {
                            format!(
                                "{} ({})",
                                l["typeId"],
                                l["label"].as_str().unwrap_or("unlabelled")
                            )
                        })
                        .collect();
                    return Err(invalid(format!("associationTypeId {id} does not exist from {from} to {to}; the types are: {}", ids.join(", "))));
                };
                let category = def["category"]
                    .as_str()
                    .unwrap_or("HUBSPOT_DEFINED")
                    .to_string();
                Some((category, id))
            }
        };
        self.client
            .associate(
                Lane::Interactive,
                (&from_t, &a),
                (&to_t, &b),
                label.as_ref().map(|(c, id)| (c.as_str(), *id)),
            )
            .await?;
        Ok(Json(AssociateOutput { associated: true }))
    }
}

impl HubSpotMcp {
    /// The one write path of `create_objects`, `update_objects` and `upsert_objects`: resolve
    /// the type, check every property against the portal's definitions (names, read-only,
    /// enumeration values; for an upsert, that `id_property` is unique), then batch-write.
    async fn write_objects(
        &self,
        object_type: &str,
        op: WriteOp,
        id_property: Option<&str>,
        records: Vec<(Option<String>, &PropertyMap)>,
    ) -> Result<Json<WriteOutput>, ToolFailure> {
        let t = self.object_type(object_type).await?;
        let idx = self.property_index(&t).await?;
        if let Some(unique) = id_property {
            if !idx.check_name(unique)?.has_unique_value {
                let uniques: Vec<&str> = idx
                    .defs
                    .iter()
                    .filter(|(_, d)| d.has_unique_value)
                    .map(|(n, _)| n.as_str())
                    .collect();
                return Err(invalid(format!(
                    "idProperty \"{unique}\" is not a unique property; use one of: {}",
                    uniques.join(", ")
                )));
            }
        }
        let mut inputs = Vec::with_capacity(records.len());
        for (id, properties) in records {
            inputs.push(WriteInput {
                id,
                id_property: id_property.map(str::to_string),
                properties: idx.check_writable(properties)?,
            });
        }
        let t = t.as_str();
        let inputs = inputs.as_slice();
        let out = match self
            .client
            .batch_write(Lane::Interactive, t, op, inputs)
            .await
        {
            Ok(out) => out,
            // The whole batch refused for its values (HubSpot's 400): the same answer as a
            // per-record refusal, so the model reads one shape either way.
            Err(ApiError::Http { status, body, .. }) if status == 400 || status == 409 => {
                let read = body.field_errors();
                crate::hubspot::model::BatchOutcome {
                    results: Vec::new(),
                    errors: vec![crate::hubspot::model::ItemError {
                        index: None,
                        ids: Vec::new(),
                        category: body.category.unwrap_or_else(|| "ERROR".into()),
                        message: read.headline,
                        fields: read.fields,
                    }],
                    requests: 1,
                }
            }
            Err(e) => return Err(e.into()),
        };
        let written = out.results.len();
        let output = WriteOutput {
            results: out.results.into_iter().map(record).collect(),
            errors: out
                .errors
                .into_iter()
                .map(|e| WriteError {
                    index: e.index,
                    category: e.category,
                    message: e.message,
                    fields: e.fields,
                })
                .collect(),
        };
        if output.errors.is_empty() {
            return Ok(Json(output));
        }
        let lines: Vec<String> = output
            .errors
            .iter()
            .map(|e| {
                let at = e
                    .index
                    .map_or_else(|| "the batch".to_string(), |i| format!("records[{i}]"));
                let fields: Vec<String> = e.fields.iter().map(ToString::to_string).collect();
                if fields.is_empty() {
                    format!("{at}: {} {}", e.category, e.message)
                } else {
                    format!("{at}: {}", fields.join("; "))
                }
            })
            .collect();
        let text = format!(
            "HubSpot refused {} of {} records ({written} written): {}. Correct the values named and send only the refused records again.",
            inputs.len() - written,
            inputs.len(),
            lines.join(" | ")
        );
        Err(ToolFailure::Rejected {
            text,
            structured: serde_json::to_value(&output).unwrap_or_default(),
        })
    }
}
