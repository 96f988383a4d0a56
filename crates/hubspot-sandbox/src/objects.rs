//! CRM object routes (§2 of the API facts), served under `/crm/v3/objects` and the date-based
//! `/crm/objects/2026-03`: get, list, create, update, archive, the five batch operations with
//! HubSpot's 207 multi-status, search, merge and GDPR delete.
//!
//! Batch partial failure follows HubSpot's rule: a batch whose every input carries a unique
//! `objectWriteTraceId` applies the valid inputs and reports the rest per trace id (207);
//! otherwise one bad input fails the whole batch and nothing is written.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::error::HsError;
use super::model::{AssocCategory, AssocType, ObjectType};
use super::search::{self, SearchRequest};
use super::store::{property_validation_error, Store};
use super::Shared;
use hubspot_wire::time::iso_ms;

/// The routes, relative to an objects prefix.
pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/{t}", get(list).post(create))
        .route("/{t}/search", post(search_route))
        .route("/{t}/merge", post(merge))
        .route("/{t}/gdpr-delete", post(gdpr_delete))
        .route("/{t}/batch/{op}", post(batch))
        .route("/{t}/{id}", get(read).patch(update).delete(archive))
}

/// Parses a JSON body, saying where it failed.
///
/// # Errors
/// 400 `VALIDATION_ERROR` with the JSON path of the problem.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, HsError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        HsError::validation(format!("Invalid input JSON at {path}: {}", e.inner()))
    })
}

