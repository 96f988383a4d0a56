//! `hubspot-mcp export`: every record of a type to JSON Lines or CSV.
//!
//! - **Reads** through the Search API on the background lane, 200 records per call, sorted by
//!   `hs_object_id` and restarted above the last id past the 10,000-result cap
//!   ([`SearchPages`](crate::hubspot::client::SearchPages)): `ceil(n / 200)` search calls, plus
//!   one cached metadata call when every property is asked for.
//! - **Finishes under pressure**: 429s are waited out by the client, open breakers and outages
//!   by [`patience`](crate::hubspot::patience); only refused credentials, a spent daily budget or
//!   a request HubSpot calls wrong stop it, with the reason (and when the budget resets).
//! - **Resumable**: after each page the output is flushed to disk (`fsync`) and then a state
//!   file beside it (`<out>.export-state`) records the last id and the output's length,
//!   written atomically. A run killed at any point resumes from that state: the output is cut
//!   back to the recorded length (a half-written page disappears) and the read restarts above
//!   the recorded id, so no record is written twice or lost. A different export into the same
//!   file is refused unless `--restart` is given.
//! - File writes run on blocking threads, never on the async runtime.

use std::io::Write;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::hubspot::client::HubSpotClient;
use crate::hubspot::limit::Lane;
use crate::hubspot::model::{CrmObject, Filter};
use crate::hubspot::patience::{next_page, until_done};
use crate::hubspot::ApiError;
use hubspot_wire::search::OPERATORS;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// One JSON object per line: `{"id", "properties", "createdAt", "updatedAt", "archived"}`.
    Jsonl,
    /// A header row (`id` and the properties), then one row per record.
    Csv,
}

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    pub object_type: String,
    /// The properties to read; empty: every property the portal defines for the type.
    pub properties: Vec<String>,
    /// `property:OPERATOR[:value]` filters, all of which must hold.
    pub filters: Vec<String>,
    pub format: Format,
    pub out: PathBuf,
    /// Forget a previous run's state and start over.
    pub restart: bool,
    /// Draw a progress bar on stderr (when it is a terminal).
    pub progress: bool,
}

/// What an export did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportReport {
    pub object_type: String,
    pub file: PathBuf,
    /// Records in the file.
    pub records: u64,
    /// Records this run wrote (fewer than `records` when it resumed).
    pub written_now: u64,
    /// HubSpot calls this run made (search pages and metadata).
    pub requests: usize,
    /// The id it resumed above, when it resumed.
    pub resumed_above: Option<String>,
}

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    HubSpot(#[from] ApiError),
    #[error("{0}")]
    Usage(String),
    #[error("writing {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The state file: enough to resume, and to refuse resuming a different export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct State {
    object_type: String,
    /// Every property of the type was asked for (the list is what that resolved to).
    #[serde(default)]
    all_properties: bool,
    properties: Vec<String>,
    filters: Vec<String>,
    format: Format,
    /// The last id written (records are written in ascending id order).
    last_id: Option<String>,
    records: u64,
    /// The output's length after the last complete page.
    bytes: u64,
}

/// Parses `property:OPERATOR[:value]` (`IN`/`NOT_IN` take `a,b,c`; `BETWEEN` takes `low,high`).
///
/// # Errors
/// A malformed filter, with the form it should take.
pub fn parse_filter(text: &str) -> Result<Filter, ExportError> {
    let usage = || {
        ExportError::Usage(format!(
            "filter {text:?} is not property:OPERATOR[:value] (operators: {})",
            OPERATORS.join(", ")
        ))
    };
    let mut parts = text.splitn(3, ':');
    let (Some(prop), Some(op)) = (parts.next(), parts.next()) else {
        return Err(usage());
    };
    let op = op.to_ascii_uppercase();
    if prop.is_empty() || !OPERATORS.contains(&op.as_str()) {
        return Err(usage());
    }
    let value = parts.next();
    let mut f = Filter::new(prop, &op, "");
    f.value = None;
    match (op.as_str(), value) {
        ("HAS_PROPERTY" | "NOT_HAS_PROPERTY", None) => {}
        ("HAS_PROPERTY" | "NOT_HAS_PROPERTY", Some(_)) | (_, None) => return Err(usage()),
        ("IN" | "NOT_IN", Some(v)) => f.values = Some(v.split(',').map(str::to_string).collect()),
        ("BETWEEN", Some(v)) => {
            let (lo, hi) = v.split_once(',').ok_or_else(usage)?;
            f.value = Some(lo.to_string());
            f.high_value = Some(hi.to_string());
        }
        (_, Some(v)) => f.value = Some(v.to_string()),
    }
    Ok(f)
}

