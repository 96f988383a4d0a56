//! Typed configuration: defaults, then a TOML file, then `HUBSPOT_MCP_*` environment
//! variables (nested keys with `__`, e.g. `HUBSPOT_MCP_SANDBOX__SEED=7`), then CLI flags.
//!
//! Secrets are never printed: the types that hold them implement `Debug` by hand.

use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::sandbox::SandboxConfig;

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Where caches, queues and indexes live.
    pub data_dir: PathBuf,
    /// The local sandbox.
    pub sandbox: SandboxConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from(".hubspot-mcp"),
            sandbox: SandboxConfig::default(),
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
        fig = fig.merge(Env::prefixed("HUBSPOT_MCP_").split("__"));
        fig.extract().map_err(|e| ConfigError(e.to_string()))
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
                "data_dir = \"/tmp/x\"\n[sandbox]\nseed = 7\napp_kind = \"public\"\n",
            )?;
            jail.set_env("HUBSPOT_MCP_SANDBOX__SEED", "9");
            let c = Config::load(Some(Path::new("hubspot-mcp.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
            assert_eq!(c.sandbox.seed, 9);
            assert_eq!(c.sandbox.app_kind, crate::sandbox::AppKind::Public);
            assert_eq!(c.sandbox.search.max_page_size, 200);
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
        let c = Config::default();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("sandbox-client-secret"), "{dbg}");
    }
}
