//! Offline datasets 𝒟 = {(G_k, R_k)}: rollouts with their instructions, for both simulators,
//! real (ground-truth states) or imagined (frames from the world model).
//!
//! A dataset is a self-describing directory:
//! - `manifest.json` — format version, env, origin (real/imagined), collection arguments, split,
//!   layout (state/observation/action/frames), counts and each shard's size and sha256;
//! - `shards/episodes-NNNNN.safetensors` — columnar tensors of many episodes (see [`shard`]).
//!
//! Safetensors because it is memory-mappable, zero-copy, trivially checksummed, read by
//! PyTorch/NumPy (`safetensors.numpy.load_file`) and by tch, and needs no schema engine.
//! Frames are not stored by default: they re-render deterministically from the states.
//! Every write is atomic (temp file + rename); the manifest is rewritten after each shard, so
//! an interrupted collection resumes at the first missing shard.

mod atomic;
mod error;
pub mod manifest;
pub mod parts;
mod reader;
pub mod sampler;
pub mod shard;
mod writer;

pub use atomic::{sha256_hex, write_atomic};
pub use error::DatasetError;
pub use manifest::{ActionSpace, Collection, FrameSpec, Manifest, Origin, SplitInfo};
pub use reader::{ActionColumn, Dataset, EpisodeMeta};
pub use sampler::{MixedSampler, Source, Window, sample_transitions, sample_windows};
pub use shard::EpisodeRecord;
pub use writer::{DatasetHeader, DatasetWriter};