fn state_path(out: &Path) -> PathBuf {
    let mut p = out.as_os_str().to_owned();
    p.push(".export-state");
    PathBuf::from(p)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
    move |source| ExportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Runs a blocking file operation off the async runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ExportError> + Send + 'static,
) -> Result<T, ExportError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ExportError::Usage(format!("a file task failed: {e}")))?
}

/// Writes `state` atomically (temp file, fsync, rename).
fn save_state(path: &Path, state: &State) -> Result<(), ExportError> {
    let tmp = path.with_extension("export-state.tmp");
    let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(&serde_json::to_vec(state).expect("state serializes"))
        .map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// One record as a line or row.
fn encode(format: Format, properties: &[String], o: &CrmObject, buf: &mut Vec<u8>) {
    match format {
        Format::Jsonl => {
            serde_json::to_writer(&mut *buf, o).expect("records serialize");
            buf.push(b'\n');
        }
        Format::Csv => {
            let mut w = csv::WriterBuilder::new().from_writer(&mut *buf);
            let row = std::iter::once(o.id.as_str()).chain(properties.iter().map(|p| {
                o.properties
                    .get(p)
                    .and_then(|v| v.as_deref())
                    .unwrap_or_default()
            }));
            w.write_record(row).expect("writing to memory");
            w.flush().expect("writing to memory");
        }
    }
}

/// Exports every record of a type (see the module docs).
///
/// # Errors
/// What waiting cannot fix (see [`patience`](crate::hubspot::patience)), a malformed filter,
/// a different export already in progress into the same file, or a file that cannot be
/// written.
pub async fn export(
    client: &HubSpotClient,
    req: ExportRequest,
) -> Result<ExportReport, ExportError> {
    if req.filters.len() > 5 {
        // HubSpot takes 6 filters per group, and reading page by page adds one.
        return Err(ExportError::Usage(format!(
            "{} filters given; an export takes at most 5 (HubSpot allows 6 per search, and the export adds one to read page by page)",
            req.filters.len()
        )));
    }
    let filters = req
        .filters
        .iter()
        .map(|f| parse_filter(f))
        .collect::<Result<Vec<_>, _>>()?;
    let state_file = state_path(&req.out);
    let previous: Option<State> = {
        let p = state_file.clone();
        let restart = req.restart;
        blocking(move || {
            if restart {
                let _ = std::fs::remove_file(&p);
                return Ok(None);
            }
            match std::fs::read(&p) {
                Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|e| {
                    ExportError::Usage(format!(
                        "{} cannot be read ({e}); pass --restart to start the export over",
                        p.display()
                    ))
                }),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(io(&p)(e)),
            }
        })
        .await?
    };
    let mut requests = 0;
    let properties = match &previous {
        Some(s) => s.properties.clone(),
        None if req.properties.is_empty() => {
            let ty = &req.object_type;
            let defs = until_done("export: properties", move || client.properties(ty)).await?;
            requests += 1;
            let mut names: Vec<String> = defs.into_iter().map(|d| d.name).collect();
            names.sort();
            names
        }
        None => req.properties.clone(),
    };
    let mut state = match previous {
        Some(s) => {
            let asked = State {
                object_type: req.object_type.clone(),
                all_properties: req.properties.is_empty(),
                properties: if req.properties.is_empty() {
                    s.properties.clone()
                } else {
                    req.properties.clone()
                },
                filters: req.filters.clone(),
                format: req.format,
                ..s.clone()
            };
            if asked != s {
                return Err(ExportError::Usage(format!(
                    "{} holds an unfinished export of {} with other settings; finish it with the same arguments, or pass --restart to start this one over",
                    req.out.display(),
                    s.object_type
                )));
            }
            s
        }
        None => State {
            object_type: req.object_type.clone(),
            all_properties: req.properties.is_empty(),
            properties: properties.clone(),
            filters: req.filters.clone(),
            format: req.format,
            last_id: None,
            records: 0,
            bytes: 0,
        },
    };
    let resumed_above = state.last_id.clone();
    // Open the output: cut back to the last complete page (or start it, with a header).
    let out = req.out.clone();
    let header = (req.format == Format::Csv && state.bytes == 0).then(|| {
        let mut buf = Vec::new();
        let mut w = csv::WriterBuilder::new().from_writer(&mut buf);
        w.write_record(std::iter::once("id").chain(properties.iter().map(String::as_str)))
            .expect("writing to memory");
        drop(w);
        buf
    });
    let keep = state.bytes;
    let (file, bytes) = blocking(move || {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&out)
            .map_err(io(&out))?;
        let len = f.metadata().map_err(io(&out))?.len();
        if len < keep {
            return Err(ExportError::Usage(format!(
                "{} is shorter ({len} bytes) than the unfinished export recorded ({keep}): it was changed or removed; pass --restart to start over",
                out.display()
            )));
        }
        f.set_len(keep).map_err(io(&out))?;
        let mut len = keep;
        if let Some(h) = header {
            f.write_all(&h).map_err(io(&out))?;
            len += h.len() as u64;
        }
        f.sync_data().map_err(io(&out))?;
        use std::io::Seek;
        f.seek(std::io::SeekFrom::End(0)).map_err(io(&out))?;
        Ok((f, len))
    })
    .await?;
    state.bytes = bytes;
    let mut file = Some(file);

    let mut pages = client
        .search_pages(Lane::Background, &req.object_type, &filters, &properties)
        .starting_above(state.last_id.clone());
    let bar = ProgressBar::with_draw_target(
        None,
        if req.progress {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} records, {per_sec}, ETA {eta}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_message(format!("export {}", req.object_type));
    let mut written_now = 0u64;
    loop {
        let page = next_page(&mut pages).await?;
        if bar.length().is_none() {
            if let Some(t) = pages.total() {
                bar.set_length(t + state.records);
                bar.set_position(state.records);
            }
        }
        let Some(page) = page else { break };
        if page.is_empty() {
            continue;
        }
        let mut buf = Vec::with_capacity(page.len() * 256);
        for o in &page {
            encode(req.format, &state.properties, o, &mut buf);
        }
        let mut next = state.clone();
        next.last_id = page.last().map(|o| o.id.clone());
        next.records += page.len() as u64;
        next.bytes += buf.len() as u64;
        // Data first, then the state that points past it: a crash between the two leaves a
        // tail that the next run cuts off.
        let (out, sf, f, saved) = (
            req.out.clone(),
            state_file.clone(),
            file.take(),
            next.clone(),
        );
        file = Some(
            blocking(move || {
                let mut f = f.expect("the output is open");
                f.write_all(&buf).map_err(io(&out))?;
                f.sync_data().map_err(io(&out))?;
                save_state(&sf, &saved)?;
                Ok(f)
            })
            .await?,
        );
        written_now += page.len() as u64;
        state = next;
        bar.set_position(state.records);
    }
    requests += pages.requests();
    bar.finish_and_clear();
    let sf = state_file.clone();
    blocking(move || match std::fs::remove_file(&sf) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(&sf)(e)),
    })
    .await?;
    Ok(ExportReport {
        object_type: req.object_type,
        file: req.out,
        records: state.records,
        written_now,
        requests,
        resumed_above,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_or_say_what_they_should_look_like() {
        let f = parse_filter("lifecyclestage:eq:customer").unwrap();
        assert_eq!(
            (f.operator.as_str(), f.value.as_deref()),
            ("EQ", Some("customer"))
        );
        let f = parse_filter("amount:BETWEEN:10,20").unwrap();
        assert_eq!(
            (f.value.as_deref(), f.high_value.as_deref()),
            (Some("10"), Some("20"))
        );
        let f = parse_filter("email:HAS_PROPERTY").unwrap();
        assert_eq!(f.value, None);
        let f = parse_filter("dealstage:IN:a,b").unwrap();
        assert_eq!(f.values, Some(vec!["a".to_string(), "b".to_string()]));
        for bad in [
            "email",
            "email:LIKE:x",
            ":EQ:x",
            "email:EQ",
            "email:HAS_PROPERTY:x",
        ] {
            let e = parse_filter(bad).unwrap_err().to_string();
            assert!(e.contains("property:OPERATOR"), "{bad}: {e}");
        }
    }

    #[test]
    fn csv_rows_quote_what_needs_quoting() {
        let o: CrmObject = serde_json::from_value(serde_json::json!({
            "id": "7",
            "properties": {"name": "Acme, \"Inc\"\nEU", "city": null}
        }))
        .unwrap();
        let mut buf = Vec::new();
        encode(Format::Csv, &["name".into(), "city".into()], &o, &mut buf);
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "7,\"Acme, \"\"Inc\"\"\nEU\",\n"
        );
    }
}
