//! Knowledge articles in the semantic index, beside CRM records: a help centre's articles and
//! runbooks, for an agent to find and cite (`semantic_search` with `kinds: ["articles"]`).
//!
//! # Design
//! - An [`Article`] is text with a title, a source (a file's path; later HubSpot's knowledge
//!   base content id) and, when it has one, a URL. Its reference in the index is
//!   `knowledge/<digest of its source>`: the same file is always the same record, whatever
//!   its title or text.
//! - [`chunk::chunks`] splits the text on paragraph boundaries (at most
//!   [`crate::sync::normalize::CHUNK_CHARS`] each; a continued chunk carries the title), and
//!   every chunk is one point of object type [`KIND`], so record filters never see articles
//!   and articles never see record filters.
//! - The catalogue (each article's source, title, URL, text digest and chunk count) is kept
//!   in the record state's checkpoints under `knowledge/`: SQLite, or Redis when sync is
//!   shared, so `knowledge list` and every worker read the same facts.
//! - Adding an article whose digest is unchanged embeds nothing. A changed one overwrites its
//!   chunks (the point id is derived from reference and chunk number) and deletes the chunks
//!   past its new length, so its old text cannot be found any more. The points are written
//!   before the catalogue: a crash in between leaves the old digest, and adding again
//!   repeats the (idempotent) write.
//! - Removing deletes every chunk by reference, then the catalogue entry.
//! - Sources: [`files`] (Markdown, HTML, plain text). Adding a directory again also removes
//!   the articles of files that are gone from it.

pub mod chunk;
pub mod files;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::embed::Embedder;
use crate::hubspot::limit::Lane;
use crate::index::{Payload, Point, VectorStore};
use crate::sync::seams::{QueueError, RecordState};

/// The object type of article chunks in the index.
pub const KIND: &str = "knowledge";

/// Where the catalogue lives among the record state's checkpoints.
const CATALOGUE: &str = "knowledge/";

/// Chunks embedded per model call.
const EMBED_BATCH: usize = 32;

/// Why a knowledge operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KnowledgeError {
    #[error("{path}: {message}")]
    Read { path: String, message: String },
    #[error(transparent)]
    State(#[from] QueueError),
    #[error(transparent)]
    Index(#[from] crate::index::IndexError),
    #[error(transparent)]
    Embed(#[from] crate::embed::EmbedError),
    #[error("the embedding task failed: {0}")]
    Task(String),
}

/// One article, as read from its source.
#[derive(Debug, Clone, PartialEq)]
pub struct Article {
    /// `file:/abs/path.md`: what makes it the same article next time.
    pub source: String,
    pub title: String,
    pub url: Option<String>,
    /// Plain text, paragraphs separated by blank lines.
    pub text: String,
    pub updated_ms: Option<i64>,
}

impl Article {
    /// The article's id: the first 16 hex digits of its source's SHA-256.
    pub fn id(&self) -> String {
        id_of(&self.source)
    }

    /// Its reference in the index: `knowledge/<id>`.
    pub fn reference(&self) -> String {
        format!("{KIND}/{}", self.id())
    }

    /// A digest of everything that reaches the index: equal digests mean nothing to embed.
    pub fn digest(&self) -> String {
        let mut h = Sha256::new();
        for part in [&self.title, self.url.as_deref().unwrap_or(""), &self.text] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        hex::encode(&h.finalize()[..16])
    }
}

fn id_of(source: &str) -> String {
    hex::encode(&Sha256::digest(source.as_bytes())[..8])
}

/// One catalogued article.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    pub source: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub digest: String,
    pub chunks: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_ms: Option<i64>,
}

/// What [`KnowledgeBase::add`] did.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct AddReport {
    pub added: usize,
    pub replaced: usize,
    pub unchanged: usize,
    /// Articles removed because their file is gone from a directory added again.
    pub removed: usize,
    pub chunks_embedded: usize,
}

