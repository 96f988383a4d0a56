//! Associations: reads of 1,000 ids per call, paged per input, and idempotent links.

use std::collections::HashMap;

use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{typed, Call, HubSpotClient, ASSOC_CHUNK};
use crate::hubspot::error::{ApiError, EndpointGroup};
use crate::hubspot::limit::{Bucket, Lane};
use crate::hubspot::model::AssociatedId;
use crate::hubspot::path::{AssociationKind, ObjectType, RecordId};

impl HubSpotClient {
    /// Associated ids for many records: 1,000 ids per request, each input paged on its own.
    ///
    /// # Errors
    /// When a request fails.
    pub async fn associations(
        &self,
        lane: Lane,
        from: &str,
        to: &str,
        ids: &[String],
    ) -> Result<(HashMap<String, Vec<AssociatedId>>, usize), ApiError> {
        let path = self.v().associations_batch_read(&typed(from)?, &typed(to)?);
        let mut out: HashMap<String, Vec<AssociatedId>> =
            ids.iter().map(|i| (i.clone(), Vec::new())).collect();
        let mut pending: Vec<(String, Option<String>)> =
            ids.iter().map(|i| (i.clone(), None)).collect();
        let mut requests = 0;
        while !pending.is_empty() {
            let take = pending.len().min(ASSOC_CHUNK);
            let chunk: Vec<(String, Option<String>)> = pending.drain(..take).collect();
            let inputs: Vec<Value> = chunk
                .iter()
                .map(|(id, after)| match after {
                    Some(a) => json!({"id": id, "after": a}),
                    None => json!({"id": id}),
                })
                .collect();
            let reply = self
                .execute(&Call::post(
                    path.clone(),
                    json!({"inputs": inputs}),
                    lane,
                    EndpointGroup::Associations,
                    true,
                    false,
                ))
                .await?;
            requests += 1;
            let page: AssocPage =
                serde_path_to_error::deserialize(reply.body).map_err(|e| ApiError::Decode {
                    path: path.to_string(),
                    at: e.path().to_string(),
                    message: e.inner().to_string(),
                    correlation_id: reply.correlation_id,
                })?;
            for r in page.results {
                let from_id = r.from.id;
                if let Some(next) = r.paging.and_then(|p| p.next) {
                    pending.push((from_id.clone(), Some(next.after)));
                }
                out.entry(from_id).or_default().extend(r.to);
            }
        }
        Ok((out, requests))
    }

    /// Associates two records: HubSpot's default association, or a labelled one
    /// (`(category, type id)`, as the portal's label definitions give them). Idempotent.
    ///
    /// # Errors
    /// As [`execute`](Self::execute).
    pub async fn associate(
        &self,
        lane: Lane,
        (from, id): (&ObjectType, &RecordId),
        (to, to_id): (&ObjectType, &RecordId),
        label: Option<(&str, u32)>,
    ) -> Result<(), ApiError> {
        let kind = match label {
            None => AssociationKind::Default,
            Some(_) => AssociationKind::Labelled,
        };
        let call = Call {
            method: Method::PUT,
            path: self.v().association(from, id, to, to_id, kind),
            query: Vec::new(),
            body: label.map(|(category, type_id)| {
                json!([{"associationCategory": category, "associationTypeId": type_id}])
            }),
            lane,
            group: EndpointGroup::Associations,
            bucket: Bucket::Burst,
            safe: true,
            write: true,
            once: false,
        };
        self.execute(&call).await.map(drop)
    }
}

#[derive(Debug, Deserialize)]
struct AssocPage {
    #[serde(default)]
    results: Vec<AssocResult>,
}

#[derive(Debug, Deserialize)]
struct AssocResult {
    from: FromId,
    #[serde(default)]
    to: Vec<AssociatedId>,
    #[serde(default)]
    paging: Option<crate::hubspot::model::Paging>,
}

#[derive(Debug, Deserialize)]
struct FromId {
    #[serde(deserialize_with = "string_or_number")]
    id: String,
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        v => Err(serde::de::Error::custom(format!(
            "expected an id, found {v}"
        ))),
    }
}
