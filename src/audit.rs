//! The audit log: an append-only, hash-chained record of every tool call, prompt fetch and
//! (later) gate decision, so a team can show how an automated action was reached.
//!
//! Each entry is one JSON line carrying the time, the client and request, the tool and its
//! arguments (secrets redacted, PII optionally), the prompt, the retrieved context (record ids),
//! the decision path, the HubSpot calls made with their correlation ids, the outcome and the
//! latency. Each entry also carries `prev_hash` and `hash = SHA-256(prev_hash ‖ entry)`, so
//! [`verify`] detects any edited, deleted, inserted or reordered entry: the first broken link
//! names the sequence number where the history stops being trustworthy.
//!
//! The store is a JSONL file in the data directory, written with `O_APPEND` and synced per
//! entry. When an entry cannot be written the caller is told, and with `fail_closed` (the
//! default) the tool call fails rather than acting unrecorded.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Audit settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
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
    /// `audit prune`); the chain stays verifiable through an anchor file. Unset: keep all.
    pub retention_days: Option<u32>,
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
        }
    }
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
}

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash of an entry: SHA-256 over the previous hash and the entry with `hash` empty.
fn entry_hash(entry: &AuditEntry) -> String {
    let mut e = entry.clone();
    e.hash = String::new();
    let mut h = Sha256::new();
    h.update(entry.prev_hash.as_bytes());
    h.update(b"\n");
    h.update(serde_json::to_vec(&e).unwrap_or_default());
    hex::encode(h.finalize())
}

/// Replaces secrets (known values, and values under secret-looking keys) and optionally PII.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
    pii: bool,
}

/// Shows how many secrets it hides, never the secrets.
impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field(
                "secrets",
                &format_args!("[{} redacted]", self.secrets.len()),
            )
            .field("pii", &self.pii)
            .finish()
    }
}

const SECRET_KEYS: &[&str] = &[
    "token",
    "secret",
    "password",
    "authorization",
    "apikey",
    "api_key",
    "hapikey",
    "refresh",
    "code_verifier",
];

impl Redactor {
    /// A redactor that also hides these exact values wherever they appear.
    pub fn new(secrets: Vec<String>, pii: bool) -> Self {
        Self {
            secrets: secrets.into_iter().filter(|s| s.len() >= 6).collect(),
            pii,
        }
    }

