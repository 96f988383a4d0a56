//! The HubSpot client against the sandbox: shared budget, request counts, retries, breakers,
//! OAuth refresh, priority lanes, coalescing, metadata cache and the production guard.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hubspot_mcp::hubspot::auth::{OAuthClientConfig, OAuthSession, TokenResponse};
use hubspot_mcp::hubspot::client::{Call, ClientSettings, HubSpotClient, WriteOp};
use hubspot_mcp::hubspot::error::{ApiError, EndpointGroup};
use hubspot_mcp::hubspot::limit::{GovernorSettings, Lane};
use hubspot_mcp::hubspot::model::{ApiVersion, Filter, WriteInput};
use hubspot_mcp::hubspot::path::{ApiPath, ObjectType, RecordId};
use hubspot_mcp::hubspot::Credentials;
use hubspot_mcp::time::SharedClock;
use hubspot_sandbox::faults::{FaultKind, FaultSpec};
use hubspot_sandbox::limits::Policy;
use hubspot_sandbox::seed::RecordCounts;
use hubspot_sandbox::{AppKind, Sandbox};
use secrecy::SecretString;
use serde_json::json;

use crate::support::{small, spawn, spawn_manual, SandboxConfig};

fn settings(sb: &Sandbox, kind: AppKind) -> ClientSettings {
    let limits = kind.limits();
    ClientSettings {
        base_url: sb.base_url(),
        governor: GovernorSettings {
            burst_max: limits.burst_max,
            daily: limits.daily,
            ..Default::default()
        },
        ..Default::default()
    }
}

fn client(sb: &Sandbox, kind: AppKind) -> HubSpotClient {
    HubSpotClient::builder(
        settings(sb, kind),
        Credentials::Static(SecretString::from(sb.token().to_string())),
    )
    .build()
}

/// A client whose own limiter will not pace (for request-count tests on an unlimited sandbox).
fn fast_client(sb: &Sandbox) -> HubSpotClient {
    let mut s = settings(sb, AppKind::ApiAddon);
    s.governor.burst_max = 100_000;
    s.governor.search_per_second = 100_000;
    crate::support::client_for(&sb, s)
}

fn ids_of(sb: &Sandbox, type_id: &str) -> Vec<String> {
    sb.shared()
        .store
        .read()
        .records_of(type_id)
        .keys()
        .map(u64::to_string)
        .collect()
}

