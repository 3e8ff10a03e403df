//! The transformation visual head (CDNA / STP style, Finn, Goodfellow and Levine 2016): the next
//! frame is the input frame moved by a few predicted translations, blended per pixel by
//! compositing masks, plus a small residual:
//!
//! `s_{t+h} = m_0 · s_t + Σ_k m_k · shift(s_t, τ_k) + ρ · r`,
//!
//! where m = softmax over K + 1 mask channels (channel 0 keeps the input pixel), τ_k are read
//! from K transform queries (normalised image coordinates), the masks and the residual r from
//! the P frame queries, and ρ = [`RESIDUAL_SCALE`]. A fresh head nearly copies the input frame
//! (mask 0 dominates, residual zero).

use tch::nn::{self, Init, Linear, Path};
use tch::{Kind, Tensor};

/// Translations (motion kernels) per frame.
pub const TRANSFORMS: i64 = 4;
/// Scale of the residual the head may paint over the transported frame.
pub const RESIDUAL_SCALE: f64 = 0.1;
/// Initial logit of the "keep the input pixel" mask channel over the moved ones.
const KEEP_LOGIT: f64 = 4.0;
/// Scale of the translation read-out: its PyTorch-style random init then spreads the K initial
/// translations over a few pixels, so they start apart.
const SHIFT_SCALE: f64 = 0.25;

/// Parameters of the head: the transform queries (backbone) and three linear read-outs (heads).
pub struct TransformHead {
    /// [1, K, d]: one generation query per translation.
    pub queries: Tensor,
    /// Transform query -> (tx, ty).
    shift: Linear,
    /// Frame query -> per pixel of its patch, K + 1 mask logits.
    mask: Linear,
    /// Frame query -> the residual of its patch.
    residual: Linear,
    patch: i64,
}

fn zero_linear(p: Path, input: i64, output: i64) -> Linear {
    nn::linear(
        p,
        input,
        output,
        nn::LinearConfig {
            ws_init: Init::Const(0.0),
            bs_init: Some(Init::Const(0.0)),
            bias: true,
        },
    )
}

impl TransformHead {
    /// `backbone` holds the queries, `heads` the read-outs; `d` the width, `patch` the patch side.
    pub fn new(backbone: &Path, heads: &Path, d: i64, patch: i64) -> Self {
        let k1 = TRANSFORMS + 1;
        let mask = zero_linear(heads / "transform_mask", d, patch * patch * k1);
        tch::no_grad(|| {
            if let Some(bs) = &mask.bs {
                // Bias layout (py, px, channel): channel 0 of every pixel starts at KEEP_LOGIT.
                let _ = bs
                    .view([patch * patch, k1])
                    .narrow(1, 0, 1)
                    .fill_(KEEP_LOGIT);
            }
        });
        TransformHead {
            queries: backbone.var(
                "transform_queries",
                &[1, TRANSFORMS, d],
                Init::Randn {
                    mean: 0.0,
                    stdev: 0.02,
                },
            ),
            shift: super::blocks::linear(heads / "transform_shift", d, 2),
            mask,
            residual: zero_linear(heads / "transform_residual", d, patch * patch * 3),
            patch,
        }
    }

    /// [B, P, patch·patch·C] -> [B, C, H, W] (the patch layout of `WorldModel::patchify`).
    fn unpatchify(&self, x: &Tensor, channels: i64) -> Tensor {
        let (b, p) = (x.size()[0], x.size()[1]);
        let g = (p as f64).sqrt().round() as i64;
        let ps = self.patch;
        x.view([b, g, g, ps, ps, channels])
            .permute([0, 5, 1, 3, 2, 4])
            .reshape([b, channels, g * ps, g * ps])
    }

    /// The translations τ [B, K, 2] of the transform query outputs `q` [B, K, d].
    pub fn shifts(&self, q: &Tensor) -> Tensor {
        q.apply(&self.shift) * SHIFT_SCALE
    }

    /// The next frame from the input `frames` [B, 3, H, W], the frame query outputs `f`
    /// [B, P, d] and the transform query outputs `q` [B, K, d].
    pub fn forward(&self, frames: &Tensor, f: &Tensor, q: &Tensor) -> Tensor {
        let (b, _, h, w) = frames.size4().expect("frames are [B, 3, H, W]");
        let k = TRANSFORMS;
        let tau = self.shifts(q).reshape([b * k, 2, 1]);
        let eye = Tensor::eye(2, (Kind::Float, frames.device()))
            .unsqueeze(0)
            .expand([b * k, 2, 2], false);
        let theta = Tensor::cat(&[eye, tau], 2);
        let grid = Tensor::affine_grid_generator(&theta, [b * k, 3, h, w], false);
        let moved = frames
            .unsqueeze(1)
            .expand([b, k, 3, h, w], false)
            .reshape([b * k, 3, h, w])
            .grid_sampler(&grid, 0, 1, false)
            .view([b, k, 3, h, w]);
        let masks = self
            .unpatchify(&f.apply(&self.mask), k + 1)
            .softmax(1, Kind::Float)
            .unsqueeze(2);
        let candidates = Tensor::cat(&[frames.unsqueeze(1), moved], 1);
        let blended = (masks * candidates).sum_dim_intlist(&[1i64][..], false, Kind::Float);
        blended + self.unpatchify(&f.apply(&self.residual), 3) * RESIDUAL_SCALE
    }
}
