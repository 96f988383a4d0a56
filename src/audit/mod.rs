//! The audit log: an append-only, authenticated record of every tool call, prompt fetch and gate
//! decision, so a team can show how an automated action was reached, and can tell when
//! someone tried to change that record.
//!
//! Each entry is one JSON line carrying the time, the client and request, the tool and its
//! arguments (every field redacted, and capped: [`redact`]), the prompt, the retrieved context,
//! the decision path, the HubSpot calls made with their correlation ids, the outcome and the
//! latency.
//!
//! What it detects, and how ([`verify`]):
//! - **Edits, insertions, deletions, reordering**: each entry carries `prev_hash` and
//!   `hash = HMAC-SHA256(key, prev_hash ‖ entry)` under a key kept outside the log
//!   ([`keys`]), so a chain recomputed without the key fails.
//! - **A cut tail, or every entry removed**: after each append the log writes a head
//!   checkpoint (`<log>.head`: the last sequence number and hash, signed with the key). The
//!   log must reach the checkpoint; a log that ends before it was cut.
//! - **A cut head**: pruning writes a signed anchor (`<log>.anchor`, [`prune`]); a log that
//!   starts after entry 1 needs an anchor whose signature and link hold.
//!
//! One writer per log: the log is locked (`<log>.lock`) while a server writes it; a second
//! server on the same log does not start, and `audit prune` or `audit rotate-key` are refused
//! while a server runs (the server prunes when it starts, under its own lock). A start whose
//! last entry is not valid, or whose log ends before its checkpoint, is refused with what
//! happened: a new chain is never started over evidence.
//!
//! The store is a JSONL file written with `O_APPEND` and synced per entry. When an entry
//! cannot be written the caller is told, and with `fail_closed` (the default) the tool call
//! fails rather than acting unrecorded.

pub mod keys;
pub mod prune;
pub mod read;
pub mod redact;
pub mod verify;

#[cfg(test)]
mod tests;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub use keys::Keyring;
pub use prune::{anchor_path, prune, Anchor};
pub use read::{read_all, read_tail};
pub use redact::Redactor;
pub use verify::{verify, VerifyReport};

/// Audit settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    pub enabled: bool,
    /// The log file; default `<data_dir>/audit.jsonl`.
    pub path: Option<PathBuf>,
    /// Refuse tool calls when the log cannot be written.
    pub fail_closed: bool,
    /// Replace emails and phone-like numbers in arguments with placeholders.
    pub redact_pii: bool,
    /// Sync every entry to disk (durable, slower).
    pub sync: bool,
    /// Delete entries older than this many days when the server starts (and on
    /// `audit prune`); the chain stays verifiable through a signed anchor. Unset: keep all.
    pub retention_days: Option<u32>,
    /// The signing key, hex, at least 32 bytes (`HUBSPOT_MCP_AUDIT__KEY`; keep it in a
    /// secret store). Unset: the keyring file.
    #[serde(skip_serializing)]
    pub key: Option<SecretString>,
    /// The keyring file; default `<log>.keys` (0600).
    pub key_path: Option<PathBuf>,
    /// The head checkpoint; default `<log>.head`. Put it where whoever can cut the log cannot
    /// (another volume, a WORM mount) to detect a cut even by someone holding the key file.
    pub head_path: Option<PathBuf>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            path: None,
            fail_closed: true,
            redact_pii: false,
            sync: true,
            retention_days: None,
            key: None,
            key_path: None,
            head_path: None,
        }
    }
}

/// Where a log's companions are: keys, head checkpoint.
#[derive(Debug, Clone)]
pub struct LogFiles {
    pub log: PathBuf,
    pub keys: PathBuf,
    pub head: PathBuf,
}

impl LogFiles {
    /// The log at `log`, its companions where `config` puts them (beside it by default).
    pub fn new(log: &Path, config: &AuditConfig) -> Self {
        Self {
            log: log.to_path_buf(),
            keys: config
                .key_path
                .clone()
                .unwrap_or_else(|| Keyring::default_path(log)),
            head: config
                .head_path
                .clone()
                .unwrap_or_else(|| sibling(log, ".head")),
        }
    }

    /// The log at `log` with its companions beside it (the default layout).
    pub fn beside(log: &Path) -> Self {
        Self::new(log, &AuditConfig::default())
    }

    /// The keyring, from `config.key` or the file (created when `create`).
    ///
    /// # Errors
    /// As [`Keyring::load`].
    pub fn keyring(&self, config: &AuditConfig, create: bool) -> Result<Keyring, AuditError> {
        Keyring::load(
            &self.keys,
            config.key.as_ref().map(|k| k.expose_secret()),
            create,
        )
    }
}

