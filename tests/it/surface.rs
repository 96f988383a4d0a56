//! The tool surface as declared: every tool's class, and `--read-only`, `--toolsets` and the
//! granted scopes applied to listing *and* calling. A tool that is not listed cannot be
//! called, and a refused call reaches neither the write gate nor HubSpot.
//!
//! Also the hostile ids of the write tools: a crafted id never becomes a HubSpot path.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use hubspot_mcp::handoff::HandoffPolicy;
use hubspot_mcp::hubspot::client::ClientSettings;
use hubspot_mcp::hubspot::{Credentials, HubSpotClient};
use hubspot_mcp::mcp::http::HttpOptions;
use hubspot_mcp::mcp::{HubSpotMcp, ToolOptions, Toolset};
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::support::{small, spawn};

/// Every tool and its class, written out: a new tool has to be placed here on purpose.
const CATALOG: &[(&str, Toolset)] = &[
    ("archive_objects", Toolset::Governance),
    ("associate_objects", Toolset::Write),
    ("create_objects", Toolset::Write),
    ("describe_properties", Toolset::Discovery),
    ("find_duplicates", Toolset::Index),
    ("get_associations", Toolset::Read),
    ("get_objects", Toolset::Read),
    ("list_object_types", Toolset::Discovery),
    ("list_owners", Toolset::Discovery),
    ("list_pipelines", Toolset::Discovery),
    ("propose_action", Toolset::Governance),
    ("search_objects", Toolset::Read),
    ("semantic_search", Toolset::Index),
    ("update_objects", Toolset::Write),
    ("upsert_objects", Toolset::Write),
];

fn client(base_url: String, token: &str) -> HubSpotClient {
    HubSpotClient::builder(
        ClientSettings {
            base_url,
            ..Default::default()
        },
        Credentials::Static(SecretString::from(token.to_string())),
    )
    .build()
}

fn first_ticket(sb: &hubspot_sandbox::Sandbox) -> u64 {
    *sb.shared()
        .store
        .read()
        .records_of("0-5")
        .keys()
        .next()
        .expect("a seeded ticket")
}

#[test]
fn every_tool_has_exactly_one_declared_class_and_honest_annotations() {
    let all = HubSpotMcp::new(
        client("http://127.0.0.1:9".into(), ""),
        &ToolOptions::default(),
    )
    .with_every_tool()
    .tools();
    let declared: BTreeMap<String, Toolset> = all
        .iter()
        .map(|t| (t.name.to_string(), Toolset::of(&t.name).expect("declared")))
        .collect();
    let expected: BTreeMap<String, Toolset> = CATALOG
        .iter()
        .map(|(n, c)| ((*n).to_string(), *c))
        .collect();
    assert_eq!(declared, expected);
    // Each tool is defined by exactly one area's router.
    for (name, _) in CATALOG {
        let areas: Vec<Toolset> = Toolset::ALL
            .into_iter()
            .filter(|a| a.router().has_route(name))
            .collect();
        assert_eq!(areas.len(), 1, "{name} is in {areas:?}");
    }
    for t in &all {
        let class = declared[t.name.as_ref()];
        let a = t.annotations.as_ref().expect("annotated");
        assert_eq!(a.read_only_hint, Some(!class.writes()), "{}", t.name);
    }
    assert_eq!(Toolset::of("no_such_tool"), None, "no default class");
}

/// A server on the sandbox, with the handoff policy on (so `propose_action` exists) and
/// `options` applied.
async fn serve(
    sb: &hubspot_sandbox::Sandbox,
    options: ToolOptions,
) -> (String, tokio_util::sync::CancellationToken) {
    let server = HubSpotMcp::new(client(sb.base_url(), sb.token()), &options);
    let opts = HttpOptions::loopback(SocketAddr::from(([127, 0, 0, 1], 0)));
    let (addr, cancel) = crate::support::serve_mcp(server, opts).await;
    (format!("http://{addr}/mcp"), cancel)
}

async fn rpc(url: &str, method: &str, params: Value) -> Value {
    let res = reqwest::Client::new()
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
        .send()
        .await
        .unwrap();
    let text = res.text().await.unwrap();
    serde_json::from_str(text.trim_start_matches("data: ")).unwrap_or_else(|_| panic!("{text}"))
}

