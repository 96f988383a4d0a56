//! Portal metadata (properties, pipelines, schemas, owners, labels, account details),
//! cached and refreshed in the background.

use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::{typed, Call, HubSpotClient};
use crate::hubspot::error::{ApiError, EndpointGroup};
use crate::hubspot::limit::Lane;
use crate::hubspot::model::{Named, ObjectSchema, Owner, Pipeline, PropertyDef};
use crate::hubspot::path::ApiPath;

impl HubSpotClient {
    /// `GET /account-info/…/details`.
    ///
    /// # Errors
    /// As [`execute`](Self::execute).
    pub async fn account_details(&self, lane: Lane) -> Result<Value, ApiError> {
        Ok(self
            .execute(&Call::get(
                self.v().account_details(),
                lane,
                EndpointGroup::Metadata,
            ))
            .await?
            .body)
    }

    /// Does HubSpot answer now? One `account-info` request, never retried (readiness).
    ///
    /// # Errors
    /// As [`execute`](Self::execute), after the one attempt.
    pub async fn probe(&self) -> Result<(), ApiError> {
        let mut call = Call::get(
            self.v().account_details(),
            Lane::Interactive,
            EndpointGroup::Metadata,
        );
        call.once = true;
        self.execute(&call).await.map(|_| ())
    }

    /// A GET served from the metadata cache while fresh (one fetch per key, single-flight).
    async fn cached_get(&self, key: String, path: ApiPath) -> Result<Value, ApiError> {
        self.inner
            .metadata
            .get_or_fetch(&key, || async move {
                Ok(self
                    .execute(&Call::get(path, Lane::Interactive, EndpointGroup::Metadata))
                    .await?
                    .body)
            })
            .await
    }

    /// Refetches every cached metadata entry now (on demand). Returns how many were refreshed.
    ///
    /// # Errors
    /// The first fetch that fails; entries already refreshed stay refreshed.
    pub async fn refresh_metadata(&self) -> Result<usize, ApiError> {
        // Each entry is refetched in place: until its new value arrives, and if it fails to,
        // the old one keeps serving.
        let keys = self.inner.metadata.keys();
        for key in &keys {
            let path = match key.split_once(':') {
                Some(("properties", t)) => self.v().properties(&typed(t)?),
                Some(("pipelines", t)) => self.v().pipelines(&typed(t)?),
                Some(("labels", pair)) => match pair.split_once(':') {
                    Some((from, to)) => self.v().association_labels(&typed(from)?, &typed(to)?),
                    None => continue,
                },
                _ if key == "schemas" => self.v().schemas(),
                _ if key == "owners" => {
                    self.inner
                        .metadata
                        .refresh(key, || async { self.fetch_owners().await })
                        .await?;
                    continue;
                }
                _ => continue,
            };
            self.inner
                .metadata
                .refresh(key, || async move {
                    Ok(self
                        .execute(&Call::get(path, Lane::Background, EndpointGroup::Metadata))
                        .await?
                        .body)
                })
                .await?;
        }
        Ok(keys.len())
    }

    /// Refreshes cached metadata on a schedule (the cache's freshness period, 15 minutes by
    /// default), in the background lane's spirit: failures are logged and retried next time.
    pub async fn refresh_metadata_forever(self) {
        let period = self.inner.metadata.ttl();
        loop {
            tokio::time::sleep(period).await;
            if let Err(e) = self.refresh_metadata().await {
                tracing::warn!(error = %e, "scheduled metadata refresh failed; cached values are refetched on next use");
            }
        }
    }

    /// Property definitions of a type, from the cache while fresh.
    ///
    /// # Errors
    /// When a fetch is needed and fails.
    pub async fn properties(&self, object_type: &str) -> Result<Vec<PropertyDef>, ApiError> {
        let path = self.v().properties(&typed(object_type)?);
        let raw = self
            .cached_get(format!("properties:{object_type}"), path.clone())
            .await?;
        metadata_list(&path, raw)
    }

    /// Association types (labels) between two object types, from the cache while fresh.
    ///
    /// # Errors
    /// When a fetch is needed and fails.
    pub async fn association_labels(&self, from: &str, to: &str) -> Result<Value, ApiError> {
        let path = self.v().association_labels(&typed(from)?, &typed(to)?);
        self.cached_get(format!("labels:{from}:{to}"), path).await
    }

    /// Pipelines of a type, from the cache while fresh.
    ///
    /// # Errors
    /// When a fetch is needed and fails.
    pub async fn pipelines(&self, object_type: &str) -> Result<Vec<Pipeline>, ApiError> {
        let path = self.v().pipelines(&typed(object_type)?);
        let raw = self
            .cached_get(format!("pipelines:{object_type}"), path.clone())
            .await?;
        metadata_list(&path, raw)
    }

    /// Custom-object schemas, from the cache while fresh.
    ///
    /// # Errors
    /// When a fetch is needed and fails.
    pub async fn schemas(&self) -> Result<Vec<ObjectSchema>, ApiError> {
        let path = self.v().schemas();
        let raw = self.cached_get("schemas".to_string(), path.clone()).await?;
        metadata_list(&path, raw)
    }

    /// Every owner (all pages), from the cache while fresh.
    ///
    /// # Errors
    /// When a fetch is needed and fails.
    pub async fn owners(&self) -> Result<Vec<Owner>, ApiError> {
        let raw = self
            .inner
            .metadata
            .get_or_fetch("owners", || async move { self.fetch_owners().await })
            .await?;
        metadata_list(&self.v().owners(), raw)
    }

    /// Every owner, all pages, from HubSpot.
    async fn fetch_owners(&self) -> Result<Value, ApiError> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut call = Call::get(
                self.v().owners(),
                Lane::Interactive,
                EndpointGroup::Metadata,
            );
            call.query.push(("limit".into(), "500".into()));
            if let Some(a) = &after {
                call.query.push(("after".into(), a.clone()));
            }
            let body = self.execute(&call).await?.body;
            all.extend(body["results"].as_array().cloned().unwrap_or_default());
            match body["paging"]["next"]["after"].as_str() {
                Some(a) => after = Some(a.to_string()),
                None => break,
            }
        }
        Ok(json!({"results": all}))
    }
}

/// A cached metadata answer, decoded: `{"results": [...]}` into typed definitions, or a
/// `Decode` error naming the JSON path that did not fit.
fn metadata_list<T: DeserializeOwned + Named>(
    path: &ApiPath,
    raw: Value,
) -> Result<Vec<T>, ApiError> {
    serde_path_to_error::deserialize::<_, crate::hubspot::model::Results<T>>(raw)
        .map(|r| {
            r.results
                .into_iter()
                .filter(|x| !x.name().is_empty())
                .collect()
        })
        .map_err(|e| ApiError::Decode {
            path: path.to_string(),
            at: e.path().to_string(),
            message: e.inner().to_string(),
            correlation_id: None,
        })
}
