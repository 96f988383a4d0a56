//! The MCP server: HubSpot as agent tools over stdio and streamable HTTP (rmcp).
//!
//! # Layout
//! - [`tools`]: one file per area (discovery, read, write, index; one `#[tool_router]` each),
//!   typed inputs and structured outputs, validation, and [`tools::ToolError`]; [`governance`]
//!   (`propose_action` and `archive_objects` ([`archive`]), with the gate) is the fifth area.
//!   [`Toolset`] names the areas; a tool's class is the area whose router defines it.
//! - [`params`]: tool arguments that fail with the JSON path of the problem.
//! - [`prompts`]: `prompts/*.md`, served through `prompts/list` and `prompts/get`.
//! - [`schemas`]: per-object JSON Schemas built from the portal's property definitions
//!   (resources `hubspot://schemas/{objectType}`), and `schemas export`.
//! - [`http`]: the HTTP endpoint: bearer tokens checked against hashes in constant time,
//!   Host/Origin validation, body and time limits, `/healthz`, `/readyz`.
//!
//! The surface is compact on purpose (11 tools, well under the 15 that clients handle well):
//! discovery, reads and batch writes, every one with annotations that are true to what it does.
//! `--toolsets` and `--read-only` shrink it further, and tools whose OAuth scopes were not
//! granted are not offered.
//!
//! Logging (`logging/setLevel`) is deprecated by SEP-2577 but still part of the protocol versions
//! clients negotiate today, and the conformance suite checks it, so it stays supported.
#![allow(deprecated)]

pub mod archive;
pub mod confirm;
pub mod gate;
pub mod governance;
pub mod handoff_writes;
pub mod http;
pub mod links;
pub mod params;
pub mod prompts;
pub mod schemas;
pub mod sessions;
pub mod tools;

use std::collections::BTreeMap;
use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{
    GetPromptRequestParams, GetPromptResponse, GetPromptResult, Implementation, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, PaginatedRequestParams, Prompt,
    PromptArgument, PromptMessage, ReadResourceRequestParams, ReadResourceResponse,
    ReadResourceResult, Resource, ResourceContents, ResourceTemplate, Role, ServerCapabilities,
    ServerConfig, SetLevelRequestParams, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{tool_handler, RoleServer, ServerHandler};
use serde::{Deserialize, Serialize};

use crate::audit::{AuditDraft, AuditLog};
use crate::hubspot::HubSpotClient;
use prompts::PromptLibrary;

/// The areas tools are grouped in, for `--toolsets`, and each tool's class.
///
/// A tool's class is declared by where it is defined: each area has exactly one
/// `#[tool_router]` ([`Toolset::router`]), and a tool belongs to the area whose router
/// defines it. Nothing else says what a tool is: listing, calling, `--read-only`,
/// `--toolsets`, scope filtering and the write gate all read [`HubSpotMcp::class_of`], which
/// is computed from the routers, so there is no table that a new tool could be missing from.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Toolset {
    /// Object types, properties, owners, pipelines.
    Discovery,
    /// Search, get, associations.
    Read,
    /// Create, update, upsert, associate.
    Write,
    /// `propose_action`: writes through the handoff gate (offered when the policy is enabled).
    Governance,
    /// `semantic_search`, `find_duplicates` (offered when the sync engine runs).
    Index,
}

impl Toolset {
    /// Every area.
    pub const ALL: [Toolset; 5] = [
        Self::Discovery,
        Self::Read,
        Self::Write,
        Self::Governance,
        Self::Index,
    ];

    /// The router that defines this area's tools.
    pub fn router(self) -> ToolRouter<HubSpotMcp> {
        match self {
            Self::Discovery => HubSpotMcp::discovery_router(),
            Self::Read => HubSpotMcp::read_router(),
            Self::Write => HubSpotMcp::write_router(),
            Self::Governance => HubSpotMcp::governance_router(),
            Self::Index => HubSpotMcp::index_router(),
        }
    }

    /// Does a tool of this area change CRM data? (`--read-only` and a grant without any
    /// `.write` scope remove these.)
    pub fn writes(self) -> bool {
        match self {
            Self::Write | Self::Governance => true,
            Self::Discovery | Self::Read | Self::Index => false,
        }
    }

