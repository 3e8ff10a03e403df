//! Offline reinforcement learning in tch: behaviour cloning and conservative Q-learning on real
//! and imagined datasets, with the VLGOR paper's policy network (Appendix A.1).
//!
//! * [`network`] — the goal-conditioned encoder: text MLP on the frozen sentence embedding,
//!   conv image encoder or state MLP, fusion to the 512-d joint representation.
//! * [`algo`] — what every algorithm provides ([`algo::Algorithm`]) and the shared TD settings.
//! * [`bc`], [`discrete_cql`], [`continuous_cql`], [`td3_plus_bc`] — the algorithms: each a
//!   config struct and an update step ([`critic`]: the continuous twin critics' network); [`config`] — the `[rl]` section composed of them and the run record, which
//!   picks a run's algorithm.
//! * [`trainer`] — the training loop over real (+ imagined) data with checkpoints, resume,
//!   a JSON-lines log and NaN detection; [`policy::Policy`] — closed-loop action selection;
//!   [`script_policy::ScriptPolicy`] — a policy trained in PyTorch, loaded as TorchScript.
//! * [`online`] — online RL (double DQN, SAC) with VARL's action advisor: replay, guidance
//!   schedule and the BC term toward advised actions.
//! * [`bench`] — throughput of the full training loop and of the bare network.

pub mod algo;
pub mod batch;
pub mod bc;
pub mod bench;
pub mod checkpoint;
pub mod config;
pub mod continuous_cql;
pub mod critic;
pub mod discrete_cql;
pub mod error;
pub mod goals;
pub mod network;
pub mod observation;
pub mod online;
pub mod optim;
pub mod policy;
pub mod script_policy;
pub mod td3_plus_bc;
pub mod trainer;
pub mod validate;

pub use batch::{Batch, FrameSource, InMemoryFrames, ObservationSource};
pub use bc::{BcConfig, ContinuousBcLoss};
pub use config::{AlgoKind, EvaluationConfig, RlConfig, RunConfig, TrainingConfig};
pub use continuous_cql::ContinuousCqlConfig;
pub use discrete_cql::DiscreteCqlConfig;
pub use error::RlError;
pub use goals::GoalTable;
pub use network::NetworkConfig;
pub use observation::{ObsKind, ObsSpec};
pub use policy::{Policy, PolicyObservations};
pub use script_policy::{ScriptContract, ScriptPolicy};
pub use td3_plus_bc::Td3PlusBcConfig;
pub use trainer::{Progress, TrainOutcome, Trainer, TrainingData};
