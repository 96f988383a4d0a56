//! The sandbox's authorization server and credential registry (§1, §13, §14 of the API facts).
//!
//! - `/oauth/authorize` consents at once and redirects with `code` and `state`, so the
//!   authorization-code flow (with PKCE) runs end to end with no browser.
//! - `/oauth/v1/token` (values may also be query parameters, as v1 allowed),
//!   `/oauth/v3/token` and `/oauth/2026-03/token` (body only) take `authorization_code`,
//!   `refresh_token` and `client_credentials`.
//! - Access tokens expire after `expires_in` (1800 s by default) on the sandbox clock; an expired
//!   one gets HubSpot's 401 `EXPIRED_AUTHENTICATION` body. Refresh tokens can rotate.
//! - Static private-app tokens, service keys and static app tokens never expire.
//!
//! Secrets (client secret, tokens) never reach the request log: the gateway does not log OAuth
//! bodies and masks token path segments.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use base64::Engine;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::error::HsError;
use super::Shared;
use hubspot_wire::time::iso_ms;

/// What kind of credential a bearer token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenKind {
    /// An OAuth access token (expires; no daily-limit headers).
    Oauth,
    /// A legacy private-app token (`pat-na1-…`).
    PrivateApp,
    /// A service key.
    ServiceKey,
    /// A static token of a privately distributed project app.
    StaticApp,
}

/// A configured static token.
#[derive(Clone, Serialize, Deserialize)]
pub struct StaticToken {
    pub token: String,
    pub kind: TokenKind,
    /// Granted scopes; `None` grants every scope.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
}

impl std::fmt::Debug for StaticToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticToken")
            .field("token", &"[redacted]")
            .field("kind", &self.kind)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// The OAuth app the sandbox knows.
#[derive(Clone, Serialize, Deserialize)]
pub struct OAuthSettings {
    pub client_id: String,
    pub client_secret: String,
    pub app_id: u64,
    /// Access-token lifetime in seconds (HubSpot: 1800).
    pub expires_in_secs: i64,
    /// Issue a new refresh token on every refresh and revoke the old one.
    pub rotate_refresh_tokens: bool,
    /// Scopes the app may be granted; `None` allows every scope.
    pub allowed_scopes: Option<Vec<String>>,
}

impl std::fmt::Debug for OAuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthSettings")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("app_id", &self.app_id)
            .field("expires_in_secs", &self.expires_in_secs)
            .field("rotate_refresh_tokens", &self.rotate_refresh_tokens)
            .finish()
    }
}

/// Who made a request, as the gateway resolved it.
#[derive(Debug, Clone)]
pub struct Caller {
    pub app_id: String,
    pub kind: TokenKind,
    pub scopes: Arc<BTreeSet<String>>,
}

#[derive(Debug, Clone)]
struct AccessToken {
    expires_ms: i64,
    scopes: Arc<BTreeSet<String>>,
}

#[derive(Debug, Clone)]
struct RefreshToken {
    scopes: Arc<BTreeSet<String>>,
}

#[derive(Debug, Clone)]
struct AuthCode {
    client_id: String,
    redirect_uri: String,
    scopes: Arc<BTreeSet<String>>,
    code_challenge: Option<String>,
    expires_ms: i64,
}

/// Issued credentials.
#[derive(Debug, Default)]
pub struct Registry {
    access: HashMap<String, AccessToken>,
    refresh: HashMap<String, RefreshToken>,
    codes: HashMap<String, AuthCode>,
    statics: HashMap<String, StaticToken>,
    /// How many refresh grants were served (tests assert single-flight refresh with it).
    pub refresh_grants: u64,
}

impl Registry {
    /// Registers static tokens.
    pub fn new(statics: &[StaticToken]) -> Self {
        Self {
            statics: statics
                .iter()
                .map(|t| (t.token.clone(), t.clone()))
                .collect(),
            ..Default::default()
        }
    }

    /// Adds a static token at run time.
    pub fn add_static(&mut self, token: StaticToken) {
        self.statics.insert(token.token.clone(), token);
    }

