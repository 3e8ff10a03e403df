//! The two parameterised primitives BERT is built from, holding frozen tensors.

use tch::Tensor;

/// Dense layer `y = x·Wᵀ + b` with `W: [out, in]`, `b: [out]`.
#[derive(Debug)]
pub struct Linear {
    /// Weight `W`, `[out, in]`.
    pub weight: Tensor,
    /// Bias `b`, `[out]`.
    pub bias: Tensor,
}

impl Linear {
    /// Applies the layer to the last dimension of `x` (`[..., in]` → `[..., out]`).
    pub fn forward(&self, x: &Tensor) -> Tensor {
        x.linear(&self.weight, Some(&self.bias))
    }
}

/// Layer normalisation over the last dimension: `γ ⊙ (x − μ) / √(σ² + ε) + β`.
#[derive(Debug)]
pub struct LayerNorm {
    /// Scale `γ`, `[d]`.
    pub gamma: Tensor,
    /// Shift `β`, `[d]`.
    pub beta: Tensor,
    /// `ε` inside the square root.
    pub eps: f64,
}

impl LayerNorm {
    /// Normalises `x: [..., d]` over its last dimension.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let d = self.gamma.size()[0];
        x.layer_norm([d], Some(&self.gamma), Some(&self.beta), self.eps, false)
    }
}
