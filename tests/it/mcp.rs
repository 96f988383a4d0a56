//! The MCP server in-process: the tool surface, the schema drift check, and the HTTP
//! endpoint's security (tokens, Host, Origin, body limit, health).

use std::net::SocketAddr;

use hubspot_mcp::hubspot::client::ClientSettings;
use hubspot_mcp::hubspot::{Credentials, HubSpotClient};
use hubspot_mcp::mcp::http::HttpOptions;
use hubspot_mcp::mcp::{HubSpotMcp, ToolOptions, Toolset};
use secrecy::SecretString;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

fn offline_server(options: &ToolOptions) -> HubSpotMcp {
    let client = HubSpotClient::builder(
        ClientSettings::default(),
        Credentials::Static(SecretString::from(String::new())),
    )
    .build();
    HubSpotMcp::new(client, options)
}

#[test]
fn schemas_dir_matches_the_code() {
    let server = offline_server(&ToolOptions::default());
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let mut expected = std::collections::BTreeSet::new();
    for (name, def) in hubspot_mcp::mcp::schemas::all_files(&server) {
        let path = dir.join(&name);
        let on_disk: Value = serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|_| {
            panic!(
                "{} is missing: run `hubspot-mcp schemas export`",
                path.display()
            )
        }))
        .unwrap();
        assert_eq!(
            on_disk,
            def,
            "{} drifted from the code: run `cargo run -- schemas export` and commit schemas/",
            path.display()
        );
        expected.insert(name);
    }
    let present: std::collections::BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    assert_eq!(
        present, expected,
        "schemas/ holds files for tools that no longer exist"
    );
}

#[test]
fn the_default_surface_is_small_annotated_and_under_14_5_kb() {
    let tools = offline_server(&ToolOptions::default()).tools();
    assert!(tools.len() <= 15, "{} tools", tools.len());
    let bytes = serde_json::to_vec(&tools).unwrap().len();
    println!("tool definitions: {bytes} bytes");
    assert!(bytes <= 14_500, "tool definitions take {bytes} bytes");
    for t in &tools {
        let a = t.annotations.as_ref().expect("every tool is annotated");
        let class = Toolset::of(&t.name).expect("every tool is defined by an area's router");
        assert_eq!(a.read_only_hint, Some(!class.writes()), "{}", t.name);
        assert!(t.output_schema.is_some(), "{} has an output schema", t.name);
        assert!(
            t.description.as_ref().is_some_and(|d| d.len() > 40),
            "{} says what it does",
            t.name
        );
    }
    let update = tools.iter().find(|t| t.name == "update_objects").unwrap();
    assert_eq!(
        update.annotations.as_ref().unwrap().destructive_hint,
        Some(true)
    );
}

#[test]
fn read_only_toolsets_and_scopes_shrink_the_surface() {
    let names = |o: &ToolOptions| {
        offline_server(o)
            .tools()
            .into_iter()
            .map(|t| t.name.to_string())
            .collect::<Vec<_>>()
    };
    let ro = names(&ToolOptions {
        read_only: true,
        ..Default::default()
    });
    assert!(!ro.iter().any(|n| n.contains("create")
        || n.contains("update")
        || n.contains("upsert")
        || n.contains("associate_")));
    let disc = names(&ToolOptions {
        toolsets: vec![Toolset::Discovery],
        ..Default::default()
    });
    assert_eq!(
        disc,
        [
            "describe_properties",
            "list_object_types",
            "list_owners",
            "list_pipelines"
        ]
    );
    let scoped = names(&ToolOptions {
        granted_scopes: Some(vec!["crm.objects.contacts.read".into()]),
        ..Default::default()
    });
    assert_eq!(
        scoped.len(),
        7,
        "no write scope, no write tools: {scoped:?}"
    );
}

/// The app over HTTP with bearer `token` (64 KiB bodies), audited when `audited`: the MCP
/// endpoint's base URL and the token that stops it.
async fn http_server(token: &'static str) -> (crate::support::TestApp, String, CancellationToken) {
    http_server_audited(token, false).await
}