    /// Resolves a bearer token.
    ///
    /// # Errors
    /// 401 `INVALID_AUTHENTICATION` or `EXPIRED_AUTHENTICATION`, in HubSpot's shapes.
    pub fn authenticate(
        &self,
        token: &str,
        all_scopes: &[String],
        oauth: &OAuthSettings,
        now_ms: i64,
    ) -> Result<Caller, HsError> {
        if let Some(s) = self.statics.get(token) {
            let scopes = s.scopes.clone().unwrap_or_else(|| all_scopes.to_vec());
            let app = match s.kind {
                TokenKind::ServiceKey => "service-key",
                _ => "private-app",
            };
            return Ok(Caller {
                app_id: app.into(),
                kind: s.kind,
                scopes: Arc::new(scopes.into_iter().collect()),
            });
        }
        match self.access.get(token) {
            Some(t) if t.expires_ms > now_ms => Ok(Caller {
                app_id: oauth.app_id.to_string(),
                kind: TokenKind::Oauth,
                scopes: t.scopes.clone(),
            }),
            Some(t) => {
                let ago = (now_ms - t.expires_ms) / 1000;
                Err(HsError::new(
                    StatusCode::UNAUTHORIZED,
                    "EXPIRED_AUTHENTICATION",
                    format!("The OAuth token used to make this call expired {ago} second(s) ago."),
                )
                .with_context("expire time", vec![iso_ms(t.expires_ms)]))
            }
            None => Err(invalid_authentication()),
        }
    }

    fn issue(
        &mut self,
        scopes: Arc<BTreeSet<String>>,
        with_refresh: Option<String>,
        settings: &OAuthSettings,
        now_ms: i64,
    ) -> Value {
        if self.access.len() > 50_000 {
            self.access.retain(|_, t| t.expires_ms > now_ms - 3_600_000);
        }
        let access = format!(
            "sbx-at-{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        self.access.insert(
            access.clone(),
            AccessToken {
                expires_ms: now_ms + settings.expires_in_secs * 1000,
                scopes: scopes.clone(),
            },
        );
        let mut body = json!({
            "token_type": "bearer",
            "access_token": access,
            "expires_in": settings.expires_in_secs,
            "hub_id": 0,
            "scopes": scopes.iter().collect::<Vec<_>>(),
        });
        if let Some(r) = with_refresh {
            body["refresh_token"] = json!(r);
        }
        body
    }

    fn new_refresh(&mut self, scopes: Arc<BTreeSet<String>>) -> String {
        let token = format!("na1-{}", uuid::Uuid::new_v4());
        self.refresh.insert(token.clone(), RefreshToken { scopes });
        token
    }

    /// Does `token` name a live credential of any kind (for legacy introspection)?
    fn describe(
        &self,
        token: &str,
        now_ms: i64,
    ) -> Option<(Arc<BTreeSet<String>>, i64, &'static str)> {
        if let Some(t) = self.access.get(token) {
            return (t.expires_ms > now_ms)
                .then(|| (t.scopes.clone(), (t.expires_ms - now_ms) / 1000, "access"));
        }
        if let Some(r) = self.refresh.get(token) {
            return Some((r.scopes.clone(), 0, "refresh"));
        }
        self.statics.get(token).map(|s| {
            (
                Arc::new(s.scopes.clone().unwrap_or_default().into_iter().collect()),
                315_360_000,
                "access",
            )
        })
    }
}

/// 401 for a missing or unknown credential.
pub fn invalid_authentication() -> HsError {
    HsError::new(
        StatusCode::UNAUTHORIZED,
        "INVALID_AUTHENTICATION",
        "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
    )
}

/// An RFC 6749 error in HubSpot's v3 shape.
fn oauth_error(status: StatusCode, error: &str, hs_status: &str, description: &str) -> HsError {
    HsError::raw(
        status,
        json!({"error": error, "error_description": description, "status": hs_status, "message": description}),
    )
}

fn params(
    body: &Bytes,
    query: Option<&str>,
    allow_query: bool,
) -> Result<HashMap<String, String>, HsError> {
    let mut out: HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
    if let Some(q) = query {
        let from_query: HashMap<String, String> =
            form_urlencoded::parse(q.as_bytes()).into_owned().collect();
        if !allow_query
            && from_query.keys().any(|k| {
                matches!(
                    k.as_str(),
                    "client_secret" | "refresh_token" | "code" | "client_id"
                )
            })
        {
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "BAD_REQUEST",
                "Credentials must be sent in the form-encoded request body, not as query parameters, on the v3 and date-based token endpoints.",
            ));
        }
        if allow_query {
            for (k, v) in from_query {
                out.entry(k).or_insert(v);
            }
        }
    }
    Ok(out)
}

fn check_client(p: &HashMap<String, String>, settings: &OAuthSettings) -> Result<(), HsError> {
    if p.get("client_id").map(String::as_str) != Some(settings.client_id.as_str()) {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            "BAD_CLIENT_ID",
            "missing or unknown client id",
        ));
    }
    let given = p
        .get("client_secret")
        .map(String::as_bytes)
        .unwrap_or_default();
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        given,
        settings.client_secret.as_bytes(),
    )) {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            "BAD_CLIENT_SECRET",
            "missing or invalid client secret",
        ));
    }
    Ok(())
}

