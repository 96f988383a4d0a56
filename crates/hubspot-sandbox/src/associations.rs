//! Associations v4 (§8 of the API facts): batch read (≤ 1,000 inputs, paged per input),
//! labelled and default batch create, batch archive and label removal, per-record list, put
//! and delete, and label definitions. Record paths live under `/crm/v4/objects/...` (and the
//! date-based objects prefix); pair paths under `/crm/v4/associations/...`,
//! `/crm/associations/v4/...` and `/crm/associations/2026-03/...`, all of which HubSpot uses.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::HsError;
use super::objects::{id_string, parse_json, AssocSpec, IdRef, Query};
use super::store::Store;
use super::Shared;
use hubspot_wire::time::iso_ms;

/// Pair routes, relative to an associations prefix.
pub fn pair_routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/{from}/{to}/batch/read", post(batch_read))
        .route("/{from}/{to}/batch/create", post(batch_create))
        .route("/{from}/{to}/batch/associate/default", post(batch_default))
        .route("/{from}/{to}/batch/archive", post(batch_archive))
        .route(
            "/{from}/{to}/batch/labels/archive",
            post(batch_labels_archive),
        )
        .route("/{from}/{to}/labels", get(labels).post(create_label))
        .route("/{from}/{to}/labels/{type_id}", delete(delete_label))
}

/// Per-record routes, relative to an objects prefix.
pub fn record_routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/{t}/{id}/associations/{to}", get(list_for_record))
        .route(
            "/{t}/{id}/associations/default/{to}/{to_id}",
            put(put_default),
        )
        .route(
            "/{t}/{id}/associations/{to}/{to_id}",
            put(put_labelled).delete(remove),
        )
}

fn pair(store: &Store, from: &str, to: &str) -> Result<(String, String), HsError> {
    Ok((
        store.resolve_type(from)?.id.clone(),
        store.resolve_type(to)?.id.clone(),
    ))
}

fn parse_id(raw: &str) -> Result<u64, HsError> {
    raw.trim()
        .parse()
        .map_err(|_| HsError::validation(format!("{raw:?} is not a record id.")))
}

#[derive(Debug, Deserialize)]
struct Inputs<T> {
    inputs: Vec<T>,
}

#[derive(Debug, Deserialize)]
struct ReadInput {
    #[serde(deserialize_with = "id_string")]
    id: String,
    #[serde(default)]
    after: Option<String>,
}

fn check_size<T>(inputs: &[T], max: usize) -> Result<(), HsError> {
    if inputs.len() > max {
        return Err(HsError::validation(format!(
            "Batch of {} inputs is too large: at most {max} inputs are allowed per request.",
            inputs.len()
        )));
    }
    Ok(())
}

fn types_json(
    store: &Store,
    from: &str,
    to: &str,
    types: &[super::model::AssocType],
) -> Vec<Value> {
    types
        .iter()
        .map(|t| store.assoc_type_json(from, to, *t))
        .collect()
}

