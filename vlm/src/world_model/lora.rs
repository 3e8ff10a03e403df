//! [`LoraLinear`]: a frozen base projection W0 x + b plus a low-rank adapter
//! (alpha / r) B A x (Hu et al. 2022). A is Kaiming-uniform, B zero, so a fresh adapter leaves
//! the output unchanged. [`LoraLinear::merge`] folds the adapter into W0 for inference.

use tch::Tensor;
use tch::nn::{Init, Path, VarStore};

/// Uniform bound PyTorch's `nn.Linear` uses (Kaiming uniform with a = sqrt(5)): 1 / sqrt(fan_in).
pub(crate) fn torch_linear_init(fan_in: i64) -> Init {
    let b = 1.0 / (fan_in as f64).sqrt();
    Init::Uniform { lo: -b, up: b }
}

/// A linear layer `in -> out` with a rank-r adapter. Base weights live under `base`, adapters
/// (`a` [r, in], `b` [out, r]) under `adapter` so they can be saved and trained apart.
#[derive(Debug)]
pub struct LoraLinear {
    pub weight: Tensor,
    pub bias: Tensor,
    pub lora_a: Tensor,
    pub lora_b: Tensor,
    scale: f64,
    merged: bool,
}

impl LoraLinear {
    /// Creates the layer; `scale` = alpha / r.
    pub fn new(base: Path, adapter: Path, input: i64, output: i64, rank: i64, scale: f64) -> Self {
        let weight = base.var("weight", &[output, input], torch_linear_init(input));
        let bias = base.var("bias", &[output], Init::Const(0.0));
        let lora_a = adapter.var("a", &[rank, input], torch_linear_init(input));
        let lora_b = adapter.var("b", &[output, rank], Init::Const(0.0));
        LoraLinear {
            weight,
            bias,
            lora_a,
            lora_b,
            scale,
            merged: false,
        }
    }

    /// y = W0 x + b + (alpha / r) B A x (the adapter term is skipped once merged).
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let y = x.linear(&self.weight, Some(&self.bias));
        if self.merged {
            y
        } else {
            y + x
                .linear::<Tensor>(&self.lora_a, None)
                .linear::<Tensor>(&self.lora_b, None)
                * self.scale
        }
    }

    /// Whether the adapter has been folded into the base weight.
    pub fn is_merged(&self) -> bool {
        self.merged
    }

    /// W0 += (alpha / r) B A; afterwards the adapter is not applied again. Idempotent.
    pub fn merge(&mut self) {
        if self.merged {
            return;
        }
        tch::no_grad(|| {
            let delta = self.lora_b.matmul(&self.lora_a) * self.scale;
            let _ = self.weight.g_add_(&delta);
        });
        self.merged = true;
    }

    /// Undoes [`LoraLinear::merge`]: W0 -= (alpha / r) B A. Idempotent.
    pub fn unmerge(&mut self) {
        if !self.merged {
            return;
        }
        tch::no_grad(|| {
            let delta = self.lora_b.matmul(&self.lora_a) * self.scale;
            let _ = self.weight.g_sub_(&delta);
        });
        self.merged = false;
    }
}

/// A model whose attention projections carry LoRA adapters: merge them for inference, undo it.
pub trait LoraAdapters {
    /// Every LoRA-wrapped projection.
    fn lora_layers_mut(&mut self) -> Vec<&mut LoraLinear>;

    /// Folds every adapter into its base weight.
    fn merge_lora(&mut self) {
        for layer in self.lora_layers_mut() {
            layer.merge();
        }
    }

    /// Undoes [`LoraAdapters::merge_lora`].
    fn unmerge_lora(&mut self) {
        for layer in self.lora_layers_mut() {
            layer.unmerge();
        }
    }

    /// Whether the adapters are currently merged.
    fn is_merged(&mut self) -> bool {
        let layers = self.lora_layers_mut();
        layers.first().is_some_and(|l| l.is_merged())
    }
}

/// Sets `requires_grad` on every variable of `vs` by `trainable(name)` and returns the
/// trainable ones sorted by name (so an optimizer built from them is deterministic).
pub fn set_trainable(vs: &VarStore, trainable: impl Fn(&str) -> bool) -> Vec<(String, Tensor)> {
    let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    vars.into_iter()
        .filter(|(name, t)| {
            let train = trainable(name);
            let _ = t.set_requires_grad(train);
            train
        })
        .collect()
}
