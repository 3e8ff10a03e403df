//! The compact vision-language world model (the stand-in for the paper's fine-tuned BAGEL).
//!
//! * [`config`] — sizes and presets ([`WorldModelConfig::cpu_quick`], [`WorldModelConfig::paper`]).
//! * [`model`] — [`WorldModel`]: ViT patch tokens of s_t, frozen MiniLM text tokens of the
//!   instruction G, an action token for a_t, a transformer with one multimodal self-attention
//!   over the packed sequence (optionally BAGEL's mixture-of-transformers split), a visual head
//!   ([`VisualHead`]: s_{t+h} as a change of the input frame; or the tracked objects' positions
//!   and displacements, the frame drawn by the renderer ([`objects`]); or the input frame moved
//!   by predicted translations and compositing masks ([`transform`])) and an action head
//!   (a_{t+h}).
//! * [`losses`] — the visual and action losses, masked per sample.
//! * [`lora`] — LoRA adapters on q, k, v, o; merge for inference.
//! * [`train`] — [`SampleProvider`], [`train()`] for the base and LoRA stages.
//! * [`checkpoint`] — safetensors + JSON config, adapters apart.
//! * [`imagine`] — batched autoregressive rollouts with a readout-based goal check.
//! * [`lookahead`] — one model step for many candidate actions per frame, as perceived states.
//!
//! Use from the CLI (`vlgor train-vlm`):
//! 1. `tch::manual_seed(seed)`; `WorldModel::new(WorldModelConfig::preset("cpu_quick", env)?, dev)`
//!    (or `WorldModel::load(dir, dev)` for the LoRA stage on a base checkpoint).
//! 2. Text: `CachedText::new(SentenceEncoder::from_env(dev)?)`.
//! 3. Samples: `DatasetSamples::new(&dataset, &mut renderer, "", cfg.horizon_steps, limit, seed)`
//!    (renderer output = `image_size`), or `render_rollout_samples` straight from the simulators.
//! 4. `train(&mut model, &mut text, &mut samples, &TrainOptions { stage, checkpoint_dir, .. })`;
//!    base: `model.save(dir)`; LoRA: `model.save_adapters(path)`.
//! 5. Imagination: `model.load_adapters(path)`, `model.merge_lora()`, then [`imagine()`].
//!
//! Rectified-flow refinement of the predicted frame (BAGEL's generation) is not implemented: the
//! direct and transformation heads regress the frame (MSE), as the paper's fine-tuning loss
//! states; the object-state head regresses object positions (MSE, metres).

pub mod blocks;
pub mod checkpoint;
pub mod config;
pub mod dataset_samples;
pub mod error;
pub mod imagine;
pub mod lookahead;
pub mod lora;
pub mod losses;
pub mod model;
pub mod objects;
pub mod samples;
pub mod sampling;
pub mod text;
pub mod train;
pub mod transform;

pub use config::{
    ActionSpace, METAWORLD_KEYFRAME_STEPS, MOTION_THRESHOLD_M, VisualHead, WorldModelConfig,
};
pub use dataset_samples::DatasetSamples;
pub use error::WorldModelError;
pub use imagine::{
    ActionChoice, GoalCheck, ImaginedRollouts, LookaheadJudge, PredictedFrames, PredictedObjects,
    imagine, imagine_with, rollout_with_actions,
};
pub use lookahead::{
    Candidates, LookaheadStart, best_candidates, judged_actions, predict_outcomes,
};
pub use lora::LoraLinear;
pub use model::{ActionInput, ObjectMotion, Stage, StepInput, StepOutput, WorldModel};
pub use objects::StateCanvas;
pub use samples::{RolloutPlan, render_rollout_samples};
pub use text::{CachedText, TextSource};
pub use train::{
    SampleBatch, SampleProvider, TrainEvent, TrainOptions, TrainReport, train, train_with,
};
