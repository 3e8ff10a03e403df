//! [`WorldModelConfig`]: every size of the compact world model, with the two presets.

use serde::{Deserialize, Serialize};
use vlgor_sim::EnvKind;

use super::error::WorldModelError;
use crate::encoder::EMBEDDING_DIM;

/// Keyframe stride h (steps) used for Meta-World: one model step predicts the frame 10
/// environment steps (0.125 s) ahead, and an imagined action is held for those 10 steps, because
/// a single 0.0125 s step barely moves the hand (at most 1 cm) and the change would be invisible
/// at 64-128 px.
pub const METAWORLD_KEYFRAME_STEPS: usize = 10;
/// Keyframe stride h for CLEVR: one push per model step.
pub const CLEVR_KEYFRAME_STEPS: usize = 1;

/// How actions enter (action token) and leave (action head) the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionSpace {
    /// CLEVR: `n` discrete pushes (40); embedding in, logits out, cross-entropy.
    Discrete { n: usize },
    /// Meta-World: a `dim`-vector in [-1, 1] (4); linear in, linear out, MSE.
    Continuous { dim: usize },
}

impl ActionSpace {
    /// The action space of a simulator (the one its datasets record).
    pub fn for_env(env: EnvKind) -> ActionSpace {
        match vlgor_sim::spec::action_space(env) {
            vlgor_sim::dataset::ActionSpace::Discrete { n } => ActionSpace::Discrete { n },
            vlgor_sim::dataset::ActionSpace::Continuous { dim } => ActionSpace::Continuous { dim },
        }
    }

    /// The simulator of a checkpoint written before configs recorded it: the action space
    /// told the two simulators of those releases apart (only the loading path uses this).
    pub(crate) fn legacy_env(self) -> EnvKind {
        match self {
            ActionSpace::Discrete { .. } => EnvKind::Clevr,
            ActionSpace::Continuous { .. } => EnvKind::MetaWorld,
        }
    }

    /// Width of the action head output (logits or vector).
    pub fn head_dim(self) -> i64 {
        match self {
            ActionSpace::Discrete { n } => n as i64,
            ActionSpace::Continuous { dim } => dim as i64,
        }
    }
}

/// How the model produces the frame s_{t+h}.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VisualHead {
    /// Regresses the change of every patch of the input frame (MSE): the reference head, and
    /// the head of checkpoints written before the choice existed.
    #[default]
    Direct,
    /// Predicts each tracked object's position in s_t and its displacement to s_{t+h} (metres,
    /// supervised by the stored states); the frame is drawn by the renderer from the predicted
    /// state (see [`super::objects`]).
    ObjectState,
    /// Transports the input frame by a few predicted motion kernels blended by compositing
    /// masks, plus a small residual (CDNA, Finn et al. 2016).
    Transform,
}

impl VisualHead {
    pub const ALL: [VisualHead; 3] = [
        VisualHead::Direct,
        VisualHead::ObjectState,
        VisualHead::Transform,
    ];

    /// The head a simulator's world model uses unless configured otherwise: the object-state
    /// head for both (CLEVR: its pushes then move balls as far as rapier does; Meta-World: its
    /// drawn keyframes keep whole held-out rollouts sharp where the direct head's fade,
    /// BENCHMARKS.md).
    pub fn default_for(env: EnvKind) -> VisualHead {
        match env {
            EnvKind::Clevr | EnvKind::MetaWorld => VisualHead::ObjectState,
        }
    }

    /// The configuration name ("direct", "object_state", "transform").
    pub fn name(self) -> &'static str {
        match self {
            VisualHead::Direct => "direct",
            VisualHead::ObjectState => "object_state",
            VisualHead::Transform => "transform",
        }
    }
}

impl std::fmt::Display for VisualHead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for VisualHead {
    type Err = WorldModelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|h| h.name() == s)
            .ok_or_else(|| {
                WorldModelError::BadInput(format!(
                    "unknown visual head '{s}'; valid: direct, object_state, transform"
                ))
            })
    }
}

