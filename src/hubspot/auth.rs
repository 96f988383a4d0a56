//! Credentials: static bearer tokens and OAuth 2.0 sessions.
//!
//! - Static tokens (legacy private-app tokens, service keys, static app tokens) are sent as
//!   they are and never expire.
//! - An [`OAuthSession`] refreshes **ahead of** `expires_in` (a margin with jitter, so many
//!   processes do not refresh in the same second), **single-flight** (fifty callers waiting on
//!   an expiring token cause exactly one refresh: they queue on one async mutex and re-check
//!   after acquiring it), and persists the rotated refresh token **atomically, encrypted at rest,
//!   with 0600 permissions** ([`TokenStore`]). A 401 `EXPIRED_AUTHENTICATION` forces one
//!   refresh and one replay; the caller never loops.
//! - Token endpoints: `/oauth/2026-03/token` by default; `/oauth/v1/token` only when configured
//!   as a fallback (v1 is removed on 16 Feb 2027).
//!
//! Tokens live in `SecretString`s: they are never logged, never in `Debug`, never in errors.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::{Rng, RngCore};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::time::SharedClock;

/// Why credentials could not be had.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthError {
    /// HubSpot refused the refresh token (revoked, rotated away, or the app uninstalled).
    #[error("HubSpot refused the refresh token ({status}: {description}); run `hubspot-mcp auth login` to authorize again.")]
    RefreshRejected { status: String, description: String },
    /// The client id or secret is wrong.
    #[error("HubSpot rejected the OAuth client ({status}: {description}); check client_id and client_secret in the configuration.")]
    BadClient { status: String, description: String },
    /// The token endpoint could not be reached or answered oddly.
    #[error("could not refresh the OAuth token: {0}. The current token is used until it expires.")]
    Transport(String),
    /// The stored token file could not be read or written.
    #[error("the token store at {path} could not be used: {reason}")]
    Store { path: String, reason: String },
    /// No credentials are configured.
    #[error("no HubSpot credentials: set hubspot.token (a private-app token or service key) or run `hubspot-mcp auth login`.")]
    Missing,
}

/// The answer of a token endpoint.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenResponse {
    pub access_token: SecretString,
    #[serde(default)]
    pub refresh_token: Option<SecretString>,
    pub expires_in: i64,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub hub_id: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct OAuthErrorBody {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
    #[serde(default)]
    status: String,
}

/// What a session needs to refresh.
#[derive(Clone, Deserialize)]
pub struct OAuthClientConfig {
    pub base_url: String,
    pub client_id: String,
    pub client_secret: SecretString,
    /// Use `/oauth/v1/token` if the date-based endpoint is not available.
    #[serde(default)]
    pub v1_fallback: bool,
    /// Refresh this long before expiry (before jitter); capped at a quarter of the lifetime.
    #[serde(default = "default_margin")]
    pub refresh_margin_secs: i64,
}

fn default_margin() -> i64 {
    300
}

impl std::fmt::Debug for OAuthClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthClientConfig")
            .field("base_url", &self.base_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .finish()
    }
}

struct TokenState {
    access: SecretString,
    refresh: SecretString,
    /// When the access token stops working (client clock).
    expires_at_ms: i64,
    /// When to refresh it (margin with jitter applied).
    refresh_at_ms: i64,
    generation: u64,
}

/// An OAuth session with proactive, single-flight refresh.
pub struct OAuthSession {
    http: reqwest::Client,
    config: OAuthClientConfig,
    clock: SharedClock,
    state: tokio::sync::RwLock<TokenState>,
    refresh_lock: tokio::sync::Mutex<()>,
    store: Option<TokenStore>,
    refreshes: AtomicU64,
    scopes: parking_lot::Mutex<Vec<String>>,
}

