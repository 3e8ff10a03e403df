//! Vision-language models in tch: the frozen all-MiniLM-L6-v2 sentence encoder (goal and text
//! tokens), the compact vision-language world model with LoRA adapters, the state readout, and
//! the language-only KALM rollout generator (the baseline).

pub mod encoder;
pub mod kalm;
pub mod metrics;
pub mod perception;
pub mod tensor_io;
pub mod tensorboard;
pub mod torch_version;
pub mod world_model;

pub use encoder::{EmbeddingCache, EncoderError, SentenceEncoder};
pub use torch_version::torch_version;
