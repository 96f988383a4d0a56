//! The OAuth server: authorization code with PKCE, expiry, refresh and rotation, introspection.

use std::time::Duration;

use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::support::{small, spawn_manual, Api, SandboxConfig};

const ID: &str = "sandbox-client-id";
const SECRET: &str = "sandbox-client-secret";
const REDIRECT: &str = "http://127.0.0.1:9/callback";

async fn authorize(api: &Api, verifier: &str) -> String {
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = client
        .get(format!("{}/oauth/authorize", api.base))
        .query(&[
            ("client_id", ID),
            ("redirect_uri", REDIRECT),
            ("scope", "crm.objects.contacts.read oauth"),
            ("state", "xyz"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with(REDIRECT) && location.contains("state=xyz"),
        "{location}"
    );
    let url = reqwest::Url::parse(&location).unwrap();
    url.query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned()
}

async fn exchange(api: &Api, version: &str, code: &str, verifier: &str) -> Value {
    let r = api
        .form(
            &format!("/oauth/{version}/token"),
            &[
                ("grant_type", "authorization_code"),
                ("client_id", ID),
                ("client_secret", SECRET),
                ("redirect_uri", REDIRECT),
                ("code", code),
                ("code_verifier", verifier),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

#[tokio::test]
async fn authorization_code_with_pkce_issues_scoped_tokens_that_expire() {
    let (sb, clock) = spawn_manual(small()).await;
    let api = Api::new(&sb);
    let code = authorize(&api, "a-verifier-of-sufficient-length-123456").await;
    // A wrong verifier fails and burns nothing but the attempt.
    let bad = api
        .form(
            "/oauth/2026-03/token",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", ID),
                ("client_secret", SECRET),
                ("redirect_uri", REDIRECT),
                ("code", &code),
                ("code_verifier", "wrong"),
            ],
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.body["status"], "BAD_CODE_VERIFIER");
    let code = authorize(&api, "a-verifier-of-sufficient-length-123456").await;
    let tok = exchange(
        &api,
        "2026-03",
        &code,
        "a-verifier-of-sufficient-length-123456",
    )
    .await;
    assert_eq!(tok["token_type"], "bearer");
    assert_eq!(tok["expires_in"], 1800);
    assert_eq!(tok["hub_id"], 62515);
    assert!(tok["refresh_token"].as_str().unwrap().starts_with("na1-"));
    let access = tok["access_token"].as_str().unwrap();
    let user = api.with_token(access);
    assert_eq!(
        user.get("/crm/v3/objects/contacts?limit=1").await.status,
        200
    );
    assert_eq!(
        user.get("/crm/v3/objects/deals?limit=1").await.status,
        403,
        "deals were not granted"
    );
    // A code works once.
    let again = api
        .form(
            "/oauth/2026-03/token",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", ID),
                ("client_secret", SECRET),
                ("redirect_uri", REDIRECT),
                ("code", &code),
                ("code_verifier", "a-verifier-of-sufficient-length-123456"),
            ],
        )
        .await;
    assert_eq!(again.body["error"], "invalid_grant");
    // Expiry.
    clock.advance(Duration::from_secs(1_800));
    let r = user.get("/crm/v3/objects/contacts?limit=1").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["category"], "EXPIRED_AUTHENTICATION");
    assert_eq!(
        r.body["message"],
        "The OAuth token used to make this call expired 0 second(s) ago."
    );
    assert!(r.body["context"]["expire time"][0].is_string());
    clock.advance(Duration::from_secs(5));
    assert!(user.get("/crm/v3/owners").await.body["message"]
        .as_str()
        .unwrap()
        .contains("expired 5 second(s) ago"));
}

#[tokio::test]
async fn refresh_tokens_rotate_when_configured_and_old_ones_fail() {
    let mut cfg = small();
    cfg.oauth.rotate_refresh_tokens = true;
    cfg.oauth.expires_in_secs = 60;
    let (sb, clock) = spawn_manual(cfg).await;
    let api = Api::new(&sb);
    let code = authorize(&api, "v").await;
    let tok = exchange(&api, "v3", &code, "v").await;
    assert_eq!(tok["expires_in"], 60);
    let r1 = tok["refresh_token"].as_str().unwrap().to_string();
    clock.advance(Duration::from_secs(61));
    let refreshed = api
        .form(
            "/oauth/v3/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", ID),
                ("client_secret", SECRET),
                ("refresh_token", &r1),
            ],
        )
        .await;
    assert_eq!(refreshed.status, 200);
    let r2 = refreshed.body["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(r1, r2, "rotated");
    assert_eq!(
        api.with_token(refreshed.body["access_token"].as_str().unwrap())
            .get("/crm/v3/objects/contacts?limit=1")
            .await
            .status,
        200
    );
    let stale = api
        .form(
            "/oauth/v3/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", ID),
                ("client_secret", SECRET),
                ("refresh_token", &r1),
            ],
        )
        .await;
    assert_eq!(stale.status, 400);
    assert_eq!(stale.body["error"], "invalid_grant");
    assert_eq!(stale.body["status"], "BAD_REFRESH_TOKEN");
    assert_eq!(sb.refresh_grants(), 1);
}