/// Query parameters; repeated keys and comma lists both work, as HubSpot accepts both.
#[derive(Debug, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    /// Parses a raw query string.
    pub fn parse(raw: Option<&str>) -> Self {
        Self(
            raw.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                .unwrap_or_default(),
        )
    }
    /// The first value of `key`.
    pub fn one(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    /// Every value of `key`, comma lists split.
    pub fn list(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .flat_map(|(_, v)| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect()
    }
    /// A boolean flag.
    pub fn flag(&self, key: &str) -> bool {
        self.one(key)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
    /// A bounded integer.
    ///
    /// # Errors
    /// 400 when it is not a number or exceeds `max`.
    pub fn number(&self, key: &str, default: usize, max: usize) -> Result<usize, HsError> {
        match self.one(key) {
            None => Ok(default),
            Some(v) => {
                let n: usize = v.parse().map_err(|_| {
                    HsError::validation(format!("{key}={v} is not a non-negative integer."))
                })?;
                if n > max {
                    return Err(HsError::validation(format!(
                        "{key}={n} is too large; the maximum is {max}."
                    )));
                }
                Ok(n)
            }
        }
    }
}

fn resolve(store: &Store, t: &str) -> Result<ObjectType, HsError> {
    store.resolve_type(t).cloned()
}

fn lookup(
    store: &Store,
    ty: &ObjectType,
    id: &str,
    id_property: Option<&str>,
    archived: bool,
) -> Option<u64> {
    match id_property {
        Some(p) if p != "hs_object_id" => store.find_unique(&ty.id, p, id),
        _ => {
            let n: u64 = id.trim().parse().ok()?;
            store
                .records_of(&ty.id)
                .get(&n)
                .filter(|r| archived || r.archived_ms.is_none())
                .map(|r| r.id)
        }
    }
}

fn with_associations(store: &Store, ty: &ObjectType, id: u64, names: &[String], obj: &mut Value) {
    if names.is_empty() {
        return;
    }
    let mut out = Map::new();
    for n in names {
        let Ok(to) = store.resolve_type(n) else {
            continue;
        };
        let results: Vec<Value> = store
            .associations(&ty.id, id, &to.id)
            .into_iter()
            .flat_map(|(to_id, types)| types.into_iter().map(move |t| (to_id, t)))
            .map(|(to_id, t)| {
                let label = store
                    .assoc_def(&ty.id, &to.id, t.type_id)
                    .and_then(|d| d.label.clone());
                let kind = match label {
                    Some(l) => format!("{}_to_{}_{}", ty.singular, to.singular, l.to_lowercase()),
                    None => format!("{}_to_{}", ty.singular, to.singular),
                };
                json!({"id": to_id.to_string(), "type": kind})
            })
            .collect();
        if !results.is_empty() {
            out.insert(to.name.clone(), json!({"results": results}));
        }
    }
    if !out.is_empty() {
        obj["associations"] = Value::Object(out);
    }
}

async fn read(
    State(s): State<Arc<Shared>>,
    Path((t, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Result<Response, HsError> {
    let q = Query::parse(q.as_deref());
    let store = s.store.read();
    let ty = resolve(&store, &t)?;
    let archived = q.flag("archived");
    let rid = lookup(&store, &ty, &id, q.one("idProperty"), archived)
        .ok_or_else(|| Store::missing(&id))?;
    let rec = &store.records_of(&ty.id)[&rid];
    let props = q.list("properties");
    let hist = q.list("propertiesWithHistory");
    let mut obj = store.render(&ty, rec, Some(&props), Some(&hist));
    with_associations(&store, &ty, rid, &q.list("associations"), &mut obj);
    Ok(Json(obj).into_response())
}

async fn list(
    State(s): State<Arc<Shared>>,
    Path(t): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, HsError> {
    let q = Query::parse(q.as_deref());
    let store = s.store.read();
    let ty = resolve(&store, &t)?;
    let hist = q.list("propertiesWithHistory");
    let max = if hist.is_empty() {
        s.config.list_max_limit
    } else {
        50
    };
    let limit = q.number("limit", 10, max)?.max(1);
    let after: u64 = match q.one("after") {
        None => 0,
        Some(a) => a.parse().map_err(|_| {
            HsError::validation(format!(
                "after={a} is not a paging cursor returned by this endpoint."
            ))
        })?,
    };
    let archived = q.flag("archived");
    let props = q.list("properties");
    let assocs = q.list("associations");
    let mut results = Vec::new();
    let mut next = None;
    for rec in store
        .records_of(&ty.id)
        .range(after..)
        .map(|(_, r)| r)
        .filter(|r| r.archived_ms.is_some() == archived)
    {
        if results.len() == limit {
            next = Some(rec.id);
            break;
        }
        let mut obj = store.render(&ty, rec, Some(&props), Some(&hist));
        with_associations(&store, &ty, rec.id, &assocs, &mut obj);
        results.push(obj);
    }
    let mut body = json!({"results": results});
    if let Some(n) = next {
        body["paging"] = json!({"next": {"after": n.to_string(), "link": format!("{}/crm/v3/objects/{}?after={n}", s.base_url(), ty.name)}});
    }
    Ok(Json(body).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssocInput {
    to: IdRef,
    types: Vec<AssocSpec>,
}

/// `{id}` that may be a string or a number.
#[derive(Debug, Deserialize, Clone)]
pub struct IdRef {
    #[serde(deserialize_with = "id_string")]
    pub id: String,
}

/// Accepts ids as strings or numbers (clients send both).
pub fn id_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "expected an id string, found {other}"
        ))),
    }
}

/// `AssociationSpec`.
#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(rename_all = "camelCase")]
pub struct AssocSpec {
    pub association_category: AssocCategory,
    pub association_type_id: u32,
}

impl AssocSpec {
    /// The store's key.
    pub fn key(self) -> AssocType {
        AssocType {
            category: self.association_category,
            type_id: self.association_type_id,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateInput {
    #[serde(default)]
    properties: Map<String, Value>,
    #[serde(default)]
    associations: Vec<AssocInput>,
    #[serde(default)]
    object_write_trace_id: Option<String>,
}

/// Validates the associations of a create; returns (to type, to id, type) triples.
fn check_assocs(
    store: &Store,
    ty: &ObjectType,
    inputs: &[AssocInput],
) -> Result<Vec<(String, u64, AssocType)>, HsError> {
    let mut out = Vec::new();
    for a in inputs {
        let to_id: u64 = a.to.id.trim().parse().map_err(|_| {
            HsError::validation(format!(
                "Association target id {:?} is not numeric.",
                a.to.id
            ))
        })?;
        for spec in &a.types {
            let candidates: Vec<_> = store
                .assoc_defs
                .iter()
                .filter(|d| d.from_type == ty.id && d.type_id == spec.association_type_id)
                .collect();
            let def = candidates.first().ok_or_else(|| {
                HsError::validation(format!(
                    "associationTypeId {} does not exist for {}.",
                    spec.association_type_id, ty.name
                ))
            })?;
            if !store.is_live(&def.to_type, to_id) {
                return Err(HsError::validation(format!(
                    "Association target {to_id} ({}) does not exist.",
                    def.to_type
                ))
                .with_sub_category("INVALID_ASSOCIATION"));
            }
            out.push((def.to_type.clone(), to_id, spec.key()));
        }
    }
    Ok(out)
}

fn create_one(
    store: &mut Store,
    ty: &ObjectType,
    input: &CreateInput,
    now: i64,
) -> Result<u64, HsError> {
    if let Some(missing) = ty.required_properties.iter().find(|p| {
        !input
            .properties
            .get(*p)
            .is_some_and(|v| !v.is_null() && v != "")
    }) {
        return Err(HsError::validation(format!(
            "Required property \"{missing}\" is missing for {}.",
            ty.name
        ))
        .with_sub_category("REQUIRED_PROPERTY_MISSING"));
    }
    let props = store
        .validate_write(ty, &input.properties)
        .map_err(property_validation_error)?;
    let assocs = check_assocs(store, ty, &input.associations)?;
    let id = store.create(ty, props, now)?;
    for (to_type, to_id, t) in assocs {
        store.associate(&ty.id, id, &to_type, to_id, t, now, true)?;
    }
    Ok(id)
}

async fn create(
    State(s): State<Arc<Shared>>,
    Path(t): Path<String>,
    body: Bytes,
) -> Result<Response, HsError> {
    let input: CreateInput = parse_json(&body)?;
    let now = s.clock.now_ms();
    s.mutate(|store| {
        let ty = resolve(store, &t)?;
        let id = create_one(store, &ty, &input, now)?;
        let rec = &store.records_of(&ty.id)[&id];
        Ok((
            StatusCode::CREATED,
            Json(store.render(&ty, rec, None, None)),
        )
            .into_response())
    })
}

#[derive(Debug, Deserialize)]
struct UpdateBody {
    properties: Map<String, Value>,
}

async fn update(
    State(s): State<Arc<Shared>>,
    Path((t, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response, HsError> {
    let q = Query::parse(q.as_deref());
    let input: UpdateBody = parse_json(&body)?;
    let now = s.clock.now_ms();
    s.mutate(|store| {
        let ty = resolve(store, &t)?;
        let rid = lookup(store, &ty, &id, q.one("idProperty"), false)
            .ok_or_else(|| Store::missing(&id))?;
        let props = store
            .validate_write(&ty, &input.properties)
            .map_err(property_validation_error)?;
        store.update(&ty, rid, props, now)?;
        let rec = &store.records_of(&ty.id)[&rid];
        Ok(Json(store.render(&ty, rec, None, None)).into_response())
    })
}

async fn archive(
    State(s): State<Arc<Shared>>,
    Path((t, id)): Path<(String, String)>,
) -> Result<Response, HsError> {
    let now = s.clock.now_ms();
    s.mutate(|store| {
        let ty = resolve(store, &t)?;
        if let Ok(n) = id.trim().parse::<u64>() {
            store.archive(&ty, n, now);
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

async fn search_route(
    State(s): State<Arc<Shared>>,
    Path(t): Path<String>,
    body: Bytes,
) -> Result<Response, HsError> {
    let req: SearchRequest = if body.is_empty() {
        SearchRequest::default()
    } else {
        parse_json(&body)?
    };
    let now = s.clock.now_ms();
    let store = s.store.read();
    let ty = resolve(&store, &t)?;
    let limits = s.config.search.clone();
    Ok(Json(search::run(&store, &ty, &req, &limits, now)?).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MergeBody {
    #[serde(deserialize_with = "id_string")]
    primary_object_id: String,
    #[serde(deserialize_with = "id_string")]
    object_id_to_merge: String,
}

async fn merge(
    State(s): State<Arc<Shared>>,
    Path(t): Path<String>,
    body: Bytes,
) -> Result<Response, HsError> {
    let input: MergeBody = parse_json(&body)?;
    let now = s.clock.now_ms();
    let parse = |v: &str| {
        v.trim()
            .parse::<u64>()
            .map_err(|_| HsError::validation(format!("{v:?} is not a record id.")))
    };
    let (p, m) = (
        parse(&input.primary_object_id)?,
        parse(&input.object_id_to_merge)?,
    );
    s.mutate(|store| {
        let ty = resolve(store, &t)?;
        store.merge(&ty, p, m, now)?;
        let rec = &store.records_of(&ty.id)[&p];
        Ok(Json(store.render(&ty, rec, None, None)).into_response())
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GdprBody {
    #[serde(deserialize_with = "id_string")]
    object_id: String,
    #[serde(default)]
    id_property: Option<String>,
}

async fn gdpr_delete(
    State(s): State<Arc<Shared>>,
    Path(t): Path<String>,
    body: Bytes,
) -> Result<Response, HsError> {
    let input: GdprBody = parse_json(&body)?;
    let now = s.clock.now_ms();
    s.mutate(|store| {
        let ty = resolve(store, &t)?;
        if ty.id != "0-1" {
            return Err(HsError::validation("GDPR delete applies to contacts only."));
        }
        let id = lookup(
            store,
            &ty,
            &input.object_id,
            input.id_property.as_deref(),
            true,
        )
        .ok_or_else(|| Store::missing(&input.object_id))?;
        store.purge(&ty, id, now);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchBody {
    inputs: Vec<Value>,
    #[serde(default)]
    properties: Vec<String>,
    #[serde(default)]
    properties_with_history: Vec<String>,
    #[serde(default)]
    id_property: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateInput {
    #[serde(deserialize_with = "id_string")]
    id: String,
    #[serde(default)]
    id_property: Option<String>,
    #[serde(default)]
    properties: Map<String, Value>,
    #[serde(default)]
    object_write_trace_id: Option<String>,
}

fn batch_response(
    status_ok: StatusCode,
    results: Vec<Value>,
    errors: Vec<Value>,
    started: i64,
    now: i64,
) -> Response {
    let mut body = json!({
        "status": "COMPLETE",
        "results": results,
        "startedAt": iso_ms(started),
        "completedAt": iso_ms(now),
    });
    if errors.is_empty() {
        return (status_ok, Json(body)).into_response();
    }
    body["numErrors"] = json!(errors.len());
    body["errors"] = Value::Array(errors);
    (StatusCode::MULTI_STATUS, Json(body)).into_response()
}

fn trace_error(err: HsError, trace: Option<&str>) -> Value {
    let err = match trace {
        Some(t) => err.with_context("objectWriteTraceId", vec![t.to_string()]),
        None => err,
    };
    err.into_standard_error()
}

/// Decodes batch inputs, naming the first bad one by its index and JSON path.
fn parse_inputs<T: DeserializeOwned>(inputs: &[Value]) -> Result<Vec<T>, HsError> {
    inputs
        .iter()
        .enumerate()
        .map(|(i, v)| {
            parse_json::<T>(&serde_json::to_vec(v).unwrap_or_default()).map_err(|e| {
                HsError::validation(format!("Invalid batch input inputs[{i}]: {}", e.message()))
            })
        })
        .collect()
}

/// Do all inputs carry distinct trace ids (HubSpot's switch for 207 partial success)?
fn partial_allowed(traces: &[Option<String>]) -> bool {
    let mut seen = HashSet::new();
    !traces.is_empty()
        && traces
            .iter()
            .all(|t| t.as_ref().is_some_and(|t| seen.insert(t.clone())))
}

async fn batch(
    State(s): State<Arc<Shared>>,
    Path((t, op)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response, HsError> {
    let q = Query::parse(q.as_deref());
    let input: BatchBody = parse_json(&body)?;
    let max = s.config.batch_max;
    if input.inputs.len() > max {
        return Err(HsError::validation(format!("Batch of {} inputs is too large: at most {max} inputs are allowed per request. Split the batch.", input.inputs.len()))
            .with_context("inputs", vec![input.inputs.len().to_string()]));
    }
    // Histories are read 50 records at a time (HubSpot: "maximum number of inputs … for
    // property histories is 50").
    if op == "read" && !input.properties_with_history.is_empty() && input.inputs.len() > 50 {
        return Err(HsError::validation(format!(
            "Batch of {} inputs is too large: the maximum number of inputs when requesting property histories is 50.",
            input.inputs.len()
        ))
        .with_context("inputs", vec![input.inputs.len().to_string()]));
    }
    let now = s.clock.now_ms();
    match op.as_str() {
        "read" => {
            let store = s.store.read();
            let ty = resolve(&store, &t)?;
            let archived = q.flag("archived");
            let mut results = Vec::new();
            let mut missing = Vec::new();
            for raw in &input.inputs {
                let r: IdRef = serde_json::from_value(raw.clone())
                    .map_err(|e| HsError::validation(format!("Invalid input {raw}: {e}")))?;
                match lookup(&store, &ty, &r.id, input.id_property.as_deref(), archived) {
                    Some(id) => {
                        let mut obj = store.render(
                            &ty,
                            &store.records_of(&ty.id)[&id],
                            Some(&input.properties),
                            Some(&input.properties_with_history),
                        );
                        if input.id_property.is_some() {
                            obj["id"] = json!(id.to_string());
                        }
                        results.push(obj);
                    }
                    None => missing.push(r.id),
                }
            }
            let errors = if missing.is_empty() {
                Vec::new()
            } else {
                vec![HsError::not_found(format!("Could not get some {} objects, they may be deleted or not exist. Check that ids are valid.", ty.singular.to_uppercase()))
                    .with_context("ids", missing)
                    .into_standard_error()]
            };
            Ok(batch_response(StatusCode::OK, results, errors, now, now))
        }
        "create" => {
            let inputs: Vec<CreateInput> = parse_inputs(&input.inputs)?;
            let traces: Vec<Option<String>> = inputs
                .iter()
                .map(|i| i.object_write_trace_id.clone())
                .collect();
            let partial = partial_allowed(&traces);
            s.mutate(|store| {
                let ty = resolve(store, &t)?;
                if !partial {
                    // All or nothing: check every input before writing any.
                    let mut seen_unique = HashSet::new();
                    for i in &inputs {
                        if let Some(e) = i.properties.get("email").and_then(Value::as_str) {
                            if !seen_unique.insert(e.trim().to_lowercase()) {
                                return Err(HsError::conflict(format!(
                                    "Duplicate email {e} within the batch."
                                )));
                            }
                        }
                        store
                            .validate_write(&ty, &i.properties)
                            .map_err(property_validation_error)?;
                        check_assocs(store, &ty, &i.associations)?;
                    }
                }
                let (mut results, mut errors) = (Vec::new(), Vec::new());
                for i in &inputs {
                    match create_one(store, &ty, i, now) {
                        Ok(id) => {
                            let mut obj =
                                store.render(&ty, &store.records_of(&ty.id)[&id], None, None);
                            if let Some(tr) = &i.object_write_trace_id {
                                obj["objectWriteTraceId"] = json!(tr);
                            }
                            results.push(obj);
                        }
                        Err(e) if partial => {
                            errors.push(trace_error(e, i.object_write_trace_id.as_deref()))
                        }
                        Err(e) => return Err(e),
                    }
                }
                Ok(batch_response(
                    StatusCode::CREATED,
                    results,
                    errors,
                    now,
                    now,
                ))
            })
        }
        "update" | "upsert" => {
            let inputs: Vec<UpdateInput> = parse_inputs(&input.inputs)?;
            let traces: Vec<Option<String>> = inputs
                .iter()
                .map(|i| i.object_write_trace_id.clone())
                .collect();
            let partial = partial_allowed(&traces);
            let upsert = op == "upsert";
            s.mutate(|store| {
                let ty = resolve(store, &t)?;
                // Resolve and validate every input first.
                let mut plan = Vec::new();
                for i in &inputs {
                    let r = plan_write(store, &ty, i, upsert);
                    if let (Err(e), false) = (&r, partial) {
                        return Err(e.clone());
                    }
                    plan.push(r);
                }
                let (mut results, mut errors) = (Vec::new(), Vec::new());
                for (i, p) in inputs.iter().zip(plan) {
                    let outcome = p.and_then(|(existing, props)| match existing {
                        Some(id) => store.update(&ty, id, props, now).map(|()| (id, false)),
                        None => store.create(&ty, props, now).map(|id| (id, true)),
                    });
                    match outcome {
                        Ok((id, new)) => {
                            let mut obj =
                                store.render(&ty, &store.records_of(&ty.id)[&id], None, None);
                            if upsert {
                                obj["new"] = json!(new);
                            }
                            if let Some(tr) = &i.object_write_trace_id {
                                obj["objectWriteTraceId"] = json!(tr);
                            }
                            results.push(obj);
                        }
                        Err(e) if partial => {
                            errors.push(trace_error(e, i.object_write_trace_id.as_deref()))
                        }
                        Err(e) => return Err(e),
                    }
                }
                Ok(batch_response(StatusCode::OK, results, errors, now, now))
            })
        }
        "archive" => {
            let ids: Vec<IdRef> = parse_inputs(&input.inputs)?;
            s.mutate(|store| {
                let ty = resolve(store, &t)?;
                for r in ids {
                    if let Ok(n) = r.id.trim().parse::<u64>() {
                        store.archive(&ty, n, now);
                    }
                }
                Ok(StatusCode::NO_CONTENT.into_response())
            })
        }
        other => Err(HsError::new(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            format!(
                "Unknown batch operation {other:?}; use read, create, update, upsert or archive."
            ),
        )),
    }
}

type Plan = Result<(Option<u64>, BTreeMap<String, String>), HsError>;

fn plan_write(store: &Store, ty: &ObjectType, i: &UpdateInput, upsert: bool) -> Plan {
    let mut props = store
        .validate_write(ty, &i.properties)
        .map_err(property_validation_error)?;
    if upsert {
        let idp = i.id_property.as_deref().ok_or_else(|| {
            HsError::validation(
                "Upsert inputs need idProperty: the unique property the id is a value of.",
            )
        })?;
        let def = store.property(&ty.id, idp).ok_or_else(|| {
            HsError::validation(format!(
                "idProperty \"{idp}\" does not exist on {}.",
                ty.name
            ))
        })?;
        if !def.has_unique_value || idp == "hs_object_id" {
            return Err(HsError::validation(format!("idProperty \"{idp}\" is not a unique-value property; upsert needs one (for example email or crm_external_id).")));
        }
        let existing = store.find_unique(&ty.id, idp, &i.id);
        if existing.is_none() {
            props.insert(idp.to_string(), i.id.clone());
        }
        return Ok((existing, props));
    }
    let id = lookup(store, ty, &i.id, i.id_property.as_deref(), false)
        .ok_or_else(|| Store::missing(&i.id))?;
    Ok((Some(id), props))
}
