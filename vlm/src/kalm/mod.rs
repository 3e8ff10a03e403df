//! KALM (Pang et al., NeurIPS 2024), the language-only baseline: a transformer that reads an
//! instruction and writes a rollout as numeric state vectors, never seeing images.
//!
//! * [`config`] — [`KalmConfig`], sized like the world model's presets (`cpu_quick`, `paper`).
//! * [`model`] — [`KalmModel`]: the frozen MiniLM token embeddings of the instruction (the world
//!   model's text path, [`crate::world_model::TextSource`]), a start token, then alternating
//!   observation tokens (a linear layer from the observation vector to the width) and action
//!   tokens (an embedding of CLEVR's 40 pushes, a linear layer of Meta-World's 4-d action);
//!   a causal transformer with LoRA on q, k, v, o (the world model's layers,
//!   [`crate::world_model::blocks`]); an observation head and an action head.
//! * [`data`] — training windows of real rollouts at the world model's keyframe stride, padded
//!   batches, the loss (1 - r)·MSE(obs) + r·CE (discrete) or MSE (continuous), r = 0.5.
//! * [`train`] — [`train_kalm`]: the base stage (from scratch on the data; KALM starts from a
//!   pretrained LLM, which this scale has not) and the LoRA stage (adapters and the numeric
//!   layers on the frozen transformer, KALM's fine-tuning).
//! * [`checkpoint`] — safetensors + `config.json` with format version and sha256.
//! * [`generate`] — [`generate()`]: greedy (or temperature-sampled, seeded) autoregressive
//!   rollouts from real initial observations.

pub mod checkpoint;
pub mod config;
pub mod data;
pub mod generate;
pub mod model;
pub mod train;

pub use config::KalmConfig;
pub use data::{Trajectory, TrajectoryBatch, batch_losses, observation_stats, trajectories};
pub use generate::{KalmRollouts, Sampling, generate};
pub use model::{ActionSeq, KalmModel, KalmOutput};
pub use train::{KalmTrainOptions, train_kalm};