    /// Redacts a JSON value.
    pub fn value(&self, v: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, x)| {
                        let lk = k.to_ascii_lowercase();
                        if SECRET_KEYS.iter().any(|s| lk.contains(s)) {
                            (k.clone(), Value::String("[redacted]".into()))
                        } else {
                            (k.clone(), self.value(x))
                        }
                    })
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(|x| self.value(x)).collect()),
            Value::String(s) => Value::String(self.text(s)),
            other => other.clone(),
        }
    }

    /// Redacts a string.
    pub fn text(&self, s: &str) -> String {
        let mut out = s.to_string();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "[redacted]");
            }
        }
        if self.pii {
            out = out
                .split(' ')
                .map(|w| {
                    let digits = w.chars().filter(char::is_ascii_digit).count();
                    if w.contains('@') && w.contains('.') {
                        "[email]".to_string()
                    } else if digits >= 7 && digits * 2 >= w.len() {
                        "[phone]".to_string()
                    } else {
                        w.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(" ");
        }
        out
    }
}

struct State {
    file: File,
    seq: u64,
    last_hash: String,
    healthy: bool,
}

/// The append-only log.
pub struct AuditLog {
    path: PathBuf,
    sync: bool,
    pub redactor: Redactor,
    state: Mutex<State>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl AuditLog {
    /// Opens (or creates) the log and continues its chain.
    ///
    /// # Errors
    /// When the file cannot be opened or its last entry cannot be read.
    pub fn open(path: &Path, redactor: Redactor, sync: bool) -> Result<Self, AuditError> {
        let err = |reason: String| AuditError::Unwritable {
            path: path.display().to_string(),
            reason,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
        }
        repair_torn_tail(path).map_err(|e| err(format!("repairing a torn last entry: {e}")))?;
        // Only the last entry is read: the chain continues from it, whatever the log's size.
        let (seq, last_hash) = match read_tail(path, 1) {
            Ok(entries) => entries
                .last()
                .map_or((0, GENESIS.to_string()), |e| (e.seq, e.hash.clone())),
            Err(_) => (0, GENESIS.to_string()),
        };
        let mut opts = OpenOptions::new();
        opts.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let file = opts.open(path).map_err(|e| err(e.to_string()))?;
        Ok(Self {
            path: path.to_path_buf(),
            sync,
            redactor,
            state: Mutex::new(State {
                file,
                seq,
                last_hash,
                healthy: true,
            }),
        })
    }

    /// Was the last write successful?
    pub fn healthy(&self) -> bool {
        self.state.lock().healthy
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one entry (arguments and prompt are redacted here).
    ///
    /// # Errors
    /// When the entry cannot be written; the log is then unhealthy until a write succeeds.
    pub fn append(&self, mut draft: AuditDraft) -> Result<AuditEntry, AuditError> {
        draft.arguments = self.redactor.value(&draft.arguments);
        draft.prompt = draft.prompt.map(|p| self.redactor.text(&p));
        draft.outcome = self.redactor.text(&draft.outcome);
        let mut st = self.state.lock();
        let mut entry = AuditEntry {
            seq: st.seq + 1,
            at: crate::time::iso_ms(chrono::Utc::now().timestamp_millis()),
            draft,
            prev_hash: st.last_hash.clone(),
            hash: String::new(),
        };
        entry.hash = entry_hash(&entry);
        let mut line = serde_json::to_vec(&entry).unwrap_or_default();
        line.push(b'\n');
        let written = st.file.write_all(&line).and_then(|()| {
            if self.sync {
                st.file.sync_data()
            } else {
                Ok(())
            }
        });
        match written {
            Ok(()) => {
                st.seq = entry.seq;
                st.last_hash = entry.hash.clone();
                st.healthy = true;
                Ok(entry)
            }
            Err(e) => {
                st.healthy = false;
                Err(AuditError::Unwritable {
                    path: self.path.display().to_string(),
                    reason: e.to_string(),
                })
            }
        }
    }
}

/// A process killed mid-append leaves half a line at the end. That entry was never
/// acknowledged (its append did not return), so it is cut off, and the next entry starts on
/// a line of its own instead of being glued to the fragment.
fn repair_torn_tail(path: &Path) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let len = f.seek(SeekFrom::End(0))?;
    let mut end = len;
    while end > 0 {
        let step = end.min(64 * 1024);
        f.seek(SeekFrom::Start(end - step))?;
        let mut block = vec![0u8; step as usize];
        f.read_exact(&mut block)?;
        if let Some(i) = block.iter().rposition(|b| *b == b'\n') {
            let keep = end - step + i as u64 + 1;
            if keep < len {
                tracing::warn!(path = %path.display(), bytes = len - keep, "audit log ended in a torn entry (a crash mid-write); cut it off");
                f.set_len(keep)?;
                f.sync_all()?;
            }
            return Ok(());
        }
        end -= step;
    }
    if len > 0 {
        f.set_len(0)?;
        f.sync_all()?;
    }
    Ok(())
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

/// The last `n` entries of a log, read backwards from its end in blocks: the cost is the size
/// of those entries, not of the log. A torn last line (a crash mid-write) is skipped.
///
/// # Errors
/// When the file cannot be read or a complete line is not an entry.
pub fn read_tail(path: &Path, n: usize) -> Result<Vec<AuditEntry>, AuditError> {
    use std::io::{Read, Seek, SeekFrom};
    let err = |reason: String| AuditError::Unreadable {
        path: path.display().to_string(),
        reason,
    };
    let mut f = File::open(path).map_err(|e| err(e.to_string()))?;
    let len = f.seek(SeekFrom::End(0)).map_err(|e| err(e.to_string()))?;
    let mut pos = len;
    // Bytes from `pos` to the end of the file, as read so far.
    let mut buf: Vec<u8> = Vec::new();
    const BLOCK: u64 = 64 * 1024;
    loop {
        // Whole, non-blank lines read so far: the first piece may have started mid-line and
        // the last is what follows the final newline.
        let pieces: Vec<&[u8]> = buf.split(|b| *b == b'\n').collect();
        let whole = pieces
            .iter()
            .skip(1)
            .take(pieces.len().saturating_sub(2))
            .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
            .count();
        if whole >= n || pos == 0 {
            break;
        }
        let step = BLOCK.min(pos);
        pos -= step;
        f.seek(SeekFrom::Start(pos))
            .map_err(|e| err(e.to_string()))?;
        let mut block = vec![0u8; step as usize];
        f.read_exact(&mut block).map_err(|e| err(e.to_string()))?;
        block.extend_from_slice(&buf);
        buf = block;
    }
    let text = String::from_utf8_lossy(&buf);
    let mut lines: Vec<&str> = text.split('\n').collect();
    // The last piece is what follows the final newline: empty, or a torn write.
    lines.pop();
    if pos > 0 && !lines.is_empty() {
        lines.remove(0); // started mid-line
    }
    lines.retain(|l| !l.trim().is_empty());
    let keep = lines.len().saturating_sub(n);
    lines[keep..]
        .iter()
        .map(|l| serde_json::from_str(l).map_err(|e| err(format!("an entry is not JSON: {e}"))))
        .collect()
}

/// Every entry in a log file.
///
/// # Errors
/// When the file cannot be read or a line is not an entry.
pub fn read_all(path: &Path) -> Result<Vec<AuditEntry>, AuditError> {
    let err = |reason: String| AuditError::Unreadable {
        path: path.display().to_string(),
        reason,
    };
    let f = File::open(path).map_err(|e| err(e.to_string()))?;
    let mut out = Vec::new();
    for (i, line) in BufReader::new(f).lines().enumerate() {
        let line = line.map_err(|e| err(e.to_string()))?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(serde_json::from_str(&line).map_err(|e| err(format!("line {}: {e}", i + 1)))?);
    }
    Ok(out)
}

/// The result of [`verify`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifyReport {
    pub entries: usize,
    /// `None` when the whole chain holds.
    pub problem: Option<String>,
}

/// Checks the whole chain: sequence, links and hashes.
pub fn verify(path: &Path) -> VerifyReport {
    let file = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) => {
            return VerifyReport {
                entries: 0,
                problem: Some(format!("cannot read {}: {e}", path.display())),
            }
        }
    };
    let mut prev = GENESIS.to_string();
    let mut count = 0;
    // After pruning, the chain starts at the anchor: the first kept entry links to the hash of
    // the last pruned one, which the anchor file records.
    let anchor = read_anchor(path);
    let first_seq = file
        .lines()
        .find(|l| !l.trim().is_empty())
        .and_then(|l| serde_json::from_str::<AuditEntry>(l).ok())
        .map(|e| e.seq);
    if let (Some(a), Some(first)) = (&anchor, first_seq) {
        if first == a.first_seq && first > 1 {
            prev = a.prev_hash.clone();
            count = (a.first_seq - 1) as usize;
        }
    }
    let skipped = count;
    for (i, line) in file
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let entry: AuditEntry = match serde_json::from_str(line) {
            Ok(e) => e,
            Err(e) => {
                return VerifyReport {
                    entries: count,
                    problem: Some(format!(
                        "line {} is not a valid entry ({e}): the file was edited",
                        i + 1
                    )),
                }
            }
        };
        count += 1;
        if entry.seq != count as u64 {
            return VerifyReport { entries: count, problem: Some(format!("line {} has seq {} where {} was expected: an entry was deleted, inserted or moved", i + 1, entry.seq, count)) };
        }
        if entry.prev_hash != prev {
            return VerifyReport { entries: count, problem: Some(format!("entry {} does not link to the entry before it: the history was reordered or cut", entry.seq)) };
        }
        if entry_hash(&entry) != entry.hash {
            return VerifyReport {
                entries: count,
                problem: Some(format!(
                    "entry {} does not match its hash: it was edited",
                    entry.seq
                )),
            };
        }
        prev = entry.hash;
    }
    VerifyReport {
        entries: count - skipped,
        problem: None,
    }
}

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
}

