//! Reads: search with typed filters, batch get by id or unique property, associations.

use std::collections::BTreeMap;

use rmcp::{tool, tool_router, Json};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::args::{history, record, RecordId, RecordOut, Scalar, VersionOut};
use super::error::ToolError;
use super::validate::{date_arg, limit_inputs, PropertyIndex};
use crate::hubspot::limit::Lane;
use crate::hubspot::model::{Filter as WireFilter, SearchQuery};
use crate::mcp::params::Parameters;
use crate::mcp::HubSpotMcp;

/// EQ/NEQ: equal (enums exact, text any case); LT..GTE: numbers, dates; BETWEEN: value to
/// highValue; IN/NOT_IN: `values` (lowercase text); HAS_PROPERTY/NOT_HAS_PROPERTY: set or
/// empty; CONTAINS_TOKEN/NOT_CONTAINS_TOKEN: a word, `*` wildcard.
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

// One filter.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FilterParam {
    /// A property, or associations.{contact|company|deal|ticket} (EQ a record id). Alias:
    /// propertyName.
    #[serde(alias = "propertyName")]
    pub property: String,
    pub operator: Operator,
    /// For EQ..GTE, CONTAINS_TOKEN, BETWEEN's low end. Dates: ISO 8601 or epoch ms.
    #[serde(default)]
    pub value: Option<Scalar>,
    /// The high end of BETWEEN.
    #[serde(default)]
    pub high_value: Option<Scalar>,
    /// The values for IN and NOT_IN.
    #[serde(default)]
    pub values: Option<Vec<Scalar>>,
}

// Filters that must all match (AND).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FilterGroupParam {
    pub filters: Vec<FilterParam>,
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
    /// AND-ed (at most 6). For OR, use filterGroups.
    #[serde(default)]
    pub filters: Vec<FilterParam>,
    /// OR of AND groups (at most 5 groups, 6 filters each, 18 in all).
    #[serde(default)]
    pub filter_groups: Vec<FilterGroupParam>,
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
    /// Properties to return past values of (when, by what).
    #[serde(default)]
    pub history: Vec<String>,
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
    /// With `history`: record id → property → its values, newest first.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub history: BTreeMap<String, BTreeMap<String, Vec<VersionOut>>>,
}

/// `get_associations` output.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GetAssociationsOutput {
    /// Record id → associated record ids.
    pub associations: BTreeMap<String, Vec<String>>,
    /// Record id → associated id → its labels (labelled associations only).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    /// The labels this portal defines between the two types: `typeId: label` (for
    /// associate_objects' associationTypeId).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub defined_labels: BTreeMap<String, String>,
}

