//! One request as the pipeline sends it ([`Call`]) and a successful answer ([`Reply`]).

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::hubspot::error::EndpointGroup;
use crate::hubspot::limit::{Bucket, Lane};
use crate::hubspot::path::ApiPath;

/// One request to send.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: Method,
    /// Built by [`super::path`], the one place paths are made.
    pub path: ApiPath,
    pub query: Vec<(String, String)>,
    pub body: Option<Value>,
    pub lane: Lane,
    pub group: EndpointGroup,
    pub bucket: Bucket,
    /// Safe to repeat after a 5xx or timeout.
    pub safe: bool,
    /// Writes data (checked by the production guard).
    pub write: bool,
    /// One attempt, whatever the answer: a readiness probe asks whether HubSpot answers now,
    /// and retrying would only spend the budget on an anonymous caller's behalf.
    pub once: bool,
}

impl Call {
    /// A safe GET.
    pub fn get(path: ApiPath, lane: Lane, group: EndpointGroup) -> Self {
        Self {
            method: Method::GET,
            path,
            query: Vec::new(),
            body: None,
            lane,
            group,
            bucket: Bucket::Burst,
            safe: true,
            write: false,
            once: false,
        }
    }

    /// A POST; `safe` and `write` say what it is.
    pub fn post(
        path: ApiPath,
        body: Value,
        lane: Lane,
        group: EndpointGroup,
        safe: bool,
        write: bool,
    ) -> Self {
        Self {
            method: Method::POST,
            path,
            query: Vec::new(),
            body: Some(body),
            lane,
            group,
            bucket: Bucket::Burst,
            safe,
            write,
            once: false,
        }
    }
}

/// A successful answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub correlation_id: Option<String>,
    /// Time spent waiting for the rate governor, over all attempts.
    pub waited: Duration,
}