/// `audit.jsonl` + `.head` → `audit.jsonl.head`.
pub(crate) fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

/// A HubSpot request made on behalf of an audited call: what the client reports through its
/// [`CallObserver`](crate::hubspot::observe::CallObserver) interface.
pub use crate::hubspot::observe::ObservedCall as HubSpotCall;

/// Collects the requests one audited call makes.
#[derive(Debug, Default)]
pub struct CallLog(Mutex<Vec<HubSpotCall>>);

impl CallLog {
    /// What was collected so far.
    pub fn calls(&self) -> Vec<HubSpotCall> {
        self.0.lock().clone()
    }
}

impl crate::hubspot::observe::CallObserver for CallLog {
    fn observe(&self, call: HubSpotCall) {
        self.0.lock().push(call);
    }
}

/// What the caller knows about an event; the log adds sequence, time and hashes.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AuditDraft {
    /// `tool_call`, `prompt_get`, `gate_decision`.
    pub kind: String,
    pub client: Option<String>,
    pub request: Option<String>,
    pub tool: Option<String>,
    pub arguments: Value,
    /// The MCP prompt served, or the prompt/rationale an agent passed.
    pub prompt: Option<String>,
    /// Records the answer was based on (ids, and scores when semantic search provides them).
    pub retrieved: Vec<Value>,
    /// Every rule evaluated, with inputs and verdict (the handoff gate fills this).
    pub decision_path: Vec<Value>,
    pub hubspot_calls: Vec<HubSpotCall>,
    pub outcome: String,
    /// Integers only in hashed entries: floats do not round-trip through JSON exactly.
    pub latency_us: u64,
}

/// One stored entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditEntry {
    pub seq: u64,
    pub at: String,
    #[serde(flatten)]
    pub draft: AuditDraft,
    /// The key that signed this entry ([`keys`]); absent on entries written before the log
    /// was keyed (verified as unkeyed SHA-256, and only at the start of the log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

/// Why the log could not be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuditError {
    #[error("the audit log at {path} cannot be written: {reason}. Tool calls are refused while it is unavailable (audit.fail_closed); fix the file or disk, or set audit.fail_closed = false deliberately.")]
    Unwritable { path: String, reason: String },
    #[error("the audit log at {path} cannot be read: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("the audit log at {path} is being written by another process{holder}. One writer per log: give this server its own data_dir or audit.path, or stop the other one first (a server prunes at start with audit.retention_days).")]
    Locked { path: String, holder: String },
    #[error("the audit log at {path} {reason}. It was not appended to, so the evidence stays as it is: run `hubspot-mcp audit verify` to see where, and to start a new log move the log and its .head, .anchor files aside.")]
    Damaged { path: String, reason: String },
    #[error("the audit key at {path}: {reason}")]
    Key { path: String, reason: String },
}

pub(crate) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The bytes an entry's hash covers: the previous hash and the entry with `hash` empty.
fn signed_bytes(entry: &AuditEntry) -> Vec<u8> {
    let mut e = entry.clone();
    e.hash = String::new();
    serde_json::to_vec(&e).unwrap_or_default()
}

/// An entry's hash: HMAC-SHA256 under its key; unkeyed SHA-256 for entries from before the
/// log was keyed.
pub(crate) fn entry_hash(entry: &AuditEntry, key: Option<&keys::AuditKey>) -> String {
    let body = signed_bytes(entry);
    match key {
        Some(k) => k.mac(&[entry.prev_hash.as_bytes(), &body]),
        None => {
            let mut h = Sha256::new();
            h.update(entry.prev_hash.as_bytes());
            h.update(b"\n");
            h.update(body);
            hex::encode(h.finalize())
        }
    }
}

/// The last entry the log holds, signed: what `verify` compares the log's end with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Head {
    pub seq: u64,
    pub hash: String,
    pub key_id: String,
    pub at: String,
    pub mac: String,
}

impl Head {
    fn signed(seq: u64, hash: &str, at: &str, key: &keys::AuditKey) -> Self {
        Self {
            seq,
            hash: hash.to_string(),
            key_id: key.id.clone(),
            at: at.to_string(),
            mac: key.mac(&[
                b"head",
                seq.to_string().as_bytes(),
                hash.as_bytes(),
                at.as_bytes(),
            ]),
        }
    }