    /// The area whose router defines `tool`, if any does. The routers are read once per
    /// process (building one generates every schema in it).
    pub fn of(tool: &str) -> Option<Toolset> {
        static CLASSES: std::sync::OnceLock<std::collections::HashMap<String, Toolset>> =
            std::sync::OnceLock::new();
        CLASSES
            .get_or_init(|| {
                let mut classes = std::collections::HashMap::new();
                for area in Self::ALL {
                    for tool in area.router().list_all() {
                        classes.insert(tool.name.to_string(), area);
                    }
                }
                classes
            })
            .get(tool)
            .copied()
    }
}

/// What to offer.
#[derive(Debug, Clone, Default)]
pub struct ToolOptions {
    /// Only these toolsets (all when empty).
    pub toolsets: Vec<Toolset>,
    /// No write tools.
    pub read_only: bool,
    /// The OAuth scopes granted, when known: tools needing others are not offered.
    pub granted_scopes: Option<Vec<String>>,
    /// The handoff policy; `propose_action` is offered when it is enabled.
    pub handoff: crate::handoff::HandoffPolicy,
}

impl ToolOptions {
    /// Does this configuration offer `area`'s tools? `sync_runs` says whether the index exists.
    pub fn offers(&self, area: Toolset, sync_runs: bool) -> bool {
        let available = match area {
            Toolset::Discovery | Toolset::Read | Toolset::Write => true,
            Toolset::Governance => self.handoff.enabled,
            Toolset::Index => sync_runs,
        };
        let by_set = self.toolsets.is_empty() || self.toolsets.contains(&area);
        let by_mode = !(self.read_only && area.writes());
        let by_scope = !(area.writes()
            && self
                .granted_scopes
                .as_ref()
                .is_some_and(|s| !s.iter().any(|x| x.ends_with(".write"))));
        available && by_set && by_mode && by_scope
    }
}

/// The server.
#[derive(Clone)]
pub struct HubSpotMcp {
    pub(crate) client: HubSpotClient,
    tool_router: ToolRouter<Self>,
    prompts: Arc<PromptLibrary>,
    /// Every tool call and prompt fetch is recorded here when set.
    audit: Option<Arc<AuditLog>>,
    /// Refuse tool calls while the audit log cannot be written.
    audit_fail_closed: bool,
    /// The handoff policy `propose_action` applies.
    pub(crate) policy: Arc<crate::handoff::HandoffPolicy>,
    /// The semantic index, when sync runs.
    pub(crate) sync: Option<crate::sync::SyncEngine>,
    options: ToolOptions,
    /// The portal's UI domain and id, read once (links to records in handoff notes).
    pub(crate) account: Arc<tokio::sync::OnceCell<(String, u64)>>,
}

impl std::fmt::Debug for HubSpotMcp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubSpotMcp")
            .field("tools", &self.tool_router.list_all().len())
            .finish_non_exhaustive()
    }
}

const INSTRUCTIONS: &str = "HubSpot CRM tools. Start with list_object_types and describe_properties to learn exact property names and enumeration values, then search_objects or get_objects. Writes take batches of up to 100 records. Errors say what to fix; HubSpot failures carry a correlation id.";

impl HubSpotMcp {
    /// A server with every default tool and no credentials, for describing itself (schema
    /// export): it never reaches HubSpot.
    pub fn offline(settings: crate::hubspot::ClientSettings) -> Self {
        let creds = crate::hubspot::Credentials::Static(secrecy::SecretString::from(String::new()));
        Self::new(
            HubSpotClient::builder(settings, creds).build(),
            &ToolOptions::default(),
        )
    }

    /// A server over `client`, offering the tools `options` allow.
    pub fn new(client: HubSpotClient, options: &ToolOptions) -> Self {
        Self {
            client,
            tool_router: Self::offered(options, false),
            prompts: Arc::new(PromptLibrary::embedded()),
            audit: None,
            audit_fail_closed: true,
            policy: Arc::new(options.handoff.clone()),
            sync: None,
            options: options.clone(),
            account: Arc::default(),
        }
    }

