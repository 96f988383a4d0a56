//! Typed configuration: defaults, then a TOML file, then `HUBSPOT_MCP_*` environment
//! variables (nested keys with `__`, e.g. `HUBSPOT_MCP_SANDBOX__SEED=7`), then CLI flags.
//!
//! Secrets are never printed: the types that hold them implement `Debug` by hand.
//!
//! The `[sandbox]` table of the same file belongs to the sandbox crate
//! (`hubspot_sandbox::SandboxConfig::load`): the product's settings know nothing about it.

use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use secrecy::SecretString;

use crate::hubspot::client::ClientSettings;

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where caches, queues, token stores, the audit log and indexes live: one directory per
    /// user, shared by the server, the CLI and desktop clients ([`default_data_dir`]).
    pub data_dir: PathBuf,
    /// How to reach HubSpot.
    pub hubspot: HubSpotConfig,
    /// Where the HubSpot budget is shared (`[governor] redis_url`); in-process when unset.
    pub governor: crate::hubspot::limit::SharedSettings,
    /// The audit log of tool calls and prompt fetches.
    pub audit: crate::audit::AuditConfig,
    /// The confidence gate of `propose_action`.
    pub handoff: crate::handoff::HandoffPolicy,
    /// Webhooks, the queue, embeddings and the index.
    pub sync: crate::sync::SyncConfig,
    /// The `[sandbox]` table belongs to the sandbox crate, which reads it itself; it is
    /// accepted here so that unknown keys elsewhere can be refused.
    #[serde(skip_serializing)]
    pub sandbox: Option<figment::value::Value>,
}

/// The top-level keys of the configuration (for `HUBSPOT_MCP_*` variables).
const SECTIONS: [&str; 7] = [
    "data_dir", "hubspot", "governor", "audit", "handoff", "sync", "sandbox",
];

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: default_data_dir(),
            hubspot: HubSpotConfig::default(),
            governor: crate::hubspot::limit::SharedSettings::default(),
            audit: crate::audit::AuditConfig::default(),
            handoff: crate::handoff::HandoffPolicy::default(),
            sync: crate::sync::SyncConfig::default(),
            sandbox: None,
        }
    }
}

/// The platform's per-user data directory: `$XDG_DATA_HOME/hubspot-mcp` (by default
/// `~/.local/share/hubspot-mcp`) on Linux, `~/Library/Application Support/hubspot-mcp` on
/// macOS, `%APPDATA%\hubspot-mcp\data` on Windows; `.hubspot-mcp` in the working directory
/// only when the system knows no home directory. `data_dir` (`HUBSPOT_MCP_DATA_DIR`,
/// `--data-dir`) chooses another.
pub fn default_data_dir() -> PathBuf {
    directories::ProjectDirs::from("", "", "hubspot-mcp")
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from(".hubspot-mcp"))
}

/// HubSpot credentials and client behaviour.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HubSpotConfig {
    /// A private-app token, service key or static app token (`HUBSPOT_MCP_HUBSPOT__TOKEN`).
    #[serde(skip_serializing)]
    pub token: Option<SecretString>,
    /// OAuth app credentials, for `auth login`.
    pub client_id: Option<String>,
    #[serde(skip_serializing)]
    pub client_secret: Option<SecretString>,
    /// Where the user consents (`https://app.hubspot.com/oauth/authorize`).
    pub authorize_url: String,
    /// Scopes `auth login` asks for: the least this product needs to read the CRM.
    pub scopes: Vec<String>,
    /// Scopes asked for as optional (granted only if the installer agrees): writes.
    pub optional_scopes: Vec<String>,
    /// Use `/oauth/v1/token` when the date-based token endpoint is unavailable.
    pub oauth_v1_fallback: bool,
    /// The client's limiter, retries, breakers, paths and guard.
    pub client: ClientSettings,
}

impl Default for HubSpotConfig {
    fn default() -> Self {
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_string()).collect();
        Self {
            token: None,
            client_id: None,
            client_secret: None,
            authorize_url: "https://app.hubspot.com/oauth/authorize".into(),
            scopes: s(&[
                "oauth",
                "crm.objects.contacts.read",
                "crm.objects.companies.read",
                "crm.objects.deals.read",
                "tickets",
                "crm.objects.owners.read",
                "crm.schemas.custom.read",
                "crm.objects.custom.read",
            ]),
            optional_scopes: s(&[
                "crm.objects.contacts.write",
                "crm.objects.companies.write",
                "crm.objects.deals.write",
                "crm.objects.custom.write",
            ]),
            oauth_v1_fallback: false,
            client: ClientSettings::default(),
        }
    }
}

/// Why configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}. Check the TOML file and HUBSPOT_MCP_* variables named here.")]
pub struct ConfigError(String);