/// Arguments that would do real work if the call were let through: a low-confidence update
/// (which the gate would hand off, writing a note and a task), a proposal, a create.
fn arguments_for(tool: &str, ticket: &str) -> Value {
    match tool {
        "propose_action" => json!({"action": "update", "objectType": "tickets", "id": ticket,
            "properties": {"hs_ticket_priority": "HIGH"}, "confidence": 0.1, "rationale": "r"}),
        "update_objects" | "upsert_objects" => {
            json!({"objectType": "tickets", "idProperty": "hs_object_id",
            "records": [{"id": ticket, "properties": {"hs_ticket_priority": "HIGH"}}],
            "confidence": 0.1, "rationale": "r"})
        }
        "create_objects" => {
            json!({"objectType": "tickets", "records": [{"properties": {"subject": "x"}}],
            "confidence": 0.99, "rationale": "r"})
        }
        "associate_objects" => {
            json!({"objectType": "tickets", "id": ticket, "toObjectType": "contacts", "toId": "1",
            "confidence": 0.99, "rationale": "r"})
        }
        _ => json!({"objectType": "tickets"}),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_toolsets_and_scopes_hold_for_listing_and_calling() {
    let sb = spawn(small()).await;
    let ticket = first_ticket(&sb).to_string();
    let gated = HandoffPolicy {
        enabled: true,
        ..Default::default()
    };
    let cases: Vec<(&str, ToolOptions)> = vec![
        (
            "--read-only",
            ToolOptions {
                read_only: true,
                handoff: gated.clone(),
                ..Default::default()
            },
        ),
        (
            "--toolsets discovery,read",
            ToolOptions {
                toolsets: vec![Toolset::Discovery, Toolset::Read],
                handoff: gated.clone(),
                ..Default::default()
            },
        ),
        (
            "read scopes only",
            ToolOptions {
                granted_scopes: Some(vec!["crm.objects.tickets.read".into()]),
                handoff: gated.clone(),
                ..Default::default()
            },
        ),
        (
            "--toolsets write",
            ToolOptions {
                toolsets: vec![Toolset::Write],
                handoff: gated.clone(),
                ..Default::default()
            },
        ),
    ];
    for (label, options) in cases {
        let (url, cancel) = serve(&sb, options.clone()).await;
        let listed: Vec<String> = rpc(&url, "tools/list", json!({})).await["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect();
        for (name, class) in CATALOG {
            let expected = options.offers(*class, false);
            assert_eq!(
                listed.contains(&(*name).to_string()),
                expected,
                "{label}: {name} ({class:?}) listed? {listed:?}"
            );
            if expected {
                continue;
            }
            sb.clear_log();
            let reply = rpc(
                &url,
                "tools/call",
                json!({"name": name, "arguments": arguments_for(name, &ticket)}),
            )
            .await;
            assert!(
                reply["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("not offered")),
                "{label}: calling hidden {name} must be refused: {reply}"
            );
            let seen = sb.log_entries();
            assert!(
                seen.is_empty(),
                "{label}: the refused {name} call still reached HubSpot: {:?}",
                seen.iter()
                    .map(|e| format!("{} {}", e.method, e.path))
                    .collect::<Vec<_>>()
            );
        }
        cancel.cancel();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crafted_ids_never_become_hubspot_paths() {
    let sb = spawn(small()).await;
    let ticket = first_ticket(&sb);
    let (url, cancel) = serve(&sb, ToolOptions::default()).await;
    // Warm the metadata cache so the only requests left are the ones the ids would cause.
    rpc(
        &url,
        "tools/call",
        json!({"name": "list_object_types", "arguments": {}}),
    )
    .await;
    for crafted in [
        format!("../../../../crm/v3/objects/tickets/{ticket}?"),
        format!("%2e%2e/%2e%2e/%2e%2e/%2e%2e/crm/v3/objects/tickets/{ticket}"),
        "1/../../../../account-info/v3/details#".to_string(),
        "1?archived=true".to_string(),
        "1\r\nX-Injected: 1".to_string(),
    ] {
        for (id, to_id) in [(crafted.as_str(), "1"), ("1", crafted.as_str())] {
            sb.clear_log();
            let reply = rpc(
                &url,
                "tools/call",
                json!({"name": "associate_objects", "arguments": {
                    "objectType": "contacts", "id": id, "toObjectType": "companies", "toId": to_id}}),
            )
            .await;
            let msg = crate::support::refusal(&reply);
            assert!(
                msg.contains("is not a HubSpot record id"),
                "{crafted:?} must be refused as an id: {reply}"
            );
            let sent: Vec<String> = sb
                .log_entries()
                .into_iter()
                .filter(|e| e.method != "GET")
                .map(|e| format!("{} {}", e.method, e.path))
                .collect();
            assert!(sent.is_empty(), "{crafted:?} reached HubSpot: {sent:?}");
        }
    }
    cancel.cancel();
}

/// A refused call is recorded too: a write attempted against a `--read-only` server leaves an
/// audit entry that names the tool and says it was refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_calls_are_audited() {
    let sb = spawn(small()).await;
    let path = std::env::temp_dir().join(format!("surface-audit-{}.jsonl", uuid::Uuid::new_v4()));
    let log = hubspot_mcp::audit::AuditLog::open(
        hubspot_mcp::audit::LogFiles::beside(&path),
        &hubspot_mcp::audit::AuditConfig {
            sync: false,
            ..Default::default()
        },
        hubspot_mcp::audit::Redactor::new(vec![sb.token().to_string()], false),
    )
    .unwrap();
    let options = ToolOptions {
        read_only: true,
        ..Default::default()
    };
    let server = HubSpotMcp::new(client(sb.base_url(), sb.token()), &options)
        .with_audit(std::sync::Arc::new(log), true);
    let opts = HttpOptions::loopback(SocketAddr::from(([127, 0, 0, 1], 0)));
    let (addr, cancel) = crate::support::serve_mcp(server, opts).await;
    let url = format!("http://{addr}/mcp");
    let reply = rpc(
        &url,
        "tools/call",
        json!({"name": "update_objects", "arguments": {"objectType": "tickets", "records": []}}),
    )
    .await;
    assert!(reply["error"].is_object(), "{reply}");
    let entries = hubspot_mcp::audit::read_tail(&path, 10).unwrap();
    let e = entries.last().expect("an entry for the refused call");
    assert_eq!(e.draft.tool.as_deref(), Some("update_objects"));
    assert_eq!(e.draft.outcome, "refused: not offered");
    cancel.cancel();
}
