//! Tamper tests: each way of hiding or changing history is detected or refused, with the
//! message a person sees.

use std::io::Write;
use std::path::PathBuf;

use serde_json::json;

use super::*;

fn config() -> AuditConfig {
    AuditConfig {
        sync: false,
        ..Default::default()
    }
}

fn fresh() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("audit-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("audit.jsonl")
}

fn open(path: &Path) -> Result<AuditLog, AuditError> {
    AuditLog::open(
        LogFiles::beside(path),
        &config(),
        Redactor::new(vec!["pat-na1-secret-value".into()], false),
    )
}

fn draft(i: usize) -> AuditDraft {
    AuditDraft {
        kind: "tool_call".into(),
        tool: Some("search_objects".into()),
        arguments: json!({"i": i}),
        outcome: "ok".into(),
        ..Default::default()
    }
}

/// A log of `n` entries, closed.
fn log_with(n: usize) -> PathBuf {
    let path = fresh();
    let log = open(&path).unwrap();
    for i in 0..n {
        log.append(draft(i)).unwrap();
    }
    path
}

fn check(path: &Path) -> VerifyReport {
    verify(&LogFiles::beside(path), &config())
}

fn problem(path: &Path) -> String {
    check(path)
        .problem
        .unwrap_or_else(|| panic!("tampering not detected in {}", path.display()))
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(path, text).unwrap();
}

