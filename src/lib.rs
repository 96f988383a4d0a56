//! hubspot-mcp: HubSpot CRM as safe, rate-aware agent tools.
//!
//! # Layout, and why the boundaries are there
//! This crate is the product. Two crates beside it hold what is not: `hubspot-wire` (the
//! clock, webhook signatures and the one standard-object table, which the product and the
//! sandbox must agree on) and `hubspot-sandbox` (the local HubSpot, used through the default
//! `sandbox` feature and by the tests; it depends on no module here).
//!
//! - [`app`]: wiring and lifecycle (connect, sync, listeners, drain on shutdown). The binary
//!   and every test harness start the product through it, so they start the same thing.
//! - [`hubspot`]: the only code that speaks HTTP to HubSpot, and the only place paths and
//!   bodies are built. It knows nothing of MCP, sync or the audit log: those observe it
//!   through traits it defines (`observe::CallObserver`).
//! - [`mcp`]: the MCP server; each tool area is one router that declares its class.
//! - [`webhook`]: what a verified event is (`Change`) and where it goes (`EventSink`); the
//!   receiver. [`sync`]: the queue (an `EventSink`), workers, backfill, normalization; it
//!   builds the receiver, never the reverse. [`embed`], [`index`]: embeddings and vectors.
//!   [`knowledge`]: knowledge articles (files, later HubSpot's knowledge base) in the same
//!   index, catalogued in the sync state.
//! - [`audit`], [`handoff`]: the audit log and the confidence-gated human handoff.
//! - [`config`], [`listener`]: typed settings; how every TCP listener is served.
//! - [`objects`], [`time`]: re-exported from `hubspot-wire`.

pub mod app;
pub mod audit;
pub mod config;
pub mod embed;
pub mod export;
pub mod handoff;
pub mod hubspot;
pub mod index;
pub mod knowledge;
pub mod listener;
pub mod mcp;
pub mod sync;
pub mod webhook;

pub use hubspot_wire::{objects, time};
