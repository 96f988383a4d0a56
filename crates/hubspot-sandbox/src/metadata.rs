//! Metadata routes: properties (§4), custom-object schemas (§5), owners (§6), pipelines (§7)
//! and account details (§15). These are what a well-behaved client caches; the request log
//! lets tests prove it does.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::HsError;
use super::model::{PropertyDef, PropertyOption};
use super::objects::{parse_json, Query};
use super::Shared;
use hubspot_wire::time::iso_ms;

/// Properties routes, relative to a properties prefix.
pub fn property_routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/{t}", get(list_properties).post(create_property))
        .route("/{t}/groups", get(list_groups))
        .route("/{t}/{name}", get(get_property))
}

/// Schema routes, relative to a schemas prefix.
pub fn schema_routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/", get(list_schemas))
        .route("/{t}", get(get_schema))
}

/// Owner routes, relative to an owners prefix.
pub fn owner_routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/", get(list_owners))
        .route("/{id}", get(get_owner))
}

/// Pipeline routes, relative to a pipelines prefix.
pub fn pipeline_routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/{t}", get(list_pipelines))
        .route("/{t}/{id}", get(get_pipeline))
        .route("/{t}/{id}/stages", get(list_stages))
}

async fn list_properties(
    State(s): State<Arc<Shared>>,
    Path(t): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, HsError> {
    let q = Query::parse(q.as_deref());
    let store = s.store.read();
    let ty = store.resolve_type(&t)?;
    let archived = q.flag("archived");
    let only = q.list("properties");
    let results: Vec<&PropertyDef> = store
        .properties
        .get(&ty.id)
        .map(|v| {
            v.iter()
                .filter(|p| p.archived == archived && (only.is_empty() || only.contains(&p.name)))
                .collect()
        })
        .unwrap_or_default();
    Ok(Json(json!({"results": results})).into_response())
}

async fn get_property(
    State(s): State<Arc<Shared>>,
    Path((t, name)): Path<(String, String)>,
) -> Result<Response, HsError> {
    let store = s.store.read();
    let ty = store.resolve_type(&t)?;
    let p = store.property(&ty.id, &name).ok_or_else(|| {
        HsError::not_found(format!(
            "Unable to find property \"{name}\" on object type {}.",
            ty.id
        ))
        .with_context("propertyName", vec![name.clone()])
    })?;
    Ok(Json(p).into_response())
}

async fn list_groups(
    State(s): State<Arc<Shared>>,
    Path(t): Path<String>,
) -> Result<Response, HsError> {
    let store = s.store.read();
    let ty = store.resolve_type(&t)?;
    let mut groups: Vec<String> = store
        .properties
        .get(&ty.id)
        .map(|v| v.iter().map(|p| p.group_name.clone()).collect())
        .unwrap_or_default();
    groups.sort();
    groups.dedup();
    let results: Vec<Value> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| json!({"name": g, "label": title(g), "displayOrder": i, "archived": false}))
        .collect();
    Ok(Json(json!({"results": results})).into_response())
}

