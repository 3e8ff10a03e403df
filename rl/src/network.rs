//! The paper's goal-conditioned encoder (Appendix A.1): a text MLP on the frozen sentence
//! embedding of the instruction, an image encoder (three convolutions) or a state MLP on the
//! observation, and a fusion layer producing the joint representation that every algorithm's
//! head reads. [`NetworkConfig`] holds the widths every algorithm's networks share.

use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use crate::observation::ObsSpec;

/// Widths shared by every algorithm's networks (preset keys `rl.text_hidden`, `rl.feature_dim`,
/// `rl.joint_dim`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetworkConfig {
    /// Width of the text MLP's hidden layer (paper: 512).
    pub text_hidden: usize,
    /// Width of each modality feature (paper: 256).
    pub feature_dim: usize,
    /// Width of the fused joint representation (paper: 512).
    pub joint_dim: usize,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            text_hidden: 512,
            feature_dim: 256,
            joint_dim: 512,
        }
    }
}

/// Bounds of a Gaussian policy head's log standard deviation.
pub const LOG_STD_RANGE: (f64, f64) = (-5.0, 2.0);

/// Widths of the encoder, from the run's [`NetworkConfig`] and data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncoderConfig {
    pub obs: ObsSpec,
    /// Width of the goal embedding (all-MiniLM-L6-v2: 384).
    pub goal_dim: i64,
    /// Text MLP hidden width (paper: 512).
    pub text_hidden: i64,
    /// Width of each modality's feature (paper: 256).
    pub feature_dim: i64,
    /// Width of the joint representation (paper: 512).
    pub joint_dim: i64,
}

impl EncoderConfig {
    pub fn new(obs: ObsSpec, goal_dim: usize, net: &NetworkConfig) -> Self {
        EncoderConfig {
            obs,
            goal_dim: goal_dim as i64,
            text_hidden: net.text_hidden as i64,
            feature_dim: net.feature_dim as i64,
            joint_dim: net.joint_dim as i64,
        }
    }
}

/// Text branch: Linear(goal_dim → 512), ReLU, Linear(512 → 256), LayerNorm.
#[derive(Debug)]
pub struct TextMlp {
    fc1: nn::Linear,
    fc2: nn::Linear,
    norm: nn::LayerNorm,
}

impl TextMlp {
    pub fn new(p: &nn::Path, c: &EncoderConfig) -> Self {
        TextMlp {
            fc1: nn::linear(p / "fc1", c.goal_dim, c.text_hidden, Default::default()),
            fc2: nn::linear(p / "fc2", c.text_hidden, c.feature_dim, Default::default()),
            norm: nn::layer_norm(p / "norm", vec![c.feature_dim], Default::default()),
        }
    }

    /// `goal: [B, goal_dim]` → `[B, feature_dim]`.
    pub fn forward(&self, goal: &Tensor) -> Tensor {
        let h = self.fc1.forward(goal).relu();
        self.norm.forward(&self.fc2.forward(&h))
    }
}

/// Spatial size after the three convolutions (k8 s4, k4 s2, k3 s1, no padding).
pub fn conv_output_side(side: i64) -> i64 {
    let a = (side - 8) / 4 + 1;
    let b = (a - 4) / 2 + 1;
    b - 2
}

/// Image branch: Conv(3→32, k8, s4), Conv(32→64, k4, s2), Conv(64→64, k3, s1), ReLU after
/// each, flatten, Linear → 256, LayerNorm. Input: `u8` frames `[B, H, W, 3]`.
#[derive(Debug)]
pub struct ImageEncoder {
    conv1: nn::Conv2D,
    conv2: nn::Conv2D,
    conv3: nn::Conv2D,
    fc: nn::Linear,
    norm: nn::LayerNorm,
}

impl ImageEncoder {
    pub fn new(p: &nn::Path, height: i64, width: i64, feature_dim: i64) -> Self {
        let conv = |name: &str, i, o, k, s| {
            nn::conv2d(
                p / name,
                i,
                o,
                k,
                nn::ConvConfig {
                    stride: s,
                    ..Default::default()
                },
            )
        };
        let flat = 64 * conv_output_side(height) * conv_output_side(width);
        ImageEncoder {
            conv1: conv("conv1", 3, 32, 8, 4),
            conv2: conv("conv2", 32, 64, 4, 2),
            conv3: conv("conv3", 64, 64, 3, 1),
            fc: nn::linear(p / "fc", flat, feature_dim, Default::default()),
            norm: nn::layer_norm(p / "norm", vec![feature_dim], Default::default()),
        }
    }

