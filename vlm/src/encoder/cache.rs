//! A memo of sentence embeddings keyed by the exact instruction text, so that a dataset with
//! thousands of transitions but a few hundred distinct instructions runs the encoder once per
//! instruction.

use std::collections::{HashMap, HashSet};

use tch::{Kind, Tensor};

use super::{EncoderError, SentenceEncoder};

/// Sentence embeddings of instructions seen so far, stored on the CPU as `f32` rows.
#[derive(Clone, Debug, Default)]
pub struct EmbeddingCache {
    rows: HashMap<String, Vec<f32>>,
}

impl EmbeddingCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of distinct instructions embedded.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether no instruction has been embedded yet.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The cached embedding of `text`, if it was embedded before.
    pub fn get(&self, text: &str) -> Option<&[f32]> {
        self.rows.get(text).map(Vec::as_slice)
    }

    /// Embeddings `[N, d]` (float, on the encoder's device) of `texts`, in order. Texts not yet
    /// cached are embedded once each, in batches ([`SentenceEncoder::encode`]); repeated texts
    /// share a row. Rows are bit-identical to what `encode` returned when they were first seen.
    pub fn get_or_embed<S: AsRef<str>>(
        &mut self,
        encoder: &SentenceEncoder,
        texts: &[S],
    ) -> Result<Tensor, EncoderError> {
        let dim = encoder.dim();
        let mut seen = HashSet::new();
        let missing: Vec<&str> = texts
            .iter()
            .map(AsRef::as_ref)
            .filter(|t| !self.rows.contains_key(*t) && seen.insert(*t))
            .collect();
        if !missing.is_empty() {
            let embedded = encoder.encode(&missing)?.f_to_device(tch::Device::Cpu)?;
            let flat = Vec::<f32>::try_from(embedded.f_contiguous()?.f_view([-1])?)?;
            for (text, row) in missing.iter().zip(flat.chunks_exact(dim as usize)) {
                self.rows.insert((*text).to_owned(), row.to_vec());
            }
        }
        let mut out = Vec::with_capacity(texts.len() * dim as usize);
        for text in texts {
            // Every text is present: it was cached before or embedded just above.
            if let Some(row) = self.rows.get(text.as_ref()) {
                out.extend_from_slice(row);
            }
        }
        let n = texts.len() as i64;
        Ok(Tensor::from_slice(&out)
            .f_view([n, dim])?
            .f_to_kind(Kind::Float)?
            .f_to_device(encoder.device())?)
    }
}
