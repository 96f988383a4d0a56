//! Retention: removing old entries while the rest stays verifiable.
//!
//! Pruning writes a signed anchor (`<log>.anchor`) first: the first kept sequence number and
//! the hash of the last removed entry, which the first kept entry links to, signed with the
//! log's key. `verify` starts the chain there. An anchor written by someone without the key
//! (to hide a cut head) does not verify. Pruning runs as the log's one writer: the server
//! prunes when it starts, and `audit prune` takes the writer lock, so it is refused while a
//! server writes the log.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::keys::AuditKey;
use super::{read_all, sibling, write_atomically, AuditConfig, AuditError, LogFiles};

/// What pruning left behind so that the shortened chain still verifies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Anchor {
    /// The first entry kept.
    pub first_seq: u64,
    /// The hash of the last entry removed (the first kept entry's `prev_hash`).
    pub prev_hash: String,
    /// Entries removed so far, over every prune.
    pub pruned_entries: u64,
    /// Entries older than this were removed.
    pub pruned_before: String,
    /// The key that signed the anchor.
    #[serde(default)]
    pub key_id: String,
    /// HMAC-SHA256 of the fields above.
    #[serde(default)]
    pub mac: String,
}

impl Anchor {
    fn signed_parts(&self) -> [String; 4] {
        [
            self.first_seq.to_string(),
            self.prev_hash.clone(),
            self.pruned_entries.to_string(),
            self.pruned_before.clone(),
        ]
    }

    fn sign(&mut self, key: &AuditKey) {
        self.key_id = key.id.clone();
        let p = self.signed_parts();
        self.mac = key.mac(&[
            b"anchor",
            p[0].as_bytes(),
            p[1].as_bytes(),
            p[2].as_bytes(),
            p[3].as_bytes(),
        ]);
    }

    /// Does the signature hold under `key`?
    pub fn holds(&self, key: &AuditKey) -> bool {
        let p = self.signed_parts();
        let want = key.mac(&[
            b"anchor",
            p[0].as_bytes(),
            p[1].as_bytes(),
            p[2].as_bytes(),
            p[3].as_bytes(),
        ]);
        subtle::ConstantTimeEq::ct_eq(want.as_bytes(), self.mac.as_bytes()).into()
    }
}

/// The anchor file beside a log (`audit.jsonl.anchor`).
pub fn anchor_path(path: &Path) -> PathBuf {
    sibling(path, ".anchor")
}

/// The anchor beside a log, if any.
///
/// # Errors
/// A file that exists but is not an anchor.
pub fn read_anchor(path: &Path) -> Result<Option<Anchor>, String> {
    match std::fs::read(anchor_path(path)) {
        Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|e| {
            format!(
                "the anchor {} is not valid: {e}",
                anchor_path(path).display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// `audit prune`: removes entries recorded before `before` from a log no server is writing.
///
/// # Errors
/// A server holds the log ([`AuditError::Locked`]), or as [`prune_locked`].
pub fn prune(files: &LogFiles, config: &AuditConfig, before: &str) -> Result<u64, AuditError> {
    let _lock = super::lock(&files.log)?;
    if !files.log.exists() {
        return Ok(0);
    }
    let keyring = files.keyring(config, false)?;
    prune_locked(&files.log, before, keyring.current())
}

/// Removes entries recorded before `before`, the caller holding the writer lock. Returns how
/// many were removed.
///
/// # Errors
/// When the log cannot be read, or the new files cannot be written (the old log then stays).
pub(crate) fn prune_locked(path: &Path, before: &str, key: &AuditKey) -> Result<u64, AuditError> {
    let err = |reason: String| AuditError::Unwritable {
        path: path.display().to_string(),
        reason,
    };
    if !path.exists() {
        return Ok(0);
    }
    let entries = read_all(path)?;
    let cut = entries
        .iter()
        .take_while(|e| e.at.as_str() < before)
        .count();
    // The last entry is always kept: the head checkpoint names it.
    let cut = cut.min(entries.len().saturating_sub(1));
    if cut == 0 {
        return Ok(0);
    }
    let last_removed = &entries[cut - 1];
    let previous = read_anchor(path)
        .ok()
        .flatten()
        .map_or(0, |a| a.pruned_entries);
    let mut anchor = Anchor {
        first_seq: last_removed.seq + 1,
        prev_hash: last_removed.hash.clone(),
        pruned_entries: previous + cut as u64,
        pruned_before: before.to_string(),
        key_id: String::new(),
        mac: String::new(),
    };
    anchor.sign(key);
    let mut kept = Vec::new();
    for e in &entries[cut..] {
        kept.extend(serde_json::to_vec(e).unwrap_or_default());
        kept.push(b'\n');
    }
    // Anchor first: a crash between the two renames leaves the full log and an anchor that
    // `verify` ignores (the log still starts at seq 1).
    write_atomically(
        &anchor_path(path),
        &serde_json::to_vec_pretty(&anchor).unwrap_or_default(),
        true,
    )
    .map_err(|e| err(e.to_string()))?;
    write_atomically(path, &kept, true).map_err(|e| err(e.to_string()))?;
    Ok(cut as u64)
}
