//! hubspot-wire: the facts about HubSpot's wire that the product and its sandbox must agree on.
//!
//! # Why this crate exists
//! The sandbox is a separate crate so that it compiles apart from the product and can be used
//! by anyone's integration tests. But the two sides must agree on a few facts exactly, or the
//! sandbox would test nothing: how a webhook is signed, what the standard object types are
//! called and numbered, and how time is read (so that both run on the same manual or paused
//! clock in tests). Those facts live here, once, and both crates depend on this one. It holds
//! no I/O and no policy.
//!
//! - [`time`]: the `Clock` trait (system, manual and tokio-driven clocks) and HubSpot's date
//!   formats.
//! - [`signature`]: webhook request signatures v1, v2 and v3 (HubSpot's published vectors).
//! - [`objects`]: the standard object types: path names, type ids, singulars, scopes and the
//!   note/task association ids.
//! - [`values`]: how HubSpot reads a property value by its type (a padded or exponent number
//!   is the number it stands for), so the gate judges what HubSpot will store.

pub mod objects;
pub mod search;
pub mod signature;
pub mod time;
pub mod values;