/// Sizes of the world model. Frames are square RGB, `image_size` px, cut into
/// `patch_size`-px patches (one token each).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorldModelConfig {
    /// The simulator the model is built for (its frames, actions and keyframe stride).
    /// Checkpoints of earlier releases lack the key; [`super::WorldModel::load`] then takes
    /// the simulator of their action space.
    pub env: EnvKind,
    pub image_size: i64,
    pub patch_size: i64,
    /// Transformer width.
    pub width: i64,
    pub layers: i64,
    pub heads: i64,
    /// FFN hidden size = `width * mlp_ratio`.
    pub mlp_ratio: i64,
    /// Width of the frozen text encoder's token embeddings (MiniLM: 384).
    pub text_dim: i64,
    /// Longest instruction in tokens (longer ones are cut).
    pub max_text_tokens: i64,
    pub action_space: ActionSpace,
    /// BAGEL's mixture-of-transformers: separate q/k/v/o, norms and FFN for generation tokens
    /// (the predicted frame's queries) and understanding tokens (text, action, input image),
    /// with one self-attention over the whole packed sequence.
    pub mixture_of_transformers: bool,
    /// LoRA rank r (adapters on q, k, v, o of every self-attention layer).
    pub lora_rank: i64,
    /// LoRA alpha; the adapter output is scaled by alpha / r.
    pub lora_alpha: f64,
    /// Keyframe stride h in environment steps between the input and the predicted frame.
    pub horizon_steps: usize,
    /// Weight of the action loss relative to the frame MSE.
    pub action_loss_weight: f64,
    /// How s_{t+h} is produced (checkpoints without the key: `direct`).
    #[serde(default)]
    pub visual_head: VisualHead,
    /// Objects whose positions the object-state head tracks (CLEVR: the five balls and the
    /// pusher; Meta-World: the seven perceived values).
    #[serde(default)]
    pub objects: i64,
    /// Floats per tracked object (CLEVR: x, y; Meta-World: 1). Absent (checkpoints and stage
    /// records written before Meta-World had the head) means 2, and 2 is written as absent, so
    /// those files keep their stored form.
    #[serde(
        default = "default_object_dim",
        skip_serializing_if = "is_default_object_dim"
    )]
    pub object_dim: i64,
    /// Object-state head only: it also predicts, per tracked value, whether the value moves at
    /// all over the step (a logit, cross-entropy against a change of more than
    /// [`MOTION_THRESHOLD_M`]), learns the displacement on the moving samples alone, and
    /// imagination moves only the values it predicts to move: an untouched object stays exactly
    /// where it is over a whole rollout instead of drifting by a small predicted motion each
    /// step. Absent (checkpoints written before the gate) means off, and off is written as
    /// absent.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub motion_gate: bool,
}

/// Smallest change over one model step (m; the Meta-World gripper opening in its own units)
/// that counts as motion for [`WorldModelConfig::motion_gate`]: objects at rest in rapier move
/// far less, a pushed one or the hand far more.
pub const MOTION_THRESHOLD_M: f64 = 0.002;

fn default_object_dim() -> i64 {
    2
}

fn is_default_object_dim(d: &i64) -> bool {
    *d == default_object_dim()
}

impl WorldModelConfig {
    /// CPU preset: 64x64 frames, patch 8 (64 image tokens), width 160, 4 layers, 4 heads.
    pub fn cpu_quick(env: EnvKind) -> Self {
        WorldModelConfig {
            env,
            image_size: 64,
            patch_size: 8,
            width: 160,
            layers: 4,
            heads: 4,
            mlp_ratio: 4,
            text_dim: EMBEDDING_DIM,
            max_text_tokens: 32,
            action_space: ActionSpace::for_env(env),
            mixture_of_transformers: true,
            lora_rank: 8,
            lora_alpha: 16.0,
            horizon_steps: default_horizon(env),
            action_loss_weight: 0.01,
            visual_head: VisualHead::Direct,
            objects: super::objects::object_count(env) as i64,
            object_dim: super::objects::object_dim(env) as i64,
            motion_gate: false,
        }
    }

    /// Paper-scale preset: 128x128 frames (as the paper's appendix), patch 8 (256 image tokens),
    /// width 384, 8 layers, 6 heads, LoRA r 16.
    pub fn paper(env: EnvKind) -> Self {
        WorldModelConfig {
            image_size: 128,
            width: 384,
            layers: 8,
            heads: 6,
            lora_rank: 16,
            lora_alpha: 32.0,
            ..Self::cpu_quick(env)
        }
    }