#[tokio::test]
async fn refresh_tokens_are_stable_without_rotation_and_v1_takes_query_parameters() {
    let (sb, _clock) = spawn_manual(SandboxConfig { ..small() }).await;
    let api = Api::new(&sb);
    let code = authorize(&api, "v").await;
    let tok = exchange(&api, "v1", &code, "v").await;
    let r1 = tok["refresh_token"].as_str().unwrap().to_string();
    let url = format!("{}/oauth/v1/token?grant_type=refresh_token&client_id={ID}&client_secret={SECRET}&refresh_token={r1}", api.base);
    let res: Value = reqwest::Client::new()
        .post(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(res["refresh_token"], r1.as_str());
    // v3 refuses credentials in the query string.
    let url = format!("{}/oauth/v3/token?grant_type=refresh_token&client_id={ID}&client_secret={SECRET}&refresh_token={r1}", api.base);
    let res = reqwest::Client::new().post(url).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 400);
}

#[tokio::test]
async fn introspection_revocation_and_legacy_token_info() {
    let (sb, _clock) = spawn_manual(small()).await;
    let api = Api::new(&sb);
    let code = authorize(&api, "v").await;
    let tok = exchange(&api, "2026-03", &code, "v").await;
    let access = tok["access_token"].as_str().unwrap().to_string();
    let refresh = tok["refresh_token"].as_str().unwrap().to_string();
    let info = api
        .form(
            "/oauth/2026-03/token/introspect",
            &[
                ("client_id", ID),
                ("client_secret", SECRET),
                ("token", &access),
                ("token_type_hint", "access_token"),
            ],
        )
        .await;
    assert_eq!(info.body["active"], true);
    assert_eq!(info.body["hub_id"], 62515);
    assert!(info.body["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s == "crm.objects.contacts.read"));
    assert!(info.body["expires_in"].as_i64().unwrap() > 0);
    let legacy = api.get(&format!("/oauth/v1/access-tokens/{access}")).await;
    assert_eq!(legacy.status, 200);
    assert_eq!(legacy.body["token_type"], "access");
    // Static private-app tokens are described too (a peer server probes this).
    assert_eq!(
        api.get(&format!("/oauth/v1/access-tokens/{}", sb.token()))
            .await
            .status,
        200
    );
    let revoked = api
        .form(
            "/oauth/v3/token/revoke",
            &[
                ("client_id", ID),
                ("client_secret", SECRET),
                ("token", &refresh),
            ],
        )
        .await;
    assert_eq!(revoked.status, 200);
    let info = api
        .form(
            "/oauth/v3/token/introspect",
            &[
                ("client_id", ID),
                ("client_secret", SECRET),
                ("token", &refresh),
            ],
        )
        .await;
    assert_eq!(info.body["active"], false);
    let bad_client = api
        .form(
            "/oauth/v3/token/introspect",
            &[
                ("client_id", ID),
                ("client_secret", "nope"),
                ("token", &access),
            ],
        )
        .await;
    assert_eq!(bad_client.status, 400);
    assert_eq!(bad_client.body["error"], "invalid_client");
}
