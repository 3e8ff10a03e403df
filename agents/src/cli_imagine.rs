//! `vlgor imagine`'s flags.

use clap::Args;
use std::path::PathBuf;
use vlgor_sim::validate::Filter;

use crate::cli::EnvArg;
use crate::cli_values::{dynamics_parser, filter_parser, instruction_sets};
use crate::imagination::Generator;

#[derive(Debug, Args)]
pub struct ImagineArgs {
    /// The generator's run directory: a `train-vlm` run for the world model (LoRA adapters
    /// merged for inference; its readout/ rewards the frames), a `train-kalm` run for KALM.
    #[arg(long, visible_alias = "run")]
    pub vlm: PathBuf,
    /// Which generator imagines (`world-model` or `kalm`).
    #[arg(long, value_enum, default_value_t = Generator::WorldModel)]
    pub generator: Generator,
    #[command(flatten)]
    pub env: EnvArg,
    /// Instruction set: a level's fresh instructions, the source episode's instruction with
    /// its target / behavior replaced (counterfactual-target, counterfactual-behavior), such
    /// swaps aimed at an unseen level (aimed-LEVEL-target, aimed-LEVEL-behavior), or a
    /// JSON-lines file with one instruction object per line, as dataset manifests store them:
    /// `{"text", "parts": {"template", "target", "behavior"}, "goal": {"env": "clevr", "kind":
    /// ...}, "level"}`.
    #[arg(long, value_name = "SET", value_parser = instruction_sets())]
    pub instructions: String,
    /// Dataset whose initial frames start the imagined rollouts (episodes drawn with the seed).
    #[arg(long)]
    pub from: PathBuf,
    /// Number of imagined rollouts.
    #[arg(long)]
    pub count: usize,
    /// Output dataset directory (dataset format, frames present, marked imagined).
    #[arg(long)]
    pub out: PathBuf,
    /// Model steps per rollout (default: the preset's vlm.imagine_horizon; for `hard`,
    /// vlm.imagine_horizon_hard where the preset sets it).
    #[arg(long)]
    pub horizon: Option<usize>,
    /// What happens to a rollout the physics check flags.
    #[arg(long, value_name = "FILTER", default_value = "truncate", value_parser = filter_parser(&Filter::ALL))]
    pub filter: Filter,
    /// Readout directory (world model only; default: VLM/readout).
    #[arg(long)]
    pub readout: Option<PathBuf>,
    /// Generate and verify: candidate rollouts per start state (same state and instruction,
    /// actions drawn at --temperature). 1 with temperature 0 is the paper's imagination.
    #[arg(long, default_value_t = 1)]
    pub candidates: usize,
    /// Softmax temperature of the imagined actions (CLEVR), or the std of the noise added to
    /// them (Meta-World); 0 = greedy (argmax / the predicted vector).
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f64,
    /// Write only verified rollouts: kept by the physics filter and reaching the instruction's
    /// goal by the environment's own success test on the imagined states (never by reading the
    /// action). Without it every kept rollout is written, with its success labels.
    #[arg(long)]
    pub verify: bool,
    /// What produces the frames and states after each chosen action.
    #[arg(long, value_name = "DYNAMICS", default_value = "world-model", value_parser = dynamics_parser())]
    pub dynamics: crate::imagination::Dynamics,
}