impl std::fmt::Debug for OAuthSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthSession")
            .field("config", &self.config)
            .field("refreshes", &self.refreshes.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// A bearer token for one request, and which generation it was (for forced refreshes).
#[derive(Clone)]
pub struct Bearer {
    pub token: SecretString,
    pub generation: u64,
}

impl OAuthSession {
    /// A session from tokens just issued (or loaded from the store).
    pub fn new(
        http: reqwest::Client,
        config: OAuthClientConfig,
        clock: SharedClock,
        tokens: TokenResponse,
        store: Option<TokenStore>,
    ) -> Self {
        let now = clock.now_ms();
        let refresh = tokens
            .refresh_token
            .clone()
            .unwrap_or_else(|| SecretString::from(String::new()));
        let state = TokenState {
            expires_at_ms: now + tokens.expires_in * 1000,
            refresh_at_ms: refresh_at(now, tokens.expires_in, config.refresh_margin_secs),
            access: tokens.access_token,
            refresh,
            generation: 1,
        };
        Self {
            http,
            config,
            clock,
            state: tokio::sync::RwLock::new(state),
            refresh_lock: tokio::sync::Mutex::new(()),
            store,
            refreshes: AtomicU64::new(0),
            scopes: parking_lot::Mutex::new(tokens.scopes),
        }
    }

    /// Resumes from a stored refresh token: refreshes once to get an access token.
    ///
    /// # Errors
    /// When the store cannot be read or HubSpot refuses the refresh token.
    pub async fn resume(
        http: reqwest::Client,
        config: OAuthClientConfig,
        clock: SharedClock,
        store: TokenStore,
    ) -> Result<Self, AuthError> {
        let stored = store.load()?;
        let tokens = exchange(
            &http,
            &config,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", stored.refresh_token.expose_secret()),
            ],
        )
        .await?;
        let s = Self::new(http, config, clock, tokens, Some(store));
        s.persist().await?;
        Ok(s)
    }

    /// How many refreshes this session has made.
    pub fn refreshes(&self) -> u64 {
        self.refreshes.load(Ordering::SeqCst)
    }

    /// The scopes HubSpot granted (from the last token response or introspection).
    pub fn scopes(&self) -> Vec<String> {
        self.scopes.lock().clone()
    }

    /// A token valid for at least the margin, refreshing first when due.
    ///
    /// # Errors
    /// When a due refresh fails and the current token has already expired.
    pub async fn bearer(&self) -> Result<Bearer, AuthError> {
        let now = self.clock.now_ms();
        {
            let st = self.state.read().await;
            if now < st.refresh_at_ms {
                return Ok(Bearer {
                    token: st.access.clone(),
                    generation: st.generation,
                });
            }
        }
        self.refresh(None).await
    }

    /// Refreshes unless another caller already did. `failed` is the generation that got a 401
    /// (a forced refresh); `None` means "refresh if due".
    ///
    /// # Errors
    /// When HubSpot refuses; a transport failure with a still-valid token returns that token.
    pub async fn refresh(&self, failed: Option<u64>) -> Result<Bearer, AuthError> {
        let _guard = self.refresh_lock.lock().await;
        let now = self.clock.now_ms();
        {
            let st = self.state.read().await;
            let fresh = match failed {
                Some(g) => st.generation != g,
                None => now < st.refresh_at_ms,
            };
            if fresh {
                return Ok(Bearer {
                    token: st.access.clone(),
                    generation: st.generation,
                });
            }
        }
        let refresh_token = self.state.read().await.refresh.clone();
        let result = exchange(
            &self.http,
            &self.config,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token.expose_secret()),
            ],
        )
        .await;
        let tokens = match result {
            Ok(t) => t,
            Err(AuthError::Transport(e)) => {
                let st = self.state.read().await;
                if now < st.expires_at_ms && failed.is_none() {
                    tracing::warn!(error = %e, "token refresh failed; the current token is still valid");
                    return Ok(Bearer {
                        token: st.access.clone(),
                        generation: st.generation,
                    });
                }
                return Err(AuthError::Transport(e));
            }
            Err(e) => return Err(e),
        };
        self.refreshes.fetch_add(1, Ordering::SeqCst);
        let bearer = {
            let mut st = self.state.write().await;
            let now = self.clock.now_ms();
            st.access = tokens.access_token.clone();
            if let Some(r) = tokens.refresh_token.clone() {
                st.refresh = r;
            }
            st.expires_at_ms = now + tokens.expires_in * 1000;
            st.refresh_at_ms = refresh_at(now, tokens.expires_in, self.config.refresh_margin_secs);
            st.generation += 1;
            Bearer {
                token: st.access.clone(),
                generation: st.generation,
            }
        };
        if !tokens.scopes.is_empty() {
            *self.scopes.lock() = tokens.scopes;
        }
        self.persist().await?;
        tracing::debug!(
            generation = bearer.generation,
            "OAuth access token refreshed"
        );
        Ok(bearer)
    }

    async fn persist(&self) -> Result<(), AuthError> {
        if let Some(store) = &self.store {
            let st = self.state.read().await;
            store.save(&StoredTokens {
                refresh_token: st.refresh.clone(),
            })?;
        }
        Ok(())
    }

    /// Asks HubSpot which scopes the current token has (start-up report).
    ///
    /// # Errors
    /// When the endpoint cannot be reached or refuses the client.
    pub async fn introspect(&self) -> Result<Vec<String>, AuthError> {
        let token = self.bearer().await?.token;
        let url = format!("{}/oauth/2026-03/token/introspect", self.config.base_url);
        let form = [
            ("client_id", self.config.client_id.as_str()),
            ("client_secret", self.config.client_secret.expose_secret()),
            ("token", token.expose_secret()),
            ("token_type_hint", "access_token"),
        ];
        let res = self
            .http
            .post(url)
            .form(&form)
            .send()
            .await
            .map_err(|e| AuthError::Transport(e.without_url().to_string()))?;
        let body: serde_json::Value = res
            .json()
            .await
            .map_err(|e| AuthError::Transport(e.to_string()))?;
        let scopes: Vec<String> = body["scopes"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        *self.scopes.lock() = scopes.clone();
        Ok(scopes)
    }
}

