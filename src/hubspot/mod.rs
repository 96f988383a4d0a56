//! The HubSpot client: the only code that speaks HTTP to HubSpot.
//!
//! It spends every request well and never causes a retry storm (../shared/docs/hubspot-api.md;
//! design after smithy-rs's classifiers and retry quota, and tower's caveat on shared limits).
//!
//! # Layout
//! - [`client`]: `HubSpotClient`, the request pipeline and batch-first operations.
//! - [`auth`]: static tokens and OAuth sessions (proactive, single-flight refresh; encrypted store).
//! - [`limit`]: the rate governor shared by every worker (burst window, daily, search; lanes).
//! - [`retry`]: the classifier, backoff with full jitter, and the retry quota.
//! - [`circuit`]: circuit breakers per endpoint group.
//! - [`coalesce`]: concurrent single reads become batch reads (through its `BatchRead` trait,
//!   which the client implements: the coalescer does not know the client).
//! - [`metadata`]: cached properties, schemas, owners and pipelines.
//! - [`model`], [`error`]: wire types, `ApiError`.
//! - [`path`]: typed object types and record ids, and the one place HubSpot paths are built.
//! - [`observe`]: the interface through which the audit log hears about requests (the
//!   client defines it; it knows nothing about the audit log).
//! - [`login`]: the authorization-code flow with a loopback redirect, state and PKCE.

pub mod auth;
pub mod circuit;
pub mod client;
pub mod coalesce;
pub mod error;
pub mod limit;
pub mod login;
pub mod metadata;
pub mod model;
pub mod observe;
pub mod path;
pub mod patience;
pub mod rejection;
pub mod retry;

pub use auth::Credentials;
pub use client::{Call, ClientSettings, HubSpotClient, WriteOp};
pub use error::ApiError;
pub use limit::{Bucket, Lane};