fn title(s: &str) -> String {
    let mut c = s.replace('_', " ");
    if let Some(f) = c.get_mut(..1) {
        f.make_ascii_uppercase();
    }
    c
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PropertyCreate {
    name: String,
    label: String,
    #[serde(rename = "type")]
    kind: String,
    field_type: String,
    group_name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    options: Vec<PropertyOption>,
    #[serde(default)]
    has_unique_value: bool,
    #[serde(default)]
    display_order: Option<i32>,
    #[serde(default)]
    hidden: bool,
    #[serde(default)]
    form_field: Option<bool>,
}

const TYPES: &[&str] = &[
    "bool",
    "date",
    "datetime",
    "enumeration",
    "number",
    "phone_number",
    "string",
];
const FIELD_TYPES: &[&str] = &[
    "booleancheckbox",
    "calculation_equation",
    "checkbox",
    "date",
    "file",
    "html",
    "number",
    "phonenumber",
    "radio",
    "select",
    "text",
    "textarea",
];

fn pairing_ok(kind: &str, field: &str) -> bool {
    match kind {
        "enumeration" => matches!(field, "select" | "radio" | "checkbox" | "booleancheckbox"),
        "bool" => field == "booleancheckbox",
        "string" => matches!(field, "text" | "textarea" | "html" | "file" | "phonenumber"),
        "number" => matches!(field, "number" | "calculation_equation"),
        "date" | "datetime" => field == "date",
        "phone_number" => field == "phonenumber",
        _ => false,
    }
}

async fn create_property(
    State(s): State<Arc<Shared>>,
    Path(t): Path<String>,
    body: Bytes,
) -> Result<Response, HsError> {
    let input: PropertyCreate = parse_json(&body)?;
    if input.name.is_empty()
        || !input
            .name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        || input.name.starts_with("hs_")
    {
        return Err(HsError::validation(format!("Property name {:?} is invalid: use lowercase letters, digits and underscores, not starting with hs_.", input.name)));
    }
    if !TYPES.contains(&input.kind.as_str()) {
        return Err(HsError::validation(format!(
            "type {:?} is invalid; use one of {}.",
            input.kind,
            TYPES.join(", ")
        )));
    }
    if !FIELD_TYPES.contains(&input.field_type.as_str()) {
        return Err(HsError::validation(format!(
            "fieldType {:?} is invalid; use one of {}.",
            input.field_type,
            FIELD_TYPES.join(", ")
        )));
    }
    if !pairing_ok(&input.kind, &input.field_type) {
        return Err(HsError::validation(format!(
            "fieldType {:?} cannot be used with type {:?}.",
            input.field_type, input.kind
        )));
    }
    if input.kind == "enumeration" && input.options.is_empty() && input.field_type != "checkbox" {
        return Err(HsError::validation(
            "An enumeration property needs at least one option.",
        ));
    }
    let now = s.clock.now_ms();
    s.mutate(|store| {
        let ty = store.resolve_type(&t)?.clone();
        if store
            .properties
            .get(&ty.id)
            .is_some_and(|v| v.iter().any(|p| p.name == input.name))
        {
            return Err(HsError::conflict(format!(
                "A property named \"{}\" already exists on {}.",
                input.name, ty.name
            ))
            .with_sub_category("PROPERTY_EXISTS"));
        }
        let mut p = PropertyDef::custom(
            &input.name,
            &input.label,
            &input.kind,
            &input.field_type,
            &input.group_name,
        );
        p.description = input.description.clone().unwrap_or_default();
        p.options = input.options.clone();
        p.has_unique_value = input.has_unique_value;
        p.display_order = input.display_order.unwrap_or(0);
        p.hidden = input.hidden;
        p.form_field = input.form_field.unwrap_or(true);
        p.created_at = iso_ms(now);
        p.updated_at = iso_ms(now);
        store
            .properties
            .entry(ty.id.clone())
            .or_default()
            .push(p.clone());
        Ok((StatusCode::CREATED, Json(p)).into_response())
    })
}

fn schema_json(s: &Shared, store: &super::store::Store, ty: &super::model::ObjectType) -> Value {
    let props = store.properties.get(&ty.id).cloned().unwrap_or_default();
    let assocs: Vec<Value> = store
        .assoc_defs
        .iter()
        .filter(|d| d.from_type == ty.id && d.is_default)
        .map(|d| json!({"id": d.type_id.to_string(), "fromObjectTypeId": d.from_type, "toObjectTypeId": d.to_type, "name": format!("{}_to_{}", ty.singular, d.to_type), "createdAt": "2024-02-12T09:30:00.000Z", "updatedAt": "2024-02-12T09:30:00.000Z"}))
        .collect();
    json!({
        "id": ty.id.trim_start_matches("2-"),
        "objectTypeId": ty.id,
        "name": ty.name,
        "fullyQualifiedName": format!("p{}_{}", s.config.portal_id, ty.name),
        "labels": {"singular": ty.label_singular, "plural": ty.label_plural},
        "requiredProperties": ty.required_properties,
        "searchableProperties": ty.searchable_properties,
        "primaryDisplayProperty": ty.primary_display_property,
        "secondaryDisplayProperties": [],
        "properties": props,
        "associations": assocs,
        "allowsSensitiveProperties": false,
        "archived": false,
        "description": format!("{} tracked by the sandbox portal", ty.label_plural),
        "createdAt": "2024-02-12T09:30:00.000Z",
        "updatedAt": "2024-02-12T09:30:00.000Z",
        "createdByUserId": 7_100_001,
        "updatedByUserId": 7_100_001,
    })
}

async fn list_schemas(State(s): State<Arc<Shared>>) -> Response {
    let store = s.store.read();
    let results: Vec<Value> = store
        .types
        .iter()
        .filter(|t| t.custom)
        .map(|t| schema_json(&s, &store, t))
        .collect();
    Json(json!({"results": results})).into_response()
}

async fn get_schema(
    State(s): State<Arc<Shared>>,
    Path(t): Path<String>,
) -> Result<Response, HsError> {
    let store = s.store.read();
    let ty = store.resolve_type(&t)?;
    Ok(Json(schema_json(&s, &store, ty)).into_response())
}

async fn list_owners(
    State(s): State<Arc<Shared>>,
    RawQuery(q): RawQuery,
) -> Result<Response, HsError> {
    let q = Query::parse(q.as_deref());
    let limit = q.number("limit", 100, 500)?.max(1);
    let after: usize = q
        .one("after")
        .map(|a| {
            a.parse().map_err(|_| {
                HsError::validation(format!("after={a} is not a cursor from this endpoint."))
            })
        })
        .transpose()?
        .unwrap_or(0);
    let email = q.one("email").map(str::to_lowercase);
    let archived = q.flag("archived");
    let store = s.store.read();
    let matching: Vec<_> = store
        .owners
        .iter()
        .filter(|o| o.archived == archived && email.as_ref().is_none_or(|e| o.email == *e))
        .collect();
    let page: Vec<_> = matching.iter().skip(after).take(limit).collect();
    let mut body = json!({"results": page});
    if after + limit < matching.len() {
        body["paging"] = json!({"next": {"after": (after + limit).to_string(), "link": format!("{}/crm/v3/owners?after={}", s.base_url(), after + limit)}});
    }
    Ok(Json(body).into_response())
}

async fn get_owner(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Response, HsError> {
    let store = s.store.read();
    let o = store
        .owners
        .iter()
        .find(|o| o.id == id)
        .ok_or_else(|| HsError::not_found(format!("No owner with id {id}.")))?;
    Ok(Json(o).into_response())
}

async fn list_pipelines(
    State(s): State<Arc<Shared>>,
    Path(t): Path<String>,
) -> Result<Response, HsError> {
    let store = s.store.read();
    let ty = store.resolve_type(&t)?;
    let results = store.pipelines.get(&ty.id).cloned().unwrap_or_default();
    Ok(Json(json!({"results": results})).into_response())
}

fn find_pipeline<'a>(
    store: &'a super::store::Store,
    t: &str,
    id: &str,
) -> Result<&'a super::model::Pipeline, HsError> {
    let ty = store.resolve_type(t)?;
    store
        .pipelines
        .get(&ty.id)
        .and_then(|ps| ps.iter().find(|p| p.id == id))
        .ok_or_else(|| HsError::not_found(format!("No pipeline {id} exists for {}.", ty.name)))
}