/// When to refresh: `margin` before expiry (at most a quarter of the lifetime), minus up to
/// 10% of the margin as jitter.
fn refresh_at(now: i64, expires_in: i64, margin_secs: i64) -> i64 {
    let margin_ms = (margin_secs * 1000).min(expires_in * 250).max(0);
    let jitter = if margin_ms > 10 {
        rand::thread_rng().gen_range(0..=margin_ms / 10)
    } else {
        0
    };
    now + expires_in * 1000 - margin_ms - jitter
}

/// Calls a token endpoint (2026-03, or v1 when configured as the fallback).
///
/// # Errors
/// [`AuthError`] describing HubSpot's refusal or the transport failure.
pub async fn exchange(
    http: &reqwest::Client,
    config: &OAuthClientConfig,
    fields: &[(&str, &str)],
) -> Result<TokenResponse, AuthError> {
    let mut form: Vec<(&str, &str)> = vec![
        ("client_id", config.client_id.as_str()),
        ("client_secret", config.client_secret.expose_secret()),
    ];
    form.extend_from_slice(fields);
    let mut paths = vec!["/oauth/2026-03/token"];
    if config.v1_fallback {
        paths.push("/oauth/v1/token");
    }
    let mut last = String::new();
    for path in paths {
        let res = match http
            .post(format!("{}{path}", config.base_url))
            .form(&form)
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => {
                last = e.without_url().to_string();
                continue;
            }
        };
        let status = res.status();
        if status.is_success() {
            return res
                .json::<TokenResponse>()
                .await
                .map_err(|e| AuthError::Transport(format!("unreadable token response: {e}")));
        }
        if status.as_u16() == 404 {
            last = format!("{path} answered 404");
            continue;
        }
        let body: OAuthErrorBody = res.json().await.unwrap_or(OAuthErrorBody {
            error: String::new(),
            error_description: String::new(),
            status: status.to_string(),
        });
        return Err(match body.error.as_str() {
            "invalid_client" => AuthError::BadClient {
                status: body.status,
                description: body.error_description,
            },
            "invalid_grant" => AuthError::RefreshRejected {
                status: body.status,
                description: body.error_description,
            },
            _ => AuthError::Transport(format!(
                "{status}: {} {}",
                body.error, body.error_description
            )),
        });
    }
    Err(AuthError::Transport(last))
}

/// How requests are authenticated.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// A private-app token, service key or static app token.
    Static(SecretString),
    /// An OAuth session.
    OAuth(Arc<OAuthSession>),
}

/// What the token store keeps.
#[derive(Serialize, Deserialize)]
pub struct StoredTokens {
    #[serde(serialize_with = "expose")]
    pub refresh_token: SecretString,
}

fn expose<S: serde::Serializer>(s: &SecretString, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s.expose_secret())
}

/// Refresh tokens at rest: XChaCha20-Poly1305 with a 256-bit key, written atomically
/// (temporary file, fsync, rename) with 0600 permissions.
///
/// The key comes from `HUBSPOT_MCP_TOKEN_KEY` (base64, 32 bytes) or from a key file created
/// beside the store with 0600 permissions. The key file protects against the token file being
/// copied alone (backups, support bundles); a keyring-backed key is the stronger choice where
/// one exists.
#[derive(Debug, Clone)]
pub struct TokenStore {
    path: PathBuf,
    key_path: PathBuf,
}