// Reads of records and their associations.
#[tool_router(router = read_router, vis = "pub")]
impl HubSpotMcp {
    /// Searches records with typed filters.
    #[tool(
        description = "Search one object type: filters (AND) or filterGroups (OR of ANDs), free-text query, one sort, paging (limit 1-200; pass nextAfter as after). Names, enum values and dates are checked first. At most 10,000 results per query: narrow filters to go further.",
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
    ) -> Result<Json<SearchObjectsOutput>, ToolError> {
        let t = self.object_type(&p.object_type).await?;
        let (groups, named) = match (p.filters.is_empty(), p.filter_groups.is_empty()) {
            (_, true) => (vec![p.filters.clone()], "filters"),
            (true, false) => (
                p.filter_groups.iter().map(|g| g.filters.clone()).collect(),
                "filterGroups",
            ),
            (false, false) => {
                return Err(ToolError::invalid(
                    "give filters (one AND group) or filterGroups (OR of AND groups), not both; put the filters into each group",
                ))
            }
        };
        if groups.len() > 5 {
            return Err(ToolError::invalid(format!(
                "filterGroups has {} groups; HubSpot allows at most 5",
                groups.len()
            )));
        }
        let total: usize = groups.iter().map(Vec::len).sum();
        if total > 18 {
            return Err(ToolError::invalid(format!(
                "{total} filters given; HubSpot allows at most 18 in one search"
            )));
        }
        let limit = p.limit.unwrap_or(20);
        if !(1..=200).contains(&limit) {
            return Err(ToolError::invalid(format!(
                "limit {limit} is out of range: use 1 to 200"
            )));
        }
        if p.query.as_ref().is_some_and(|q| q.chars().count() > 3_000) {
            return Err(ToolError::invalid(
                "query is longer than HubSpot's 3,000 characters",
            ));
        }
        let idx = self.property_index(&t).await?;
        let mut filter_groups = Vec::new();
        for (g, group) in groups.iter().enumerate() {
            let path = if named == "filters" {
                "filters".to_string()
            } else {
                format!("filterGroups[{g}].filters")
            };
            if group.len() > 6 {
                return Err(ToolError::invalid(format!(
                    "{path}: {} filters; HubSpot allows at most 6 in one group",
                    group.len()
                )));
            }
            if named == "filterGroups" && group.is_empty() {
                return Err(ToolError::invalid(format!(
                    "{path} is empty: a group needs at least one filter"
                )));
            }
            let mut filters = Vec::new();
            for (i, f) in group.iter().enumerate() {
                filters.push(filter(&idx, f).map_err(|e| e.at(&format!("{path}[{i}]")))?);
            }
            if !filters.is_empty() {
                filter_groups.push(filters);
            }
        }
        for prop in &p.properties {
            idx.check_name(prop)?;
        }
        if let Some(s) = &p.sort {
            idx.check_name(&s.property)?;
        }
        let q = SearchQuery {
            filter_groups,
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
        description = "Get up to 100 records by id, or by a unique property (idProperty, e.g. email), in one batch; history: properties to return past values of. Unknown ids are listed in missing.",
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
    ) -> Result<Json<GetObjectsOutput>, ToolError> {
        let t = self.object_type(&p.object_type).await?;
        limit_inputs(&p.ids, "ids")?;
        let idx = self.property_index(&t).await?;
        for prop in p.properties.iter().chain(p.id_property.iter()) {
            idx.check_name(prop)?;
        }
        for (i, prop) in p.history.iter().enumerate() {
            idx.check_name(prop)
                .map_err(|e| e.at(&format!("history[{i}]")))?;
        }
        let ids: Vec<String> = p.ids.iter().map(RecordId::text).collect();
        let out = self
            .client
            .batch_read_with_history(
                Lane::Interactive,
                &t,
                &ids,
                &p.properties,
                &p.history,
                p.id_property.as_deref(),
            )
            .await?;
        let missing = out.errors.into_iter().flat_map(|e| e.ids).collect();
        let history = out
            .results
            .iter()
            .map(|r| (r.id.clone(), history(r)))
            .filter(|(_, h)| !h.is_empty())
            .collect();
        Ok(Json(GetObjectsOutput {
            results: out.results.into_iter().map(record).collect(),
            missing,
            history,
        }))
    }

    /// Reads associations.
    #[tool(
        description = "Get the ids associated with up to 100 records (e.g. the companies of contacts), with association labels and the labels defined. Read them with get_objects.",
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
    ) -> Result<Json<GetAssociationsOutput>, ToolError> {
        let from = self.object_type(&p.object_type).await?;
        let to = self.object_type(&p.to_object_type).await?;
        limit_inputs(&p.ids, "ids")?;
        let ids: Vec<String> = p.ids.iter().map(RecordId::text).collect();
        let (map, _) = self
            .client
            .associations(Lane::Interactive, &from, &to, &ids)
            .await?;
        let mut labels: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
        for (from_id, targets) in &map {
            for a in targets {
                let named: Vec<String> = a
                    .association_types
                    .iter()
                    .filter_map(|t| t["label"].as_str())
                    .filter(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect();
                if !named.is_empty() {
                    labels
                        .entry(from_id.clone())
                        .or_default()
                        .insert(a.to_object_id.clone(), named);
                }
            }
        }
        // From the metadata cache; a portal whose labels cannot be read still gets its
        // associations.
        let defined_labels = self
            .client
            .association_labels(&from, &to)
            .await
            .ok()
            .and_then(|v| v["results"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|l| {
                Some((
                    l["typeId"].as_u64()?.to_string(),
                    l["label"].as_str()?.to_string(),
                ))
            })
            .filter(|(_, l)| !l.is_empty())
            .collect();
        let associations = map
            .into_iter()
            .map(|(k, v)| (k, v.into_iter().map(|a| a.to_object_id).collect()))
            .collect();
        Ok(Json(GetAssociationsOutput {
            associations,
            labels,
            defined_labels,
        }))
    }
}

/// One filter checked against the portal's metadata and put in HubSpot's shape: the property
/// exists (or is `associations.{type}` of a standard type, with a record id), the operator has
/// its values, enumeration values exist, and dates read as dates (sent as epoch milliseconds).
/// Errors name the field (`value: …`), for [`ToolError::at`] to place.
fn filter(idx: &PropertyIndex, f: &FilterParam) -> Result<WireFilter, ToolError> {
    let needs_value = !matches!(
        f.operator,
        Operator::HasProperty | Operator::NotHasProperty | Operator::In | Operator::NotIn
    );
    if needs_value && f.value.is_none() {
        return Err(ToolError::invalid(format!(
            "value is required for {}",
            f.operator.wire()
        )));
    }
    if f.operator == Operator::Between && f.high_value.is_none() {
        return Err(ToolError::invalid("highValue is required for BETWEEN"));
    }
    if matches!(f.operator, Operator::In | Operator::NotIn)
        && f.values.as_ref().is_none_or(Vec::is_empty)
    {
        return Err(ToolError::invalid(format!(
            "values is required for {}",
            f.operator.wire()
        )));
    }
    if let Some(target) = f.property.strip_prefix("associations.") {
        let Some(o) = crate::objects::STANDARD_OBJECTS
            .iter()
            .find(|o| o.singular == target || o.name == target)
        else {
            return Err(ToolError::invalid(format!(
                "property: \"{}\" names no standard object type; use associations.contact, associations.company, associations.deal or associations.ticket (HubSpot has no association filter for custom objects)",
                f.property
            )));
        };
        if !matches!(f.operator, Operator::Eq | Operator::Neq) {
            return Err(ToolError::invalid(format!(
                "operator: {} does not apply to {}; use EQ (or NEQ) with a record id",
                f.operator.wire(),
                f.property
            )));
        }
        let id = f.value.as_ref().map(Scalar::text).unwrap_or_default();
        crate::hubspot::path::RecordId::parse(&id)
            .map_err(|e| ToolError::invalid(format!("value: {e}")))?;
        return Ok(WireFilter {
            property_name: format!("associations.{}", o.singular),
            operator: f.operator.wire().into(),
            value: Some(id),
            high_value: None,
            values: None,
        });
    }
    let def = idx.check_name(&f.property).map_err(|e| e.at("property"))?;
    let dated = matches!(def.kind.as_str(), "date" | "datetime");
    let read = |what: &str, v: &Scalar| -> Result<String, ToolError> {
        let text = v.text();
        if !dated {
            return Ok(text);
        }
        date_arg(what, &text)
            .map(|ms| ms.to_string())
            .map_err(|e| match e {
                ToolError::InvalidArguments(m) => ToolError::InvalidArguments(format!(
                    "{m} ({} is a {} property)",
                    f.property, def.kind
                )),
                other => other,
            })
    };
    let value = f.value.as_ref().map(|v| read("value", v)).transpose()?;
    let high_value = f
        .high_value
        .as_ref()
        .map(|v| read("highValue", v))
        .transpose()?;
    let values = f
        .values
        .as_ref()
        .map(|vs| {
            vs.iter()
                .map(|v| read("values", v))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    if let Some(v) = &value {
        if matches!(f.operator, Operator::Eq | Operator::Neq) {
            idx.check_value(&f.property, v)?;
        }
    }
    for v in values.iter().flatten() {
        idx.check_value(&f.property, v)?;
    }
    Ok(WireFilter {
        property_name: f.property.clone(),
        operator: f.operator.wire().into(),
        value,
        high_value,
        values,
    })
}