    /// The routers of every area `options` offers.
    fn offered(options: &ToolOptions, sync_runs: bool) -> ToolRouter<Self> {
        let mut router = ToolRouter::new();
        for area in Toolset::ALL {
            if options.offers(area, sync_runs) {
                router.merge(area.router());
            }
        }
        router
    }

    /// Every tool of every area, whatever the options (for `schemas export`).
    pub fn with_every_tool(mut self) -> Self {
        let mut router = ToolRouter::new();
        for area in Toolset::ALL {
            router.merge(area.router());
        }
        self.tool_router = router;
        self
    }

    /// Adds the index toolset (`semantic_search`, `find_duplicates`) over a running engine.
    pub fn with_sync(mut self, engine: crate::sync::SyncEngine) -> Self {
        self.tool_router = Self::offered(&self.options, true);
        self.sync = Some(engine);
        self
    }

    /// The class (area) of a tool this server offers; `None` when it is not offered.
    pub fn class_of(&self, tool: &str) -> Option<Toolset> {
        if !self.tool_router.has_route(tool) {
            return None;
        }
        Toolset::of(tool)
    }

    /// The semantic index, when sync runs.
    pub fn sync(&self) -> Option<&crate::sync::SyncEngine> {
        self.sync.as_ref()
    }

    /// Records every tool call and prompt fetch in `log`; with `fail_closed`, calls are refused
    /// while the log cannot be written.
    pub fn with_audit(mut self, log: Arc<AuditLog>, fail_closed: bool) -> Self {
        self.audit = Some(log);
        self.audit_fail_closed = fail_closed;
        self
    }

    async fn record(&self, draft: AuditDraft) -> Result<(), rmcp::ErrorData> {
        let Some(log) = &self.audit else {
            return Ok(());
        };
        match crate::audit::append_blocking(log, draft).await {
            Ok(_) => Ok(()),
            Err(e) if self.audit_fail_closed => {
                Err(rmcp::ErrorData::internal_error(e.to_string(), None))
            }
            Err(e) => {
                tracing::error!(error = %e, "audit entry lost (audit.fail_closed is off)");
                Ok(())
            }
        }
    }

    /// The tools offered, as `tools/list` shows them: sorted, with schemas compacted (no
    /// `$schema` or titles, no non-standard integer formats, and output schemas without prose)
    /// so the whole surface fits a model's context cheaply.
    pub fn tools(&self) -> Vec<Tool> {
        let mut tools = self.tool_router.list_all();
        tools.sort_by(|a, b| a.name.cmp(&b.name));
        for t in &mut tools {
            let mut input = compact(&serde_json::Value::Object((*t.input_schema).clone()), true)
                .as_object()
                .cloned()
                .unwrap_or_default();
            self.gate_schema(&t.name, &mut input);
            t.input_schema = Arc::new(input);
            if let Some(out) = &t.output_schema {
                t.output_schema = Some(Arc::new(
                    compact(&serde_json::Value::Object((**out).clone()), false)
                        .as_object()
                        .cloned()
                        .unwrap_or_default(),
                ));
            }
        }
        tools
    }

    /// The HubSpot client.
    pub fn client(&self) -> &HubSpotClient {
        &self.client
    }
}

/// An argument the tool refused (a misspelled property, a value out of range, a missing gate
/// field) is a tool result with `isError: true` and the same message, so the model reads it
/// and corrects its call (MCP 2025-11-25, SEP-1303). A tool that is not offered stays a
/// protocol error (it is refused before this point).
impl HubSpotMcp {
    /// Runs a tool through its router. A panic inside it becomes an internal-error result
    /// (worded as our bug, never as HubSpot's failure, and logged) instead of a request that
    /// never answers; what its [`tools::ToolError`] left is returned for the audit log.
    async fn route(
        &self,
        tcc: rmcp::handler::server::tool::ToolCallContext<'_, Self>,
    ) -> (
        Result<rmcp::model::CallToolResponse, rmcp::ErrorData>,
        Option<tools::error::Failure>,
    ) {
        contain_panic(self.tool_router.call(tcc)).await
    }
}

