//! `hubspot-mcp export` against the sandbox: every record once, at the minimum number of calls,
//! resumable after a kill, finished through outages and 429s. Read back from the file and the
//! sandbox's request log.

use std::collections::BTreeSet;
use std::time::Duration;

use hubspot_mcp::export::{export, ExportError, ExportRequest, Format};
use hubspot_mcp::hubspot::client::{ClientSettings, HubSpotClient};
use hubspot_mcp::hubspot::limit::GovernorSettings;
use hubspot_sandbox::faults::{FaultKind, FaultSpec};
use hubspot_sandbox::limits::Policy;
use hubspot_sandbox::seed::RecordCounts;
use hubspot_sandbox::Sandbox;

use crate::support::{spawn, SandboxConfig};

async fn sandbox(contacts: usize) -> Sandbox {
    spawn(SandboxConfig {
        records: RecordCounts {
            contacts,
            ..RecordCounts::empty()
        },
        limits_enabled: false,
        log_bodies: false,
        log_capacity: 100_000,
        ..Default::default()
    })
    .await
}

fn client(sb: &Sandbox) -> HubSpotClient {
    let mut s = ClientSettings {
        base_url: sb.base_url(),
        governor: GovernorSettings {
            burst_max: 100_000,
            search_per_second: 100_000,
            ..Default::default()
        },
        ..Default::default()
    };
    s.breaker.open_ms = 300;
    s.breaker.max_open_ms = 1_000;
    s.backoff.base_ms = 20;
    crate::support::client_for(sb, s)
}

fn request(out: &std::path::Path, properties: &[&str]) -> ExportRequest {
    ExportRequest {
        object_type: "contacts".into(),
        properties: properties.iter().map(|p| p.to_string()).collect(),
        filters: Vec::new(),
        format: Format::Jsonl,
        out: out.to_path_buf(),
        restart: false,
        progress: false,
    }
}

fn contact_ids(sb: &Sandbox) -> BTreeSet<String> {
    sb.shared()
        .store
        .read()
        .records_of("0-1")
        .keys()
        .map(u64::to_string)
        .collect()
}

fn searches(sb: &Sandbox) -> usize {
    sb.log_entries()
        .iter()
        .filter(|e| e.path.ends_with("/search"))
        .count()
}

/// The ids in a JSON Lines export; every line must parse.
fn ids_in(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            v["id"].as_str().unwrap().to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_writes_every_record_past_the_cap_once_at_the_minimum_calls() {
    let sb = sandbox(12_345).await;
    let c = client(&sb);
    let dir = crate::support::tempdir("export");
    let out = dir.join("contacts.jsonl");
    let report = export(&c, request(&out, &["email", "firstname"]))
        .await
        .unwrap();
    let ids = ids_in(&out);
    assert_eq!(ids.len(), 12_345);
    let unique: BTreeSet<String> = ids.into_iter().collect();
    assert_eq!(unique, contact_ids(&sb), "every record, once");
    assert_eq!(report.records, 12_345);
    assert_eq!(
        searches(&sb),
        62,
        "ceil(12,345 / 200) search calls, past the 10,000 cap"
    );
    assert_eq!(report.requests, 62);
    assert!(
        !dir.join("contacts.jsonl.export-state").exists(),
        "a finished export leaves no state"
    );
    std::fs::remove_dir_all(dir).ok();
}

/// Killed mid-run (its future dropped between pages, and a torn half-page left at the end of
/// the file, as a crash mid-write leaves it): the next run cuts the tail, resumes above the
/// last id it recorded, and the file ends with every record exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_export_resumes_without_duplicates_or_gaps() {
    let sb = sandbox(3_000).await;
    let c = client(&sb);
    let dir = crate::support::tempdir("export-resume");
    let out = dir.join("contacts.jsonl");
    sb.inject(FaultSpec::new(FaultKind::Latency { ms: 60 }));
    let first = tokio::time::timeout(
        Duration::from_millis(400),
        export(&c, request(&out, &["email"])),
    )
    .await;
    assert!(first.is_err(), "the first run was cut off mid-export");
    sb.clear_faults();
    let partial = ids_in(&out).len();
    assert!(
        partial > 0 && partial < 3_000,
        "{partial} written before the kill"
    );
    // A torn write after the last recorded page.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&out)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"{\"id\":\"99999\",\"prop"))
        .unwrap();
    // Another export into the same file is refused, not mixed in.
    let e = export(&c, request(&out, &["email", "phone"]))
        .await
        .unwrap_err();
    assert!(
        matches!(e, ExportError::Usage(_)) && e.to_string().contains("--restart"),
        "{e}"
    );
    let before = searches(&sb);
    let report = export(&c, request(&out, &["email"])).await.unwrap();
    assert!(report.resumed_above.is_some());
    assert_eq!(report.records, 3_000);
    let ids = ids_in(&out);
    assert_eq!(ids.len(), 3_000, "no duplicates, no torn line");
    let unique: BTreeSet<String> = ids.into_iter().collect();
    assert_eq!(unique, contact_ids(&sb), "no gaps");
    let resumed_calls = searches(&sb) - before;
    assert!(
        resumed_calls <= (3_000 - partial).div_ceil(200) + 1,
        "the resumed run read only what was left: {resumed_calls} calls for {} records",
        3_000 - partial
    );
    std::fs::remove_dir_all(dir).ok();
}

