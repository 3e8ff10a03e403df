//! Instruction text tokens for the world model: the frozen MiniLM's contextual token embeddings,
//! cached per instruction string (the same instructions recur across samples).

use std::collections::HashMap;

use tch::{Kind, Tensor};

use super::error::WorldModelError;
use crate::encoder::SentenceEncoder;

/// Turns instructions into token embeddings `[N, T, dim]` and a mask `[N, T]` (1 = token).
pub trait TextSource {
    fn tokens(&mut self, texts: &[&str]) -> Result<(Tensor, Tensor), WorldModelError>;
}

impl TextSource for SentenceEncoder {
    fn tokens(&mut self, texts: &[&str]) -> Result<(Tensor, Tensor), WorldModelError> {
        Ok(self.token_embeddings(texts)?)
    }
}

/// A [`TextSource`] that memoises another per string (the real tokens only, [T_i, dim]) and pads
/// batches to their longest instruction.
pub struct CachedText<S: TextSource> {
    inner: S,
    cache: HashMap<String, Tensor>,
}

impl<S: TextSource> CachedText<S> {
    pub fn new(inner: S) -> Self {
        CachedText {
            inner,
            cache: HashMap::new(),
        }
    }

    /// Distinct instructions cached so far.
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }
}

impl<S: TextSource> TextSource for CachedText<S> {
    fn tokens(&mut self, texts: &[&str]) -> Result<(Tensor, Tensor), WorldModelError> {
        let missing: Vec<&str> = {
            let mut m: Vec<&str> = texts
                .iter()
                .copied()
                .filter(|t| !self.cache.contains_key(*t))
                .collect();
            m.sort_unstable();
            m.dedup();
            m
        };
        if !missing.is_empty() {
            let (emb, mask) = self.inner.tokens(&missing)?;
            for (i, t) in missing.iter().enumerate() {
                let len = mask.get(i as i64).ne(0).sum(Kind::Int64).int64_value(&[]);
                self.cache.insert(
                    (*t).to_string(),
                    emb.get(i as i64).narrow(0, 0, len).detach().copy(),
                );
            }
        }
        let rows: Vec<&Tensor> = texts.iter().map(|t| &self.cache[*t]).collect();
        let t_max = rows.iter().map(|r| r.size()[0]).max().unwrap_or(0);
        let dim = rows.first().map_or(0, |r| r.size()[1]);
        let dev = rows.first().map_or(tch::Device::Cpu, |r| r.device());
        let emb = Tensor::zeros([texts.len() as i64, t_max, dim], (Kind::Float, dev));
        let mask = Tensor::zeros([texts.len() as i64, t_max], (Kind::Float, dev));
        for (i, r) in rows.iter().enumerate() {
            let len = r.size()[0];
            emb.get(i as i64).narrow(0, 0, len).copy_(r);
            let _ = mask.get(i as i64).narrow(0, 0, len).fill_(1.0);
        }
        Ok((emb, mask))
    }
}
