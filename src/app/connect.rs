//! Choosing credentials and building the client: the configured HubSpot account, or the
//! in-process sandbox (feature `sandbox`), whose app kind sets the client's limits.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};

use crate::config::Config;
use crate::hubspot::auth::{OAuthClientConfig, OAuthSession, TokenStore};
use crate::hubspot::{Credentials, HubSpotClient};

/// Which HubSpot the app talks to.
#[derive(Debug, Clone)]
pub enum Portal {
    /// The configured account: `hubspot.token`, or the OAuth session `auth login` stored.
    HubSpot,
    /// An in-process sandbox with these settings. Its state lives in `<data_dir>/sandbox`.
    #[cfg(feature = "sandbox")]
    Sandbox(Box<hubspot_sandbox::SandboxConfig>),
}

impl Portal {
    /// The sandbox with the settings of `config_file`'s `[sandbox]` table (and
    /// `HUBSPOT_MCP_SANDBOX__*`).
    ///
    /// # Errors
    /// The table is invalid.
    #[cfg(feature = "sandbox")]
    pub fn sandbox_from(config_file: Option<&std::path::Path>) -> anyhow::Result<Self> {
        Ok(Self::Sandbox(Box::new(
            hubspot_sandbox::SandboxConfig::load(config_file)?,
        )))
    }

    fn is_sandbox(&self) -> bool {
        !matches!(self, Self::HubSpot)
    }
}

/// The sync state of the configured portal, or of the sandbox's (in `sandbox/`).
pub fn sync_data_dir(config: &Config, sandbox: bool) -> PathBuf {
    if sandbox {
        config.data_dir.join("sandbox")
    } else {
        config.data_dir.clone()
    }
}

/// A client and what goes with it.
pub(super) struct Connected {
    pub client: HubSpotClient,
    #[cfg(feature = "sandbox")]
    pub sandbox: Option<hubspot_sandbox::Sandbox>,
    pub granted: Option<Vec<String>>,
    /// Values the audit log and logs must never contain.
    pub secrets: Vec<String>,
    /// The app's client secret: the key webhook signatures are checked with.
    pub webhook_secret: Option<SecretString>,
    /// Where sync state lives.
    pub data_dir: PathBuf,
}

impl Connected {
    /// Points the in-process sandbox's webhook sender at `url` (a no-op against HubSpot,
    /// where the app's settings choose the target URL).
    pub fn point_webhooks_at(&self, url: &str) {
        #[cfg(feature = "sandbox")]
        if let Some(sb) = &self.sandbox {
            let mut w = hubspot_sandbox::webhooks::WebhookSettings::default().subscribe_all();
            w.target_url = Some(url.to_string());
            w.client_secret = sb.shared().config.oauth.client_secret.clone();
            sb.webhooks().configure(w);
        }
        let _ = url;
    }

    /// Stops the in-process sandbox, if any.
    pub async fn stop(self) {
        #[cfg(feature = "sandbox")]
        if let Some(sb) = self.sandbox {
            sb.shutdown().await;
        }
    }
}

/// The shared (Redis) governor when `[governor] redis_url` is set; else the builder's own
/// in-process one.
fn with_governor(
    config: &Config,
    builder: crate::hubspot::client::ClientBuilder,
) -> anyhow::Result<crate::hubspot::client::ClientBuilder> {
    if config.governor.redis_url.is_none() {
        return Ok(builder);
    }
    let g = crate::hubspot::limit::RedisGovernor::new(
        builder.settings().governor.clone(),
        config.governor.clone(),
        Arc::new(crate::time::SystemClock),
    )
    .map_err(anyhow::Error::msg)?;
    tracing::info!(
        redis = %config.governor.redis_url.as_ref().map(crate::hubspot::limit::redacted_url).unwrap_or_default(),
        prefix = %config.governor.prefix,
        "one HubSpot budget for every process, shared through Redis"
    );
    Ok(builder.governor(Arc::new(g)))
}

pub(super) async fn connect(config: &Config, portal: Portal) -> anyhow::Result<Connected> {
    let mut settings = config.hubspot.client.clone();
    if settings.data_dir.is_none() {
        settings.data_dir = Some(config.data_dir.clone());
    }
    let data_dir = sync_data_dir(config, portal.is_sandbox());
    let mut secrets: Vec<String> = Vec::new();
    if let Some(cs) = &config.hubspot.client_secret {
        secrets.push(cs.expose_secret().to_string());
    }
    match portal {
        #[cfg(feature = "sandbox")]
        Portal::Sandbox(sc) => {
            let sb = hubspot_sandbox::Sandbox::start(*sc.clone())
                .await
                .context("starting the in-process sandbox")?;
            settings.base_url = sb.base_url();
            // The sandbox enforces its app kind's limits: budget for exactly those (with its
            // limits off, the configured governor stands).
            let limits = sc.effective_limits();
            if limits.enabled {
                settings.governor.burst_max = limits.burst_max;
                settings.governor.daily = limits.daily;
            }
            settings.data_dir = None;
            tracing::info!(url = %sb.base_url(), "serving against the in-process sandbox");
            secrets.push(sb.token().to_string());
            secrets.push(sc.oauth.client_secret.clone());
            let token = SecretString::from(sb.token().to_string());
            Ok(Connected {
                client: with_governor(
                    config,
                    HubSpotClient::builder(settings, Credentials::Static(token)),
                )?
                .build(),
                sandbox: Some(sb),
                granted: None,
                secrets,
                webhook_secret: Some(SecretString::from(sc.oauth.client_secret.clone())),
                data_dir,
            })
        }
        Portal::HubSpot => {
            let creds = if let Some(t) = config.hubspot.token.clone() {
                secrets.push(t.expose_secret().to_string());
                Credentials::Static(t)
            } else {
                let oauth = oauth_client(config)?;
                let session = OAuthSession::resume(
                    crate::hubspot::client::default_http(),
                    oauth,
                    Arc::new(crate::time::SystemClock),
                    TokenStore::in_dir(&config.data_dir),
                )
                .await?;
                Credentials::OAuth(Arc::new(session))
            };
            let mut granted = None;
            if let Credentials::OAuth(s) = &creds {
                let scopes = s.introspect().await?;
                tracing::info!(scopes = %scopes.join(" "), "granted OAuth scopes");
                granted = Some(scopes);
            }
            Ok(Connected {
                client: with_governor(config, HubSpotClient::builder(settings, creds))?.build(),
                #[cfg(feature = "sandbox")]
                sandbox: None,
                granted,
                secrets,
                webhook_secret: config.hubspot.client_secret.clone(),
                data_dir,
            })
        }
    }
}

/// The configured OAuth app, for resuming a stored session.
///
/// # Errors
/// `hubspot.client_id` or `hubspot.client_secret` is missing.
pub fn oauth_client(config: &Config) -> anyhow::Result<OAuthClientConfig> {
    let h = &config.hubspot;
    let client_id = h.client_id.clone().context(
        "hubspot.client_id is not set: add it to the config file or HUBSPOT_MCP_HUBSPOT__CLIENT_ID",
    )?;
    let client_secret = h
        .client_secret
        .clone()
        .context("hubspot.client_secret is not set: use HUBSPOT_MCP_HUBSPOT__CLIENT_SECRET")?;
    Ok(OAuthClientConfig {
        base_url: h.client.base_url.clone(),
        client_id,
        client_secret,
        v1_fallback: h.oauth_v1_fallback,
        refresh_margin_secs: 300,
    })
}
