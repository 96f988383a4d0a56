//! Articles from files: Markdown (`.md`, `.markdown`), HTML (`.html`, `.htm`) and plain text
//! (`.txt`), one article per file, directories walked recursively (hidden entries skipped).
//!
//! Markdown is read with `pulldown-cmark` and HTML with `html2text`, to plain text whose
//! paragraphs are separated by blank lines. The title is the document's first heading (HTML:
//! its `<title>`, else its first heading), else the file name.

use std::path::{Path, PathBuf};

use super::{Article, KnowledgeError};

/// What [`read`] found.
#[derive(Debug, Default)]
pub struct Read {
    pub articles: Vec<Article>,
    /// The directories given (canonical), whose vanished files are removed.
    pub dirs: Vec<PathBuf>,
}

/// The source prefix every file under `dir` has.
pub fn source_prefix(dir: &Path) -> String {
    format!("file:{}/", dir.display())
}

/// Would walking `dir` read the file behind `source`? (Hidden entries are not walked, so a
/// hidden file added by name stays when its directory is added again.)
pub fn walks_to(dir: &Path, source: &str) -> bool {
    source
        .strip_prefix(&source_prefix(dir))
        .is_some_and(|rel| !rel.split('/').any(|part| part.starts_with('.')))
}

/// Reads files and directories; any unreadable or unsupported file given by name fails the
/// whole read (nothing is half-added). Files in a directory with another extension are
/// skipped.
///
/// # Errors
/// A path that does not exist, cannot be read, is not UTF-8, or (named directly) has an
/// unsupported extension.
pub fn read(paths: &[PathBuf]) -> Result<Read, KnowledgeError> {
    let mut out = Read::default();
    for p in paths {
        let canon = std::fs::canonicalize(p).map_err(|e| fail(p, &e))?;
        if canon.is_dir() {
            let mut files = Vec::new();
            walk(&canon, &mut files)?;
            files.sort();
            for f in files {
                let a = article(&f)?;
                if !out.articles.iter().any(|x| x.source == a.source) {
                    out.articles.push(a);
                }
            }
            out.dirs.push(canon);
        } else {
            if out
                .articles
                .iter()
                .any(|a| a.source == format!("file:{}", canon.display()))
            {
                continue;
            }
            if kind(&canon).is_none() {
                return Err(KnowledgeError::Read {
                    path: p.display().to_string(),
                    message: "not a Markdown (.md), HTML (.html) or text (.txt) file".into(),
                });
            }
            out.articles.push(article(&canon)?);
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Markdown,
    Html,
    Text,
}

fn kind(p: &Path) -> Option<Kind> {
    match p.extension()?.to_str()?.to_ascii_lowercase().as_str() {
        "md" | "markdown" => Some(Kind::Markdown),
        "html" | "htm" => Some(Kind::Html),
        "txt" | "text" => Some(Kind::Text),
        _ => None,
    }
}

fn fail(p: &Path, e: &dyn std::fmt::Display) -> KnowledgeError {
    KnowledgeError::Read {
        path: p.display().to_string(),
        message: e.to_string(),
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), KnowledgeError> {
    for entry in std::fs::read_dir(dir).map_err(|e| fail(dir, &e))? {
        let entry = entry.map_err(|e| fail(dir, &e))?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let ty = entry.file_type().map_err(|e| fail(&path, &e))?;
        if ty.is_dir() {
            walk(&path, out)?;
        } else if ty.is_file() && kind(&path).is_some() {
            out.push(path);
        }
    }
    Ok(())
}

/// The largest file read (a help-centre article is a few kilobytes; a bigger file is most
/// likely not an article, and would hold the model for minutes).
pub const MAX_FILE_BYTES: u64 = 2 * 1024 * 1024;

fn article(path: &Path) -> Result<Article, KnowledgeError> {
    let meta = std::fs::metadata(path).map_err(|e| fail(path, &e))?;
    if !meta.is_file() {
        return Err(fail(path, &"not a regular file"));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(fail(
            path,
            &format!(
                "{} bytes, more than the {MAX_FILE_BYTES} an article may have; split it",
                meta.len()
            ),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| fail(path, &e))?;
    let raw = String::from_utf8(bytes).map_err(|_| fail(path, &"not UTF-8 text"))?;
    let (title, text) = match kind(path) {
        Some(Kind::Markdown) => markdown(&raw),
        Some(Kind::Html) => html(&raw).map_err(|e| fail(path, &e))?,
        _ => (None, raw.replace("\r\n", "\n")),
    };
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().replace(['-', '_'], " "))
        .unwrap_or_default();
    let updated_ms = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as i64);
    Ok(Article {
        source: format!("file:{}", path.display()),
        title: title.filter(|t| !t.trim().is_empty()).unwrap_or(name),
        // Escaped (`FAQ #2.md` is not a fragment).
        url: reqwest::Url::from_file_path(path).ok().map(String::from),
        text,
        updated_ms,
    })
}

/// Markdown to plain text: the first heading, and the text with a blank line after each
/// block.
fn markdown(raw: &str) -> (Option<String>, String) {
    use pulldown_cmark::{Event, Parser, Tag, TagEnd};
    let mut text = String::new();
    let mut title: Option<String> = None;
    let mut heading: Option<String> = None;
    for ev in Parser::new(raw) {
        match ev {
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::End(TagEnd::Heading(_)) => {
                if let Some(h) = heading.take() {
                    if title.is_none() {
                        title = Some(h.trim().to_string());
                    }
                    text.push_str(h.trim());
                    text.push_str("\n\n");
                }
            }
            Event::Text(t) | Event::Code(t) => match &mut heading {
                Some(h) => h.push_str(&t),
                None => text.push_str(&t),
            },
            Event::SoftBreak | Event::HardBreak => text.push(' '),
            Event::End(TagEnd::Paragraph | TagEnd::Item | TagEnd::CodeBlock | TagEnd::TableRow) => {
                text.push_str("\n\n")
            }
            Event::End(TagEnd::TableCell) => text.push_str(" | "),
            _ => {}
        }
    }
    (title, text)
}

/// HTML to plain text (no decorations), and its `<title>` or first heading.
fn html(raw: &str) -> Result<(Option<String>, String), String> {
    let text = html2text::config::plain_no_decorate()
        .string_from_read(raw.as_bytes(), 10_000)
        .map_err(|e| e.to_string())?;
    let title = element_text(raw, "title")
        .or_else(|| element_text(raw, "h1"))
        .map(|t| {
            html2text::config::plain_no_decorate()
                .string_from_read(t.as_bytes(), 10_000)
                .unwrap_or(t)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        });
    Ok((title, text))
}

/// The inner HTML of the first `<name …>` element (ASCII case-insensitive).
fn element_text(raw: &str, name: &str) -> Option<String> {
    let lower = raw.to_ascii_lowercase();
    let open = lower.find(&format!("<{name}"))?;
    let start = open + lower[open..].find('>')? + 1;
    let end = start + lower[start..].find(&format!("</{name}"))?;
    Some(raw[start..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_reads_as_text_with_its_first_heading_as_title() {
        let (title, text) =
            markdown("# Reset a *password*\n\nOpen **Settings** then `Reset`.\n\n- one\n- two\n");
        assert_eq!(title.as_deref(), Some("Reset a password"));
        assert!(text.contains("Open Settings then Reset."), "{text}");
        assert!(text.contains("one\n\ntwo"), "{text}");
        assert!(!text.contains('*'), "{text}");
    }

    #[test]
    fn html_reads_as_text_without_markup_or_scripts() {
        let (title, text) = html("<html><head><title>SSO &amp; SAML</title><script>var x=1;</script></head><body><h1>Set up SSO</h1><p>Upload the <b>IdP</b> metadata.</p></body></html>").unwrap();
        assert_eq!(title.as_deref(), Some("SSO & SAML"));
        assert!(text.contains("Upload the IdP metadata."), "{text}");
        assert!(!text.contains('<'), "{text}");
        assert!(!text.contains("var x"), "{text}");
    }
}
