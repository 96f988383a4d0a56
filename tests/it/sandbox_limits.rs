//! Rate limits, over HTTP: exact windows, the three 429 bodies, headers, and the search limit.

use std::time::Duration;

use hubspot_sandbox::limits::LimitSettings;
use hubspot_sandbox::oauth::{StaticToken, TokenKind};
use hubspot_sandbox::AppKind;
use serde_json::json;

use crate::support::{small, spawn, spawn_manual, Api};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_requests_in_one_second_get_exactly_190_successes_with_private_pro() {
    let sb = spawn(crate::support::SandboxConfig {
        app_kind: AppKind::PrivatePro,
        ..small()
    })
    .await;
    let api = Api::new(&sb);
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            api.get("/crm/v3/objects/contacts?limit=1").await
        }));
    }
    let mut ok = 0;
    let mut limited = 0;
    for t in tasks {
        let r = t.await.unwrap();
        match r.status {
            200 => ok += 1,
            429 => {
                assert_eq!(r.body["policyName"], "TEN_SECONDLY_ROLLING");
                limited += 1;
            }
            other => panic!("unexpected status {other}: {:?}", r.body),
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the burst must fit in one window"
    );
    assert_eq!((ok, limited), (190, 10));
    let summary = sb.log_summary();
    assert_eq!(summary.rate_limited.get("TEN_SECONDLY_ROLLING"), Some(&10));
}

#[tokio::test]
async fn rolling_window_is_exact_on_a_manual_clock() {
    let (sb, clock) = spawn_manual(crate::support::SandboxConfig {
        app_kind: AppKind::PrivateStarter,
        retry_after: true,
        ..small()
    })
    .await;
    let api = Api::new(&sb);
    for i in 0..100 {
        let r = api.get("/crm/v3/objects/companies?limit=1").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-hubspot-ratelimit-max"), Some("100"));
        assert_eq!(
            r.header("x-hubspot-ratelimit-remaining").unwrap(),
            (99 - i).to_string()
        );
        assert_eq!(
            r.header("x-hubspot-ratelimit-interval-milliseconds"),
            Some("10000")
        );
        assert_eq!(r.header("x-hubspot-ratelimit-daily"), Some("250000"));
        if i == 49 {
            clock.advance(Duration::from_millis(4_000));
        }
    }
    let r = api.get("/crm/v3/objects/companies?limit=1").await;
    assert_eq!(r.status, 429);
    assert_eq!(
        r.header("retry-after"),
        Some("6"),
        "the first 50 slots free 10 s after they were used, 6 s from now"
    );
    assert_eq!(r.header("x-hubspot-ratelimit-remaining"), Some("0"));
    clock.advance(Duration::from_millis(5_999));
    assert_eq!(
        api.get("/crm/v3/objects/companies?limit=1").await.status,
        429,
        "one millisecond early"
    );
    clock.advance(Duration::from_millis(1));
    for _ in 0..50 {
        assert_eq!(
            api.get("/crm/v3/objects/companies?limit=1").await.status,
            200
        );
    }
    assert_eq!(
        api.get("/crm/v3/objects/companies?limit=1").await.status,
        429,
        "the other 50 are still in the window"
    );
    clock.advance(Duration::from_millis(4_000));
    assert_eq!(
        api.get("/crm/v3/objects/companies?limit=1").await.status,
        200
    );
}

#[tokio::test]
async fn daily_limit_answers_with_the_daily_body_and_resets_at_midnight() {
    let mut limits = AppKind::PrivateStarter.limits();
    limits.daily = Some(3);
    let (sb, clock) = spawn_manual(crate::support::SandboxConfig {
        limits_override: Some(limits),
        ..small()
    })
    .await;
    let api = Api::new(&sb);
    for left in ["2", "1", "0"] {
        let r = api.get("/crm/v3/owners").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-hubspot-ratelimit-daily-remaining"), Some(left));
    }
    let r = api.get("/crm/v3/owners").await;
    assert_eq!(r.status, 429);
    assert_eq!(r.body["policyName"], "DAILY");
    assert_eq!(r.body["message"], "You have reached your daily limit.");
    assert_eq!(r.body["errorType"], "RATE_LIMIT");
    assert!(r.body["correlationId"]
        .as_str()
        .is_some_and(|c| c.len() == 36));
    assert!(r.body["requestId"].is_string());
    clock.advance(Duration::from_secs(86_400));
    assert_eq!(api.get("/crm/v3/owners").await.status, 200);
}

#[tokio::test]
async fn search_has_its_own_secondly_limit_and_sends_no_rate_headers() {
    let (sb, clock) = spawn_manual(small()).await;
    let api = Api::new(&sb);
    for _ in 0..5 {
        let r = api
            .post("/crm/v3/objects/contacts/search", json!({"limit": 1}))
            .await;
        assert_eq!(r.status, 200);
        assert!(r.header("x-hubspot-ratelimit-max").is_none());
        assert!(r.header("x-hubspot-ratelimit-remaining").is_none());
    }
    let r = api
        .post("/crm/v3/objects/contacts/search", json!({"limit": 1}))
        .await;
    assert_eq!(r.status, 429);
    assert_eq!(r.body["policyName"], "SECONDLY");
    assert_eq!(r.body["message"], "You have reached your secondly limit.");
    // Search did not spend the burst window.
    let r = api.get("/crm/v3/objects/contacts?limit=1").await;
    assert_eq!(r.header("x-hubspot-ratelimit-remaining"), Some("189"));
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        api.post("/crm/v3/objects/contacts/search", json!({"limit": 1}))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn oauth_callers_get_no_daily_headers() {
    let sb = spawn(small()).await;
    let api = Api::new(&sb);
    let tok = api
        .form(
            "/oauth/v3/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "sandbox-client-id"),
                ("client_secret", "sandbox-client-secret"),
            ],
        )
        .await;
    let access = tok.body["access_token"].as_str().unwrap().to_string();
    let r = api
        .with_token(&access)
        .get("/crm/v3/objects/deals?limit=1")
        .await;
    assert_eq!(r.status, 200);
    assert!(r.header("x-hubspot-ratelimit-max").is_some());
    assert!(r.header("x-hubspot-ratelimit-daily").is_none());
    let r = api.get("/crm/v3/objects/deals?limit=1").await;
    assert!(
        r.header("x-hubspot-ratelimit-daily").is_some(),
        "private-app callers do get them"
    );
}

#[tokio::test]
async fn service_keys_share_no_window_with_the_private_app() {
    let cfg = crate::support::SandboxConfig {
        limits_override: Some(LimitSettings {
            burst_max: 2,
            ..AppKind::PrivatePro.limits()
        }),
        static_tokens: vec![StaticToken {
            token: "sk-test".into(),
            kind: TokenKind::ServiceKey,
            scopes: None,
        }],
        ..small()
    };
    let (sb, _clock) = spawn_manual(cfg).await;
    let api = Api::new(&sb);
    assert_eq!(api.get("/crm/v3/owners").await.status, 200);
    assert_eq!(api.get("/crm/v3/owners").await.status, 200);
    assert_eq!(api.get("/crm/v3/owners").await.status, 429);
    assert_eq!(
        api.with_token("sk-test").get("/crm/v3/owners").await.status,
        200
    );
}
