//! Integration tests: one binary, a module per area. Every test starts its own sandbox on
//! 127.0.0.1:0 and asserts on what it answers and what its request log saw.

mod app;
mod cli;
mod client;
mod export;
mod faults;
mod fuzz;
mod governance;
mod governor_shared;
mod hostile;
mod index_contract;
mod interop;
mod knowledge;
mod layout;
mod mcp;
mod readme;
mod redis_server;
mod replicas;
mod sandbox_api;
mod sandbox_limits;
mod sandbox_oauth;
mod sandbox_search;
mod sandbox_webhooks;
mod support;
mod surface;
mod sync;
mod sync_contract;