impl TokenStore {
    /// A store at `dir/oauth-tokens.enc`.
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            path: dir.join("oauth-tokens.enc"),
            key_path: dir.join("oauth-tokens.key"),
        }
    }

    fn err(&self, reason: impl std::fmt::Display) -> AuthError {
        AuthError::Store {
            path: self.path.display().to_string(),
            reason: reason.to_string(),
        }
    }

    fn key(&self) -> Result<[u8; 32], AuthError> {
        if let Ok(k) = std::env::var("HUBSPOT_MCP_TOKEN_KEY") {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(k.trim())
                .map_err(|e| self.err(format!("HUBSPOT_MCP_TOKEN_KEY is not base64: {e}")))?;
            return bytes
                .try_into()
                .map_err(|_| self.err("HUBSPOT_MCP_TOKEN_KEY must decode to 32 bytes"));
        }
        if let Ok(bytes) = std::fs::read(&self.key_path) {
            return bytes
                .try_into()
                .map_err(|_| self.err("the key file is not 32 bytes"));
        }
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        write_private(&self.key_path, &key).map_err(|e| self.err(e))?;
        Ok(key)
    }

    /// Writes the tokens.
    ///
    /// # Errors
    /// When the directory is not writable.
    pub fn save(&self, tokens: &StoredTokens) -> Result<(), AuthError> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| self.err(e))?;
        }
        let cipher = XChaCha20Poly1305::new(&self.key()?.into());
        let mut nonce = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut nonce);
        let plain = serde_json::to_vec(tokens).map_err(|e| self.err(e))?;
        let sealed = cipher
            .encrypt(XNonce::from_slice(&nonce), plain.as_slice())
            .map_err(|_| self.err("encryption failed"))?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        write_private(&self.path, &out).map_err(|e| self.err(e))
    }

    /// Reads the tokens.
    ///
    /// # Errors
    /// When the file is missing, or was written with another key, or was altered.
    pub fn load(&self) -> Result<StoredTokens, AuthError> {
        let bytes = std::fs::read(&self.path)
            .map_err(|e| self.err(format!("{e}; run `hubspot-mcp auth login` first")))?;
        if bytes.len() < 24 {
            return Err(self.err("the file is truncated"));
        }
        let cipher = XChaCha20Poly1305::new(&self.key()?.into());
        let plain = cipher
            .decrypt(XNonce::from_slice(&bytes[..24]), &bytes[24..])
            .map_err(|_| {
                self.err("it cannot be decrypted: it was altered or written with another key")
            })?;
        serde_json::from_slice(&plain).map_err(|e| self.err(e))
    }

    /// The encrypted file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Atomic write with 0600 permissions: temp file in the same directory, fsync, rename.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// How long until `Bearer` tokens need refreshing, for logs.
pub fn lifetime(expires_in: i64) -> Duration {
    Duration::from_secs(expires_in.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_round_trips_encrypted_with_private_permissions() {
        let dir = std::env::temp_dir().join(format!("hsmcp-store-{}", uuid::Uuid::new_v4()));
        let store = TokenStore::in_dir(&dir);
        store
            .save(&StoredTokens {
                refresh_token: SecretString::from("na1-secret-refresh".to_string()),
            })
            .unwrap();
        let raw = std::fs::read(store.path()).unwrap();
        assert!(
            !String::from_utf8_lossy(&raw).contains("na1-secret-refresh"),
            "encrypted at rest"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(store.path())
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o777,
                0o600
            );
            assert_eq!(
                std::fs::metadata(&store.key_path)
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o777,
                0o600
            );
        }
        assert_eq!(
            store.load().unwrap().refresh_token.expose_secret(),
            "na1-secret-refresh"
        );
        let mut tampered = raw.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        std::fs::write(store.path(), tampered).unwrap();
        assert!(store.load().is_err(), "tampering is detected");
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn refresh_happens_ahead_of_expiry_with_jitter() {
        for _ in 0..100 {
            let at = refresh_at(0, 1800, 300);
            assert!((1_470_000..=1_500_000).contains(&at), "{at}");
            let short = refresh_at(0, 60, 300);
            assert!((43_500..=45_000).contains(&short), "{short}");
        }
    }

    #[test]
    fn debug_never_shows_secrets() {
        let c = OAuthClientConfig {
            base_url: "x".into(),
            client_id: "id".into(),
            client_secret: SecretString::from("very-secret".to_string()),
            v1_fallback: false,
            refresh_margin_secs: 300,
        };
        assert!(!format!("{c:?}").contains("very-secret"));
        let cred = Credentials::Static(SecretString::from("pat-na1-secret".to_string()));
        assert!(!format!("{cred:?}").contains("pat-na1-secret"));
    }
}
