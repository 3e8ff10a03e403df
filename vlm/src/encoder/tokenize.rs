//! Word-piece tokenisation with the model's own `tokenizer.json` (BERT uncased normaliser,
//! `[CLS] text [SEP]`), padded to the batch's longest input and truncated at `max_tokens`.

use std::path::{Path, PathBuf};

use tch::{Device, Kind, Tensor};
use tokenizers::{
    PaddingDirection, PaddingParams, PaddingStrategy, Tokenizer, TruncationDirection,
    TruncationParams, TruncationStrategy,
};

use super::EncoderError;

/// Token tensors of one batch, all `[N, T]` with `T` the longest input (after truncation).
#[derive(Debug)]
pub struct TokenBatch {
    /// Word-piece ids, int64; padding is id 0 (`[PAD]`).
    pub ids: Tensor,
    /// Token types (segments), int64; all 0 for single sentences.
    pub types: Tensor,
    /// Attention mask, float: 1.0 for real tokens (including `[CLS]`/`[SEP]`), 0.0 for padding.
    pub mask: Tensor,
}

/// The model's tokenizer, configured for batched sentence encoding.
pub struct TextTokenizer {
    inner: Tokenizer,
    file: PathBuf,
    max_tokens: usize,
}

impl TextTokenizer {
    /// Parses `bytes` (the verified content of `file`); inputs longer than `max_tokens` tokens
    /// (special tokens included) keep their first `max_tokens - 1` word pieces and `[SEP]`.
    pub fn from_bytes(file: &Path, bytes: &[u8], max_tokens: usize) -> Result<Self, EncoderError> {
        let err = |message: String| EncoderError::Tokenizer {
            file: file.to_owned(),
            message,
        };
        let mut inner = Tokenizer::from_bytes(bytes).map_err(|e| err(e.to_string()))?;
        let pad_token = "[PAD]";
        let pad_id = inner
            .token_to_id(pad_token)
            .ok_or_else(|| err(format!("vocabulary has no {pad_token} token")))?;
        inner.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            direction: PaddingDirection::Right,
            pad_to_multiple_of: None,
            pad_id,
            pad_type_id: 0,
            pad_token: pad_token.to_owned(),
        }));
        inner
            .with_truncation(Some(TruncationParams {
                direction: TruncationDirection::Right,
                max_length: max_tokens,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
            }))
            .map_err(|e| err(e.to_string()))?;
        Ok(Self {
            inner,
            file: file.to_owned(),
            max_tokens,
        })
    }

    /// Longest input in tokens; longer inputs are truncated.
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// Tokenises `texts` into `[N, T]` tensors on `device`. `texts` must not be empty.
    pub fn batch(&self, texts: &[&str], device: Device) -> Result<TokenBatch, EncoderError> {
        let encodings =
            self.inner
                .encode_batch(texts.to_vec(), true)
                .map_err(|e| EncoderError::Tokenizer {
                    file: self.file.clone(),
                    message: e.to_string(),
                })?;
        let n = encodings.len() as i64;
        let t = encodings.first().map_or(0, |e| e.len()) as i64;
        let flat = |field: fn(&tokenizers::Encoding) -> &[u32]| -> Vec<i64> {
            encodings
                .iter()
                .flat_map(|e| field(e).iter().map(|&v| i64::from(v)))
                .collect()
        };
        let to_tensor = |values: Vec<i64>| -> Result<Tensor, EncoderError> {
            Ok(Tensor::from_slice(&values)
                .f_view([n, t])?
                .f_to_device(device)?)
        };
        let ids = to_tensor(flat(tokenizers::Encoding::get_ids))?;
        let types = to_tensor(flat(tokenizers::Encoding::get_type_ids))?;
        let mask =
            to_tensor(flat(tokenizers::Encoding::get_attention_mask))?.f_to_kind(Kind::Float)?;
        Ok(TokenBatch { ids, types, mask })
    }
}