/// Runs a tool's future, capturing its [`tools::error::Failure`] and turning a panic into
/// [`tools::ToolError::Internal`].
async fn contain_panic(
    fut: impl std::future::Future<Output = Result<rmcp::model::CallToolResponse, rmcp::ErrorData>>,
) -> (
    Result<rmcp::model::CallToolResponse, rmcp::ErrorData>,
    Option<tools::error::Failure>,
) {
    use futures::FutureExt;
    use rmcp::handler::server::tool::IntoCallToolResult;
    let (r, failure) =
        tools::error::capture(std::panic::AssertUnwindSafe(fut).catch_unwind()).await;
    match r {
        Ok(r) => (r, failure),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(panic = %what, "a tool panicked; answered as an internal error");
            let e = tools::ToolError::Internal(
                "the tool stopped on a bug in hubspot-mcp (a panic, logged on the server); what it had sent to HubSpot before is in the audit log's hubspot_calls".into(),
            );
            let f = e.failure();
            (e.into_call_tool_result(), Some(f))
        }
    }
}

fn arguments_refused_as_result(
    r: Result<rmcp::model::CallToolResponse, rmcp::ErrorData>,
) -> Result<rmcp::model::CallToolResponse, rmcp::ErrorData> {
    match r {
        Err(e) if e.code == rmcp::model::ErrorCode::INVALID_PARAMS => Ok(
            rmcp::model::CallToolResult::error(vec![rmcp::model::ContentBlock::text(format!(
                "invalid arguments: {}",
                e.message
            ))])
            .into(),
        ),
        other => other,
    }
}

/// Strips what a model does not need from a schema. The names of properties (and of
/// definitions) are data, not keywords: a property called `title` or `description` stays.
fn compact(v: &serde_json::Value, keep_descriptions: bool) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            let mut out = serde_json::Map::new();
            for (k, x) in m {
                if matches!(k.as_str(), "properties" | "$defs" | "definitions") {
                    if let Value::Object(named) = x {
                        let kept = named
                            .iter()
                            .map(|(name, s)| (name.clone(), compact(s, keep_descriptions)))
                            .collect();
                        out.insert(k.clone(), Value::Object(kept));
                        continue;
                    }
                }
                let drop = matches!(k.as_str(), "$schema" | "title")
                    || (k == "default" && (x.is_null() || x == &serde_json::json!([])))
                    // Unknown fields are still refused, with their name, when the call arrives.
                    || (k == "additionalProperties" && x == &serde_json::Value::Bool(false))
                    || (k == "description" && !keep_descriptions && x.is_string())
                    || (k == "format" && matches!(x.as_str(), Some("uint" | "uint8" | "uint16" | "uint32" | "uint64" | "int32" | "int64" | "float" | "double")))
                    || (k == "minimum" && x == &Value::from(0) && !keep_descriptions)
                    || (k == "required" && !keep_descriptions && x.is_array());
                if !drop {
                    out.insert(k.clone(), compact(x, keep_descriptions));
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| compact(x, keep_descriptions)).collect()),
        other => other.clone(),
    }
}

/// Runs `fut` until it ends or `ct` fires; then the future is dropped (its waits and requests
/// stop with it) and the caller gets an error that says so.
async fn until_cancelled<T>(
    ct: &tokio_util::sync::CancellationToken,
    fut: impl std::future::Future<Output = T>,
) -> Result<T, rmcp::ErrorData> {
    tokio::select! {
        biased;
        () = ct.cancelled() => Err(rmcp::ErrorData::internal_error(
            "the request was cancelled; its HubSpot work was stopped",
            None,
        )),
        r = fut => Ok(r),
    }
}

/// Who is calling, as the client says: the request's own `_meta` client info (2026-07-28
/// clients send it with every request), the session's `initialize`, or, over stateless HTTP
/// with an older client (where neither reaches this request; rmcp then fills in its own name),
/// the HTTP `User-Agent`, marked as such. Never the server library's placeholder.
fn caller(context: &RequestContext<RoleServer>) -> Option<String> {
    if let Some(i) = context.meta.client_info() {
        return Some(format!("{} {}", i.name, i.version));
    }
    if let Some(p) = context.peer.peer_info() {
        let placeholder = Implementation::default();
        if p.client_info.name != placeholder.name || p.client_info.version != placeholder.version {
            return Some(format!("{} {}", p.client_info.name, p.client_info.version));
        }
    }
    let agent = context
        .extensions
        .get::<axum::http::request::Parts>()
        .and_then(|p| p.headers.get(axum::http::header::USER_AGENT))
        .and_then(|v| v.to_str().ok());
    Some(match agent {
        Some(ua) => format!("unnamed client (user-agent {ua})"),
        None => "unnamed client".into(),
    })
}