/// The anchor file beside a log (`audit.jsonl.anchor`).
pub fn anchor_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".anchor");
    PathBuf::from(p)
}

fn read_anchor(path: &Path) -> Option<Anchor> {
    std::fs::read(anchor_path(path))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
}

/// Removes entries recorded before `before` (RFC 3339 UTC), keeping the chain verifiable:
/// the anchor records where the kept chain starts. The log must not be open for appending
/// (the server prunes when it starts). Returns how many entries were removed.
///
/// # Errors
/// When the log cannot be read, or the new files cannot be written (the old log then stays).
pub fn prune(path: &Path, before: &str) -> Result<u64, AuditError> {
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
    if cut == 0 {
        return Ok(0);
    }
    let last_removed = &entries[cut - 1];
    let previous = read_anchor(path).map_or(0, |a| a.pruned_entries);
    let anchor = Anchor {
        first_seq: last_removed.seq + 1,
        prev_hash: last_removed.hash.clone(),
        pruned_entries: previous + cut as u64,
        pruned_before: before.to_string(),
    };
    let write = |target: &Path, bytes: &[u8]| -> std::io::Result<()> {
        let tmp = target.with_extension("tmp");
        let mut opts = OpenOptions::new();
        opts.create(true).write(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, target)
    };
    let mut kept = Vec::new();
    for e in &entries[cut..] {
        kept.extend(serde_json::to_vec(e).unwrap_or_default());
        kept.push(b'\n');
    }
    // Anchor first: a crash between the two renames leaves the full log and an anchor that
    // `verify` ignores (the log still starts at seq 1).
    write(
        &anchor_path(path),
        &serde_json::to_vec_pretty(&anchor).unwrap_or_default(),
    )
    .map_err(|e| err(e.to_string()))?;
    write(path, &kept).map_err(|e| err(e.to_string()))?;
    Ok(cut as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn log_with(n: usize) -> (PathBuf, AuditLog) {
        let path = std::env::temp_dir().join(format!("audit-{}.jsonl", uuid::Uuid::new_v4()));
        let log = AuditLog::open(
            &path,
            Redactor::new(vec!["pat-na1-secret-value".into()], false),
            false,
        )
        .unwrap();
        for i in 0..n {
            log.append(AuditDraft {
                kind: "tool_call".into(),
                tool: Some("search_objects".into()),
                arguments: json!({"i": i}),
                outcome: "ok".into(),
                ..Default::default()
            })
            .unwrap();
        }
        (path, log)
    }

    #[test]
    fn an_intact_chain_verifies_and_reopening_continues_it() {
        let (path, log) = log_with(3);
        drop(log);
        let log = AuditLog::open(&path, Redactor::default(), false).unwrap();
        log.append(AuditDraft {
            kind: "prompt_get".into(),
            outcome: "ok".into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            verify(&path),
            VerifyReport {
                entries: 4,
                problem: None
            }
        );
    }

    #[test]
    fn pruning_keeps_the_chain_verifiable_and_cutting_more_is_still_detected() {
        let (path, log) = log_with(3);
        std::thread::sleep(std::time::Duration::from_millis(5));
        let later = log
            .append(AuditDraft {
                kind: "tool_call".into(),
                outcome: "ok".into(),
                ..Default::default()
            })
            .unwrap();
        drop(log);
        assert_eq!(prune(&path, &later.at).unwrap(), 3);
        assert_eq!(
            verify(&path),
            VerifyReport {
                entries: 1,
                problem: None
            }
        );
        let a = read_anchor(&path).unwrap();
        assert_eq!((a.first_seq, a.pruned_entries), (4, 3));
        // The chain continues after pruning.
        let log = AuditLog::open(&path, Redactor::default(), false).unwrap();
        log.append(AuditDraft::default()).unwrap();
        drop(log);
        assert_eq!(
            verify(&path),
            VerifyReport {
                entries: 2,
                problem: None
            }
        );
        // Removing a kept entry from the head is still caught.
        let text = std::fs::read_to_string(&path).unwrap();
        let rest: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
        std::fs::write(&path, rest).unwrap();
        assert!(verify(&path).problem.is_some());
        // Nothing older than the cut: nothing to do.
        assert_eq!(prune(&path, "1970-01-01T00:00:00Z").unwrap(), 0);
    }

    #[test]
    fn detects_a_one_byte_edit_a_deleted_entry_and_swapped_entries() {
        let (path, _log) = log_with(4);
        let original = std::fs::read_to_string(&path).unwrap();
        let edited = original.replacen("\"i\":2", "\"i\":3", 1);
        std::fs::write(&path, &edited).unwrap();
        assert!(verify(&path)
            .problem
            .unwrap()
            .contains("entry 3 does not match its hash"));
        let lines: Vec<&str> = original.lines().collect();
        std::fs::write(&path, format!("{}\n{}\n{}\n", lines[0], lines[2], lines[3])).unwrap();
        assert!(verify(&path).problem.unwrap().contains("deleted"));
        std::fs::write(
            &path,
            format!("{}\n{}\n{}\n{}\n", lines[0], lines[2], lines[1], lines[3]),
        )
        .unwrap();
        assert!(verify(&path).problem.is_some());
    }

    #[test]
    fn the_tail_is_read_from_the_end_and_a_torn_last_line_is_skipped() {
        let (path, log) = log_with(300);
        drop(log);
        let tail = read_tail(&path, 5).unwrap();
        assert_eq!(
            tail.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![296, 297, 298, 299, 300]
        );
        assert_eq!(read_tail(&path, 1000).unwrap().len(), 300);
        // Blank lines at the end (an editor, a copy) do not hide the last entry.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"\n\n").unwrap();
        drop(f);
        assert_eq!(read_tail(&path, 1).unwrap()[0].seq, 300);
        // A crash mid-write leaves half a line: reopening continues from the last whole entry.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"seq\":301,\"at\":\"tor").unwrap();
        drop(f);
        assert_eq!(read_tail(&path, 1).unwrap()[0].seq, 300);
        let log = AuditLog::open(&path, Redactor::default(), false).unwrap();
        log.append(AuditDraft {
            kind: "tool_call".into(),
            ..Default::default()
        })
        .unwrap();
        drop(log);
        assert_eq!(verify(&path).problem, None);
        assert_eq!(read_tail(&path, 1).unwrap()[0].seq, 301);
        let redactor = Redactor::new(vec!["hunter2-secret".into()], false);
        assert!(
            !format!("{redactor:?}").contains("hunter2"),
            "Debug hides secrets"
        );
    }

    #[test]
    fn secrets_never_reach_the_log() {
        let (path, log) = log_with(0);
        log.append(AuditDraft {
            kind: "tool_call".into(),
            arguments: json!({"query": "uses pat-na1-secret-value here", "refresh_token": "na1-xyz", "nested": {"api_key": "k"}}),
            prompt: Some("token pat-na1-secret-value".into()),
            outcome: "error: pat-na1-secret-value rejected".into(),
            ..Default::default()
        })
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("pat-na1-secret-value")
                && !text.contains("na1-xyz")
                && !text.contains("\"k\""),
            "{text}"
        );
        let pii = Redactor::new(vec![], true);
        assert_eq!(
            pii.text("mail ann@x.io or +1 415 555 0134"),
            "mail [email] or +1 415 555 0134"
        );
        assert_eq!(pii.text("call 4155550134"), "call [phone]");
    }
}