fn entries_of(path: &Path) -> Vec<AuditEntry> {
    lines(path)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Recomputes the chain from entry `from` on as someone holding `key` would (no key: as an
/// unkeyed chain from before keys), and writes the log back.
fn rechain(path: &Path, entries: &mut [AuditEntry], from: usize, key: Option<&keys::AuditKey>) {
    let mut prev = match from {
        0 => GENESIS.to_string(),
        n => entries[n - 1].hash.clone(),
    };
    for e in entries.iter_mut().skip(from) {
        e.prev_hash = prev.clone();
        if key.is_none() {
            e.key_id = None;
        }
        e.hash = entry_hash(e, key);
        prev = e.hash.clone();
    }
    let text: Vec<String> = entries
        .iter()
        .map(|e| serde_json::to_string(e).unwrap())
        .collect();
    write_lines(path, &text);
}

#[test]
fn an_intact_log_verifies_and_reopening_continues_it() {
    let path = log_with(3);
    let log = open(&path).unwrap();
    log.append(draft(9)).unwrap();
    drop(log);
    let r = check(&path);
    assert_eq!((r.entries, r.problem), (4, None));
}

#[test]
fn a_cut_tail_is_detected_whether_one_or_a_hundred_entries_go() {
    for cut in [1, 100] {
        let path = log_with(150);
        let all = lines(&path);
        write_lines(&path, &all[..all.len() - cut]);
        let p = problem(&path);
        assert!(
            p.contains(&format!(
                "ends at entry {} but its head checkpoint records entry 150",
                150 - cut
            )),
            "{p}"
        );
        // And the server refuses to bury it under new entries.
        let e = open(&path).unwrap_err().to_string();
        assert!(
            e.contains("were removed") && e.contains("was not appended to"),
            "{e}"
        );
    }
}

#[test]
fn removing_every_entry_or_the_file_is_detected() {
    let path = log_with(5);
    std::fs::write(&path, "").unwrap();
    assert!(problem(&path).contains("every entry was removed"));
    assert!(open(&path)
        .unwrap_err()
        .to_string()
        .contains("every entry was removed"));
    std::fs::remove_file(&path).unwrap();
    assert!(problem(&path).contains("every entry was removed"));
}

#[test]
fn removing_the_head_checkpoint_is_detected() {
    let path = log_with(5);
    std::fs::remove_file(sibling(&path, ".head")).unwrap();
    assert!(problem(&path).contains("head checkpoint"));
    // And the server does not start over it (it would write a new checkpoint over the cut).
    let e = open(&path).unwrap_err().to_string();
    assert!(
        e.contains("head checkpoint") && e.contains("is gone"),
        "{e}"
    );
}

#[test]
fn a_history_rewritten_as_unkeyed_legacy_entries_is_refused() {
    let path = log_with(4);
    let mut entries = entries_of(&path);
    entries[1].draft.outcome = "nothing happened".into();
    rechain(&path, &mut entries, 0, None);
    std::fs::remove_file(sibling(&path, ".head")).unwrap();
    assert!(problem(&path).contains("head checkpoint"));
    assert!(open(&path).unwrap_err().to_string().contains("is gone"));
}

#[test]
fn floats_in_an_entry_survive_the_round_trip_through_the_file() {
    let path = fresh();
    let log = open(&path).unwrap();
    log.append(AuditDraft {
        kind: "tool_call".into(),
        arguments: json!({"x": 9.163_453_718_085_518e-17, "confidence": 0.1 + 0.2}),
        ..Default::default()
    })
    .unwrap();
    drop(log);
    assert_eq!(check(&path).problem, None);
    open(&path).unwrap();
}

#[test]
fn a_failed_checkpoint_never_makes_two_entries_share_a_sequence_number() {
    let path = fresh();
    let cfg = AuditConfig {
        sync: false,
        head_path: Some(path.with_file_name("missing-dir").join("audit.head")),
        ..Default::default()
    };
    let log = AuditLog::open(LogFiles::new(&path, &cfg), &cfg, Redactor::default()).unwrap();
    assert!(log.append(draft(1)).is_err());
    assert!(!log.healthy(), "fail-closed sees it");
    assert!(log.append(draft(2)).is_err());
    let seqs: Vec<u64> = read_all(&path).unwrap().iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![1, 2]);
}

#[test]
fn a_cut_head_with_a_forged_anchor_is_detected() {
    let path = log_with(60);
    let all = lines(&path);
    let kept = &all[50..];
    write_lines(&path, kept);
    // No anchor at all.
    assert!(problem(&path).contains("starts at entry 51 and has no anchor"));
    // An anchor that names the right link, written without the key.
    let e50: AuditEntry = serde_json::from_str(&all[49]).unwrap();
    let forged = Anchor {
        first_seq: 51,
        prev_hash: e50.hash,
        pruned_entries: 50,
        pruned_before: "2099-01-01T00:00:00Z".into(),
        key_id: String::new(),
        mac: String::new(),
    };
    std::fs::write(anchor_path(&path), serde_json::to_vec(&forged).unwrap()).unwrap();
    let p = problem(&path);
    assert!(p.contains("is not signed with the log's key"), "{p}");
}

#[test]
fn a_chain_recomputed_without_the_key_fails() {
    let path = log_with(4);
    // Edit entry 2 and recompute every hash as an unkeyed SHA-256 chain (what anyone with
    // write access could do to the old log), and the head too.
    let mut entries = entries_of(&path);
    entries[1].draft.outcome = "nothing happened".into();
    rechain(&path, &mut entries, 0, None);
    let p = problem(&path);
    assert!(
        p.contains("entry 4 is not the entry the head checkpoint records"),
        "{p}"
    );
    // Recomputed with a key of the attacker's own, keeping the key ids.
    let path = log_with(4);
    let mut entries = entries_of(&path);
    let theirs = Keyring::load(&Keyring::default_path(&fresh()), None, true).unwrap();
    entries[1].draft.outcome = "nothing happened".into();
    rechain(&path, &mut entries, 1, Some(theirs.current()));
    let p = problem(&path);
    assert!(p.contains("entry 2 does not match its hash"), "{p}");
}

#[test]
fn edited_reordered_and_deleted_entries_are_detected() {
    let path = log_with(4);
    let original = lines(&path);
    let edited: Vec<String> = original
        .iter()
        .map(|l| l.replacen("\"i\":2", "\"i\":3", 1))
        .collect();
    write_lines(&path, &edited);
    assert!(problem(&path).contains("entry 3 does not match its hash"));
    write_lines(
        &path,
        &[
            original[0].clone(),
            original[2].clone(),
            original[3].clone(),
        ],
    );
    assert!(problem(&path).contains("deleted, inserted or moved"));
    write_lines(
        &path,
        &[
            original[0].clone(),
            original[2].clone(),
            original[1].clone(),
            original[3].clone(),
        ],
    );
    assert!(problem(&path).contains("where 2 was expected"));
}

#[test]
fn one_writer_per_log_and_no_prune_or_rotation_under_a_running_writer() {
    let path = log_with(2);
    let writer = open(&path).unwrap();
    let second = open(&path).unwrap_err().to_string();
    assert!(
        second.contains("being written by another process")
            && second.contains(&format!("pid {}", std::process::id())),
        "{second}"
    );
    let p = prune(&LogFiles::beside(&path), &config(), "2999-01-01T00:00:00Z")
        .unwrap_err()
        .to_string();
    assert!(p.contains("being written by another process"), "{p}");
    assert!(rotate_key(&LogFiles::beside(&path), &config()).is_err());
    // The writer itself prunes, and the log still verifies from its signed anchor.
    writer.append(draft(7)).unwrap();
    assert_eq!(
        writer.prune("2999-01-01T00:00:00Z").unwrap(),
        2,
        "the last entry stays"
    );
    writer.append(draft(8)).unwrap();
    drop(writer);
    let r = check(&path);
    assert_eq!((r.entries, r.problem.clone()), (2, None), "{r:?}");
    assert!(r.notes[0].contains("2 older entries were pruned"), "{r:?}");
    // Prune by the CLI once no server runs.
    std::thread::sleep(std::time::Duration::from_millis(5));
    let later = crate::time::iso_ms(chrono::Utc::now().timestamp_millis());
    assert_eq!(
        prune(&LogFiles::beside(&path), &config(), &later).unwrap(),
        1
    );
    assert_eq!(check(&path).problem, None);
}

#[test]
fn an_invalid_last_entry_stops_the_start_instead_of_a_new_chain() {
    let path = log_with(3);
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(b"{\"seq\": 4, \"not\": \"an entry\"}\n")
        .unwrap();
    drop(f);
    let e = open(&path).unwrap_err().to_string();
    assert!(e.contains("ends in an entry that cannot be read"), "{e}");
    assert_eq!(lines(&path).len(), 4, "nothing was appended");
    // A forged last line that parses but is not signed.
    let path = log_with(3);
    let mut all = lines(&path);
    let mut last: AuditEntry = serde_json::from_str(&all[2]).unwrap();
    last.draft.outcome = "forged".into();
    all[2] = serde_json::to_string(&last).unwrap();
    write_lines(&path, &all);
    let e = open(&path).unwrap_err().to_string();
    assert!(
        e.contains("ends in entry 3 whose hash does not hold"),
        "{e}"
    );
}

#[test]
fn a_torn_last_line_from_a_crash_is_cut_and_the_chain_continues() {
    let path = log_with(3);
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(b"{\"seq\":4,\"at\":\"tor").unwrap();
    drop(f);
    let log = open(&path).unwrap();
    log.append(draft(4)).unwrap();
    drop(log);
    assert_eq!(check(&path).problem, None);
    assert_eq!(read_tail(&path, 1).unwrap()[0].seq, 4);
}

#[test]
fn a_rotated_key_signs_new_entries_and_an_old_key_cannot_rewrite_them() {
    let path = log_with(2);
    let files = LogFiles::beside(&path);
    let old = files.keyring(&config(), false).unwrap();
    rotate_key(&files, &config()).unwrap();
    let log = open(&path).unwrap();
    log.append(draft(3)).unwrap();
    drop(log);
    assert_eq!(check(&path).problem, None);
    // Whoever holds the retired key rewrites the newest entry with it.
    let mut all = lines(&path);
    let mut last: AuditEntry = serde_json::from_str(&all[2]).unwrap();
    last.draft.outcome = "rewritten".into();
    last.key_id = Some(old.current().id.clone());
    last.hash = entry_hash(&last, Some(old.current()));
    all[2] = serde_json::to_string(&last).unwrap();
    write_lines(&path, &all);
    let p = problem(&path);
    assert!(
        p.contains("retired before the key of the entry before it")
            || p.contains("head checkpoint"),
        "{p}"
    );
    // Whoever holds the retired key rewrites everything, the checkpoint included.
    let path = log_with(3);
    let files = LogFiles::beside(&path);
    let old = files.keyring(&config(), false).unwrap();
    rotate_key(&files, &config()).unwrap();
    assert_eq!(
        check(&path).problem,
        None,
        "the checkpoint moved to the new key"
    );
    let mut entries = entries_of(&path);
    entries[0].draft.outcome = "rewritten".into();
    rechain(&path, &mut entries, 0, Some(old.current()));
    let last = entries.last().unwrap();
    let forged = Head::signed(last.seq, &last.hash, &last.at, old.current());
    std::fs::write(
        sibling(&path, ".head"),
        serde_json::to_vec(&forged).unwrap(),
    )
    .unwrap();
    let p = problem(&path);
    assert!(p.contains("not signed with the log's current key"), "{p}");
}

#[test]
fn every_field_is_redacted_and_capped() {
    let path = fresh();
    let log = open(&path).unwrap();
    let huge = "x".repeat(900_000);
    log.append(AuditDraft {
        kind: "tool_call".into(),
        client: Some("agent pat-na1-secret-value".into()),
        tool: Some(format!("tool-pat-na1-secret-value-{huge}")),
        arguments: json!({"query": "uses pat-na1-secret-value here", "refresh_token": "na1-xyz", "nested": {"api_key": "k"}, "blob": huge}),
        prompt: Some("token pat-na1-secret-value".into()),
        decision_path: vec![json!({"rule": "x", "inputs": {"labels": ["pat-na1-secret-value"]}})],
        outcome: "error: pat-na1-secret-value rejected".into(),
        ..Default::default()
    })
    .unwrap();
    drop(log);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains("pat-na1-secret-value")
            && !text.contains("na1-xyz")
            && !text.contains("\"k\""),
        "{}",
        &text[..400]
    );
    assert!(
        text.len() < 4_000,
        "a 900 KB argument is stored as size and digest: {} bytes",
        text.len()
    );
    let e = &read_all(&path).unwrap()[0];
    assert_eq!(e.draft.arguments["bytes"].as_u64().unwrap() > 900_000, true);
    assert!(e.draft.tool.as_deref().unwrap().contains("[cut:"));
    assert_eq!(check(&path).problem, None);
    let pii = Redactor::new(vec![], true);
    assert_eq!(
        pii.text("mail ann@x.io or +1 415 555 0134"),
        "mail [email] or +1 415 555 0134"
    );
    assert_eq!(pii.text("call 4155550134"), "call [phone]");
    let redactor = Redactor::new(vec!["hunter2-secret".into()], false);
    assert!(
        !format!("{redactor:?}").contains("hunter2"),
        "Debug hides secrets"
    );
}

#[test]
fn the_tail_is_read_from_the_end() {
    let path = log_with(300);
    let tail = read_tail(&path, 5).unwrap();
    assert_eq!(
        tail.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![296, 297, 298, 299, 300]
    );
    assert_eq!(read_tail(&path, 1000).unwrap().len(), 300);
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(b"\n\n").unwrap();
    drop(f);
    assert_eq!(read_tail(&path, 1).unwrap()[0].seq, 300);
}
