//! `audit verify`: does the log show everything that was recorded, unchanged?
//!
//! It checks, and names the first place where the history stops being trustworthy:
//! - the start: entry 1, or a signed anchor that the first kept entry links to;
//! - every entry: its sequence number, its link to the entry before, and its HMAC under the
//!   key it names, keys never going back to an older one;
//! - the end: the log reaches its signed head checkpoint, and the entry there is the one the
//!   checkpoint names.
//!
//! Entries written before the log was keyed (no `key_id`) are checked as unkeyed SHA-256 and
//! only at the start of the log; the report says how many there are, since a recomputed
//! unkeyed chain cannot be told from the original.

use serde::Serialize;

use super::keys::Keyring;
use super::prune::read_anchor;
use super::{entry_hash, AuditConfig, AuditEntry, Head, LogFiles, GENESIS};

/// The result of [`verify`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifyReport {
    /// Entries checked (those kept after pruning).
    pub entries: usize,
    /// `None` when the whole chain holds.
    pub problem: Option<String>,
    /// What a person should know even when it holds (legacy entries, a checkpoint behind).
    pub notes: Vec<String>,
}

/// Checks the whole log: start, chain, signatures and end.
pub fn verify(files: &LogFiles, config: &AuditConfig) -> VerifyReport {
    let mut report = VerifyReport {
        entries: 0,
        problem: None,
        notes: Vec::new(),
    };
    let fail = |mut r: VerifyReport, p: String| {
        r.problem = Some(p);
        r
    };
    // The checkpoint is read before the log: an append between the two reads makes the log
    // longer than its checkpoint (which holds), never shorter.
    let head = match Head::read(&files.head) {
        Ok(h) => h,
        Err(e) => return fail(report, e),
    };
    let keyring: Result<Keyring, String> = files.keyring(config, false).map_err(|e| e.to_string());
    let text = match std::fs::read_to_string(&files.log) {
        Ok(s) => s,
        Err(e) => {
            let p = match &head {
                Some(h) => format!("the log {} is gone ({e}), but its head checkpoint records entry {} (written {}): every entry was removed", files.log.display(), h.seq, h.at),
                None => format!("cannot read {}: {e}", files.log.display()),
            };
            return fail(report, p);
        }
    };
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    let mut prev = GENESIS.to_string();
    let mut expected = 1u64;
    if let Some((_, first)) = lines.first() {
        let first_seq = serde_json::from_str::<AuditEntry>(first)
            .map(|e| e.seq)
            .unwrap_or(1);
        if first_seq > 1 {
            let anchor = match read_anchor(&files.log) {
                Ok(Some(a)) => a,
                Ok(None) => return fail(report, format!("the log starts at entry {first_seq} and has no anchor: entries 1..{} were removed", first_seq - 1)),
                Err(e) => return fail(report, e),
            };
            let ring = match &keyring {
                Ok(r) => r,
                Err(e) => return fail(report, format!("cannot check the anchor: {e}")),
            };
            let holds = ring
                .get(&anchor.key_id)
                .is_some_and(|(_, k)| anchor.holds(k));
            if !holds {
                return fail(report, format!("the anchor {} is not signed with the log's key: it was written by someone else, so the entries before {first_seq} were removed without a trace", super::anchor_path(&files.log).display()));
            }
            if anchor.first_seq != first_seq {
                return fail(report, format!("the log starts at entry {first_seq} but its anchor says {}: entries were removed after pruning", anchor.first_seq));
            }
            prev = anchor.prev_hash.clone();
            expected = first_seq;
            report.notes.push(format!(
                "{} older entries were pruned (before {}); the chain is checked from its signed anchor",
                anchor.pruned_entries, anchor.pruned_before
            ));
        }
    }
    let mut key_pos: Option<usize> = None;
    let mut legacy = 0usize;
    let mut last: Option<AuditEntry> = None;
    let mut at_head: Option<AuditEntry> = None;
    for (i, line) in lines {
        let entry: AuditEntry = match serde_json::from_str(line) {
            Ok(e) => e,
            Err(e) => {
                return fail(
                    report,
                    format!(
                        "line {} is not a valid entry ({e}): the file was edited",
                        i + 1
                    ),
                )
            }
        };
        report.entries += 1;
        if entry.seq != expected {
            return fail(report, format!("line {} has seq {} where {} was expected: an entry was deleted, inserted or moved", i + 1, entry.seq, expected));
        }
        if entry.prev_hash != prev {
            return fail(report, format!("entry {} does not link to the entry before it: the history was reordered or cut", entry.seq));
        }
        let key = match &entry.key_id {
            Some(id) => {
                let ring = match &keyring {
                    Ok(r) => r,
                    Err(e) => {
                        return fail(report, format!("cannot check entry {}: {e}", entry.seq))
                    }
                };
                let Some((pos, key)) = ring.get(id) else {
                    return fail(report, format!("entry {} is signed with key {id}, which is not in the keyring: it was forged", entry.seq));
                };
                if key_pos.is_some_and(|p| pos < p) {
                    return fail(report, format!("entry {} is signed with key {id}, retired before the key of the entry before it: the log was rewritten with an old key", entry.seq));
                }
                key_pos = Some(pos);
                Some(key)
            }
            None if key_pos.is_some() => {
                return fail(
                    report,
                    format!(
                        "entry {} is unsigned after signed entries: it was forged",
                        entry.seq
                    ),
                );
            }
            None => {
                legacy += 1;
                None
            }
        };
        if entry_hash(&entry, key) != entry.hash {
            return fail(report, format!("entry {} does not match its hash: it was edited (or its chain recomputed without the key)", entry.seq));
        }
        prev = entry.hash.clone();
        expected += 1;
        if head.as_ref().is_some_and(|h| h.seq == entry.seq) {
            at_head = Some(entry.clone());
        }
        last = Some(entry);
    }
    match (&head, &last) {
        (Some(h), _) => {
            let ring = match &keyring {
                Ok(r) => r,
                Err(e) => return fail(report, format!("cannot check the head checkpoint: {e}")),
            };
            let current = ring.current();
            if !(h.key_id == current.id && h.holds(current)) {
                return fail(
                    report,
                    format!(
                        "the head checkpoint {} is not signed with the log's current key: it was forged (or rewritten with a retired key)",
                        files.head.display()
                    ),
                );
            }
            let last_seq = last.as_ref().map_or(0, |e| e.seq);
            if last_seq < h.seq {
                let what = if last.is_none() {
                    "every entry was removed".to_string()
                } else {
                    format!("entries {}..{} were removed", last_seq + 1, h.seq)
                };
                return fail(report, format!("the log ends at entry {last_seq} but its head checkpoint records entry {} (written {}): {what}", h.seq, h.at));
            }
            match &at_head {
                Some(e) if e.hash == h.hash => {}
                _ => return fail(report, format!("entry {} is not the entry the head checkpoint records: the log was rewritten", h.seq)),
            }
            if last_seq > h.seq {
                report.notes.push(format!("{} entries after the head checkpoint (a crash between an append and its checkpoint)", last_seq - h.seq));
            }
        }
        // A keyed log always has a checkpoint after its first entry; only a log from before
        // keys (no keyring either) has none.
        (None, Some(e)) if e.key_id.is_some() || keyring.is_ok() => {
            return fail(report, format!("the head checkpoint {} is missing: the end of the log cannot be checked (it was removed)", files.head.display()));
        }
        (None, _) => {}
    }
    if legacy > 0 {
        report.notes.push(format!("{legacy} entries predate the keyed log (unkeyed SHA-256): a recomputed chain there cannot be told from the original"));
    }
    report
}
