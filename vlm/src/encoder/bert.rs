//! BERT encoder (Devlin et al. 2019) as sub-modules holding frozen tensors, in the layout of
//! HuggingFace's `BertModel` (post-LayerNorm residual blocks). Shapes: `N` sentences, `T` tokens,
//! `d` = hidden size, `H` heads of width `d_h = d / H`.

use tch::{Kind, TchError, Tensor};

use super::EncoderError;
use super::config::{Activation, BertConfig};
use super::layers::{LayerNorm, Linear};
use super::weights::WeightFile;

/// Token, position and segment embeddings: `E = LayerNorm(W_tok[ids] + W_pos[0..T] + W_type[types])`.
#[derive(Debug)]
pub struct Embeddings {
    word: Tensor,
    position: Tensor,
    token_type: Tensor,
    norm: LayerNorm,
}

impl Embeddings {
    fn load(w: &WeightFile<'_>, c: &BertConfig) -> Result<Self, EncoderError> {
        let d = c.hidden_size;
        Ok(Self {
            word: w.take("embeddings.word_embeddings.weight", &[c.vocab_size, d])?,
            position: w.take(
                "embeddings.position_embeddings.weight",
                &[c.max_position_embeddings, d],
            )?,
            token_type: w.take(
                "embeddings.token_type_embeddings.weight",
                &[c.type_vocab_size, d],
            )?,
            norm: w.layer_norm("embeddings.LayerNorm", d, c.layer_norm_eps)?,
        })
    }

    /// `ids`, `types`: `[N, T]` int64 → `[N, T, d]`.
    fn forward(&self, ids: &Tensor, types: &Tensor) -> Result<Tensor, TchError> {
        let t = ids.size()[1];
        let positions = Tensor::f_arange(t, (Kind::Int64, ids.device()))?;
        let tokens = Tensor::f_embedding(&self.word, ids, -1, false, false)?;
        let place = Tensor::f_embedding(&self.position, &positions, -1, false, false)?;
        let segment = Tensor::f_embedding(&self.token_type, types, -1, false, false)?;
        Ok(self.norm.forward(&(tokens + place.unsqueeze(0) + segment)))
    }
}

/// Multi-head self-attention with its output projection and residual LayerNorm:
/// `A = softmax(Q·Kᵀ/√d_h + M)·V` per head, `y = LayerNorm(x + A·W_o + b_o)`.
#[derive(Debug)]
pub struct SelfAttention {
    query: Linear,
    key: Linear,
    value: Linear,
    output: Linear,
    norm: LayerNorm,
    heads: i64,
    head_dim: i64,
}

impl SelfAttention {
    fn load(w: &WeightFile<'_>, c: &BertConfig, layer: &str) -> Result<Self, EncoderError> {
        let d = c.hidden_size;
        Ok(Self {
            query: w.linear(&format!("{layer}.attention.self.query"), d, d)?,
            key: w.linear(&format!("{layer}.attention.self.key"), d, d)?,
            value: w.linear(&format!("{layer}.attention.self.value"), d, d)?,
            output: w.linear(&format!("{layer}.attention.output.dense"), d, d)?,
            norm: w.layer_norm(
                &format!("{layer}.attention.output.LayerNorm"),
                d,
                c.layer_norm_eps,
            )?,
            heads: c.num_attention_heads,
            head_dim: c.head_dim(),
        })
    }

    /// `[N, T, d]` → `[N, H, T, d_h]`.
    fn split_heads(&self, x: &Tensor) -> Result<Tensor, TchError> {
        let (n, t) = (x.size()[0], x.size()[1]);
        x.f_view([n, t, self.heads, self.head_dim])?
            .f_transpose(1, 2)
    }