fn invalid_params(msg: impl Into<String>) -> rmcp::ErrorData {
    rmcp::ErrorData::invalid_params(msg.into(), None)
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for HubSpotMcp {
    fn get_info(&self) -> ServerConfig {
        let caps = ServerCapabilities::builder()
            .enable_logging()
            .enable_prompts()
            .enable_resources()
            .enable_tools()
            .build();
        ServerConfig::new(caps)
            .with_server_info(Implementation::new(
                "hubspot-mcp",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(INSTRUCTIONS)
    }

    async fn call_tool(
        &self,
        mut request: rmcp::model::CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::CallToolResponse, rmcp::ErrorData> {
        let started = std::time::Instant::now();
        // A tool that is not offered is refused before the gate or any HubSpot call: what is
        // not listed cannot be called.
        if self.class_of(&request.name).is_none() {
            let message = format!(
                "tool \"{}\" is not offered by this server (unknown, or removed by --read-only, --toolsets or the granted scopes); tools/list shows what is",
                request.name.escape_default()
            );
            // A refused attempt is part of the record too (a write tried in --read-only).
            self.record(AuditDraft {
                kind: "tool_call".into(),
                client: caller(&context),
                tool: Some(request.name.to_string()),
                arguments: serde_json::Value::Object(request.arguments.clone().unwrap_or_default()),
                outcome: "refused: not offered".into(),
                latency_us: started.elapsed().as_micros() as u64,
                ..Default::default()
            })
            .await?;
            return Err(rmcp::ErrorData::invalid_params(message, None));
        }
        let arguments = serde_json::Value::Object(request.arguments.clone().unwrap_or_default());
        let calls = Arc::new(crate::audit::CallLog::default());
        // The write gate, when writes are gated: it may answer instead of the tool.
        let mut gate_path = Vec::new();
        let mut gate_rationale = None;
        let mut gate_decision = None;
        let mut gated = None;
        // A cancelled request (`notifications/cancelled`, a closed connection, the HTTP
        // timeout) drops the tool's future: its rate-limiter wait and HubSpot requests stop.
        let ct = context.ct.clone();
        if let Some(action) = self.gated_action(&request.name) {
            let verdict = until_cancelled(
                &ct,
                crate::hubspot::observe::observed(calls.clone(), async {
                    use futures::FutureExt;
                    // A bug in the gate is answered as ours, like a tool's (never a hang).
                    match std::panic::AssertUnwindSafe(self.gate_write(&action, &mut request, &context))
                        .catch_unwind()
                        .await
                    {
                        Ok(verdict) => verdict,
                        Err(_) => {
                            tracing::error!("the write gate panicked; answered as an internal error");
                            Err(rmcp::ErrorData::internal_error(
                                "internal error in hubspot-mcp's write gate (a bug, logged on the server); nothing was written",
                                None,
                            ))
                        }
                    }
                }),
            )
            .await
            .and_then(|v| v);
            match verdict {
                Ok(gate::Gate::Proceed { path, rationale }) => {
                    gate_path = path;
                    gate_rationale = Some(rationale);
                }
                Ok(gate::Gate::Stop {
                    path,
                    rationale,
                    decision,
                    response,
                }) => {
                    gate_path = path;
                    gate_rationale = Some(rationale);
                    gate_decision = Some(decision);
                    gated = Some(Ok(response));
                }
                Err(e) => gated = Some(Err(e)),
            }
        }
        let Some(log) = &self.audit else {
            if let Some(r) = gated {
                return arguments_refused_as_result(r);
            }
            let tcc = rmcp::handler::server::tool::ToolCallContext::new(self, request, context);
            return arguments_refused_as_result(
                until_cancelled(&ct, self.route(tcc))
                    .await
                    .and_then(|(r, _)| r),
            );
        };
        if self.audit_fail_closed && !log.healthy() {
            return Err(rmcp::ErrorData::internal_error(format!("the audit log at {} could not be written, so tool calls are refused until it can (audit.fail_closed)", log.path().display()), None));
        }
        let client = caller(&context);
        let request_id = serde_json::to_value(&context.id)
            .ok()
            .map(|v| v.to_string());
        let tool = request.name.to_string();
        let (result, failure) = match gated {
            Some(r) => (r, None),
            None => {
                let tcc = rmcp::handler::server::tool::ToolCallContext::new(self, request, context);
                match until_cancelled(
                    &ct,
                    crate::hubspot::observe::observed(calls.clone(), self.route(tcc)),
                )
                .await
                {
                    Ok((r, failure)) => (r, failure),
                    Err(e) => (Err(e), None),
                }
            }
        };
        // The records a result names (search hits, written records, a handoff's context):
        // taken from error results too, since a partly refused write still wrote some.
        let named = |r: &rmcp::model::CallToolResult| -> Vec<serde_json::Value> {
            r.structured_content
                .as_ref()
                .and_then(|v| {
                    v["results"]
                        .as_array()
                        .or_else(|| v.pointer("/handoff/retrieved").and_then(|r| r.as_array()))
                })
                .map(|a| {
                    a.iter()
                        .filter_map(|x| {
                            let mut r = serde_json::json!({"id": x.get("id")?.clone()});
                            if let Some(v) = x.get("objectType") {
                                r["objectType"] = v.clone();
                            }
                            // Audit entries hold integers only (floats do not
                            // round-trip exactly through the hash chain).
                            if let Some(s) = x.get("score").and_then(|v| v.as_f64()) {
                                r["scoreMilli"] = serde_json::json!((s * 1000.0).round() as i64);
                            }
                            Some(r)
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        // The outcome comes from the types: the gate's decision, the tool's `ToolError` (its
        // kind, HubSpot's status), or the JSON-RPC error code; the text only follows it.
        let (outcome, retrieved) = match &result {
            Ok(rmcp::model::CallToolResponse::Complete(r)) if r.is_error == Some(true) => {
                let text = r
                    .content
                    .first()
                    .and_then(|c| c.as_text())
                    .map(|t| t.text.clone())
                    .unwrap_or_default();
                let outcome = match (&failure, gate_decision) {
                    (Some(f), _) => f.outcome(&text),
                    (None, Some(decision)) => format!("{decision}: {text}"),
                    (None, None) => format!("error: {text}"),
                };
                (outcome, named(r))
            }
            Ok(rmcp::model::CallToolResponse::Complete(r)) => ("ok".to_string(), named(r)),
            Ok(_) => ("pending".to_string(), Vec::new()),
            Err(e) if e.code == rmcp::model::ErrorCode::INVALID_PARAMS => {
                (format!("invalid: {}", e.message), Vec::new())
            }
            Err(e) => (format!("failed: {}", e.message), Vec::new()),
        };
        let mut decision_path = gate_path;
        decision_path.extend(match &result {
            Ok(rmcp::model::CallToolResponse::Complete(r)) => r
                .structured_content
                .as_ref()
                .and_then(|v| v["decisionPath"].as_array().cloned())
                .unwrap_or_default(),
            _ => Vec::new(),
        });
        let prompt = gate_rationale.or_else(|| {
            arguments
                .get("rationale")
                .or_else(|| arguments.get("prompt"))
                .and_then(|v| v.as_str())
                .map(str::to_string)
        });
        let hubspot_calls = calls.calls();
        self.record(AuditDraft {
            kind: "tool_call".into(),
            client,
            request: request_id,
            tool: Some(tool),
            arguments,
            prompt,
            retrieved,
            decision_path,
            hubspot_calls,
            outcome,
            latency_us: started.elapsed().as_micros() as u64,
        })
        .await?;
        arguments_refused_as_result(result)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListToolsResult, rmcp::ErrorData> {
        Ok(rmcp::model::ListToolsResult::with_all_items(self.tools()))
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), rmcp::ErrorData> {
        tracing::info!(level = ?request.level, "client set the log level");
        Ok(())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, rmcp::ErrorData> {
        let prompts = self
            .prompts
            .all()
            .iter()
            .map(|p| {
                let args = p
                    .arguments
                    .iter()
                    .map(|a| {
                        PromptArgument::new(&a.name)
                            .with_description(&a.description)
                            .with_required(a.required)
                    })
                    .collect();
                Prompt::new(&p.name, Some(&p.description), Some(args))
            })
            .collect();
        Ok(ListPromptsResult::with_all_items(prompts))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, rmcp::ErrorData> {
        let args: BTreeMap<String, String> = request
            .arguments
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_string)))
            .collect();
        let rendered = self.prompts.render(&request.name, &args);
        self.record(AuditDraft {
            kind: "prompt_get".into(),
            client: caller(&_context),
            tool: Some(request.name.clone()),
            arguments: serde_json::to_value(&args).unwrap_or_default(),
            prompt: rendered.as_ref().ok().map(|(_, body)| body.clone()),
            outcome: rendered
                .as_ref()
                .map_or_else(|e| format!("invalid: {e}"), |_| "ok".into()),
            ..Default::default()
        })
        .await?;
        let (description, body) = rendered.map_err(|e| invalid_params(e.to_string()))?;
        Ok(
            GetPromptResult::new(vec![PromptMessage::new_text(Role::User, body)])
                .with_description(description)
                .into(),
        )
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, rmcp::ErrorData> {
        let mut names: Vec<String> = crate::objects::STANDARD_OBJECTS
            .iter()
            .map(|o| o.name.to_string())
            .collect();
        if let Ok(s) = self.client.schemas().await {
            names.extend(s.into_iter().map(|x| x.name));
        }
        let resources = names
            .into_iter()
            .map(|n| {
                Resource::new(format!("hubspot://schemas/{n}"), format!("{n} schema"))
                    .with_description(format!(
                        "JSON Schema of {n} records, from this portal's property definitions"
                    ))
                    .with_mime_type("application/schema+json")
            })
            .collect();
        Ok(ListResourcesResult::with_all_items(resources))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, rmcp::ErrorData> {
        let t = ResourceTemplate::new("hubspot://schemas/{objectType}", "object schema")
            .with_description(
                "JSON Schema of one object type's records, generated from the portal's properties",
            )
            .with_mime_type("application/schema+json");
        Ok(ListResourceTemplatesResult::with_all_items(vec![t]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, rmcp::ErrorData> {
        let Some(t) = request.uri.strip_prefix("hubspot://schemas/") else {
            return Err(rmcp::ErrorData::resource_not_found(
                format!(
                    "unknown resource {}; resources are hubspot://schemas/{{objectType}}",
                    request.uri
                ),
                None,
            ));
        };
        let name = self
            .object_type(t)
            .await
            .map_err(tools::ToolError::into_error_data)?;
        let props = self
            .client
            .properties(&name)
            .await
            .map_err(|e| rmcp::ErrorData::internal_error(e.to_string(), None))?;
        let schema = schemas::object_schema(t, &props);
        let text = serde_json::to_string_pretty(&schema).unwrap_or_default();
        Ok(
            ReadResourceResult::new(vec![ResourceContents::text(text, request.uri.clone())
                .with_mime_type("application/schema+json")])
            .into(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_tool_is_an_internal_error_result_not_a_hang() {
        let (r, failure) = contain_panic(async {
            if std::hint::black_box(true) {
                panic!("index out of bounds");
            }
            Ok(rmcp::model::CallToolResult::success(vec![]).into())
        })
        .await;
        let Ok(rmcp::model::CallToolResponse::Complete(r)) = r else {
            panic!("expected a tool result");
        };
        assert_eq!(r.is_error, Some(true));
        let text = &r.content[0].as_text().unwrap().text;
        assert!(text.contains("bug in hubspot-mcp"), "{text}");
        assert!(!text.contains("HubSpot answered"), "{text}");
        assert!(!text.contains("index out of bounds"), "{text}");
        assert_eq!(failure.unwrap().kind, tools::error::ErrorKind::Internal);
    }
}