    /// `frames: u8 [B, H, W, 3]` → `[B, feature_dim]` (pixels scaled to [0, 1], NCHW inside).
    pub fn forward(&self, frames: &Tensor) -> Tensor {
        let x = frames.to_kind(Kind::Float).permute([0, 3, 1, 2]) / 255.0;
        let x = self.conv1.forward(&x).relu();
        let x = self.conv2.forward(&x).relu();
        let x = self.conv3.forward(&x).relu().flatten(1, -1);
        self.norm.forward(&self.fc.forward(&x))
    }
}

/// State branch: Linear(obs_dim → 256), LayerNorm. Input: normalised states `[B, obs_dim]`.
#[derive(Debug)]
pub struct StateEncoder {
    fc: nn::Linear,
    norm: nn::LayerNorm,
}

impl StateEncoder {
    pub fn new(p: &nn::Path, dim: i64, feature_dim: i64) -> Self {
        StateEncoder {
            fc: nn::linear(p / "fc", dim, feature_dim, Default::default()),
            norm: nn::layer_norm(p / "norm", vec![feature_dim], Default::default()),
        }
    }

    pub fn forward(&self, states: &Tensor) -> Tensor {
        self.norm.forward(&self.fc.forward(states))
    }
}

/// The observation branch of either kind.
#[derive(Debug)]
pub enum ObsEncoder {
    Image(Box<ImageEncoder>),
    State(StateEncoder),
}

impl ObsEncoder {
    pub fn forward(&self, obs: &Tensor) -> Tensor {
        match self {
            ObsEncoder::Image(e) => e.forward(obs),
            ObsEncoder::State(e) => e.forward(obs),
        }
    }
}

/// Text and observation branches fused: `ReLU(Linear(concat(text, obs)) → joint_dim)`.
#[derive(Debug)]
pub struct GoalConditionedEncoder {
    pub text: TextMlp,
    pub obs: ObsEncoder,
    fusion: nn::Linear,
    joint_dim: i64,
}

impl GoalConditionedEncoder {
    pub fn new(p: &nn::Path, c: &EncoderConfig) -> Self {
        let obs = match c.obs {
            ObsSpec::State { dim } => {
                ObsEncoder::State(StateEncoder::new(&(p / "state"), dim as i64, c.feature_dim))
            }
            ObsSpec::Image { height, width } => ObsEncoder::Image(Box::new(ImageEncoder::new(
                &(p / "image"),
                height as i64,
                width as i64,
                c.feature_dim,
            ))),
        };
        GoalConditionedEncoder {
            text: TextMlp::new(&(p / "text"), c),
            obs,
            fusion: nn::linear(
                p / "fusion",
                2 * c.feature_dim,
                c.joint_dim,
                Default::default(),
            ),
            joint_dim: c.joint_dim,
        }
    }

    /// `obs` (states `[B, D]` or frames `u8 [B, H, W, 3]`), `goal: [B, goal_dim]` →
    /// joint representation `[B, joint_dim]`.
    pub fn forward(&self, obs: &Tensor, goal: &Tensor) -> Tensor {
        let text = self.text.forward(goal);
        let seen = self.obs.forward(obs);
        self.fusion.forward(&Tensor::cat(&[text, seen], 1)).relu()
    }

    pub fn joint_dim(&self) -> i64 {
        self.joint_dim
    }
}

/// A small MLP head: Linear(in → hidden), ReLU, Linear(hidden → out).
#[derive(Debug)]
pub struct MlpHead {
    fc1: nn::Linear,
    fc2: nn::Linear,
}

impl MlpHead {
    pub fn new(p: &nn::Path, input: i64, hidden: i64, output: i64) -> Self {
        MlpHead {
            fc1: nn::linear(p / "fc1", input, hidden, Default::default()),
            fc2: nn::linear(p / "fc2", hidden, output, Default::default()),
        }
    }

    pub fn forward(&self, x: &Tensor) -> Tensor {
        self.fc2.forward(&self.fc1.forward(x).relu())
    }
}