fn route_count(sb: &Sandbox, route: &str) -> u64 {
    sb.log_summary()
        .routes
        .iter()
        .filter(|(k, _)| k.contains(route))
        .map(|(_, v)| v.count)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_share_one_budget_with_no_429s_and_use_at_least_95_percent() {
    let sb = spawn(SandboxConfig {
        app_kind: AppKind::PrivatePro,
        log_bodies: false,
        ..small()
    })
    .await;
    let c = client(&sb, AppKind::PrivatePro);
    let contacts = ids_of(&sb, "0-1");
    let run = Duration::from_secs(30);
    let started = Instant::now();
    let done = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for role in ["sync", "cleanup", "export"] {
        let (c, ids, done) = (c.clone(), contacts.clone(), done.clone());
        workers.push(tokio::spawn(async move {
            let mut i = 0usize;
            while started.elapsed() < run {
                let r = match role {
                    "sync" => c
                        .batch_read(
                            Lane::Background,
                            "contacts",
                            &ids[i % 400..i % 400 + 100],
                            &["email".into()],
                            None,
                        )
                        .await
                        .map(|_| ()),
                    "cleanup" => {
                        let input = WriteInput {
                            id: Some(ids[i % 500].clone()),
                            id_property: None,
                            properties: [("jobtitle".to_string(), format!("t{i}"))].into(),
                        };
                        c.batch_write(Lane::Background, "contacts", WriteOp::Update, &[input])
                            .await
                            .map(|_| ())
                    }
                    _ => c
                        .execute(&Call::get(
                            objects_path("companies"),
                            Lane::Background,
                            EndpointGroup::Objects,
                        ))
                        .await
                        .map(|_| ()),
                };
                r.unwrap_or_else(|e| panic!("{role}: {e}"));
                done.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let summary = sb.log_summary();
    let served = summary.statuses.get(&200).copied().unwrap_or(0);
    let budget = 190.0 * elapsed / 10.0;
    let used = served as f64 / budget;
    eprintln!(
        "shared budget: {served} requests in {elapsed:.1} s, {:.1}% of {budget:.0}",
        used * 100.0
    );
    assert!(
        summary.rate_limited.is_empty(),
        "429s: {:?}",
        summary.rate_limited
    );
    assert!(used >= 0.95, "used {:.1}% of the budget", used * 100.0);
    assert_eq!(c.metrics().throttled_429s, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_ten_thousand_records_costs_the_minimum_requests() {
    let sb = spawn(SandboxConfig {
        records: RecordCounts {
            contacts: 10_000,
            ..RecordCounts::empty()
        },
        limits_enabled: false,
        log_bodies: false,
        ..Default::default()
    })
    .await;
    let c = fast_client(&sb);
    let (all, requests) = c
        .search_all(Lane::Background, "contacts", &[], &["email".into()])
        .await
        .unwrap();
    assert_eq!(all.len(), 10_000);
    assert!(requests <= 51, "{requests} search requests");
    assert_eq!(route_count(&sb, "/search"), requests as u64);
    let ids = ids_of(&sb, "0-1");
    let before = route_count(&sb, "/batch/read");
    let out = c
        .batch_read(Lane::Background, "contacts", &ids, &["email".into()], None)
        .await
        .unwrap();
    assert_eq!(out.results.len(), 10_000);
    assert_eq!(out.requests, 100);
    assert_eq!(
        route_count(&sb, "/batch/read") - before,
        100,
        "exactly 100 batch reads"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_25000_record_type_is_read_completely_past_the_cap() {
    let sb = spawn(SandboxConfig {
        records: RecordCounts {
            contacts: 25_000,
            ..RecordCounts::empty()
        },
        limits_enabled: false,
        log_bodies: false,
        log_capacity: 0,
        ..Default::default()
    })
    .await;
    let c = fast_client(&sb);
    let (all, requests) = c
        .search_all(
            Lane::Background,
            "contacts",
            &[Filter {
                property_name: "email".into(),
                operator: "HAS_PROPERTY".into(),
                value: None,
                high_value: None,
                values: None,
            }],
            &[],
        )
        .await
        .unwrap();
    let with_email = sb
        .shared()
        .store
        .read()
        .records_of("0-1")
        .values()
        .filter(|r| r.props.contains_key("email"))
        .count();
    let mut ids: Vec<&str> = all.iter().map(|o| o.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), with_email, "every record once");
    assert_eq!(all.len(), with_email, "no duplicates");
    assert!(
        requests <= with_email.div_ceil(200) + 3,
        "{requests} requests"
    );
    let (listed, pages) = c.list_all(Lane::Background, "contacts", &[]).await.unwrap();
    assert_eq!(listed.len(), 25_000);
    assert_eq!(pages, 250);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn association_reads_take_a_thousand_ids_per_call_and_page_per_input() {
    let sb = spawn(SandboxConfig {
        assoc_page_size: 1,
        limits_enabled: false,
        ..small()
    })
    .await;
    let c = fast_client(&sb);
    let companies = ids_of(&sb, "0-2");
    let (map, requests) = c
        .associations(Lane::Background, "companies", "contacts", &companies)
        .await
        .unwrap();
    let store = sb.shared().store.read();
    let expected: usize = companies
        .iter()
        .map(|id| store.associations("0-2", id.parse().unwrap(), "0-1").len())
        .sum();
    let got: usize = map.values().map(Vec::len).sum();
    assert_eq!(got, expected);
    let max_per_company = companies
        .iter()
        .map(|id| store.associations("0-2", id.parse().unwrap(), "0-1").len())
        .max()
        .unwrap();
    assert_eq!(
        requests,
        max_per_company.max(1),
        "one request per page depth, all inputs together"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_writes_report_partial_failures_per_input() {
    let sb = spawn(small()).await;
    let c = client(&sb, AppKind::PrivatePro);
    let mut inputs: Vec<WriteInput> = (0..150)
        .map(|i| WriteInput {
            properties: [("name".to_string(), format!("Co {i}"))].into(),
            ..Default::default()
        })
        .collect();
    inputs[120]
        .properties
        .insert("not_a_property".into(), "x".into());
    let out = c
        .batch_write(Lane::Interactive, "companies", WriteOp::Create, &inputs)
        .await
        .unwrap();
    assert_eq!(out.requests, 2);
    assert_eq!(out.results.len(), 149);
    assert_eq!(out.errors.len(), 1);
    assert_eq!(out.errors[0].index, Some(120));
    assert!(
        out.errors[0].describe().contains("not_a_property")
            && out.errors[0].fields[0].property.as_deref() == Some("not_a_property"),
        "{}",
        out.errors[0].message
    );
    let up = vec![WriteInput {
        id: Some("X-9".into()),
        id_property: Some("crm_external_id".into()),
        properties: [("name".to_string(), "Upserted".to_string())].into(),
    }];
    assert_eq!(
        c.batch_write(Lane::Interactive, "companies", WriteOp::Upsert, &up)
            .await
            .unwrap()
            .results[0]
            .new,
        Some(true)
    );
    assert_eq!(
        c.batch_write(Lane::Interactive, "companies", WriteOp::Upsert, &up)
            .await
            .unwrap()
            .results[0]
            .new,
        Some(false)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_single_reads_are_coalesced_into_one_batch_read() {
    let sb = spawn(small()).await;
    let c = client(&sb, AppKind::PrivatePro);
    let ids = ids_of(&sb, "0-1");
    let mut tasks = Vec::new();
    for id in ids.iter().take(50).cloned().chain(["999".to_string()]) {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            c.get_object(Lane::Interactive, "contacts", &id, &["email".into()])
                .await
        }));
    }
    let mut found = 0;
    for t in tasks {
        if t.await.unwrap().unwrap().is_some() {
            found += 1;
        }
    }
    assert_eq!(found, 50, "the unknown id reads as None");
    assert_eq!(route_count(&sb, "/batch/read"), 1, "51 reads, one request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_is_fetched_once_while_fresh() {
    let sb = spawn(SandboxConfig {
        records: RecordCounts::scaled(50),
        ..Default::default()
    })
    .await;
    let c = client(&sb, AppKind::PrivatePro);
    for _ in 0..5 {
        assert!(c.properties("contacts").await.unwrap().len() > 10);
        assert_eq!(c.owners().await.unwrap().len(), 14);
        c.pipelines("deals").await.unwrap();
        c.schemas().await.unwrap();
    }
    assert_eq!(sb.log_summary().total, 4, "one request per metadata kind");
    c.metadata().invalidate();
    c.owners().await.unwrap();
    assert_eq!(sb.log_summary().total, 5, "refresh on demand");
    assert_eq!(
        c.refresh_metadata().await.unwrap(),
        1,
        "only owners is cached now"
    );
    assert_eq!(sb.log_summary().total, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn safe_requests_are_retried_through_5xx_and_unsafe_ones_are_not() {
    let sb = spawn(small()).await;
    let mut s = settings(&sb, AppKind::PrivatePro);
    s.backoff.base_ms = 10;
    let c = crate::support::client_for(&sb, s);
    sb.inject(
        FaultSpec::new(FaultKind::Status { status: 503 })
            .on("/crm/objects/2026-03/contacts/batch/read")
            .times(2),
    );
    let ids = ids_of(&sb, "0-1");
    let out = c
        .batch_read(Lane::Interactive, "contacts", &ids[..3], &[], None)
        .await
        .unwrap();
    assert_eq!(out.results.len(), 3);
    assert_eq!(route_count(&sb, "/batch/read"), 3, "two 503s, then success");

    sb.inject(
        FaultSpec::new(FaultKind::Status { status: 502 })
            .on("/crm/objects/2026-03/contacts")
            .method("POST")
            .times(1),
    );
    let call = Call::post(
        objects_path("contacts"),
        json!({"properties": {"email": "once@x.io"}}),
        Lane::Interactive,
        EndpointGroup::Objects,
        false,
        true,
    );
    let err = c.execute(&call).await.unwrap_err();
    assert_eq!(err.status(), Some(502));
    assert!(
        err.to_string().contains("HubSpot failed on its side"),
        "{err}"
    );
    assert_eq!(
        sb.log_summary().routes["POST /crm/objects/2026-03/contacts"].count,
        1,
        "a plain create is not repeated"
    );

    // 423 waits at least 2 s; 477 honours Retry-After.
    sb.inject(
        FaultSpec::new(FaultKind::Status { status: 423 })
            .on("/crm/objects/2026-03/deals")
            .times(1),
    );
    let t = Instant::now();
    c.execute(&Call::get(
        objects_path("deals"),
        Lane::Interactive,
        EndpointGroup::Objects,
    ))
    .await
    .unwrap();
    assert!(t.elapsed() >= Duration::from_secs(2));
    sb.inject(
        FaultSpec::new(FaultKind::Status { status: 477 })
            .on("/crm/objects/2026-03/tickets")
            .times(1)
            .retry_after(1),
    );
    let t = Instant::now();
    c.execute(&Call::get(
        objects_path("tickets"),
        Lane::Interactive,
        EndpointGroup::Objects,
    ))
    .await
    .unwrap();
    assert!(t.elapsed() >= Duration::from_secs(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daily_429_is_not_retried_and_says_when_it_resets() {
    let sb = spawn(small()).await;
    let c = client(&sb, AppKind::PrivatePro);
    sb.inject(
        FaultSpec::new(FaultKind::RateLimit {
            policy: Policy::Daily,
        })
        .times(1),
    );
    let err = c
        .execute(&Call::get(
            objects_path("contacts"),
            Lane::Interactive,
            EndpointGroup::Objects,
        ))
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::DailyLimit { .. }), "{err:?}");
    assert!(err.to_string().contains("resume after the reset"), "{err}");
    assert_eq!(sb.log_summary().total, 1);
    let again = c
        .execute(&Call::get(
            objects_path("contacts"),
            Lane::Interactive,
            EndpointGroup::Objects,
        ))
        .await
        .unwrap_err();
    assert!(matches!(again, ApiError::DailyLimit { .. }));
    assert_eq!(
        sb.log_summary().total,
        1,
        "no request is sent until the reset"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_breaker_fails_fast_and_a_probe_closes_it() {
    let sb = spawn(small()).await;
    let mut s = settings(&sb, AppKind::PrivatePro);
    s.backoff.max_attempts = 1;
    s.breaker.open_ms = 300;
    let c = crate::support::client_for(&sb, s);
    sb.inject(
        FaultSpec::new(FaultKind::Status { status: 500 })
            .on("/crm/objects/2026-03/contacts/search")
            .times(5),
    );
    let q = hubspot_mcp::hubspot::model::SearchQuery {
        limit: 1,
        ..Default::default()
    };
    for _ in 0..5 {
        assert!(c.search(Lane::Interactive, "contacts", &q).await.is_err());
    }
    let err = c
        .search(Lane::Interactive, "contacts", &q)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::CircuitOpen {
                group: EndpointGroup::Search,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("circuit open"), "{err}");
    assert_eq!(route_count(&sb, "/search"), 5, "no request while open");
    // Other groups are unaffected.
    c.execute(&Call::get(
        objects_path("contacts"),
        Lane::Interactive,
        EndpointGroup::Objects,
    ))
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    c.search(Lane::Interactive, "contacts", &q).await.unwrap();
    assert_eq!(
        c.metrics().breakers[&EndpointGroup::Search].0,
        hubspot_mcp::hubspot::circuit::BreakerState::Closed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_production_guard_refuses_writes_to_a_standard_account() {
    let sb = spawn(SandboxConfig {
        account_type: "STANDARD".into(),
        ..small()
    })
    .await;
    let mut s = settings(&sb, AppKind::PrivatePro);
    s.production_guard = true;
    let c = crate::support::client_for(&sb, s);
    let input = [WriteInput {
        properties: [("name".to_string(), "Nope".to_string())].into(),
        ..Default::default()
    }];
    let err = c
        .batch_write(Lane::Interactive, "companies", WriteOp::Create, &input)
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::ProductionGuard { .. }), "{err:?}");
    assert!(err.to_string().contains("STANDARD"));
    assert!(
        c.batch_read(Lane::Interactive, "companies", &["1".into()], &[], None)
            .await
            .is_ok(),
        "reads are allowed"
    );
    assert_eq!(route_count(&sb, "batch/create"), 0);

    let ok = spawn(SandboxConfig {
        account_type: "DEVELOPER_TEST".into(),
        ..small()
    })
    .await;
    let mut s = settings(&ok, AppKind::PrivatePro);
    s.production_guard = true;
    let c = crate::support::client_for(&ok, s);
    assert_eq!(
        c.batch_write(Lane::Interactive, "companies", WriteOp::Create, &input)
            .await
            .unwrap()
            .results
            .len(),
        1
    );
}

async fn oauth_session(sb: &Sandbox, clock: SharedClock) -> Arc<OAuthSession> {
    let http = reqwest::Client::new();
    let cfg = OAuthClientConfig {
        base_url: sb.base_url(),
        client_id: "sandbox-client-id".into(),
        client_secret: SecretString::from("sandbox-client-secret".to_string()),
        v1_fallback: false,
        refresh_margin_secs: 300,
    };
    let req = hubspot_mcp::hubspot::login::LoginRequest {
        authorize_url: format!("{}/oauth/authorize", sb.base_url()),
        scopes: vec![
            "crm.objects.contacts.read".into(),
            "crm.objects.contacts.write".into(),
            "crm.objects.companies.read".into(),
        ],
        optional_scopes: vec![],
        client: cfg.clone(),
        timeout: Duration::from_secs(10),
    };
    let follow = reqwest::Client::new();
    let tokens: TokenResponse = hubspot_mcp::hubspot::login::login(&http, &req, |url| async move {
        // The sandbox consents at once and redirects to the loopback callback.
        follow.get(url).send().await.unwrap();
    })
    .await
    .unwrap();
    Arc::new(OAuthSession::new(http, cfg, clock, tokens, None))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_callers_on_an_expiring_token_cause_exactly_one_refresh() {
    let mut cfg = small();
    cfg.oauth.expires_in_secs = 60;
    cfg.oauth.rotate_refresh_tokens = true;
    let (sb, clock) = spawn_manual(cfg).await;
    let session = oauth_session(&sb, Arc::new(clock.clone())).await;
    assert!(session
        .scopes()
        .contains(&"crm.objects.contacts.read".to_string()));
    assert_eq!(
        session.introspect().await.unwrap().len(),
        4,
        "three scopes and oauth"
    );
    clock.advance(Duration::from_secs(50));
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let s = session.clone();
        tasks.push(tokio::spawn(async move {
            s.bearer().await.map(|b| b.generation)
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), 2);
    }
    assert_eq!(session.refreshes(), 1);
    assert_eq!(sb.refresh_grants(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refreshed_once_and_the_request_replayed_once() {
    let (sb, sandbox_clock) = spawn_manual(small()).await;
    // The session's clock says the token is fresh; the sandbox's says it expired.
    let session = oauth_session(&sb, Arc::new(hubspot_mcp::time::SystemClock)).await;
    let c = HubSpotClient::builder(
        settings(&sb, AppKind::Public),
        Credentials::OAuth(session.clone()),
    )
    .build();
    sandbox_clock.advance(Duration::from_secs(1_801));
    c.execute(&Call::get(
        objects_path("contacts"),
        Lane::Interactive,
        EndpointGroup::Objects,
    ))
    .await
    .unwrap();
    assert_eq!(session.refreshes(), 1);
    assert_eq!(c.metrics().auth_replays, 1);
    let statuses = &sb.log_summary().routes["GET /crm/objects/2026-03/contacts"].statuses;
    assert_eq!(
        (statuses.get(&401), statuses.get(&200)),
        (Some(&1), Some(&1))
    );
    // A refresh that cannot help ends with a clear error after one replay, never a loop.
    sandbox_clock.advance(Duration::from_secs(3_600));
    sb.inject(
        FaultSpec::new(FaultKind::Status { status: 503 })
            .on("/oauth/2026-03/token")
            .times(10),
    );
    let err = c
        .execute(&Call::get(
            objects_path("contacts"),
            Lane::Interactive,
            EndpointGroup::Objects,
        ))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("could not refresh"), "{err}");
    assert_eq!(
        sb.log_summary().routes["GET /crm/objects/2026-03/contacts"].count,
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactive_calls_go_first_while_a_backfill_saturates_the_budget() {
    let sb = spawn(SandboxConfig {
        app_kind: AppKind::PrivateStarter,
        log_bodies: false,
        ..small()
    })
    .await;
    let c = client(&sb, AppKind::PrivateStarter);
    let ids = ids_of(&sb, "0-1");
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut backfill = Vec::new();
    for w in 0..4 {
        let (c, ids, stop) = (c.clone(), ids.clone(), stop.clone());
        backfill.push(tokio::spawn(async move {
            let mut i = w;
            while !stop.load(Ordering::Relaxed) {
                c.batch_read(
                    Lane::Background,
                    "contacts",
                    &ids[(i % 4) * 100..(i % 4) * 100 + 100],
                    &[],
                    None,
                )
                .await
                .unwrap();
                i += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(12)).await;
    let mut waits = Vec::new();
    for i in 0..20 {
        let t = Instant::now();
        c.execute(&Call::get(
            ApiVersion::Dated.object(
                &ObjectType::parse("contacts").unwrap(),
                &RecordId::parse(&ids[i]).unwrap(),
            ),
            Lane::Interactive,
            EndpointGroup::Objects,
        ))
        .await
        .unwrap();
        waits.push(t.elapsed());
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for b in backfill {
        b.await.unwrap();
    }
    waits.sort();
    eprintln!(
        "interactive waits during backfill: p50 {:?}, max {:?} (one slot is 100 ms)",
        waits[10], waits[19]
    );
    // Without lanes an interactive call would queue behind the backfill for up to the whole
    // 10 s window; with them it waits for about one slot.
    assert!(waits[19] < Duration::from_secs(2), "{waits:?}");
    assert!(sb.log_summary().rate_limited.is_empty());
}

/// A 429 says HubSpot is busy, not broken: it slows every caller down through the governor
/// and never opens a breaker. Background work waits a storm out and finishes; an interactive
/// call waits until its deadline, then says how long it waited. No retry storm either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_storm_opens_no_breaker_background_work_waits_it_out() {
    let sb = spawn(SandboxConfig {
        app_kind: AppKind::PrivatePro,
        log_bodies: false,
        log_capacity: 200_000,
        ..small()
    })
    .await;
    let mut s = settings(&sb, AppKind::PrivatePro);
    s.interactive_deadline_ms = 2_000;
    let c = crate::support::client_for(&sb, s);
    let storm = Duration::from_secs(12);
    sb.inject(
        FaultSpec::new(FaultKind::RateLimit {
            policy: Policy::TenSecondlyRolling,
        })
        .for_duration(storm),
    );
    let ids = ids_of(&sb, "0-1");
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..3 {
        let (c, ids) = (c.clone(), ids.clone());
        workers.push(tokio::spawn(async move {
            let r = c
                .batch_read(
                    Lane::Background,
                    "contacts",
                    &ids[w * 100..w * 100 + 100],
                    &[],
                    None,
                )
                .await;
            (r.map(|o| o.results.len()), started.elapsed())
        }));
    }
    // An interactive call in the storm: it waits its deadline, then says so.
    let err = c
        .batch_read(Lane::Interactive, "contacts", &ids[..1], &[], None)
        .await
        .expect_err("still busy after the deadline");
    assert!(matches!(err, ApiError::RateLimited { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("busy") && text.contains("of waiting") && !text.contains("circuit"),
        "{text}"
    );
    for w in workers {
        let (r, at) = w.await.unwrap();
        assert_eq!(r.expect("background work waits the storm out"), 100);
        assert!(at >= storm, "it finished after the storm ({at:?})");
    }
    let times: Vec<i64> = sb.log_entries().iter().map(|e| e.at_ms).collect();
    let worst = times
        .iter()
        .map(|t| {
            times
                .iter()
                .filter(|u| **u >= *t && **u < t + 10_000)
                .count()
        })
        .max()
        .unwrap_or(0);
    let m = c.metrics();
    eprintln!(
        "429 storm: {} requests, worst 10 s window {worst}, 429s {}, breaker opened {} times",
        times.len(),
        m.throttled_429s,
        m.breakers[&EndpointGroup::Objects].1
    );
    assert!(worst <= 190, "under the limit: worst window {worst}");
    assert_eq!(
        m.breakers[&EndpointGroup::Objects].1,
        0,
        "a 429 never opens a breaker"
    );
    assert!(
        m.throttled_429s <= 40,
        "the governor's backoff, not a retry storm: {} 429s in {storm:?}",
        m.throttled_429s
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_expiring_every_minute_through_five_minutes_fail_no_request() {
    let mut cfg = small();
    cfg.oauth.expires_in_secs = 60;
    cfg.oauth.rotate_refresh_tokens = true;
    cfg.log_bodies = false;
    let sb = spawn(cfg).await;
    let session = oauth_session(&sb, Arc::new(hubspot_mcp::time::SystemClock)).await;
    let c = HubSpotClient::builder(
        settings(&sb, AppKind::Public),
        Credentials::OAuth(session.clone()),
    )
    .build();
    let ids = ids_of(&sb, "0-1");
    let run = Duration::from_secs(300);
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..3 {
        let (c, ids) = (c.clone(), ids.clone());
        workers.push(tokio::spawn(async move {
            let mut n = 0u64;
            while started.elapsed() < run {
                c.batch_read(
                    Lane::Background,
                    "contacts",
                    &ids[w * 100..w * 100 + 10],
                    &[],
                    None,
                )
                .await
                .unwrap_or_else(|e| panic!("request failed: {e}"));
                n += 1;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            n
        }));
    }
    let mut total = 0;
    for w in workers {
        total += w.await.unwrap();
    }
    let refreshes = session.refreshes();
    eprintln!("token expiry: {total} requests over 300 s with 60 s tokens, {refreshes} refreshes, {} replays", c.metrics().auth_replays);
    assert_eq!(
        refreshes,
        sb.refresh_grants(),
        "every refresh the sandbox served was ours, none doubled"
    );
    assert!(
        (6..=7).contains(&refreshes),
        "one refresh per token lifetime: {refreshes}"
    );
    assert!(
        !sb.log_summary().statuses.contains_key(&401),
        "no request ever met an expired token"
    );
}

/// `/crm/objects/2026-03/{t}`, as the client builds it.
fn objects_path(t: &str) -> ApiPath {
    ApiVersion::Dated.objects(&ObjectType::parse(t).unwrap())
}
