//! Goal embeddings: the frozen sentence embedding of every distinct instruction, computed once
//! and looked up by text during training and evaluation.

use std::collections::HashMap;
use tch::{Device, Tensor};
use vlgor_sim::dataset::Dataset;
use vlgor_vlm::{EmbeddingCache, SentenceEncoder};

use crate::RlError;

/// Instruction text → embedding row (`dim` floats), stored on the CPU.
#[derive(Clone, Debug, Default)]
pub struct GoalTable {
    dim: usize,
    index: HashMap<String, usize>,
    rows: Vec<f32>,
}

impl GoalTable {
    /// An empty table of `dim`-wide embeddings.
    pub fn new(dim: usize) -> Self {
        GoalTable {
            dim,
            index: HashMap::new(),
            rows: Vec::new(),
        }
    }

    /// Adds (or replaces) the embedding of `text`; errors when its width is not `dim`.
    pub fn insert(&mut self, text: &str, embedding: &[f32]) -> Result<(), RlError> {
        if embedding.len() != self.dim {
            return Err(RlError::Input(format!(
                "goal embedding of '{text}' has {} values, the table holds {}-wide rows",
                embedding.len(),
                self.dim
            )));
        }
        match self.index.get(text) {
            Some(&i) => self.rows[i * self.dim..(i + 1) * self.dim].copy_from_slice(embedding),
            None => {
                self.index.insert(text.to_string(), self.index.len());
                self.rows.extend_from_slice(embedding);
            }
        }
        Ok(())
    }

    /// Embeds every distinct instruction of `datasets` with the frozen encoder, once each
    /// (through `cache`, which keeps them for later use, e.g. evaluation).
    pub fn for_datasets(
        encoder: &SentenceEncoder,
        cache: &mut EmbeddingCache,
        datasets: &[&Dataset],
    ) -> Result<Self, RlError> {
        let mut texts: Vec<&str> = datasets
            .iter()
            .flat_map(|d| d.episodes.iter().map(|e| e.instruction.text.as_str()))
            .collect();
        texts.sort_unstable();
        texts.dedup();
        Self::for_texts(encoder, cache, &texts)
    }

    /// Embeds `texts` (each once) with the frozen encoder through `cache`.
    pub fn for_texts(
        encoder: &SentenceEncoder,
        cache: &mut EmbeddingCache,
        texts: &[&str],
    ) -> Result<Self, RlError> {
        let dim = encoder.dim() as usize;
        let _embedded = cache.get_or_embed(encoder, texts)?;
        let mut table = GoalTable::new(dim);
        for t in texts {
            if let Some(row) = cache.get(t) {
                table.insert(t, row)?;
            }
        }
        Ok(table)
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Row index of `text`.
    pub fn index_of(&self, text: &str) -> Option<usize> {
        self.index.get(text).copied()
    }

    /// The embedding at row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.rows[i * self.dim..(i + 1) * self.dim]
    }

    /// The embedding of `text`.
    pub fn get(&self, text: &str) -> Option<&[f32]> {
        self.index_of(text).map(|i| self.row(i))
    }

    /// Embeddings `[N, dim]` of `texts` on `device`; errors name the first text not in the table.
    pub fn tensor(&self, texts: &[&str], device: Device) -> Result<Tensor, RlError> {
        let mut out = Vec::with_capacity(texts.len() * self.dim);
        for t in texts {
            let row = self.get(t).ok_or_else(|| {
                RlError::Input(format!("no goal embedding for instruction '{t}'"))
            })?;
            out.extend_from_slice(row);
        }
        Ok(Tensor::from_slice(&out)
            .view([texts.len() as i64, self.dim as i64])
            .to_device(device))
    }

    /// Per-episode row indices of `data`; errors name the first instruction not in the table.
    pub fn episode_rows(&self, data: &Dataset) -> Result<Vec<usize>, RlError> {
        data.episodes
            .iter()
            .map(|e| {
                self.index_of(&e.instruction.text).ok_or_else(|| {
                    RlError::Input(format!(
                        "{}: no goal embedding for instruction '{}' of episode {}",
                        data.dir.display(),
                        e.instruction.text,
                        e.index
                    ))
                })
            })
            .collect()
    }
}
