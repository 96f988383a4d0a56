//! Records: coalesced single reads, batch reads, writes and archives chunked at 100 with
//! per-input results from 207s, and list pagination.

use serde::Deserialize;
use serde_json::{json, Value};

use super::{typed, Call, HubSpotClient, CHUNK, HISTORY_CHUNK};
use crate::hubspot::error::{ApiError, EndpointGroup};
use crate::hubspot::limit::Lane;
use crate::hubspot::model::{BatchOutcome, CrmObject, ItemError, WriteInput};
use crate::hubspot::path::{BatchVerb, ObjectType, RecordId};

impl HubSpotClient {
    /// One record by id, coalesced with concurrent reads of the same type into batch reads.
    ///
    /// # Errors
    /// As [`batch_read`](Self::batch_read).
    pub async fn get_object(
        &self,
        lane: Lane,
        object_type: &str,
        id: &str,
        properties: &[String],
    ) -> Result<Option<CrmObject>, ApiError> {
        self.inner
            .coalescer
            .get(self, lane, object_type, id, properties)
            .await
    }

    /// Reads any number of records, 100 per request; missing ids are reported per id.
    ///
    /// # Errors
    /// When a chunk fails outright.
    pub async fn batch_read(
        &self,
        lane: Lane,
        object_type: &str,
        ids: &[String],
        properties: &[String],
        id_property: Option<&str>,
    ) -> Result<BatchOutcome, ApiError> {
        self.batch_read_with_history(lane, object_type, ids, properties, &[], id_property)
            .await
    }

    /// As [`Self::batch_read`], with each of `history`'s properties' past values
    /// (`propertiesWithHistory`, newest first).
    ///
    /// # Errors
    /// When a chunk fails.
    pub async fn batch_read_with_history(
        &self,
        lane: Lane,
        object_type: &str,
        ids: &[String],
        properties: &[String],
        history: &[String],
        id_property: Option<&str>,
    ) -> Result<BatchOutcome, ApiError> {
        let path = self
            .v()
            .objects_batch(&typed(object_type)?, BatchVerb::Read);
        // HubSpot reads at most 50 records per batch when histories are asked for.
        let per_call = if history.is_empty() {
            CHUNK
        } else {
            HISTORY_CHUNK
        };
        let calls: Vec<Call> = ids
            .chunks(per_call)
            .map(|chunk| {
                let mut body = json!({"inputs": chunk.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(), "properties": properties});
                if let Some(p) = id_property {
                    body["idProperty"] = json!(p);
                }
                if !history.is_empty() {
                    body["propertiesWithHistory"] = json!(history);
                }
                Call::post(path.clone(), body, lane, EndpointGroup::Objects, true, false)
            })
            .collect();
        let replies = self.run_all(calls).await;
        let mut out = BatchOutcome {
            results: Vec::new(),
            errors: Vec::new(),
            requests: replies.len(),
        };
        for r in replies {
            let r = r?;
            collect_batch(&r.body, &mut out, None)?;
        }
        Ok(out)
    }

    /// Creates, updates or upserts any number of records, 100 per request. Every input carries
    /// an `objectWriteTraceId` (its index), which makes the write safe to retry and turns
    /// partial failure into per-input errors.
    ///
    /// # Errors
    /// When a chunk fails outright (every input in it failed validation, auth, …).
    pub async fn batch_write(
        &self,
        lane: Lane,
        object_type: &str,
        op: WriteOp,
        inputs: &[WriteInput],
    ) -> Result<BatchOutcome, ApiError> {
        if op == WriteOp::Upsert
            && inputs
                .iter()
                .any(|i| i.id_property.is_none() || i.id.is_none())
        {
            return Err(ApiError::Invalid(
                "upsert inputs need id (the unique value) and idProperty".into(),
            ));
        }
        let path = self.v().objects_batch(&typed(object_type)?, op.verb());
        let indexed: Vec<(usize, &WriteInput)> = inputs.iter().enumerate().collect();
        let calls: Vec<Call> = indexed
            .chunks(CHUNK)
            .map(|chunk| {
                let body = json!({"inputs": chunk.iter().map(|(i, w)| {
                    let mut v = serde_json::to_value(w).unwrap_or_default();
                    v["objectWriteTraceId"] = json!(i.to_string());
                    v
                }).collect::<Vec<_>>()});
                // A create retried after an ambiguous failure (a 5xx, a timeout) may create
                // the records twice; updates and upserts are idempotent.
                let safe = op != WriteOp::Create;
                Call::post(path.clone(), body, lane, EndpointGroup::Objects, safe, true)
            })
            .collect();
        let replies = self.run_all(calls).await;
        let mut out = BatchOutcome {
            results: Vec::new(),
            errors: Vec::new(),
            requests: replies.len(),
        };
        for r in replies {
            collect_batch(&r?.body, &mut out, Some(()))?;
        }
        Ok(out)
    }

