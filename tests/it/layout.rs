//! The layout's promises, checked on the source: no two modules import each other (outside a
//! parent and its own children), and nothing outside the HubSpot client spells a HubSpot path.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// `src/hubspot/client.rs` → `hubspot::client`; `src/mcp/mod.rs` → `mcp`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts.join("::")
}

/// The code of a file without comments and without its `#[cfg(test)]` module.
fn code(file: &Path) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Paths after `prefix` in `code`: `crate::hubspot::client::X` → `hubspot::client::X`.
fn paths_after<'a>(code: &'a str, prefix: &str) -> Vec<&'a str> {
    code.match_indices(prefix)
        .filter(|(i, _)| {
            *i == 0
                || !code.as_bytes()[i - 1].is_ascii_alphanumeric() && code.as_bytes()[i - 1] != b'_'
        })
        .map(|(i, _)| {
            let rest = &code[i + prefix.len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            rest[..end].trim_end_matches(':')
        })
        .collect()
}

fn edges(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeMap<String, PathBuf> = files
        .iter()
        .map(|f| (module_of(src, f), f.clone()))
        .collect();
    let resolve = |path: &str| -> Option<String> {
        let parts: Vec<&str> = path.split("::").collect();
        (1..=parts.len())
            .rev()
            .map(|k| parts[..k].join("::"))
            .find(|m| modules.contains_key(m))
    };
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, file) in &modules {
        let code = code(file);
        // `super::` of `a::b` (file `a/b.rs` or `a/b/mod.rs`) is `a`.
        let mut parent: Vec<&str> = module.split("::").filter(|s| !s.is_empty()).collect();
        parent.pop();
        let mut targets: Vec<String> = paths_after(&code, "crate::")
            .into_iter()
            .map(str::to_string)
            .collect();
        for p in paths_after(&code, "super::") {
            let mut full = parent.clone();
            full.push(p);
            targets.push(full.join("::"));
        }
        for t in targets {
            if let Some(m) = resolve(&t) {
                if &m != module {
                    out.entry(module.clone()).or_default().insert(m);
                }
            }
        }
    }
    out
}

fn related(a: &str, b: &str) -> bool {
    a.is_empty()
        || b.is_empty()
        || a.starts_with(&format!("{b}::"))
        || b.starts_with(&format!("{a}::"))
}

#[test]
fn no_two_modules_import_each_other() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = edges(&src);
    assert!(
        graph.get("app").is_some_and(|t| t.contains("sync")),
        "the scan sees imports: {graph:?}"
    );
    let mut cycles = Vec::new();
    for (a, targets) in &graph {
        for b in targets {
            let back = graph.get(b).is_some_and(|t| t.contains(a));
            if back && a < b && !related(a, b) {
                cycles.push(format!("{a} <-> {b}"));
            }
        }
    }
    let top = |m: &str| m.split("::").next().unwrap_or_default().to_string();
    for (a, targets) in &graph {
        for b in targets {
            let (ta, tb) = (top(a), top(b));
            let back = graph
                .iter()
                .any(|(x, ts)| top(x) == tb && ts.iter().any(|t| top(t) == ta));
            if ta != tb && back && ta < tb {
                cycles.push(format!("{ta} <-> {tb} (through {a} -> {b})"));
            }
        }
    }
    cycles.dedup();
    assert!(
        cycles.is_empty(),
        "modules importing each other: {cycles:#?}"
    );
}

#[test]
fn nothing_outside_the_client_spells_a_hubspot_path() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let hubspot = src.join("hubspot");
    let mut found = Vec::new();
    for f in files.iter().filter(|f| !f.starts_with(&hubspot)) {
        let code = code(f);
        for needle in [
            "\"/crm/",
            "\"/oauth/",
            "\"/account-info/",
            "\"/integrations/",
            "/objects/",
        ] {
            if code.contains(needle) {
                found.push(format!("{} contains {needle}", f.display()));
            }
        }
    }
    assert!(found.is_empty(), "{found:#?}");
}
