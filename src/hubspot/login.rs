//! `hubspot-mcp auth login`: the OAuth authorization-code flow with a loopback redirect,
//! `state` and PKCE (S256), exchanging the code on `/oauth/2026-03/token`.
//!
//! A one-shot callback server listens on `127.0.0.1:0`; the authorize URL is handed to the
//! caller (printed for a person, or followed directly against the sandbox, which consents at
//! once). The callback's `state` is compared in constant time; any mismatch aborts.

use std::time::Duration;

use axum::extract::Query;
use axum::routing::get;
use base64::Engine;
use rand::RngCore;
use secrecy::ExposeSecret;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use super::auth::{exchange, AuthError, OAuthClientConfig, TokenResponse};

/// What the flow needs.
#[derive(Debug, Clone)]
pub struct LoginRequest {
    /// `https://app.hubspot.com/oauth/authorize`, or the sandbox's `/oauth/authorize`.
    pub authorize_url: String,
    pub scopes: Vec<String>,
    pub optional_scopes: Vec<String>,
    pub client: OAuthClientConfig,
    /// How long to wait for the user.
    pub timeout: Duration,
}

#[derive(Debug, Deserialize)]
struct Callback {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

fn random_token(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// Runs the flow. `open` receives the authorize URL (print it, open a browser, or follow it).
///
/// # Errors
/// When the user denies, the state does not match, the wait times out, or the exchange fails.
pub async fn login<F, Fut>(
    http: &reqwest::Client,
    req: &LoginRequest,
    open: F,
) -> Result<TokenResponse, AuthError>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| {
            AuthError::Transport(format!("cannot open the loopback redirect listener: {e}"))
        })?;
    let port = listener
        .local_addr()
        .map_err(|e| AuthError::Transport(e.to_string()))?
        .port();
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");
    let state = random_token(24);
    let verifier = random_token(48);
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));

    let (tx, rx) = oneshot::channel::<Callback>();
    let tx = std::sync::Arc::new(parking_lot::Mutex::new(Some(tx)));
    let app = axum::Router::new().route(
        "/callback",
        get(move |Query(cb): Query<Callback>| {
            let tx = tx.clone();
            async move {
                if let Some(tx) = tx.lock().take() {
                    let _ = tx.send(cb);
                }
                axum::response::Html("<html><body><p>hubspot-mcp is authorized. You can close this window.</p></body></html>")
            }
        }),
    );
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    let mut url = reqwest::Url::parse(&req.authorize_url)
        .map_err(|e| AuthError::Transport(format!("bad authorize URL: {e}")))?;
    url.query_pairs_mut()
        .append_pair("client_id", &req.client.client_id)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("scope", &req.scopes.join(" "))
        .append_pair("state", &state)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    if !req.optional_scopes.is_empty() {
        url.query_pairs_mut()
            .append_pair("optional_scope", &req.optional_scopes.join(" "));
    }
    open(url.to_string()).await;

    let cb = tokio::time::timeout(req.timeout, rx).await;
    server.abort();
    let cb = match cb {
        Ok(Ok(cb)) => cb,
        _ => {
            return Err(AuthError::Transport(format!(
                "no authorization arrived at {redirect_uri} within {:?}",
                req.timeout
            )))
        }
    };
    if let Some(e) = cb.error {
        return Err(AuthError::RefreshRejected {
            status: e,
            description: cb
                .error_description
                .unwrap_or_else(|| "authorization was denied".into()),
        });
    }
    let got = cb.state.unwrap_or_default();
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        got.as_bytes(),
        state.as_bytes(),
    )) {
        return Err(AuthError::Transport("the callback's state does not match the request: possible CSRF; the code was not exchanged".into()));
    }
    let code = cb
        .code
        .ok_or_else(|| AuthError::Transport("the callback carried no code".into()))?;
    let tokens = exchange(
        http,
        &req.client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect_uri),
            ("code_verifier", &verifier),
        ],
    )
    .await?;
    tracing::info!(scopes = ?tokens.scopes, expires_in = tokens.expires_in, "authorized; refresh token received ({} chars)", tokens.refresh_token.as_ref().map_or(0, |t| t.expose_secret().len()));
    Ok(tokens)
}