async fn http_server_audited(
    token: &'static str,
    audited: bool,
) -> (crate::support::TestApp, String, CancellationToken) {
    let mut http = HttpOptions::loopback(SocketAddr::from(([127, 0, 0, 1], 0)));
    http.max_body_bytes = 64 * 1024;
    let app = crate::support::spawn_app(crate::support::TestOptions {
        http_token: Some(token),
        http: Some(http),
        audit: audited,
        ..Default::default()
    })
    .await;
    let url = app.mcp_url().trim_end_matches("/mcp").to_string();
    let cancel = app.cancel();
    (app, url, cancel)
}

fn rpc(method: &str, id: u64, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Value,
) -> (u16, String) {
    let mut req = http
        .post(format!("{url}/mcp"))
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_callers_need_a_token_and_a_local_host_and_origin() {
    let (_app, url, cancel) = http_server("s3cret").await;
    let http = reqwest::Client::new();
    let init = rpc(
        "initialize",
        1,
        json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
    );
    let (s, body) = post(&http, &url, None, &[], init.clone()).await;
    assert_eq!(s, 401, "{body}");
    assert!(body.contains("Bearer"));
    assert_eq!(
        post(&http, &url, Some("wrong"), &[], init.clone()).await.0,
        401
    );
    let (s, body) = post(&http, &url, Some("s3cret"), &[], init.clone()).await;
    assert_eq!(s, 200, "{body}");
    assert!(body.contains("hubspot-mcp"));
    assert_eq!(
        post(
            &http,
            &url,
            Some("s3cret"),
            &[("host", "evil.example")],
            init.clone()
        )
        .await
        .0,
        403,
        "DNS rebinding"
    );
    assert_eq!(
        post(
            &http,
            &url,
            Some("s3cret"),
            &[("origin", "https://evil.example")],
            init.clone()
        )
        .await
        .0,
        403
    );
    assert_eq!(
        post(
            &http,
            &url,
            Some("s3cret"),
            &[("origin", "http://localhost:3000")],
            init.clone()
        )
        .await
        .0,
        200
    );
    let big = json!({"jsonrpc": "2.0", "id": 2, "method": "ping", "params": {"pad": "x".repeat(100_000)}});
    assert_eq!(
        post(&http, &url, Some("s3cret"), &[], big).await.0,
        413,
        "body limit"
    );
    assert_eq!(
        http.get(format!("{url}/healthz"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        http.get(format!("{url}/readyz"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    assert!(
        http.get(format!("{url}/healthz"))
            .send()
            .await
            .unwrap()
            .headers()
            .get("access-control-allow-origin")
            .is_none(),
        "no CORS"
    );
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hubspot_failures_are_tool_errors_with_the_correlation_id() {
    use hubspot_sandbox::faults::{FaultKind, FaultSpec};
    let (app, url, cancel) = http_server("t").await;
    let sb = app.sb();
    let http = reqwest::Client::new();
    post(&http, &url, Some("t"), &[], rpc("initialize", 1, json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}))).await;
    // Warm the metadata cache, then make search fail for good.
    let call = rpc(
        "tools/call",
        2,
        json!({"name": "search_objects", "arguments": {"objectType": "contacts", "limit": 1}}),
    );
    let (s, body) = post(&http, &url, Some("t"), &[], call.clone()).await;
    assert_eq!(s, 200, "{body}");
    sb.inject(FaultSpec::new(FaultKind::Status { status: 400 }).on("*/search"));
    let (_, body) = post(&http, &url, Some("t"), &[], call).await;
    let v: Value = serde_json::from_str(body.trim_start_matches("data: "))
        .unwrap_or_else(|_| panic!("{body}"));
    assert_eq!(v["result"]["isError"], true, "{v}");
    let text = v["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("correlation id"), "{text}");
    assert!(text.contains("Fix the request"), "says what to do: {text}");
    cancel.cancel();
}

/// Broken once: HubSpot's own refusal of a write came back with `isError: false` and its
/// JSON escaped inside a string.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hubspot_write_rejections_are_errors_with_per_property_detail() {
    let (app, url, cancel) = http_server("t").await;
    let sb = app.sb();
    let http = reqwest::Client::new();
    let records = json!([
        {"properties": {"email": "fine@rejection.test", "firstname": "Fine"}},
        {"properties": {"email": "owner@rejection.test", "hubspot_owner_id": "999999"}}
    ]);
    let (_, body) = post(&http, &url, Some("t"), &[], rpc("tools/call", 2, json!({"name": "create_objects", "arguments": {"objectType": "contacts", "records": records}}))).await;
    let v: Value = serde_json::from_str(body.trim_start_matches("data: "))
        .unwrap_or_else(|_| panic!("{body}"));
    let text = crate::support::refusal(&v);
    assert!(
        !text.contains("isValid") && !text.contains("\\\""),
        "no JSON in the text: {text}"
    );
    assert!(text.contains("hubspot_owner_id"), "{text}");
    let errors = &v["result"]["structuredContent"]["errors"];
    let field = errors
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["fields"].as_array().cloned().unwrap_or_default())
        .find(|f| f["property"] == "hubspot_owner_id")
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(field["code"], "INVALID_OWNER_ID", "{v}");
    assert!(!field["message"].as_str().unwrap().is_empty());
    // What HubSpot holds agrees with the answer: what was reported written exists, the
    // refused record does not.
    let store = sb.shared().store.read();
    let emails: Vec<String> = store
        .records_of("0-1")
        .values()
        .filter_map(|r| r.props.get("email").cloned())
        .collect();
    drop(store);
    assert!(!emails.iter().any(|e| e == "owner@rejection.test"));
    let written = v["result"]["structuredContent"]["results"]
        .as_array()
        .unwrap();
    assert_eq!(
        written.is_empty(),
        !emails.iter().any(|e| e == "fine@rejection.test"),
        "{v}"
    );
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_and_labelled_associations_go_through_the_tools() {
    let (app, url, cancel) = http_server("t").await;
    let sb = app.sb();
    let http = reqwest::Client::new();
    let call = |id: u64, name: &str, args: Value| {
        rpc("tools/call", id, json!({"name": name, "arguments": args}))
    };
    let parse = |body: String| -> Value {
        serde_json::from_str(body.trim_start_matches("data: ")).unwrap_or_else(|_| panic!("{body}"))
    };
    post(&http, &url, Some("t"), &[], rpc("initialize", 1, json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}))).await;
    let created = parse(post(&http, &url, Some("t"), &[], call(2, "create_objects", json!({"objectType": "contacts", "records": [{"properties": {"email": "mcp@x.io", "vip": true}}]}))).await.1);
    let id = created["result"]["structuredContent"]["results"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"))
        .to_string();
    assert_eq!(
        created["result"]["structuredContent"]["results"][0]["properties"]["email"],
        "mcp@x.io"
    );
    // Enum values are checked before HubSpot is called, with the exact value to use.
    let bad = parse(post(&http, &url, Some("t"), &[], call(3, "update_objects", json!({"objectType": "contacts", "records": [{"id": id, "properties": {"customer_tier": "Gold"}}]}))).await.1);
    assert!(
        crate::support::refusal(&bad).contains("use the value \"gold\""),
        "{bad}"
    );
    // A labelled association (Primary, type 1) and a type that does not exist.
    let ok = parse(post(&http, &url, Some("t"), &[], call(4, "associate_objects", json!({"objectType": "contacts", "id": id, "toObjectType": "companies", "toId": 10000001, "associationTypeId": 1}))).await.1);
    assert_eq!(
        ok["result"]["structuredContent"]["associated"], true,
        "{ok}"
    );
    let store = sb.shared().store.read();
    let types = store.associations("0-1", id.parse().unwrap(), "0-2");
    assert_eq!(types[0].1[0].type_id, 1);
    let label = store
        .assoc_def("0-1", "0-2", 1)
        .and_then(|d| d.label.clone())
        .expect("type 1 is labelled in the sandbox");
    drop(store);
    // get_associations returns the association's label and lists the labels defined.
    let got = parse(
        post(
            &http,
            &url,
            Some("t"),
            &[],
            call(
                6,
                "get_associations",
                json!({"objectType": "contacts", "ids": [id], "toObjectType": "companies"}),
            ),
        )
        .await
        .1,
    );
    let out = &got["result"]["structuredContent"];
    assert!(
        out["labels"][&id]["10000001"]
            .as_array()
            .is_some_and(|l| l.contains(&json!(label))),
        "{got}"
    );
    assert_eq!(out["definedLabels"]["1"], json!(label), "{got}");
    let wrong = parse(post(&http, &url, Some("t"), &[], call(5, "associate_objects", json!({"objectType": "contacts", "id": id, "toObjectType": "companies", "toId": 10000001, "associationTypeId": 99999}))).await.1);
    assert!(
        crate::support::refusal(&wrong).contains("does not exist"),
        "{wrong}"
    );
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tool_call_and_prompt_is_audited_with_correlation_ids_and_no_secrets() {
    let token = "http-bearer-secret-123";
    let (app, url, cancel) = http_server_audited(token, true).await;
    let (sb, path) = (app.sb(), app.audit.clone());
    let http = reqwest::Client::new();
    post(&http, &url, Some(token), &[], rpc("initialize", 1, json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "audit-test", "version": "9"}}))).await;
    let search = rpc(
        "tools/call",
        2,
        json!({"name": "search_objects", "arguments": {"objectType": "tickets", "limit": 3, "properties": ["subject"]}}),
    );
    assert_eq!(post(&http, &url, Some(token), &[], search).await.0, 200);
    let bad = rpc(
        "tools/call",
        3,
        json!({"name": "search_objects", "arguments": {"objectType": "tickets", "filters": [{"property": "nope", "operator": "EQ", "value": "x"}]}}),
    );
    post(&http, &url, Some(token), &[], bad).await;
    let prompt = rpc(
        "prompts/get",
        4,
        json!({"name": "triage_ticket", "arguments": {"ticket_id": format!("contains {}", sb.token())}}),
    );
    assert_eq!(post(&http, &url, Some(token), &[], prompt).await.0, 200);
    cancel.cancel();

    assert_eq!(
        hubspot_mcp::audit::verify(
            &hubspot_mcp::audit::LogFiles::beside(&path),
            &Default::default()
        )
        .problem,
        None
    );
    let entries = hubspot_mcp::audit::read_all(&path).unwrap();
    let kinds: Vec<&str> = entries.iter().map(|e| e.draft.kind.as_str()).collect();
    assert_eq!(kinds, ["tool_call", "tool_call", "prompt_get"]);
    let first = &entries[0].draft;
    assert_eq!(first.outcome, "ok");
    assert_eq!(
        first.retrieved.len(),
        3,
        "the records the answer was based on"
    );
    let search_call = first
        .hubspot_calls
        .iter()
        .find(|c| c.route.ends_with("/search"))
        .expect("the search request is recorded");
    let served: Vec<String> = sb
        .log_entries()
        .iter()
        .map(|e| e.correlation_id.clone())
        .collect();
    assert!(
        served.contains(search_call.correlation_id.as_ref().unwrap()),
        "correlation ids match what HubSpot served"
    );
    assert!(
        entries[1].draft.outcome.starts_with("invalid:"),
        "{}",
        entries[1].draft.outcome
    );
    assert!(entries[2]
        .draft
        .prompt
        .as_deref()
        .unwrap()
        .contains("You are triaging"));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains(sb.token()) && !text.contains(token),
        "no secret in the audit log"
    );

    // The CLI's verify sees a one-byte edit.
    let tampered = text.replacen("\"ok\"", "\"oK\"", 1);
    std::fs::write(&path, tampered).unwrap();
    let out = crate::support::bin()
        .args(["audit", "verify"])
        .env("HUBSPOT_MCP_AUDIT__PATH", &path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("was edited"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(&path).ok();
}

fn tool(id: u64, name: &str, args: Value) -> Value {
    rpc("tools/call", id, json!({"name": name, "arguments": args}))
}

fn parsed(body: &str) -> Value {
    serde_json::from_str(body.trim_start_matches("data: ")).unwrap_or_else(|_| panic!("{body}"))
}

/// `search_objects` as HubSpot allows it, checked against the sandbox's own records: OR across
/// filter groups, `propertyName` beside `property`, `associations.contact`, and a date that is
/// not a date refused with the fix (it used to be searched for and silently find nothing).
/// A HubSpot failure is audited as HubSpot's, with its status, from the error's type.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_takes_or_groups_association_filters_and_refuses_dates_that_are_not_dates() {
    use hubspot_sandbox::faults::{FaultKind, FaultSpec};
    let (app, url, cancel) = http_server_audited("t", true).await;
    let sb = app.sb();
    let http = reqwest::Client::new();
    let (want_or, contact, want_linked) = {
        let store = sb.shared().store.read();
        let tickets = store.records_of("0-5");
        let or = tickets
            .values()
            .filter(|r| r.archived_ms.is_none())
            .filter(|r| {
                matches!(
                    r.props.get("hs_ticket_priority").map(String::as_str),
                    Some("HIGH" | "LOW")
                )
            })
            .count() as u64;
        let (contact, linked) = store
            .records_of("0-1")
            .keys()
            .map(|c| (*c, store.associations("0-1", *c, "0-5").len()))
            .find(|(_, n)| *n > 0)
            .expect("a contact with tickets");
        (or, contact, linked as u64)
    };
    let call = |id: u64, args: Value| {
        let http = http.clone();
        let url = url.clone();
        async move {
            let (_, body) = post(
                &http,
                &url,
                Some("t"),
                &[],
                tool(id, "search_objects", args),
            )
            .await;
            parsed(&body)
        }
    };
    let v = call(1, json!({"objectType": "tickets", "limit": 1, "filterGroups": [
        {"filters": [{"propertyName": "hs_ticket_priority", "operator": "EQ", "value": "HIGH"}]},
        {"filters": [{"property": "hs_ticket_priority", "operator": "EQ", "value": "LOW"}]}
    ]}))
    .await;
    assert_eq!(v["result"]["structuredContent"]["total"], want_or, "{v}");

    let v = call(
        2,
        json!({"objectType": "tickets", "limit": 100, "filters": [
            {"property": "associations.contact", "operator": "EQ", "value": contact.to_string()}
        ]}),
    )
    .await;
    assert_eq!(
        v["result"]["structuredContent"]["total"], want_linked,
        "{v}"
    );

    for (id, args, says) in [
        (
            3,
            json!({"objectType": "tickets", "filters": [{"property": "createdate", "operator": "GTE", "value": "last week"}]}),
            "filters[0].value: \"last week\" is not a date",
        ),
        (
            4,
            json!({"objectType": "tickets", "filterGroups": [{"filters": []}]}),
            "filterGroups[0].filters is empty",
        ),
        (
            13,
            json!({"objectType": "tickets", "filters": [{"property": "createdate", "operator": "GTE", "value": 2026}]}),
            "looks like seconds or a year",
        ),
        (
            5,
            json!({"objectType": "tickets", "filters": [{"property": "hs_ticket_priority", "operator": "EQ", "value": "HIGH"}], "filterGroups": [{"filters": [{"property": "hs_ticket_priority", "operator": "EQ", "value": "LOW"}]}]}),
            "not both",
        ),
        (
            6,
            json!({"objectType": "tickets", "filters": [{"property": "associations.widget", "operator": "EQ", "value": "1"}]}),
            "names no standard object type",
        ),
        (
            7,
            json!({"objectType": "tickets", "filters": [{"property": "associations.contact", "operator": "GT", "value": "1"}]}),
            "use EQ",
        ),
        (
            8,
            json!({"objectType": "tickets", "filterGroups": (0..6).map(|_| json!({"filters": [{"property": "subject", "operator": "HAS_PROPERTY"}]})).collect::<Vec<_>>()}),
            "at most 5",
        ),
    ] {
        let v = call(id, args).await;
        let text = crate::support::refusal(&v);
        assert!(text.contains(says), "{text}");
    }
    let v = call(9, json!({"objectType": "tickets", "limit": 1, "filters": [{"property": "createdate", "operator": "GTE", "value": "2020-01-01"}]})).await;
    assert!(
        v["result"]["structuredContent"]["total"].as_u64().unwrap() > 0,
        "{v}"
    );

    // Pipeline stages carry their metadata: closed or open, and a deal stage's probability.
    let (_, body) = post(
        &http,
        &url,
        Some("t"),
        &[],
        tool(11, "list_pipelines", json!({"objectType": "deals"})),
    )
    .await;
    let v = parsed(&body);
    let stages = v["result"]["structuredContent"]["pipelines"][0]["stages"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .clone();
    assert!(
        stages
            .iter()
            .all(|s| s["closed"].is_boolean() && s["probability"].is_number()),
        "{stages:?}"
    );
    assert!(
        stages
            .iter()
            .any(|s| s["closed"] == true && s["probability"] == 1.0),
        "{stages:?}"
    );
    let (_, body) = post(
        &http,
        &url,
        Some("t"),
        &[],
        tool(12, "list_pipelines", json!({"objectType": "tickets"})),
    )
    .await;
    let v = parsed(&body);
    let stages = v["result"]["structuredContent"]["pipelines"][0]["stages"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        stages.iter().any(|s| s["closed"] == true) && stages.iter().any(|s| s["closed"] == false),
        "{stages:?}"
    );

    sb.inject(FaultSpec::new(FaultKind::Status { status: 400 }).on("*/search"));
    let v = call(10, json!({"objectType": "tickets", "limit": 1})).await;
    assert_eq!(v["result"]["isError"], true, "{v}");
    cancel.cancel();
    let entries = hubspot_mcp::audit::read_all(&app.audit).unwrap();
    let last = &entries.last().unwrap().draft;
    assert!(
        last.outcome.starts_with("hubspot 400: "),
        "{}",
        last.outcome
    );
    assert!(
        entries[2].draft.outcome.starts_with("invalid: "),
        "{}",
        entries[2].draft.outcome
    );
}

/// Property history: who changed what and when, for the properties asked for, newest first;
/// a seeded value is one import-time version. Checked against the sandbox's own record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_objects_returns_the_history_of_the_properties_asked_for() {
    let (app, url, cancel) = http_server("t").await;
    let sb = app.sb();
    let http = reqwest::Client::new();
    let ticket = *sb
        .shared()
        .store
        .read()
        .records_of("0-5")
        .keys()
        .nth(2)
        .unwrap();
    let seeded = sb.shared().store.read().records_of("0-5")[&ticket].props["subject"].clone();
    let call = |id: u64, name: &str, args: Value| {
        let (http, url) = (http.clone(), url.clone());
        let req = tool(id, name, args);
        async move { parsed(&post(&http, &url, Some("t"), &[], req).await.1) }
    };
    for (i, subject) in ["First rewrite", "Second rewrite"].iter().enumerate() {
        let v = call(i as u64 + 1, "update_objects", json!({"objectType": "tickets", "records": [{"id": ticket.to_string(), "properties": {"subject": subject}}]})).await;
        assert!(
            v["result"]["isError"].is_null() || v["result"]["isError"] == false,
            "{v}"
        );
    }
    let v = call(3, "get_objects", json!({"objectType": "tickets", "ids": [ticket], "properties": ["subject"], "history": ["subject", "hs_ticket_priority"]})).await;
    let rec = &v["result"]["structuredContent"]["history"][ticket.to_string()];
    let subject: Vec<&str> = rec["subject"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|x| x["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        subject,
        ["Second rewrite", "First rewrite", seeded.as_str()],
        "{v}"
    );
    assert!(
        rec["subject"][0]["by"]
            .as_str()
            .unwrap()
            .starts_with("INTEGRATION"),
        "{v}"
    );
    assert!(
        rec["subject"][0]["at"].as_str().unwrap().ends_with('Z'),
        "{v}"
    );
    assert_eq!(rec["subject"][2]["by"], "IMPORT seed", "{v}");
    let priority = rec["hs_ticket_priority"].as_array().unwrap();
    assert_eq!(priority.len(), 1, "{v}");
    assert_eq!(
        sb.shared().store.read().records_of("0-5")[&ticket].history["subject"].len(),
        3,
        "the sandbox kept every version"
    );
    // HubSpot reads histories 50 records at a time (the sandbox refuses more): 60 ids work.
    let many: Vec<String> = sb
        .shared()
        .store
        .read()
        .records_of("0-5")
        .keys()
        .take(60)
        .map(u64::to_string)
        .collect();
    assert_eq!(many.len(), 60);
    let v = call(
        6,
        "get_objects",
        json!({"objectType": "tickets", "ids": many, "history": ["subject"]}),
    )
    .await;
    assert_eq!(
        v["result"]["structuredContent"]["results"]
            .as_array()
            .map(Vec::len),
        Some(60),
        "{v}"
    );
    assert_eq!(
        v["result"]["structuredContent"]["history"]
            .as_object()
            .map(|m| m.len()),
        Some(60)
    );
    // Without `history`, no history is sent (the record stays small).
    let v = call(
        4,
        "get_objects",
        json!({"objectType": "tickets", "ids": [ticket], "properties": ["subject"]}),
    )
    .await;
    assert!(
        v["result"]["structuredContent"]["results"][0]
            .get("history")
            .is_none(),
        "{v}"
    );
    let v = call(
        5,
        "get_objects",
        json!({"objectType": "tickets", "ids": [ticket], "history": ["subjekt"]}),
    )
    .await;
    let text = crate::support::refusal(&v);
    assert!(
        text.contains("history[0]") && text.contains("subject"),
        "{text}"
    );
    cancel.cancel();
}