    /// A named preset: "cpu_quick" or "paper".
    pub fn preset(name: &str, env: EnvKind) -> Result<Self, WorldModelError> {
        match name {
            "cpu_quick" => Ok(Self::cpu_quick(env)),
            "paper" => Ok(Self::paper(env)),
            other => Err(WorldModelError::BadInput(format!(
                "unknown world-model preset '{other}'; valid: cpu_quick, paper"
            ))),
        }
    }

    /// Patches per side.
    pub fn grid(&self) -> i64 {
        self.image_size / self.patch_size
    }

    /// Image tokens per frame.
    pub fn num_patches(&self) -> i64 {
        self.grid() * self.grid()
    }

    /// Floats per patch (patch x patch x 3).
    pub fn patch_dim(&self) -> i64 {
        self.patch_size * self.patch_size * 3
    }

    /// Checks that the sizes fit together; errors name the field.
    pub fn validate(&self) -> Result<(), WorldModelError> {
        let bad = |m: String| Err(WorldModelError::BadInput(m));
        if self.image_size < 8 || self.patch_size < 1 || self.image_size % self.patch_size != 0 {
            return bad(format!(
                "image_size {} must be >= 8 and a multiple of patch_size {}",
                self.image_size, self.patch_size
            ));
        }
        if self.width < 8 || self.heads < 1 || self.width % self.heads != 0 {
            return bad(format!(
                "width {} must be >= 8 and a multiple of heads {}",
                self.width, self.heads
            ));
        }
        if self.layers < 1 || self.mlp_ratio < 1 || self.max_text_tokens < 1 || self.text_dim < 1 {
            return bad("layers, mlp_ratio, max_text_tokens and text_dim must be >= 1".into());
        }
        if self.lora_rank < 1 || self.lora_alpha <= 0.0 {
            return bad(format!(
                "lora_rank {} must be >= 1 and lora_alpha {} > 0",
                self.lora_rank, self.lora_alpha
            ));
        }
        if self.horizon_steps < 1 {
            return bad("horizon_steps must be >= 1".into());
        }
        // Sizes read from a file: anything larger is a corrupt file, not a model to allocate.
        let limits = [
            ("image_size", self.image_size, 4096),
            ("width", self.width, 1 << 13),
            ("layers", self.layers, 256),
            ("mlp_ratio", self.mlp_ratio, 64),
            ("text_dim", self.text_dim, 1 << 13),
            ("max_text_tokens", self.max_text_tokens, 4096),
            ("lora_rank", self.lora_rank, self.width),
            ("patch_size", self.patch_size, self.image_size),
        ];
        if let Some((name, v, max)) = limits.into_iter().find(|&(_, v, max)| v > max) {
            return bad(format!("{name} {v} exceeds {max}"));
        }
        if self.visual_head == VisualHead::ObjectState
            && (!(1..=64).contains(&self.objects) || !(1..=8).contains(&self.object_dim))
        {
            return bad(format!(
                "the object_state head needs 1..=64 tracked objects of 1..=8 floats, the config \
                 has {} of {}",
                self.objects, self.object_dim
            ));
        }
        if self.motion_gate && self.visual_head != VisualHead::ObjectState {
            return bad(format!(
                "motion_gate applies to the object_state head only, the config's head is {}",
                self.visual_head.name()
            ));
        }
        if self.horizon_steps > 4096 {
            return bad(format!("horizon_steps {} exceeds 4096", self.horizon_steps));
        }
        if self.action_space != ActionSpace::for_env(self.env) {
            return bad(format!(
                "action space {:?} is not {}'s ({:?})",
                self.action_space,
                self.env,
                ActionSpace::for_env(self.env)
            ));
        }
        Ok(())
    }

    /// LoRA scale alpha / r.
    pub fn lora_scale(&self) -> f64 {
        self.lora_alpha / self.lora_rank as f64
    }
}

/// The default keyframe stride for a simulator (CLEVR 1, Meta-World 10).
pub fn default_horizon(env: EnvKind) -> usize {
    match env {
        EnvKind::Clevr => CLEVR_KEYFRAME_STEPS,
        EnvKind::MetaWorld => METAWORLD_KEYFRAME_STEPS,
    }
}