async fn get_pipeline(
    State(s): State<Arc<Shared>>,
    Path((t, id)): Path<(String, String)>,
) -> Result<Response, HsError> {
    let store = s.store.read();
    Ok(Json(find_pipeline(&store, &t, &id)?).into_response())
}

async fn list_stages(
    State(s): State<Arc<Shared>>,
    Path((t, id)): Path<(String, String)>,
) -> Result<Response, HsError> {
    let store = s.store.read();
    Ok(Json(json!({"results": find_pipeline(&store, &t, &id)?.stages})).into_response())
}

/// `GET /account-info/{v3|2026-03}/details`.
pub async fn account_details(State(s): State<Arc<Shared>>) -> Response {
    Json(json!({
        "portalId": s.config.portal_id,
        "accountType": s.config.account_type,
        "timeZone": s.config.time_zone,
        "companyCurrency": "USD",
        "additionalCurrencies": ["EUR", "GBP"],
        "utcOffset": format_offset(s.config.limits_override.as_ref().map_or(0, |l| l.utc_offset_minutes)),
        "utcOffsetMilliseconds": i64::from(s.config.limits_override.as_ref().map_or(0, |l| l.utc_offset_minutes)) * 60_000,
        "uiDomain": "app.hubspot.com",
        "dataHostingLocation": "na1",
    }))
    .into_response()
}

fn format_offset(minutes: i32) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let m = minutes.abs();
    format!("{sign}{:02}:{:02}", m / 60, m % 60)
}
