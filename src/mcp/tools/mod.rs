//! The tools, one file per area. Each tool is written for a model: what it does, when to use
//! it, its limits.
//!
//! Discovery first ([`discovery`]: `list_object_types` → `describe_properties`, `list_owners`,
//! `list_pipelines`, all served from the metadata cache), then reads ([`read`]:
//! `search_objects`, `get_objects`, `get_associations`) and batch writes ([`write`]:
//! `create_objects`, `update_objects`, `upsert_objects`, `associate_objects`); [`index`] holds
//! the semantic index's tools, and `propose_action` lives with the gate in
//! [`super::governance`]. Each area is one `#[tool_router]`.
//!
//! - [`args`]: the argument and record shapes every area shares (scalars, ids, records).
//! - [`validate`]: object types and property names, values and batch sizes checked against the
//!   portal's metadata before any HubSpot call; mistakes name the close matches.
//! - [`error`]: [`ToolError`], whose variant says whose fault a failure is.

pub mod args;
pub mod discovery;
pub mod error;
pub mod index;
pub mod read;
pub mod validate;
pub mod write;

pub use args::{PropertyMap, RecordId, RecordOut, Scalar};
pub use discovery::*;
pub use error::ToolError;
pub use read::*;
pub use validate::{close_matches, PropertyIndex};
pub use write::*;
