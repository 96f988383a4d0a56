//! hubspot-mcp: HubSpot CRM as safe, rate-aware agent tools, with a faithful local sandbox.
//!
//! # Layout
//! - [`config`]: typed settings from a TOML file plus `HUBSPOT_MCP_*` environment variables.
//! - [`time`]: the `Clock` trait (system and manual clocks) every window is measured on.
//! - [`sandbox`]: the local HubSpot-compatible API everything is tested against.
//! - [`webhook`]: HubSpot request signatures (v1, v2, v3), shared by the sandbox's sender and
//!   the receiver.
//!
//! Later layers (the HubSpot client, the MCP server, sync and the index, governance) build on
//! these; see README.md for the plan and what exists today.

pub mod audit;
pub mod config;
pub mod handoff;
pub mod hubspot;
pub mod mcp;
pub mod sandbox;
pub mod time;
pub mod webhook;