    /// Archives any number of records, 100 per request.
    ///
    /// # Errors
    /// When a chunk fails.
    pub async fn batch_archive(
        &self,
        lane: Lane,
        object_type: &str,
        ids: &[String],
    ) -> Result<usize, ApiError> {
        let path = self
            .v()
            .objects_batch(&typed(object_type)?, BatchVerb::Archive);
        let mut requests = 0;
        for chunk in ids.chunks(CHUNK) {
            let body =
                json!({"inputs": chunk.iter().map(|id| json!({"id": id})).collect::<Vec<_>>()});
            // Archiving twice is harmless, so it is safe to retry.
            self.execute(&Call::post(
                path.clone(),
                body,
                lane,
                EndpointGroup::Objects,
                true,
                true,
            ))
            .await?;
            requests += 1;
        }
        Ok(requests)
    }

    /// Every record of a type through the list endpoint (100 per page, following `after`).
    ///
    /// # Errors
    /// When a page fails.
    pub async fn list_all(
        &self,
        lane: Lane,
        object_type: &str,
        properties: &[String],
    ) -> Result<(Vec<CrmObject>, usize), ApiError> {
        let path = self.v().objects(&typed(object_type)?);
        let mut after: Option<String> = None;
        let mut out = Vec::new();
        let mut requests = 0;
        loop {
            let mut call = Call::get(path.clone(), lane, EndpointGroup::Objects);
            call.query.push(("limit".into(), "100".into()));
            if !properties.is_empty() {
                call.query.push(("properties".into(), properties.join(",")));
            }
            if let Some(a) = &after {
                call.query.push(("after".into(), a.clone()));
            }
            let page: ListPage = self.fetch(&call).await?;
            requests += 1;
            out.extend(page.results);
            match page.paging.and_then(|p| p.next) {
                Some(n) => after = Some(n.after),
                None => return Ok((out, requests)),
            }
        }
    }

    /// Creates one record with `properties`, associated (HubSpot-defined type `type_id`) to
    /// `to` when given. Not retried after an ambiguous failure (a create is not idempotent).
    ///
    /// # Errors
    /// As [`execute`](Self::execute).
    pub async fn create_one(
        &self,
        lane: Lane,
        object_type: &ObjectType,
        properties: Value,
        to: Option<(RecordId, u32)>,
    ) -> Result<CrmObject, ApiError> {
        let associations = match to {
            Some((id, type_id)) => {
                json!([{"to": {"id": id.as_str()}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}]}])
            }
            None => json!([]),
        };
        let call = Call::post(
            self.v().objects(object_type),
            json!({"properties": properties, "associations": associations}),
            lane,
            EndpointGroup::Objects,
            false,
            true,
        );
        self.fetch(&call).await
    }
}

/// Batch write operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOp {
    Create,
    Update,
    Upsert,
}

impl WriteOp {
    fn verb(self) -> BatchVerb {
        match self {
            Self::Create => BatchVerb::Create,
            Self::Update => BatchVerb::Update,
            Self::Upsert => BatchVerb::Upsert,
        }
    }
}

#[derive(Debug, Deserialize)]
struct ListPage {
    results: Vec<CrmObject>,
    #[serde(default)]
    paging: Option<crate::hubspot::model::Paging>,
}

/// Folds one batch response (200 or 207) into the outcome.
fn collect_batch(body: &Value, out: &mut BatchOutcome, traced: Option<()>) -> Result<(), ApiError> {
    if body.is_null() {
        return Ok(());
    }
    let results: Vec<CrmObject> =
        serde_json::from_value(body["results"].clone()).map_err(|e| ApiError::Decode {
            path: "batch".into(),
            at: "results".into(),
            message: e.to_string(),
            correlation_id: None,
        })?;
    out.results.extend(results);
    for e in body["errors"].as_array().into_iter().flatten() {
        let ctx = &e["context"];
        let index = traced
            .and(ctx["objectWriteTraceId"][0].as_str())
            .and_then(|t| t.parse().ok());
        let ids: Vec<String> = ctx["ids"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let read = crate::hubspot::rejection::FieldErrors::read(
            e["message"].as_str().unwrap_or_default(),
            e["errors"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default(),
        );
        out.errors.push(ItemError {
            index,
            ids,
            category: e["category"].as_str().unwrap_or("ERROR").to_string(),
            message: read.headline,
            fields: read.fields,
        });
    }
    Ok(())
}