fn scope_set(
    raw: Option<&String>,
    settings: &OAuthSettings,
    all: &[String],
) -> Result<Arc<BTreeSet<String>>, HsError> {
    let allowed: BTreeSet<String> = settings
        .allowed_scopes
        .clone()
        .unwrap_or_else(|| all.to_vec())
        .into_iter()
        .collect();
    let requested: BTreeSet<String> = match raw {
        Some(s) if !s.trim().is_empty() => s
            .split([' ', ',', '+'])
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        _ => allowed.clone(),
    };
    if let Some(bad) = requested.iter().find(|s| !allowed.contains(*s)) {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "BAD_SCOPE",
            &format!("scope {bad} is not allowed for this app"),
        ));
    }
    let mut scopes = requested;
    scopes.insert("oauth".into());
    Ok(Arc::new(scopes))
}

/// `POST /oauth/{v1|v3|2026-03}/token`.
pub async fn token(
    State(s): State<Arc<Shared>>,
    Path(version): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response, HsError> {
    let p = params(&body, q.as_deref(), version == "v1")?;
    let settings = &s.config.oauth;
    check_client(&p, settings)?;
    let now = s.clock.now_ms();
    let all = s.all_scopes.as_slice();
    let mut reg = s.registry.lock();
    let grant = p.get("grant_type").map(String::as_str).unwrap_or("");
    let body = match grant {
        "authorization_code" => {
            let code = p.get("code").cloned().unwrap_or_default();
            let Some(c) = reg.codes.remove(&code) else {
                return Err(oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "BAD_AUTH_CODE", "auth code is invalid, expired or already used"));
            };
            if c.expires_ms < now || c.client_id != settings.client_id {
                return Err(oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "BAD_AUTH_CODE", "auth code is invalid, expired or already used"));
            }
            if p.get("redirect_uri") != Some(&c.redirect_uri) {
                return Err(oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "BAD_REDIRECT_URI", "redirect_uri does not match the one used to authorize"));
            }
            if let Some(challenge) = &c.code_challenge {
                let verifier = p.get("code_verifier").cloned().unwrap_or_default();
                let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
                if &computed != challenge {
                    return Err(oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "BAD_CODE_VERIFIER", "code_verifier does not match the code_challenge"));
                }
            }
            let refresh = reg.new_refresh(c.scopes.clone());
            reg.issue(c.scopes, Some(refresh), settings, now)
        }
        "refresh_token" => {
            let token = p.get("refresh_token").cloned().unwrap_or_default();
            let Some(r) = reg.refresh.get(&token).cloned() else {
                return Err(oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "BAD_REFRESH_TOKEN", "refresh token is invalid, expired or revoked"));
            };
            reg.refresh_grants += 1;
            let next = if settings.rotate_refresh_tokens {
                reg.refresh.remove(&token);
                reg.new_refresh(r.scopes.clone())
            } else {
                token
            };
            reg.issue(r.scopes, Some(next), settings, now)
        }
        "client_credentials" => {
            let scopes = scope_set(p.get("scope"), settings, all)?;
            reg.issue(scopes, None, settings, now)
        }
        other => {
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "BAD_GRANT_TYPE",
                &format!("grant_type {other:?} is not supported; use authorization_code, refresh_token or client_credentials"),
            ))
        }
    };
    let mut body = body;
    body["hub_id"] = json!(s.config.portal_id);
    Ok(Json(body).into_response())
}

/// Query of `GET /oauth/authorize`.
#[derive(Debug, Deserialize)]
pub struct AuthorizeQuery {
    client_id: String,
    redirect_uri: String,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    optional_scope: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    code_challenge: Option<String>,
    #[serde(default)]
    code_challenge_method: Option<String>,
}