/// The articles in the index, and the parts that hold them.
#[derive(Clone)]
pub struct KnowledgeBase {
    store: Arc<dyn VectorStore>,
    state: Arc<dyn RecordState>,
    embedder: Arc<dyn Embedder>,
}

impl KnowledgeBase {
    pub fn new(
        store: Arc<dyn VectorStore>,
        state: Arc<dyn RecordState>,
        embedder: Arc<dyn Embedder>,
    ) -> Self {
        Self {
            store,
            state,
            embedder,
        }
    }

    /// The index, the record state and the model the sync configuration names, under
    /// `data_dir` (the server's, or the sandbox's).
    ///
    /// # Errors
    /// A part cannot be opened: the model's assets are missing, or a running server holds
    /// the embedded index.
    pub async fn open(
        config: &crate::sync::SyncConfig,
        data_dir: &std::path::Path,
        model_dir: Option<std::path::PathBuf>,
    ) -> anyhow::Result<Self> {
        let mut sc = config.clone();
        if model_dir.is_some() {
            sc.model_dir = model_dir;
        }
        std::fs::create_dir_all(data_dir)?;
        let embedder = crate::sync::open_embedder(&sc).await?;
        let store = crate::sync::open_store(&sc, data_dir, embedder.dimensions()).await?;
        let (_, state) = crate::sync::open_state(&sc, data_dir).await?;
        Ok(Self::new(store, state, embedder))
    }

    /// Every catalogued article, by source.
    ///
    /// # Errors
    /// The record state cannot be read.
    pub async fn list(&self) -> Result<Vec<Entry>, KnowledgeError> {
        let mut out: Vec<Entry> = self
            .state
            .checkpoints_under(CATALOGUE)
            .await?
            .into_iter()
            .filter_map(|(id, v)| match serde_json::from_str(&v) {
                Ok(e) => Some(e),
                Err(err) => {
                    tracing::warn!(id, error = %err, "a knowledge catalogue entry cannot be read; `knowledge remove {id}` removes it and its chunks");
                    None
                }
            })
            .collect();
        out.sort_by(|a, b| a.source.cmp(&b.source));
        Ok(out)
    }

    /// Adds or replaces articles; unchanged ones are not embedded again.
    ///
    /// # Errors
    /// The model, the index or the record state failing; what was written before stays
    /// consistent (see the module's design).
    pub async fn add(&self, articles: Vec<Article>) -> Result<AddReport, KnowledgeError> {
        let known: std::collections::HashMap<String, Entry> = self
            .list()
            .await?
            .into_iter()
            .map(|e| (e.id.clone(), e))
            .collect();
        let mut report = AddReport::default();
        for a in articles {
            let id = a.id();
            let digest = a.digest();
            let before = known.get(&id);
            if before.is_some_and(|e| e.digest == digest) {
                report.unchanged += 1;
                continue;
            }
            let chunks = chunk::chunks(&a.title, &a.text);
            let n = chunks.len() as u32;
            let reference = a.reference();
            let mut points = Vec::with_capacity(chunks.len());
            for (batch_no, batch) in chunks.chunks(EMBED_BATCH).enumerate() {
                let texts = batch.to_vec();
                let embedder = self.embedder.clone();
                let vectors = tokio::task::spawn_blocking(move || {
                    embedder.embed_for(Lane::Background, &texts)
                })
                .await
                .map_err(|e| KnowledgeError::Task(e.to_string()))??;
                for (i, (text, vector)) in batch.iter().zip(vectors).enumerate() {
                    points.push(Point {
                        record: reference.clone(),
                        chunk: (batch_no * EMBED_BATCH + i) as u32,
                        vector,
                        payload: Payload {
                            object_type: KIND.into(),
                            record_id: id.clone(),
                            title: a.title.clone(),
                            snippet: crate::sync::engine::snippet(text),
                            url: a.url.clone(),
                            updated_ms: a.updated_ms,
                            ..Default::default()
                        },
                    });
                }
            }
            report.chunks_embedded += points.len();
            self.store.upsert(points).await?;
            // A shorter text leaves no chunk of the longer one behind.
            self.store
                .delete_chunks_from(&[(reference.clone(), n)])
                .await?;
            let entry = Entry {
                id: id.clone(),
                source: a.source.clone(),
                title: a.title.clone(),
                url: a.url.clone(),
                digest,
                chunks: n,
                updated_ms: a.updated_ms,
            };
            let json = serde_json::to_string(&entry).unwrap_or_default();
            self.state
                .set_checkpoint(&format!("{CATALOGUE}{id}"), Some(&json))
                .await?;
            if before.is_some() {
                report.replaced += 1;
            } else {
                report.added += 1;
            }
        }
        self.store.flush().await;
        Ok(report)
    }

