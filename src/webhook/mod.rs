//! HubSpot webhooks: request signatures (pure functions, shared by the sandbox's sender and the
//! receiver), and later the receiver route and dedupe.

pub mod signature;