async fn batch_read(
    State(s): State<Arc<Shared>>,
    Path((from, to)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, HsError> {
    let input: Inputs<ReadInput> = parse_json(&body)?;
    check_size(&input.inputs, s.config.assoc_batch_max)?;
    let store = s.store.read();
    let (f, t) = pair(&store, &from, &to)?;
    let page = s.config.assoc_page_size.max(1);
    let now = s.clock.now_ms();
    let (mut results, mut missing) = (Vec::new(), Vec::new());
    for i in &input.inputs {
        let id = parse_id(&i.id)?;
        if !store.is_live(&f, id) {
            missing.push(i.id.clone());
            continue;
        }
        let all = store.associations(&f, id, &t);
        let offset: usize = i
            .after
            .as_deref()
            .map(|a| a.parse().unwrap_or(0))
            .unwrap_or(0);
        let slice: Vec<Value> = all
            .iter()
            .skip(offset)
            .take(page)
            .map(|(to_id, types)| json!({"toObjectId": to_id, "associationTypes": types_json(&store, &f, &t, types)}))
            .collect();
        if slice.is_empty() && offset == 0 {
            missing.push(i.id.clone());
            continue;
        }
        let mut r = json!({"from": {"id": i.id}, "to": slice});
        if offset + page < all.len() {
            r["paging"] = json!({"next": {"after": (offset + page).to_string()}});
        }
        results.push(r);
    }
    let mut body = json!({"status": "COMPLETE", "results": results, "startedAt": iso_ms(now), "completedAt": iso_ms(now)});
    if missing.is_empty() {
        return Ok(Json(body).into_response());
    }
    body["numErrors"] = json!(missing.len());
    body["errors"] =
        json!([
            HsError::not_found(format!("No {} associations found for the given ids.", to))
                .with_sub_category("crm.associations.NO_ASSOCIATIONS_FOUND")
                .with_context("fromObjectId", missing)
                .into_standard_error()
        ]);
    Ok((StatusCode::MULTI_STATUS, Json(body)).into_response())
}

#[derive(Debug, Deserialize)]
struct CreateInput {
    from: IdRef,
    to: IdRef,
    #[serde(default)]
    types: Vec<AssocSpec>,
}

fn created_json(store: &Store, f: &str, t: &str, from: u64, to: u64) -> Value {
    let labels: Vec<Value> = store
        .associations(f, from, t)
        .into_iter()
        .filter(|(id, _)| *id == to)
        .flat_map(|(_, types)| types)
        .filter_map(|ty| {
            store
                .assoc_def(f, t, ty.type_id)
                .and_then(|d| d.label.clone())
        })
        .map(Value::String)
        .collect();
    json!({"fromObjectTypeId": f, "fromObjectId": from, "toObjectTypeId": t, "toObjectId": to, "labels": labels})
}

async fn batch_create(
    State(s): State<Arc<Shared>>,
    Path((from, to)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, HsError> {
    let input: Inputs<CreateInput> = parse_json(&body)?;
    check_size(&input.inputs, s.config.batch_max)?;
    let now = s.clock.now_ms();
    s.mutate(|store| {
        let (f, t) = pair(store, &from, &to)?;
        let (mut results, mut errors) = (Vec::new(), Vec::new());
        for i in &input.inputs {
            let (a, b) = (parse_id(&i.from.id)?, parse_id(&i.to.id)?);
            let outcome: Result<(), HsError> = i.types.iter().try_for_each(|spec| store.associate(&f, a, &t, b, spec.key(), now, true));
            match outcome {
                Ok(()) => results.push(created_json(store, &f, &t, a, b)),
                Err(e) => errors.push(e.into_standard_error()),
            }
        }
        let mut body = json!({"status": "COMPLETE", "results": results, "startedAt": iso_ms(now), "completedAt": iso_ms(now)});
        if errors.is_empty() {
            return Ok((StatusCode::CREATED, Json(body)).into_response());
        }
        body["numErrors"] = json!(errors.len());
        body["errors"] = Value::Array(errors);
        Ok((StatusCode::MULTI_STATUS, Json(body)).into_response())
    })
}

#[derive(Debug, Deserialize)]
struct DefaultInput {
    from: IdRef,
    to: IdRef,
}

fn associate_default(
    store: &mut Store,
    f: &str,
    t: &str,
    a: u64,
    b: u64,
    now: i64,
) -> Result<Value, HsError> {
    let def = store.default_assoc(f, t).cloned().ok_or_else(|| {
        HsError::validation(format!(
            "No default association type exists between {f} and {t}."
        ))
    })?;
    let cat = super::model::AssocCategory::parse(&def.category)
        .unwrap_or(super::model::AssocCategory::HubspotDefined);
    store.associate(
        f,
        a,
        t,
        b,
        super::model::AssocType {
            category: cat,
            type_id: def.type_id,
        },
        now,
        true,
    )?;
    Ok(
        json!({"from": {"id": a.to_string()}, "to": {"id": b.to_string()}, "associationSpec": {"associationCategory": def.category, "associationTypeId": def.type_id}}),
    )
}

async fn batch_default(
    State(s): State<Arc<Shared>>,
    Path((from, to)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, HsError> {
    let input: Inputs<DefaultInput> = parse_json(&body)?;
    check_size(&input.inputs, s.config.batch_max)?;
    let now = s.clock.now_ms();
    s.mutate(|store| {
        let (f, t) = pair(store, &from, &to)?;
        let mut results = Vec::new();
        for i in &input.inputs {
            results.push(associate_default(store, &f, &t, parse_id(&i.from.id)?, parse_id(&i.to.id)?, now)?);
        }
        Ok(Json(json!({"status": "COMPLETE", "results": results, "startedAt": iso_ms(now), "completedAt": iso_ms(now)})).into_response())
    })
}

#[derive(Debug, Deserialize)]
struct ArchiveInput {
    from: IdRef,
    to: Vec<IdRef>,
}

async fn batch_archive(
    State(s): State<Arc<Shared>>,
    Path((from, to)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, HsError> {
    let input: Inputs<ArchiveInput> = parse_json(&body)?;
    check_size(&input.inputs, s.config.batch_max)?;
    let now = s.clock.now_ms();
    s.mutate(|store| {
        let (f, t) = pair(store, &from, &to)?;
        for i in &input.inputs {
            let a = parse_id(&i.from.id)?;
            for b in &i.to {
                store.dissociate(&f, a, &t, parse_id(&b.id)?, None, now);
            }
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

async fn batch_labels_archive(
    State(s): State<Arc<Shared>>,
    Path((from, to)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, HsError> {
    let input: Inputs<CreateInput> = parse_json(&body)?;
    check_size(&input.inputs, s.config.batch_max)?;
    let now = s.clock.now_ms();
    s.mutate(|store| {
        let (f, t) = pair(store, &from, &to)?;
        for i in &input.inputs {
            let keys: Vec<_> = i.types.iter().map(|x| x.key()).collect();
            store.dissociate(
                &f,
                parse_id(&i.from.id)?,
                &t,
                parse_id(&i.to.id)?,
                Some(&keys),
                now,
            );
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

async fn labels(
    State(s): State<Arc<Shared>>,
    Path((from, to)): Path<(String, String)>,
) -> Result<Response, HsError> {
    let store = s.store.read();
    let (f, t) = pair(&store, &from, &to)?;
    let results: Vec<Value> = store
        .assoc_defs
        .iter()
        .filter(|d| d.from_type == f && d.to_type == t)
        .map(|d| json!({"category": d.category, "typeId": d.type_id, "label": d.label}))
        .collect();
    Ok(Json(json!({"results": results})).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LabelBody {
    label: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    inverse_label: Option<String>,
}

async fn create_label(
    State(s): State<Arc<Shared>>,
    Path((from, to)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, HsError> {
    let input: LabelBody = parse_json(&body)?;
    if input.label.trim().is_empty() {
        return Err(HsError::validation("label must not be empty."));
    }
    let _ = input.name;
    s.mutate(|store| {
        let (f, t) = pair(store, &from, &to)?;
        if store.assoc_defs.iter().any(|d| {
            d.from_type == f && d.to_type == t && d.label.as_deref() == Some(input.label.as_str())
        }) {
            return Err(HsError::conflict(format!(
                "A label {:?} already exists between {f} and {t}.",
                input.label
            )));
        }
        let id = store.create_label(&f, &t, &input.label, input.inverse_label.as_deref());
        let mut results =
            vec![json!({"category": "USER_DEFINED", "typeId": id, "label": input.label})];
        if let Some(inv) = &input.inverse_label {
            results.push(json!({"category": "USER_DEFINED", "typeId": id + 1, "label": inv}));
        }
        Ok((StatusCode::OK, Json(json!({"results": results}))).into_response())
    })
}

async fn delete_label(
    State(s): State<Arc<Shared>>,
    Path((from, to, type_id)): Path<(String, String, u32)>,
) -> Result<Response, HsError> {
    s.mutate(|store| {
        let (f, t) = pair(store, &from, &to)?;
        let def = store.assoc_def(&f, &t, type_id).cloned().ok_or_else(|| {
            HsError::not_found(format!(
                "No label with typeId {type_id} between {f} and {t}."
            ))
        })?;
        if def.category != "USER_DEFINED" {
            return Err(HsError::validation(
                "HubSpot-defined association types cannot be deleted.",
            ));
        }
        store.assoc_defs.retain(|d| {
            !(d.type_id == type_id || d.type_id == def.inverse_type_id)
                || d.category != "USER_DEFINED"
        });
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

async fn list_for_record(
    State(s): State<Arc<Shared>>,
    Path((t, id, to)): Path<(String, String, String)>,
    RawQuery(q): RawQuery,
) -> Result<Response, HsError> {
    let q = Query::parse(q.as_deref());
    let limit = q.number("limit", 500, 500)?.max(1);
    let store = s.store.read();
    let (f, tt) = pair(&store, &t, &to)?;
    let id = parse_id(&id)?;
    if !store.is_live(&f, id) {
        return Err(Store::missing(&id.to_string()));
    }
    let after: u64 = q.one("after").and_then(|a| a.parse().ok()).unwrap_or(0);
    let all = store.associations(&f, id, &tt);
    let mut results = Vec::new();
    let mut next = None;
    for (to_id, types) in all.iter().filter(|(to_id, _)| *to_id >= after) {
        if results.len() == limit {
            next = Some(*to_id);
            break;
        }
        results.push(
            json!({"toObjectId": to_id, "associationTypes": types_json(&store, &f, &tt, types)}),
        );
    }
    let mut body = json!({"results": results});
    if let Some(n) = next {
        body["paging"] = json!({"next": {"after": n.to_string()}});
    }
    Ok(Json(body).into_response())
}

async fn put_labelled(
    State(s): State<Arc<Shared>>,
    Path((t, id, to, to_id)): Path<(String, String, String, String)>,
    body: Bytes,
) -> Result<Response, HsError> {
    let specs: Vec<AssocSpec> = parse_json(&body)?;
    if specs.is_empty() {
        return Err(HsError::validation("The body must list at least one association type: [{\"associationCategory\":…, \"associationTypeId\":…}]."));
    }
    let now = s.clock.now_ms();
    s.mutate(|store| {
        let (f, tt) = pair(store, &t, &to)?;
        let (a, b) = (parse_id(&id)?, parse_id(&to_id)?);
        for spec in &specs {
            store.associate(&f, a, &tt, b, spec.key(), now, true)?;
        }
        Ok((
            StatusCode::CREATED,
            Json(created_json(store, &f, &tt, a, b)),
        )
            .into_response())
    })
}

async fn put_default(
    State(s): State<Arc<Shared>>,
    Path((t, id, to, to_id)): Path<(String, String, String, String)>,
) -> Result<Response, HsError> {
    let now = s.clock.now_ms();
    s.mutate(|store| {
        let (f, tt) = pair(store, &t, &to)?;
        let r = associate_default(store, &f, &tt, parse_id(&id)?, parse_id(&to_id)?, now)?;
        Ok(Json(json!({"status": "COMPLETE", "results": [r], "startedAt": iso_ms(now), "completedAt": iso_ms(now)})).into_response())
    })
}

async fn remove(
    State(s): State<Arc<Shared>>,
    Path((t, id, to, to_id)): Path<(String, String, String, String)>,
) -> Result<Response, HsError> {
    let now = s.clock.now_ms();
    s.mutate(|store| {
        let (f, tt) = pair(store, &t, &to)?;
        store.dissociate(&f, parse_id(&id)?, &tt, parse_id(&to_id)?, None, now);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}