impl Config {
    /// Loads defaults, then `file` (if given; it must exist), then the environment.
    ///
    /// # Errors
    /// [`ConfigError`] naming the key that failed and where its value came from.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            fig = fig.merge(Toml::file(path));
        }
        // Other tools' variables share the prefix (`HUBSPOT_MCP_CACHE`, `HUBSPOT_MCP_TOKEN_KEY`):
        // a plain name that is not a setting is theirs. A nested one (`HANDOF__ENABLED`) is
        // a setting, and an unknown one is refused below like an unknown TOML key.
        fig = fig.merge(
            Env::prefixed("HUBSPOT_MCP_")
                .filter(|k| {
                    let k = k.as_str().to_ascii_lowercase();
                    k.contains("__") || SECTIONS.contains(&k.as_str())
                })
                .split("__"),
        );
        // `HUBSPOT_MCP_HANDOFF_ENABLED` (one underscore) looks like a setting and is not one.
        for (k, _) in std::env::vars() {
            let Some(rest) = k.strip_prefix("HUBSPOT_MCP_") else {
                continue;
            };
            let lower = rest.to_ascii_lowercase();
            if let Some(section) = SECTIONS.iter().filter(|s| **s != "data_dir").find(|s| {
                lower.starts_with(&format!("{s}_")) && !lower.starts_with(&format!("{s}__"))
            }) {
                return Err(ConfigError(format!(
                    "{k} is not a setting: nested keys take two underscores (HUBSPOT_MCP_{}__{})",
                    section.to_ascii_uppercase(),
                    &rest[section.len() + 1..]
                )));
            }
        }
        let config: Self = fig.extract().map_err(|e| {
            ConfigError(format!(
                "{e} (unknown keys are refused: a typo must not turn a setting off silently)"
            ))
        })?;
        config.handoff.validate().map_err(ConfigError)?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_environment_override_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "hubspot-mcp.toml",
                "data_dir = \"/tmp/x\"\n[audit]\nfail_closed = false\n[sandbox]\nseed = 7\n",
            )?;
            jail.set_env("HUBSPOT_MCP_AUDIT__FAIL_CLOSED", "true");
            let c = Config::load(Some(Path::new("hubspot-mcp.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
            assert!(c.audit.fail_closed);
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_are_errors_in_the_file_and_the_environment() {
        for (toml, needle) in [
            ("[handoff]\nenable = true\n", "enable"),
            ("[handof]\nenabled = true\n", "handof"),
            ("[audit]\nfail_close = true\n", "fail_close"),
            ("[hubspot.client]\nbase_ur = \"x\"\n", "base_ur"),
        ] {
            figment::Jail::expect_with(|jail| {
                jail.create_file("c.toml", toml)?;
                let e = Config::load(Some(Path::new("c.toml")))
                    .unwrap_err()
                    .to_string();
                assert!(e.contains(needle), "{toml}: {e}");
                Ok(())
            });
        }
        figment::Jail::expect_with(|jail| {
            jail.create_file("c.toml", "[sandbox]\nseed = 7\n")?;
            // Other tools' variables share the prefix and are not settings.
            jail.set_env("HUBSPOT_MCP_CACHE", "/tmp/cache");
            Config::load(Some(Path::new("c.toml"))).map_err(|e| e.to_string())?;
            jail.set_env("HUBSPOT_MCP_HANDOFF__ENABLE", "true");
            let e = Config::load(None).unwrap_err().to_string();
            assert!(e.contains("enable"), "{e}");

            Ok(())
        });
    }

    #[test]
    fn a_nested_key_with_one_underscore_is_refused_with_the_fix() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("HUBSPOT_MCP_HANDOFF_ENABLED", "true");
            let e = Config::load(None).unwrap_err().to_string();
            assert!(e.contains("HUBSPOT_MCP_HANDOFF__ENABLED"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn an_enabled_gate_without_a_reviewer_does_not_load() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("c.toml", "[handoff]\nenabled = true\n")?;
            let e = Config::load(Some(Path::new("c.toml")))
                .unwrap_err()
                .to_string();
            assert!(e.contains("review_owner_id"), "{e}");
            jail.create_file(
                "c.toml",
                "[handoff]\nenabled = true\nreview_owner_id = \"90000102\"\n",
            )?;
            Config::load(Some(Path::new("c.toml"))).map_err(|e| e.to_string())?;
            jail.create_file("c.toml", "[handoff]\nenabled = true\n")?;
            jail.set_env("HUBSPOT_MCP_HANDOFF__REVIEW_OWNER_ID", "90000102");
            let c = Config::load(Some(Path::new("c.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(c.handoff.review_owner_id.as_deref(), Some("90000102"));
            Ok(())
        });
    }

    #[test]
    fn missing_file_is_a_clear_error() {
        let e = Config::load(Some(Path::new("/nonexistent/hubspot-mcp.toml"))).unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
    }

    #[test]
    fn debug_output_hides_secrets() {
        let mut c = Config::default();
        c.hubspot.token = Some(SecretString::from("pat-na1-secret-token".to_string()));
        c.hubspot.client_secret = Some(SecretString::from("app-client-secret".to_string()));
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("pat-na1-secret-token"), "{dbg}");
        assert!(!dbg.contains("app-client-secret"), "{dbg}");
    }
}
