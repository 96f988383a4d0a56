//! HubSpot webhooks: request signatures (pure functions, shared by the sandbox's sender and the
//! receiver), and the receiver route ([`receiver`]) that stores verified events durably.

pub mod receiver;
pub mod signature;
