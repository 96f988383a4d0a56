//! The handoff gate through `propose_action`, against the sandbox: low confidence or a severity
//! label hands off (priority, note and task on the record, nothing duplicated on a repeat), high
//! confidence applies, and the decision path reaches the audit log.

use std::net::SocketAddr;
use std::sync::Arc;

use hubspot_mcp::hubspot::client::ClientSettings;
use hubspot_mcp::hubspot::{Credentials, HubSpotClient};
use hubspot_mcp::mcp::http::{hash_token, HttpOptions};
use hubspot_mcp::mcp::{HubSpotMcp, ToolOptions};
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::support::{small, spawn};

struct Harness {
    sb: hubspot_mcp::sandbox::Sandbox,
    url: String,
    http: reqwest::Client,
    cancel: tokio_util::sync::CancellationToken,
    audit: std::path::PathBuf,
    next: std::sync::atomic::AtomicU64,
}

impl Harness {
    async fn start() -> Self {
        let sb = spawn(small()).await;
        let client = HubSpotClient::builder(
            ClientSettings {
                base_url: sb.base_url(),
                ..Default::default()
            },
            Credentials::Static(SecretString::from(sb.token().to_string())),
        )
        .build();
        let options = ToolOptions {
            handoff: hubspot_mcp::handoff::HandoffPolicy {
                enabled: true,
                review_owner_id: Some("90000102".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let audit = std::env::temp_dir().join(format!("gov-audit-{}.jsonl", uuid::Uuid::new_v4()));
        let log = hubspot_mcp::audit::AuditLog::open(
            &audit,
            hubspot_mcp::audit::Redactor::new(vec![sb.token().to_string()], false),
            false,
        )
        .unwrap();
        let server = HubSpotMcp::new(client, &options).with_audit(Arc::new(log), true);
        let mut opts = HttpOptions::loopback(SocketAddr::from(([127, 0, 0, 1], 0)));
        opts.token_hashes.push(hash_token("g"));
        let cancel = tokio_util::sync::CancellationToken::new();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let c = cancel.clone();
        tokio::spawn(async move {
            let _ = hubspot_mcp::mcp::http::serve(server, opts, None, c, move |a| {
                let _ = tx.send(a);
            })
            .await;
        });
        let url = format!("http://{}/mcp", rx.await.unwrap());
        Self {
            sb,
            url,
            http: reqwest::Client::new(),
            cancel,
            audit,
            next: 1.into(),
        }
    }

    async fn rpc(&self, method: &str, params: Value) -> Value {
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let res = self
            .http
            .post(&self.url)
            .bearer_auth("g")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .json(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .send()
            .await
            .unwrap();
        let text = res.text().await.unwrap();
        serde_json::from_str(text.trim_start_matches("data: ")).unwrap_or_else(|_| panic!("{text}"))
    }

    async fn propose(&self, args: Value) -> Value {
        let v = self
            .rpc(
                "tools/call",
                json!({"name": "propose_action", "arguments": args}),
            )
            .await;
        v["result"]["structuredContent"].clone()
    }

    fn linked(&self, ticket: u64, type_id: &str) -> Vec<u64> {
        self.sb
            .shared()
            .store
            .read()
            .associations("0-5", ticket, type_id)
            .into_iter()
            .map(|(id, _)| id)
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn low_confidence_hands_off_once_and_high_confidence_applies() {
    let h = Harness::start().await;
    h.rpc("initialize", json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "gov", "version": "1"}})).await;
    let tools = h.rpc("tools/list", json!({})).await;
    assert!(tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["name"] == "propose_action"));
    let ticket: u64 = *h
        .sb
        .shared()
        .store
        .read()
        .records_of("0-5")
        .keys()
        .next()
        .unwrap();
    let (notes_before, tasks_before) = (
        h.linked(ticket, "0-46").len(),
        h.linked(ticket, "0-27").len(),
    );

    let proposal = json!({
        "action": "set_priority", "objectType": "tickets", "recordId": ticket.to_string(),
        "properties": {"hs_ticket_priority": "URGENT"}, "confidence": 0.41, "labels": ["billing"],
        "rationale": "Customer mentions a double charge; unsure whether it is urgent.",
        "suggestedPriority": "HIGH", "similarRecordIds": ["10008036"], "summary": "Possible duplicate charge",
    });
    let first = h.propose(proposal.clone()).await;
    assert_eq!(first["decision"], "handed_off", "{first}");
    assert_eq!(first["decisionPath"][0]["rule"], "min_confidence");
    assert_eq!(first["decisionPath"][0]["verdict"], "handoff");
    assert_eq!(first["handoff"]["prioritySet"], "HIGH");
    assert_eq!(first["handoff"]["duplicate"], false);
    {
        let store = h.sb.shared().store.read();
        let t = &store.records_of("0-5")[&ticket];
        assert_eq!(
            t.props["hs_ticket_priority"], "HIGH",
            "the AI's suggested priority"
        );
        assert_eq!(t.props["ai_confidence"], "0.41");
        let note_id: u64 = first["handoff"]["noteId"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let note = &store.records_of("0-46")[&note_id];
        for needle in [
            "double charge",
            "0.41",
            "10008036",
            "Possible duplicate charge",
        ] {
            assert!(
                note.props["hs_note_body"].contains(needle),
                "note carries {needle}"
            );
        }
        let task_id: u64 = first["handoff"]["taskId"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            store.records_of("0-27")[&task_id].props["hubspot_owner_id"],
            "90000102",
            "assigned to the review queue"
        );
    }
    assert_eq!(h.linked(ticket, "0-46").len(), notes_before + 1);
    assert_eq!(h.linked(ticket, "0-27").len(), tasks_before + 1);

    let again = h.propose(proposal).await;
    assert_eq!(again["handoff"]["duplicate"], true, "{again}");
    assert_eq!(again["handoff"]["noteId"], first["handoff"]["noteId"]);
    assert_eq!(
        h.linked(ticket, "0-46").len(),
        notes_before + 1,
        "no second note"
    );
    assert_eq!(
        h.linked(ticket, "0-27").len(),
        tasks_before + 1,
        "no second task"
    );

    let severe = h.propose(json!({"action": "update", "objectType": "tickets", "recordId": ticket.to_string(), "properties": {"hs_pipeline_stage": "4"}, "confidence": 0.99, "labels": ["security"], "rationale": "Looks resolved."})).await;
    assert_eq!(severe["decision"], "handed_off");
    assert_eq!(severe["decisionPath"][1]["verdict"], "handoff");

    let applied = h.propose(json!({"action": "set_priority", "objectType": "tickets", "recordId": ticket.to_string(), "properties": {"hs_ticket_priority": "LOW"}, "confidence": 0.95, "rationale": "A feature request, not an incident."})).await;
    assert_eq!(applied["decision"], "applied", "{applied}");
    assert_eq!(
        h.sb.shared().store.read().records_of("0-5")[&ticket].props["hs_ticket_priority"],
        "LOW"
    );
    h.cancel.cancel();

    assert_eq!(hubspot_mcp::audit::verify(&h.audit).problem, None);
    let entries = hubspot_mcp::audit::read_all(&h.audit).unwrap();
    let gated: Vec<_> = entries
        .iter()
        .filter(|e| e.draft.tool.as_deref() == Some("propose_action"))
        .collect();
    assert_eq!(gated.len(), 4);
    assert!(
        gated.iter().all(|e| !e.draft.decision_path.is_empty()),
        "every decision path is audited"
    );
    assert!(
        gated[0]
            .draft
            .prompt
            .as_deref()
            .unwrap()
            .contains("double charge"),
        "the rationale is the recorded prompt"
    );
    std::fs::remove_file(&h.audit).ok();
}