    /// Removes the articles whose id, or source, is given; returns what was removed.
    ///
    /// # Errors
    /// The index or the record state failing.
    pub async fn remove(&self, which: &[String]) -> Result<Vec<Entry>, KnowledgeError> {
        let mut gone: Vec<Entry> = self
            .list()
            .await?
            .into_iter()
            .filter(|e| which.iter().any(|w| *w == e.id || *w == e.source))
            .collect();
        // An id whose catalogue entry cannot be read (or is gone while chunks stayed): its
        // chunks and entry are removed all the same.
        for w in which {
            let is_id = w.len() == 16 && w.chars().all(|c| c.is_ascii_hexdigit());
            if is_id && !gone.iter().any(|e| e.id == *w) {
                let orphan = self
                    .state
                    .checkpoint(&format!("{CATALOGUE}{w}"))
                    .await?
                    .is_some();
                if orphan {
                    gone.push(Entry {
                        id: w.clone(),
                        source: String::new(),
                        title: "(unreadable catalogue entry)".into(),
                        url: None,
                        digest: String::new(),
                        chunks: 0,
                        updated_ms: None,
                    });
                }
            }
        }
        self.forget(&gone).await?;
        Ok(gone)
    }

    /// Deletes the chunks, then the catalogue entries.
    async fn forget(&self, entries: &[Entry]) -> Result<(), KnowledgeError> {
        if entries.is_empty() {
            return Ok(());
        }
        let refs: Vec<String> = entries.iter().map(|e| format!("{KIND}/{}", e.id)).collect();
        self.store.delete_records(&refs).await?;
        self.store.flush().await;
        for e in entries {
            self.state
                .set_checkpoint(&format!("{CATALOGUE}{}", e.id), None)
                .await?;
        }
        Ok(())
    }

    /// Adds files and directories ([`files::read`]); for a directory, also removes the
    /// articles of files that are no longer in it.
    ///
    /// # Errors
    /// A path that cannot be read (nothing is changed then), or [`Self::add`]'s errors.
    pub async fn add_paths(
        &self,
        paths: &[std::path::PathBuf],
    ) -> Result<AddReport, KnowledgeError> {
        let paths = paths.to_vec();
        let read = tokio::task::spawn_blocking(move || files::read(&paths))
            .await
            .map_err(|e| KnowledgeError::Task(e.to_string()))??;
        let present: std::collections::HashSet<String> =
            read.articles.iter().map(|a| a.source.clone()).collect();
        let stale: Vec<Entry> = self
            .list()
            .await?
            .into_iter()
            .filter(|e| {
                !present.contains(&e.source)
                    && read.dirs.iter().any(|d| files::walks_to(d, &e.source))
            })
            .collect();
        let mut report = self.add(read.articles).await?;
        self.forget(&stale).await?;
        report.removed = stale.len();
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_source_is_the_same_article_whatever_its_text() {
        let a = Article {
            source: "file:/kb/reset.md".into(),
            title: "Reset".into(),
            url: None,
            text: "one".into(),
            updated_ms: None,
        };
        let mut b = a.clone();
        b.text = "two".into();
        b.title = "Reset a password".into();
        assert_eq!(a.reference(), b.reference());
        assert_ne!(a.digest(), b.digest());
        assert!(a.reference().starts_with("knowledge/"));
    }
}
