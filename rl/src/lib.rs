//! Offline reinforcement learning in tch: behaviour cloning and conservative Q-learning on real
//! and imagined datasets, with the VLGOR paper's policy network (Appendix A.1).
//!
//! * [`network`] — the goal-conditioned encoder: text MLP on the frozen sentence embedding,
//!   conv image encoder or state MLP, fusion to the 512-d joint representation.
//! * [`bc`], [`cql`], [`sac`] — the algorithms: each a config struct and an update step.
//! * [`trainer`] — the training loop over real (+ imagined) data with checkpoints, resume,
//!   a JSON-lines log and NaN detection; [`policy::Policy`] — closed-loop action selection.
//! * [`bench`] — throughput of the full training loop and of the bare network.

pub mod algo;
pub mod batch;
pub mod bc;
pub mod bench;
pub mod checkpoint;
pub mod config;
pub mod cql;
pub mod error;
pub mod goals;
pub mod network;
pub mod optim;
pub mod policy;
pub mod sac;
pub mod trainer;
pub mod validate;

pub use batch::{Batch, FrameSource, InMemoryFrames, ObservationSource};
pub use config::{AlgoKind, ContinuousBcLoss, ObsKind, ObsSpec, RlConfig, RunConfig};
pub use error::RlError;
pub use goals::GoalTable;
pub use policy::{Policy, PolicyObservations};
pub use trainer::{Progress, TrainOutcome, Trainer, TrainingData};
