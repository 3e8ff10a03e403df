//! The goal embeddings the pipeline's policy runs share.

use std::collections::BTreeMap;
use vlgor_sim::dataset::Dataset;
use vlgor_vlm::EmbeddingCache;

use super::Layout;
use crate::context::Context;
use crate::error::CliError;
use crate::imagination::mix::MixSummary;

/// The goal embeddings of every instruction the policy runs train on, embedded once for all of
/// them on first use: the sorted, distinct texts of the real data and of every mix, so each
/// text's row is the same whichever runs a resumed pipeline still has to do.
pub struct GoalEmbeddings<'a> {
    ctx: &'a Context,
    layout: &'a Layout,
    cache: Option<EmbeddingCache>,
}

impl<'a> GoalEmbeddings<'a> {
    pub fn new(ctx: &'a Context, layout: &'a Layout) -> Self {
        GoalEmbeddings {
            ctx,
            layout,
            cache: None,
        }
    }

    pub fn cache(
        &mut self,
        mixes: &BTreeMap<String, MixSummary>,
    ) -> Result<&mut EmbeddingCache, CliError> {
        let cache = match self.cache.take() {
            Some(cache) => cache,
            None => self.fill(mixes)?,
        };
        Ok(self.cache.insert(cache))
    }

    fn fill(&self, mixes: &BTreeMap<String, MixSummary>) -> Result<EmbeddingCache, CliError> {
        let l = self.layout;
        let env = l.env.name();
        let mut dirs = vec![l.real()];
        dirs.extend(mixes.keys().map(|m| l.mix(m)).filter(|d| d.exists()));
        let mut texts = std::collections::BTreeSet::new();
        for dir in &dirs {
            let d = Dataset::open(dir, Some(env)).map_err(|e| CliError::Input(e.to_string()))?;
            texts.extend(d.episodes.into_iter().map(|e| e.instruction.text));
        }
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let encoder = vlgor_vlm::SentenceEncoder::from_env(self.ctx.device)
            .map_err(|e| CliError::Input(e.to_string()))?;
        let mut cache = EmbeddingCache::new();
        let _rows = cache
            .get_or_embed(&encoder, &texts)
            .map_err(|e| CliError::Other(e.into()))?;
        tracing::info!(
            instructions = texts.len(),
            "goal embeddings for every policy run"
        );
        Ok(cache)
    }
}