    /// Does the signature hold under `key`?
    pub fn holds(&self, key: &keys::AuditKey) -> bool {
        let want = key.mac(&[
            b"head",
            self.seq.to_string().as_bytes(),
            self.hash.as_bytes(),
            self.at.as_bytes(),
        ]);
        subtle::ConstantTimeEq::ct_eq(want.as_bytes(), self.mac.as_bytes()).into()
    }

    /// The checkpoint at `path`, if there is one.
    ///
    /// # Errors
    /// A file that exists but is not a checkpoint.
    pub fn read(path: &Path) -> Result<Option<Self>, String> {
        match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| format!("the head checkpoint {} is not valid: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("the head checkpoint {}: {e}", path.display())),
        }
    }
}

/// Writes a file through a temporary sibling and a rename, 0600, synced when asked.
pub(crate) fn write_atomically(target: &Path, bytes: &[u8], sync: bool) -> std::io::Result<()> {
    let tmp = sibling(target, ".tmp");
    // A planted file or symlink at the temporary name is removed, and the new one is created
    // exclusively (O_EXCL does not follow symlinks), so a secret never lands in a link's target.
    match std::fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut opts = OpenOptions::new();
    opts.create_new(true).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp)?;
    f.write_all(bytes)?;
    if sync {
        f.sync_all()?;
    }
    std::fs::rename(&tmp, target)
}

struct State {
    file: File,
    seq: u64,
    last_hash: String,
}

/// The append-only log, held by one writer.
pub struct AuditLog {
    files: LogFiles,
    sync: bool,
    pub redactor: Redactor,
    keyring: Keyring,
    state: Mutex<State>,
    /// Was the last write whole? Read on the async runtime, so not behind the lock that
    /// appends hold across their fsyncs.
    healthy: std::sync::atomic::AtomicBool,
    /// Held for the log's lifetime: the lock that makes this process the one writer.
    _lock: File,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.files.log)
            .finish_non_exhaustive()
    }
}

/// Takes the log's writer lock (`<log>.lock`), recording this process's id in it.
///
/// # Errors
/// [`AuditError::Locked`] naming the holder when another process has it.
pub fn lock(path: &Path) -> Result<File, AuditError> {
    let lock_path = sibling(path, ".lock");
    let err = |reason: String| AuditError::Unwritable {
        path: path.display().to_string(),
        reason,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
    }
    if std::fs::symlink_metadata(&lock_path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(err(format!(
            "{} is a symbolic link; remove it (the lock file is the server's own)",
            lock_path.display()
        )));
    }
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&lock_path)
        .map_err(|e| err(format!("{}: {e}", lock_path.display())))?;
    match f.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&lock_path)
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .map(|pid| format!(" (pid {pid})"))
                .unwrap_or_default();
            return Err(AuditError::Locked {
                path: path.display().to_string(),
                holder,
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(err(e.to_string())),
    }
    f.set_len(0).ok();
    let _ = write!(f, "{}", std::process::id());
    Ok(f)
}

impl AuditLog {
    /// Opens (or creates) the log as its one writer and continues its chain.
    ///
    /// # Errors
    /// Another process writes it ([`AuditError::Locked`]); its last entry is not valid, or
    /// it ends before its head checkpoint ([`AuditError::Damaged`]); the key cannot be had;
    /// the file cannot be opened.
    pub fn open(
        files: LogFiles,
        config: &AuditConfig,
        redactor: Redactor,
    ) -> Result<Self, AuditError> {
        let path = files.log.clone();
        let err = |reason: String| AuditError::Unwritable {
            path: path.display().to_string(),
            reason,
        };
        let lock = lock(&path)?;
        // A log is keyed once it has a keyring file or a configured key; only the first start
        // after upgrading from the unkeyed log may continue a log that has no checkpoint.
        let keyed_before = files.keys.exists() || config.key.is_some();
        let keyring = files.keyring(config, true)?;
        read::repair_torn_tail(&path)
            .map_err(|e| err(format!("repairing a torn last entry: {e}")))?;
        let (seq, last_hash) = Self::check_end(&files, &keyring, keyed_before)?;
        let mut opts = OpenOptions::new();
        opts.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let file = opts.open(&path).map_err(|e| err(e.to_string()))?;
        Ok(Self {
            files,
            sync: config.sync,
            redactor,
            keyring,
            state: Mutex::new(State {
                file,
                seq,
                last_hash,
            }),
            healthy: std::sync::atomic::AtomicBool::new(true),
            _lock: lock,
        })
    }

