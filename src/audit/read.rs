//! Reading the log: its last entries (from the end, in blocks), all of it, and cutting a torn
//! last line left by a crash mid-write.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader};
use std::path::Path;

use super::{AuditEntry, AuditError};

/// A process killed mid-append leaves half a line at the end. That entry was never
/// acknowledged (its append did not return), so it is cut off, and the next entry starts on
/// a line of its own instead of being glued to the fragment.
pub(crate) fn repair_torn_tail(path: &Path) -> std::io::Result<()> {
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