/// `GET /oauth/authorize`: the sandbox's user consents at once.
pub async fn authorize(
    State(s): State<Arc<Shared>>,
    axum::extract::Query(q): axum::extract::Query<AuthorizeQuery>,
) -> Result<Response, HsError> {
    let settings = &s.config.oauth;
    if q.client_id != settings.client_id {
        return Err(HsError::validation(
            "Unknown client_id: the app is not installed in this sandbox.",
        ));
    }
    let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|p| q.redirect_uri.starts_with(p));
    if !loopback {
        return Err(HsError::validation(
            "The sandbox redirects only to loopback redirect URIs (http://127.0.0.1:PORT/…).",
        ));
    }
    if q.code_challenge.is_some() && q.code_challenge_method.as_deref().unwrap_or("S256") != "S256"
    {
        return Err(HsError::validation("code_challenge_method must be S256."));
    }
    let mut raw = q.scope.clone().unwrap_or_default();
    if let Some(opt) = &q.optional_scope {
        raw = format!("{raw} {opt}");
    }
    let scopes = scope_set(Some(&raw), settings, &s.all_scopes)?;
    let code = format!("sbx-code-{}", uuid::Uuid::new_v4().simple());
    s.registry.lock().codes.insert(
        code.clone(),
        AuthCode {
            client_id: q.client_id,
            redirect_uri: q.redirect_uri.clone(),
            scopes,
            code_challenge: q.code_challenge,
            expires_ms: s.clock.now_ms() + 600_000,
        },
    );
    let sep = if q.redirect_uri.contains('?') {
        '&'
    } else {
        '?'
    };
    let mut target = format!("{}{sep}code={code}", q.redirect_uri);
    if let Some(state) = q.state {
        target.push_str("&state=");
        target.push_str(&form_urlencoded::byte_serialize(state.as_bytes()).collect::<String>());
    }
    Ok(Redirect::to(&target).into_response())
}

/// `POST /oauth/{v3|2026-03}/token/introspect`.
pub async fn introspect(
    State(s): State<Arc<Shared>>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response, HsError> {
    let p = params(&body, q.as_deref(), false)?;
    check_client(&p, &s.config.oauth)?;
    let token = p.get("token").cloned().unwrap_or_default();
    let now = s.clock.now_ms();
    let reg = s.registry.lock();
    let Some((scopes, expires_in, kind)) = reg.describe(&token, now) else {
        return Ok(Json(json!({"active": false})).into_response());
    };
    let mut body = json!({
        "active": true,
        "app_id": s.config.oauth.app_id,
        "client_id": s.config.oauth.client_id,
        "hub_id": s.config.portal_id,
        "hub_domain": format!("sandbox-{}.hubspot.example", s.config.portal_id),
        "scopes": scopes.iter().collect::<Vec<_>>(),
        "token_type": kind,
        "token_use": format!("{kind}_token"),
        "user": "sandbox.admin@sandbox-portal.example",
        "user_id": 7_100_001,
        "is_private_distribution": false,
    });
    if kind == "access" {
        body["expires_in"] = json!(expires_in);
    }
    Ok(Json(body).into_response())
}

/// `POST /oauth/{v3|2026-03}/token/revoke`.
pub async fn revoke(
    State(s): State<Arc<Shared>>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response, HsError> {
    let p = params(&body, q.as_deref(), false)?;
    check_client(&p, &s.config.oauth)?;
    let token = p.get("token").cloned().unwrap_or_default();
    let mut reg = s.registry.lock();
    reg.refresh.remove(&token);
    reg.access.remove(&token);
    Ok(StatusCode::OK.into_response())
}

fn legacy_info(s: &Shared, token: &str, want: &str) -> Result<Response, HsError> {
    let now = s.clock.now_ms();
    let reg = s.registry.lock();
    match reg.describe(token, now) {
        Some((scopes, expires_in, kind)) if kind == want => {
            let mut body = json!({
                "token": token,
                "user": "sandbox.admin@sandbox-portal.example",
                "hub_domain": format!("sandbox-{}.hubspot.example", s.config.portal_id),
                "scopes": scopes.iter().collect::<Vec<_>>(),
                "hub_id": s.config.portal_id,
                "app_id": s.config.oauth.app_id,
                "user_id": 7_100_001,
                "token_type": kind,
            });
            if kind == "access" {
                body["expires_in"] = json!(expires_in);
            }
            Ok(Json(body).into_response())
        }
        _ => Err(HsError::new(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            format!("No live {want} token matches; it may be expired or revoked."),
        )),
    }
}

/// `GET /oauth/v1/access-tokens/{token}`.
pub async fn access_token_info(
    State(s): State<Arc<Shared>>,
    Path(token): Path<String>,
) -> Result<Response, HsError> {
    legacy_info(&s, &token, "access")
}

/// `GET /oauth/v1/refresh-tokens/{token}`.
pub async fn refresh_token_info(
    State(s): State<Arc<Shared>>,
    Path(token): Path<String>,
) -> Result<Response, HsError> {
    legacy_info(&s, &token, "refresh")
}

/// `DELETE /oauth/v1/refresh-tokens/{token}`: revokes the refresh token only (issued access
/// tokens live on, as HubSpot documents).
pub async fn delete_refresh_token(
    State(s): State<Arc<Shared>>,
    Path(token): Path<String>,
) -> Response {
    s.registry.lock().refresh.remove(&token);
    StatusCode::NO_CONTENT.into_response()
}

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}
