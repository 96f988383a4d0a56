//! The audit log's keys: every entry, the head checkpoint and the retention anchor are
//! authenticated with HMAC-SHA256 under a key kept outside the log.
//!
//! Anyone who can write the log file can recompute an unkeyed hash chain; without the key they
//! cannot produce a chain, a checkpoint or an anchor that verifies. The key comes from
//! `HUBSPOT_MCP_AUDIT__KEY` (hex, at least 32 bytes: keep it in a secret store so that whoever
//! can write the data directory still cannot forge the log), or from the keyring file
//! (`audit.key_path`, default `<log>.keys`, mode 0600), created on first use.
//!
//! Rotation (`audit rotate-key`) adds a key to the keyring and makes it current. Entries name
//! the key that signed them (`key_id`); the verifier checks each with its key and refuses a
//! key that goes back to an older one, and the head checkpoint is always signed with the
//! current key, so a chain rewritten with a retired (perhaps leaked) key does not verify.

use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::AuditError;

/// One key: its id (the first 16 hex digits of its SHA-256) and secret.
#[derive(Clone, Serialize, Deserialize)]
pub struct AuditKey {
    pub id: String,
    /// Hex.
    secret: String,
    pub created: String,
}

/// Shows the id, never the secret.
impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl AuditKey {
    fn from_secret(secret: &[u8]) -> Self {
        Self {
            id: hex::encode(Sha256::digest(secret))[..16].to_string(),
            secret: hex::encode(secret),
            created: crate::time::iso_ms(chrono::Utc::now().timestamp_millis()),
        }
    }

    fn bytes(&self) -> Vec<u8> {
        hex::decode(&self.secret).unwrap_or_default()
    }

    /// HMAC-SHA256 of `parts`, each followed by a newline, as hex.
    pub fn mac(&self, parts: &[&[u8]]) -> String {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.bytes())
            .expect("HMAC takes keys of any length");
        for p in parts {
            m.update(p);
            m.update(b"\n");
        }
        hex::encode(m.finalize().into_bytes())
    }
}

/// Every key, oldest first; the last is current.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Keyring {
    keys: Vec<AuditKey>,
}

impl Keyring {
    /// The key entries are signed with now.
    pub fn current(&self) -> &AuditKey {
        self.keys.last().expect("a keyring holds at least one key")
    }

    /// A key by id, with its position in rotation order.
    pub fn get(&self, id: &str) -> Option<(usize, &AuditKey)> {
        self.keys.iter().enumerate().find(|(_, k)| k.id == id)
    }

    /// The keyring file beside a log (`audit.jsonl.keys`), unless configured.
    pub fn default_path(log: &Path) -> PathBuf {
        let mut p = log.as_os_str().to_owned();
        p.push(".keys");
        PathBuf::from(p)
    }

    /// The key from the environment (`secret`, hex), or the keyring file, created with a new
    /// random key when missing and `create` is set.
    ///
    /// # Errors
    /// A secret that is not hex or is shorter than 32 bytes; a keyring that cannot be read
    /// or written.
    pub fn load(path: &Path, secret: Option<&str>, create: bool) -> Result<Self, AuditError> {
        let bad = |reason: String| AuditError::Key {
            path: path.display().to_string(),
            reason,
        };
        if let Some(hexed) = secret {
            let bytes = hex::decode(hexed.trim())
                .map_err(|_| bad("audit.key (HUBSPOT_MCP_AUDIT__KEY) is not hex".into()))?;
            if bytes.len() < 32 {
                return Err(bad(format!(
                    "audit.key has {} bytes; use at least 32 (64 hex digits): openssl rand -hex 32",
                    bytes.len()
                )));
            }
            // Earlier keys stay in the file, so entries they signed still verify.
            let mut ring = Self::read(path)?.unwrap_or(Self { keys: Vec::new() });
            let key = AuditKey::from_secret(&bytes);
            ring.keys.retain(|k| k.id != key.id);
            ring.keys.push(key);
            return Ok(ring);
        }
        match Self::read(path)? {
            Some(ring) => Ok(ring),
            None if create => {
                let ring = Self {
                    keys: vec![AuditKey::from_secret(&random_secret())],
                };
                ring.write(path)?;
                tracing::info!(path = %path.display(), "created the audit log's key");
                Ok(ring)
            }
            None => Err(bad(
                "no audit key: the keyring file is missing and HUBSPOT_MCP_AUDIT__KEY is not set, so nothing can be verified".into(),
            )),
        }
    }

    fn read(path: &Path) -> Result<Option<Self>, AuditError> {
        match std::fs::read(path) {
            Ok(b) => {
                let ring: Self = serde_json::from_slice(&b).map_err(|e| AuditError::Key {
                    path: path.display().to_string(),
                    reason: format!("not a keyring: {e}"),
                })?;
                if ring.keys.is_empty() {
                    return Err(AuditError::Key {
                        path: path.display().to_string(),
                        reason: "the keyring holds no key".into(),
                    });
                }
                Ok(Some(ring))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(AuditError::Key {
                path: path.display().to_string(),
                reason: e.to_string(),
            }),
        }
    }

    /// Adds a new random key and makes it current.
    ///
    /// # Errors
    /// The keyring cannot be written.
    pub fn rotate(&mut self, path: &Path) -> Result<&AuditKey, AuditError> {
        self.keys.push(AuditKey::from_secret(&random_secret()));
        self.write(path)?;
        Ok(self.current())
    }

    fn write(&self, path: &Path) -> Result<(), AuditError> {
        let bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        super::write_atomically(path, &bytes, true).map_err(|e| AuditError::Key {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
    }
}

fn random_secret() -> Vec<u8> {
    use rand::RngCore;
    let mut b = vec![0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keyring_is_created_once_rotates_and_never_shows_its_secrets() {
        let path = std::env::temp_dir().join(format!("keys-{}", uuid::Uuid::new_v4()));
        assert!(
            Keyring::load(&path, None, false).is_err(),
            "no key, no creation"
        );
        let mut ring = Keyring::load(&path, None, true).unwrap();
        let first = ring.current().id.clone();
        assert_eq!(
            Keyring::load(&path, None, false).unwrap().current().id,
            first
        );
        let second = ring.rotate(&path).unwrap().id.clone();
        let again = Keyring::load(&path, None, false).unwrap();
        assert_eq!(again.current().id, second);
        assert_eq!(again.get(&first).unwrap().0, 0);
        let secret = again.current().secret.clone();
        assert!(!format!("{again:?}").contains(&secret));
        assert!(
            Keyring::load(&path, Some("abcd"), false).is_err(),
            "too short"
        );
        assert!(
            Keyring::load(&path, Some(&"zz".repeat(32)), false).is_err(),
            "not hex"
        );
        let env = Keyring::load(&path, Some(&"ab".repeat(32)), false).unwrap();
        assert!(env.get(&first).is_some(), "older keys still verify");
        std::fs::remove_file(&path).ok();
    }
}
