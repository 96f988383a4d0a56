//! hubspot-mcp: HubSpot CRM as safe, rate-aware agent tools, with a faithful local sandbox.
//!
//! # Layout
//! - [`config`]: typed settings from a TOML file plus `HUBSPOT_MCP_*` environment variables.
//! - [`time`]: the `Clock` trait (system and manual clocks) every window is measured on.
//! - [`sandbox`]: the local HubSpot-compatible API everything is tested against.
//! - [`webhook`]: HubSpot request signatures (v1, v2, v3), shared by the sandbox's sender and
//!   the receiver.
//!
//! - [`hubspot`]: the rate-aware HubSpot client; [`mcp`]: the MCP server and its tools.
//! - [`sync`]: webhooks → durable queue → normalize → [`embed`] → [`index`] (semantic search).
//! - [`audit`], [`handoff`]: the audit log and the confidence-gated human handoff.
//! - [`listener`]: how every TCP listener is served (header-read/idle timeouts, a
//!   connection cap, graceful drain).

pub mod app;
pub mod audit;
pub mod config;
pub mod embed;
pub mod handoff;
pub mod hubspot;
pub mod index;
pub mod listener;
pub mod mcp;
pub mod sync;
pub mod webhook;

pub use hubspot_wire::{objects, time};