    /// Where the chain continues from: the last entry, which must be a valid entry signed
    /// by a known key, and not before the head checkpoint.
    fn check_end(
        files: &LogFiles,
        keyring: &Keyring,
        keyed_before: bool,
    ) -> Result<(u64, String), AuditError> {
        let damaged = |reason: String| AuditError::Damaged {
            path: files.log.display().to_string(),
            reason,
        };
        let last = match read_tail(&files.log, 1) {
            Ok(entries) => entries.into_iter().last(),
            Err(AuditError::Unreadable { reason, .. }) if reason.contains("No such file") => None,
            Err(e) => {
                return Err(damaged(format!(
                    "ends in an entry that cannot be read ({e})"
                )))
            }
        };
        let head = Head::read(&files.head).map_err(damaged)?;
        if let Some(h) = &head {
            let current = keyring.current();
            let holds = h.key_id == current.id && h.holds(current);
            if !holds {
                return Err(damaged(format!(
                    "has a head checkpoint ({}) that is not signed with the current key",
                    files.head.display()
                )));
            }
        }
        if head.is_none() && last.is_some() && keyed_before {
            return Err(damaged(format!(
                "has entries but its head checkpoint {} is gone: the end of the log cannot be checked, so entries may have been removed",
                files.head.display()
            )));
        }
        let Some(last) = last else {
            if let Some(h) = head {
                return Err(damaged(format!(
                    "is empty or missing, but its head checkpoint records entry {} (written {}): every entry was removed",
                    h.seq, h.at
                )));
            }
            return Ok((0, GENESIS.to_string()));
        };
        let key = match &last.key_id {
            Some(id) => Some(keyring.get(id).map(|(_, k)| k).ok_or_else(|| {
                damaged(format!(
                    "ends in entry {} signed with key {id}, which is not in the keyring",
                    last.seq
                ))
            })?),
            None => None,
        };
        if entry_hash(&last, key) != last.hash {
            return Err(damaged(format!(
                "ends in entry {} whose hash does not hold: it was edited or forged",
                last.seq
            )));
        }
        if let Some(h) = head {
            if last.seq < h.seq {
                return Err(damaged(format!(
                    "ends at entry {} but its head checkpoint records entry {} (written {}): entries {}..{} were removed",
                    last.seq, h.seq, h.at, last.seq + 1, h.seq
                )));
            }
        }
        Ok((last.seq, last.hash))
    }

    /// Was the last write successful?
    pub fn healthy(&self) -> bool {
        self.healthy.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.files.log
    }

    /// The log's files.
    pub fn files(&self) -> &LogFiles {
        &self.files
    }

    /// Appends one entry: every field redacted and capped here, signed with the current
    /// key, then the head checkpoint moved to it.
    ///
    /// # Errors
    /// When the entry cannot be written; the log is then unhealthy until a write succeeds.
    pub fn append(&self, mut draft: AuditDraft) -> Result<AuditEntry, AuditError> {
        use redact::{cap_list, cap_text, cap_value, MAX_NAME_CHARS, MAX_TEXT_CHARS};
        let r = &self.redactor;
        let name = |s: Option<String>| s.map(|s| cap_text(r.text(&s), MAX_NAME_CHARS));
        draft.kind = cap_text(r.text(&draft.kind), MAX_NAME_CHARS);
        draft.client = name(draft.client);
        draft.request = name(draft.request);
        draft.tool = name(draft.tool);
        draft.arguments = cap_value(r.value(&draft.arguments));
        draft.prompt = draft.prompt.map(|p| cap_text(r.text(&p), MAX_TEXT_CHARS));
        draft.retrieved = cap_list(draft.retrieved.iter().map(|v| r.value(v)).collect());
        draft.decision_path = cap_list(draft.decision_path.iter().map(|v| r.value(v)).collect());
        draft.hubspot_calls = draft
            .hubspot_calls
            .into_iter()
            .take(1_000)
            .map(|mut c| {
                c.route = cap_text(r.text(&c.route), MAX_NAME_CHARS);
                c.correlation_id = name(c.correlation_id);
                c
            })
            .collect();
        draft.outcome = cap_text(r.text(&draft.outcome), MAX_TEXT_CHARS);
        let key = self.keyring.current();
        let mut st = self.state.lock();
        let mut entry = AuditEntry {
            seq: st.seq + 1,
            at: crate::time::iso_ms(chrono::Utc::now().timestamp_millis()),
            draft,
            key_id: Some(key.id.clone()),
            prev_hash: st.last_hash.clone(),
            hash: String::new(),
        };
        entry.hash = entry_hash(&entry, Some(key));
        let mut line = serde_json::to_vec(&entry).unwrap_or_default();
        line.push(b'\n');
        let fail = |e: std::io::Error| {
            self.healthy
                .store(false, std::sync::atomic::Ordering::Release);
            AuditError::Unwritable {
                path: self.files.log.display().to_string(),
                reason: e.to_string(),
            }
        };
        let before = st.file.metadata().map(|m| m.len()).ok();
        let written = st.file.write_all(&line).and_then(|()| {
            if self.sync {
                st.file.sync_data()
            } else {
                Ok(())
            }
        });
        if let Err(e) = written {
            // A part of the line may be on disk: cut it, so the next entry starts on a line
            // of its own (the crash case is handled when the log is opened).
            if let Some(len) = before {
                let _ = st.file.set_len(len);
            }
            return Err(fail(e));
        }
        // The entry is in the log: the chain continues from it whatever happens next.
        st.seq = entry.seq;
        st.last_hash = entry.hash.clone();
        // The checkpoint follows the entry: a crash between the two leaves a log that runs
        // past its checkpoint (which verifies), never one that ends before it.
        let head = Head::signed(entry.seq, &entry.hash, &entry.at, key);
        write_atomically(
            &self.files.head,
            &serde_json::to_vec(&head).unwrap_or_default(),
            self.sync,
        )
        .map_err(fail)?;
        self.healthy
            .store(true, std::sync::atomic::Ordering::Release);
        Ok(entry)
    }