    /// `x: [N, T, d]`; `mask_bias: [N, 1, 1, T]`, 0 for tokens and a large negative value for
    /// padding, so that no token attends to padding.
    fn forward(&self, x: &Tensor, mask_bias: &Tensor) -> Result<Tensor, TchError> {
        let (n, t, d) = (x.size()[0], x.size()[1], x.size()[2]);
        let q = self.split_heads(&self.query.forward(x))?;
        let k = self.split_heads(&self.key.forward(x))?;
        let v = self.split_heads(&self.value.forward(x))?;
        let scores = q.f_matmul(&k.f_transpose(-2, -1)?)? / (self.head_dim as f64).sqrt();
        let weights = (scores + mask_bias).f_softmax(-1, Kind::Float)?;
        let context = weights
            .f_matmul(&v)?
            .f_transpose(1, 2)?
            .f_contiguous()?
            .f_view([n, t, d])?;
        Ok(self.norm.forward(&(x + self.output.forward(&context))))
    }
}

/// Position-wise feed-forward block with residual LayerNorm:
/// `y = LayerNorm(x + act(x·W_1 + b_1)·W_2 + b_2)`.
#[derive(Debug)]
pub struct FeedForward {
    inner: Linear,
    outer: Linear,
    norm: LayerNorm,
    act: Activation,
}

impl FeedForward {
    fn load(w: &WeightFile<'_>, c: &BertConfig, layer: &str) -> Result<Self, EncoderError> {
        let (d, f) = (c.hidden_size, c.intermediate_size);
        Ok(Self {
            inner: w.linear(&format!("{layer}.intermediate.dense"), d, f)?,
            outer: w.linear(&format!("{layer}.output.dense"), f, d)?,
            norm: w.layer_norm(&format!("{layer}.output.LayerNorm"), d, c.layer_norm_eps)?,
            act: c.hidden_act,
        })
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let hidden = self.act.apply(&self.inner.forward(x));
        self.norm.forward(&(x + self.outer.forward(&hidden)))
    }
}

/// One encoder layer: self-attention, then feed-forward.
#[derive(Debug)]
pub struct EncoderLayer {
    attention: SelfAttention,
    feed_forward: FeedForward,
}

impl EncoderLayer {
    fn forward(&self, x: &Tensor, mask_bias: &Tensor) -> Result<Tensor, TchError> {
        Ok(self
            .feed_forward
            .forward(&self.attention.forward(x, mask_bias)?))
    }
}

/// The BERT encoder: embeddings followed by `num_hidden_layers` encoder layers. The pooler
/// (`[CLS]` projection) is not used by sentence-transformers' mean pooling and is not loaded.
#[derive(Debug)]
pub struct BertModel {
    embeddings: Embeddings,
    layers: Vec<EncoderLayer>,
    config: BertConfig,
}

impl BertModel {
    /// Builds every sub-module from `w`, checking each tensor's shape against `config`.
    pub fn load(w: &WeightFile<'_>, config: &BertConfig) -> Result<Self, EncoderError> {
        let layers = (0..config.num_hidden_layers)
            .map(|i| {
                let layer = format!("encoder.layer.{i}");
                Ok(EncoderLayer {
                    attention: SelfAttention::load(w, config, &layer)?,
                    feed_forward: FeedForward::load(w, config, &layer)?,
                })
            })
            .collect::<Result<Vec<_>, EncoderError>>()?;
        Ok(Self {
            embeddings: Embeddings::load(w, config)?,
            layers,
            config: config.clone(),
        })
    }

    /// The hyper-parameters the model was built from.
    pub fn config(&self) -> &BertConfig {
        &self.config
    }

    /// Last hidden state `[N, T, d]` for token ids and types `[N, T]` (int64) and an attention
    /// mask `[N, T]` (float, 1 for tokens, 0 for padding). Run it under `tch::no_grad`.
    pub fn forward(&self, ids: &Tensor, types: &Tensor, mask: &Tensor) -> Result<Tensor, TchError> {
        // Padding gets the most negative f32 added to its attention scores (as HuggingFace does).
        let padding: Tensor = 1.0 - mask;
        let mask_bias =
            padding.f_view([mask.size()[0], 1, 1, mask.size()[1]])? * f64::from(f32::MIN);
        let mut x = self.embeddings.forward(ids, types)?;
        for layer in &self.layers {
            x = layer.forward(&x, &mask_bias)?;
        }
        Ok(x)
    }
}
