//! The transformer: one multimodal self-attention over the whole packed sequence per layer, with
//! BAGEL's mixture-of-transformers split (separate q/k/v/o, norms and FFN for generation tokens)
//! when enabled. Generation tokens are the last `n_gen` positions of the sequence.

use tch::Tensor;
use tch::nn::{self, Init, LayerNorm, Linear, Path};

use super::config::WorldModelConfig;
use super::lora::{LoraLinear, torch_linear_init};

/// A plain linear layer with PyTorch's default init.
pub(crate) fn linear(p: Path, input: i64, output: i64) -> Linear {
    let cfg = nn::LinearConfig {
        ws_init: torch_linear_init(input),
        bs_init: Some(Init::Const(0.0)),
        bias: true,
    };
    nn::linear(p, input, output, cfg)
}

/// The sizes a transformer layer needs (the world model's, or another model's of the same kind).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BlockSizes {
    pub width: i64,
    pub heads: i64,
    pub mlp_ratio: i64,
    pub lora_rank: i64,
    /// LoRA alpha / r.
    pub lora_scale: f64,
    /// Separate generation-token parameters (BAGEL's mixture-of-transformers).
    pub mixture_of_transformers: bool,
}

impl From<&WorldModelConfig> for BlockSizes {
    fn from(c: &WorldModelConfig) -> Self {
        BlockSizes {
            width: c.width,
            heads: c.heads,
            mlp_ratio: c.mlp_ratio,
            lora_rank: c.lora_rank,
            lora_scale: c.lora_scale(),
            mixture_of_transformers: c.mixture_of_transformers,
        }
    }
}

/// One expert's parameters of a layer: pre-norms, the attention projections (with LoRA), FFN.
#[derive(Debug)]
pub struct Expert {
    ln_attn: LayerNorm,
    pub q: LoraLinear,
    pub k: LoraLinear,
    pub v: LoraLinear,
    pub o: LoraLinear,
    ln_ffn: LayerNorm,
    fc1: Linear,
    fc2: Linear,
}

impl Expert {
    fn new(base: Path, adapter: Path, c: &BlockSizes) -> Self {
        let d = c.width;
        let (r, s) = (c.lora_rank, c.lora_scale);
        let proj = |name: &str| LoraLinear::new(&base / name, &adapter / name, d, d, r, s);
        Expert {
            ln_attn: nn::layer_norm(&base / "ln_attn", vec![d], Default::default()),
            q: proj("q"),
            k: proj("k"),
            v: proj("v"),
            o: proj("o"),
            ln_ffn: nn::layer_norm(&base / "ln_ffn", vec![d], Default::default()),
            fc1: linear(&base / "fc1", d, d * c.mlp_ratio),
            fc2: linear(&base / "fc2", d * c.mlp_ratio, d),
        }
    }

    fn ffn(&self, x: &Tensor) -> Tensor {
        x.apply(&self.ln_ffn)
            .apply(&self.fc1)
            .gelu("none")
            .apply(&self.fc2)
    }

    fn projections_mut(&mut self) -> [&mut LoraLinear; 4] {
        [&mut self.q, &mut self.k, &mut self.v, &mut self.o]
    }
}

/// One transformer layer.
#[derive(Debug)]
pub struct Block {
    understanding: Expert,
    generation: Option<Expert>,
    heads: i64,
}

impl Block {
    pub fn new(base: Path, adapter: Path, c: &WorldModelConfig) -> Self {
        Self::with_sizes(base, adapter, &BlockSizes::from(c))
    }

    /// A layer of the given sizes (parameters under `base`, adapters under `adapter`).
    pub fn with_sizes(base: Path, adapter: Path, c: &BlockSizes) -> Self {
        let generation = c
            .mixture_of_transformers
            .then(|| Expert::new(&base / "gen", &adapter / "gen", c));
        Block {
            understanding: Expert::new(&base / "und", &adapter / "und", c),
            generation,
            heads: c.heads,
        }
    }

    /// The LoRA-wrapped projections of this layer (q, k, v, o of each expert).
    pub fn lora_layers_mut(&mut self) -> Vec<&mut LoraLinear> {
        let mut v: Vec<&mut LoraLinear> = self.understanding.projections_mut().into();
        if let Some(g) = self.generation.as_mut() {
            v.extend(g.projections_mut());
        }
        v
    }

    /// `x` [B, L, d]; `attend` [B, 1, 1, L] or [B, 1, L, L] bool (true = key may be attended,
    /// per query row in the second form, e.g. a causal mask); the last `n_gen`
    /// tokens are generation tokens.
    pub fn forward(&self, x: &Tensor, attend: &Tensor, n_gen: i64) -> Tensor {
        let (b, l, d) = x.size3().expect("block input is [B, L, d]");
        let n_und = l - n_gen;
        let per_expert = |f: &dyn Fn(&Expert, &Tensor) -> Tensor, t: &Tensor| match &self.generation
        {
            None => f(&self.understanding, t),
            Some(g) => Tensor::cat(
                &[
                    f(&self.understanding, &t.narrow(1, 0, n_und)),
                    f(g, &t.narrow(1, n_und, n_gen)),
                ],
                1,
            ),
        };
        let hd = d / self.heads;
        let split = |t: Tensor| t.view([b, l, self.heads, hd]).transpose(1, 2);
        let h = per_expert(&|e, t| t.apply(&e.ln_attn), x);
        let q = split(per_expert(&|e, t| e.q.forward(t), &h));
        let k = split(per_expert(&|e, t| e.k.forward(t), &h));
        let v = split(per_expert(&|e, t| e.v.forward(t), &h));
        let a =
            Tensor::scaled_dot_product_attention(&q, &k, &v, Some(attend), 0.0, false, None, false);
        let a = a.transpose(1, 2).reshape([b, l, d]);
        let x = x + per_expert(&|e, t| e.o.forward(t), &a);
        &x + per_expert(&|e, t| e.ffn(t), &x)
    }
}