    /// Removes entries recorded before `before` (RFC 3339 UTC), as the log's writer: the
    /// kept chain starts at a signed anchor. Returns how many entries were removed.
    ///
    /// # Errors
    /// As [`prune::prune_locked`]; the log is reopened either way.
    pub fn prune(&self, before: &str) -> Result<u64, AuditError> {
        let mut st = self.state.lock();
        let n = prune::prune_locked(&self.files.log, before, self.keyring.current())?;
        let mut opts = OpenOptions::new();
        opts.create(true).append(true);
        st.file = opts
            .open(&self.files.log)
            .map_err(|e| AuditError::Unwritable {
                path: self.files.log.display().to_string(),
                reason: e.to_string(),
            })?;
        Ok(n)
    }
}

/// Appends on a blocking thread: the write and its fsync never hold a runtime thread (or the
/// log's lock on one). Order is kept: entries are chained under the lock, in call order.
///
/// # Errors
/// As [`AuditLog::append`], or when the blocking task cannot run.
pub async fn append_blocking(
    log: &std::sync::Arc<AuditLog>,
    draft: AuditDraft,
) -> Result<AuditEntry, AuditError> {
    let log2 = log.clone();
    tokio::task::spawn_blocking(move || log2.append(draft))
        .await
        .unwrap_or_else(|e| {
            Err(AuditError::Unwritable {
                path: log.path().display().to_string(),
                reason: format!("the write task failed: {e}"),
            })
        })
}

/// Rotates the signing key of a log no server is writing: a new key becomes current; the
/// old ones stay in the keyring so the entries they signed still verify.
///
/// # Errors
/// A server holds the log, or the keyring cannot be written.
pub fn rotate_key(files: &LogFiles, config: &AuditConfig) -> Result<String, AuditError> {
    let _lock = lock(&files.log)?;
    if config.key.is_some() {
        return Err(AuditError::Key {
            path: files.keys.display().to_string(),
            reason: "the key comes from audit.key (HUBSPOT_MCP_AUDIT__KEY): rotate it in your secret store, keeping the old key in the keyring file".into(),
        });
    }
    let mut ring = files.keyring(config, true)?;
    let old = Head::read(&files.head).map_err(|reason| AuditError::Damaged {
        path: files.log.display().to_string(),
        reason,
    })?;
    if let Some(h) = &old {
        if !(h.key_id == ring.current().id && h.holds(ring.current())) {
            return Err(AuditError::Damaged {
                path: files.log.display().to_string(),
                reason: "has a head checkpoint that is not signed with the current key; not rotating over it".into(),
            });
        }
    }
    let key = ring.rotate(&files.keys)?.clone();
    // The checkpoint moves to the new key at once: from now on only the current key's
    // signature on the head counts, so a retired (perhaps leaked) key cannot rewrite the log.
    if let Some(h) = old {
        let head = Head::signed(h.seq, &h.hash, &h.at, &key);
        write_atomically(
            &files.head,
            &serde_json::to_vec(&head).unwrap_or_default(),
            true,
        )
        .map_err(|e| AuditError::Unwritable {
            path: files.head.display().to_string(),
            reason: e.to_string(),
        })?;
    }
    Ok(key.id)
}
