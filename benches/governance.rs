//! The audit log's cost per tool call: append latency (p50, p99) and entries per second, with
//! per-entry fsync (the default) and without, for a realistic entry (arguments, retrieved ids,
//! a decision path, two HubSpot calls). Also the gate's own evaluation time.
//!
//! Run: `cargo bench --bench governance`. The last line is the summary the README quotes.

use std::time::Instant;

use hubspot_mcp::audit::{AuditDraft, AuditLog, HubSpotCall, Redactor};
use hubspot_mcp::handoff::{evaluate, HandoffPolicy, Proposal};
use serde_json::json;

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn draft(i: usize) -> AuditDraft {
    AuditDraft {
        kind: "tool_call".into(),
        client: Some("claude-desktop 1.0".into()),
        request: Some(i.to_string()),
        tool: Some("search_objects".into()),
        arguments: json!({"objectType": "tickets", "filters": [{"property": "hs_ticket_priority", "operator": "EQ", "value": "HIGH"}], "query": "okta lockout", "limit": 20}),
        prompt: Some("Find similar tickets to the SSO lockout reported by ACME".into()),
        retrieved: (0..20)
            .map(|k| json!({"id": (10_000_000 + k).to_string()}))
            .collect(),
        decision_path: vec![
            json!({"rule": "min_confidence", "inputs": {"confidence": 0.8, "min": 0.7}, "verdict": "pass"}),
        ],
        hubspot_calls: vec![
            HubSpotCall {
                method: "GET".into(),
                route: "/crm/properties/2026-03/tickets".into(),
                status: Some(200),
                correlation_id: Some(uuid::Uuid::new_v4().to_string()),
            },
            HubSpotCall {
                method: "POST".into(),
                route: "/crm/objects/2026-03/tickets/search".into(),
                status: Some(200),
                correlation_id: Some(uuid::Uuid::new_v4().to_string()),
            },
        ],
        outcome: "ok".into(),
        latency_us: 1_234,
    }
}

fn run(sync: bool, n: usize) -> (f64, f64, f64) {
    let dir = std::env::temp_dir().join(format!("gov-bench-{}", uuid::Uuid::new_v4()));
    let path = dir.join("audit.jsonl");
    let log = AuditLog::open(
        hubspot_mcp::audit::LogFiles::beside(&path),
        &hubspot_mcp::audit::AuditConfig {
            sync,
            ..Default::default()
        },
        Redactor::new(vec!["pat-na1-secret".into()], false),
    )
    .unwrap();
    let mut lat = Vec::with_capacity(n);
    let started = Instant::now();
    for i in 0..n {
        let d = draft(i);
        let t = Instant::now();
        log.append(d).unwrap();
        lat.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    assert_eq!(
        hubspot_mcp::audit::verify(
            &hubspot_mcp::audit::LogFiles::beside(&path),
            &Default::default()
        )
        .problem,
        None
    );
    std::fs::remove_dir_all(&dir).ok();
    (pct(&mut lat.clone(), 0.5), pct(&mut lat, 0.99), rate)
}

fn main() {
    let (s50, s99, srate) = run(true, 3_000);
    println!(
        "audit append, fsync per entry: p50 {s50:.1} µs, p99 {s99:.1} µs, {srate:.0} entries/s"
    );
    let (n50, n99, nrate) = run(false, 20_000);
    println!(
        "audit append, no fsync:        p50 {n50:.1} µs, p99 {n99:.1} µs, {nrate:.0} entries/s"
    );
    let policy = HandoffPolicy::default();
    let p = Proposal {
        action: "set_priority".into(),
        also: Vec::new(),
        properties: [("hs_ticket_priority".to_string(), "HIGH".to_string())].into(),
        confidence: 0.72,
        labels: vec!["billing".into()],
    };
    let mut lat = Vec::new();
    for _ in 0..100_000 {
        let t = Instant::now();
        std::hint::black_box(evaluate(&policy, std::hint::black_box(&p)));
        lat.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let g99 = pct(&mut lat, 0.99);
    println!("gate evaluation: p99 {g99:.2} µs");
    println!("governance: audit_append_p50_us={s50:.1} audit_append_p99_us={s99:.1} entries_per_s={srate:.0} nosync_append_p99_us={n99:.1} nosync_entries_per_s={nrate:.0} gate_eval_p99_us={g99:.2}");
}