/// An outage that opens the breaker, then a 429 storm: the export waits both out and finishes;
/// CSV with every property, filtered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_finishes_through_an_outage_and_a_429_storm() {
    let sb = sandbox(1_500).await;
    let c = client(&sb);
    let dir = crate::support::tempdir("export-storm");
    let out = dir.join("contacts.csv");
    sb.inject(
        FaultSpec::new(FaultKind::Status { status: 503 }).for_duration(Duration::from_secs(2)),
    );
    let req = ExportRequest {
        format: Format::Csv,
        filters: vec!["email:HAS_PROPERTY".into()],
        ..request(&out, &[])
    };
    let run = tokio::spawn({
        let c = c.clone();
        async move { export(&c, req).await }
    });
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    sb.inject(
        FaultSpec::new(FaultKind::RateLimit {
            policy: Policy::TenSecondlyRolling,
        })
        .for_duration(Duration::from_secs(2)),
    );
    let report = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("finished")
        .unwrap()
        .expect("waited both out");
    let with_email = sb
        .shared()
        .store
        .read()
        .records_of("0-1")
        .values()
        .filter(|r| r.props.contains_key("email"))
        .count() as u64;
    assert_eq!(report.records, with_email);
    let mut reader = csv::Reader::from_path(&out).unwrap();
    let header = reader.headers().unwrap().clone();
    assert_eq!(&header[0], "id");
    assert!(
        header.iter().any(|h| h == "email") && header.len() > 10,
        "{header:?}"
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len() as u64, with_email);
    assert!(rows.iter().all(|r| r.len() == header.len()));
    let m = c.metrics();
    eprintln!(
        "export under pressure: {} records, {} requests, {} 429s, breakers {:?}",
        report.records, m.requests, m.throttled_429s, m.breakers
    );
    std::fs::remove_dir_all(dir).ok();
}

/// An unfinished export is resumed only into the file it left and with the same request:
/// a file cut short, a corrupt state, or "every property" where a list was asked are refused
/// with what to do; `--restart` starts over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unfinished_export_resumes_only_what_it_started() {
    let sb = sandbox(2_000).await;
    let c = client(&sb);
    let dir = crate::support::tempdir("export-guard");
    let out = dir.join("contacts.jsonl");
    sb.inject(FaultSpec::new(FaultKind::Latency { ms: 60 }));
    let cut = tokio::time::timeout(
        Duration::from_millis(300),
        export(&c, request(&out, &["email"])),
    )
    .await;
    assert!(cut.is_err());
    sb.clear_faults();
    // The cut-off run's last page write runs on a blocking thread, which a dropped future
    // cannot stop: let it land (a killed process has no such straggler).
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Every property where one was asked: refused.
    let e = export(&c, request(&out, &[])).await.unwrap_err();
    assert!(e.to_string().contains("--restart"), "{e}");
    // The file cut short behind its back: refused, never padded.
    std::fs::write(&out, b"").unwrap();
    let e = export(&c, request(&out, &["email"])).await.unwrap_err();
    assert!(e.to_string().contains("shorter"), "{e}");
    // A corrupt state: refused.
    let state = dir.join("contacts.jsonl.export-state");
    std::fs::write(&state, b"{not json").unwrap();
    let e = export(&c, request(&out, &["email"])).await.unwrap_err();
    assert!(
        e.to_string().contains("cannot be read"),
        "{e}; state: {:?}; dir: {:?}",
        std::fs::read_to_string(&state),
        std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect::<Vec<_>>()
    );
    // Starting over works, and writes each record once.
    let report = export(
        &c,
        ExportRequest {
            restart: true,
            ..request(&out, &["email"])
        },
    )
    .await
    .unwrap();
    assert_eq!(report.records, 2_000);
    assert_eq!(ids_in(&out).len(), 2_000);
    // Six filters are more than HubSpot takes with the export's own.
    let e = export(
        &c,
        ExportRequest {
            filters: vec!["email:HAS_PROPERTY".into(); 6],
            restart: true,
            ..request(&out, &["email"])
        },
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("at most 5"), "{e}");
    std::fs::remove_dir_all(dir).ok();
}
