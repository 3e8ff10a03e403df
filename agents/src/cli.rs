//! Command-line definitions (clap derive). Every flag carries its explanation; `vlgor help
//! <command>` prints it.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use vlgor_rl::config::{AlgoKind, ObsKind};
use vlgor_sim::metaworld::Task;
use vlgor_sim::validate::Filter;
use vlgor_sim::{EnvKind, Level, TaskChoice};

pub use crate::cli_imagine::ImagineArgs;
pub use crate::cli_interop::{
    ExportArgs, ExportFormat, ExportPolicyArgs, ImportArgs, ImportFormat,
};
pub use crate::cli_pipeline::{PipelineArgs, PipelineCommand};
pub use crate::cli_values::{PolicyArg, VlmStage};
use crate::cli_values::{
    algo_parser, env_parser, filter_parser, level_parser, mix_rule_parser, obs_parser,
    policy_parser, preset_names, task_choice_parser, task_parser, unit_fraction,
};
pub use crate::cli_varl::VarlArgs;
use crate::imagination::mix::MixRule;

/// vlgor — Visual-Language knowledge Guided Offline RL on built-in rapier3d simulators.
///
/// Collect expert data, fine-tune a vision-language world model, imagine counterfactual
/// rollouts, validate them against the physics engine, train offline RL policies on real +
/// imagined data, and evaluate them closed-loop. Run `vlgor <command> --help` for details.
#[derive(Debug, Parser)]
#[command(
    name = "vlgor",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags accepted by every command.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Master random seed. The same seed on the same machine gives bit-identical results.
    #[arg(long, global = true, default_value_t = 0)]
    pub seed: u64,
    /// Where tensors live: `auto` picks CUDA when libtorch sees a GPU, else the CPU.
    #[arg(long, global = true, value_enum, default_value_t = DeviceArg::Auto)]
    pub device: DeviceArg,
    /// Worker threads for physics, rendering and libtorch intra-op parallelism
    /// (default: all cores).
    #[arg(long, global = true)]
    pub threads: Option<usize>,
    /// Named preset from assets/presets/: `quick` runs in minutes on 2 CPU cores, `paper` is
    /// the paper's scale for a GPU.
    #[arg(long, global = true, default_value = "quick", value_parser = preset_names())]
    pub preset: String,
    /// A TOML file whose keys override the preset (same layout as assets/presets/quick.toml).
    #[arg(long, global = true, value_name = "FILE.toml")]
    pub config: Option<PathBuf>,
    /// Print one JSON object as the last line of stdout (for scripts); hides progress bars.
    #[arg(long, global = true)]
    pub json: bool,
    /// More log output (-v info, -vv debug, -vvv trace). RUST_LOG overrides it.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr; no progress bars.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DeviceArg {
    Auto,
    Cpu,
    Cuda,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List environments, tasks and instruction levels, with an example instruction per goal.
    Tasks(TasksArgs),
    /// Collect an offline dataset with the scripted (optionally ε-noisy) experts.
    Collect(CollectArgs),
    /// Inspect datasets.
    #[command(subcommand)]
    Dataset(DatasetCommand),
    /// Export a dataset to a format Python tools read (LeRobot v3, Minari; needs the vlgor
    /// Python package, see README).
    Export(ExportArgs),
    /// Import a LeRobot v3 or Minari dataset written by `vlgor export` as a vlgor dataset.
    Import(ImportArgs),
    /// Write a vlgor policy checkpoint as a TorchScript module that `eval`/`view --policy`
    /// (and PyTorch) run, with the same actions (needs the vlgor Python package and torch).
    ExportPolicy(ExportPolicyArgs),
    /// Train the vision-language world model (base stage, or LoRA grounding stage).
    TrainVlm(TrainVlmArgs),
    /// Evaluate a trained vision-language world model.
    #[command(subcommand)]
    Vlm(VlmCommand),
    /// Train the KALM baseline's generator (language-only rollouts as state vectors): base
    /// stage, then LoRA.
    TrainKalm(TrainKalmArgs),
    /// Imagine rollouts with the world model from real initial frames (or with KALM from real
    /// initial states).
    Imagine(ImagineArgs),
    /// Check rollouts (real or imagined) for physics violations.
    Check(CheckArgs),
    /// Train an offline RL policy (BC or CQL) on real and imagined data.
    TrainPolicy(TrainPolicyArgs),
    /// Train an online RL agent (double DQN or SAC) in the simulators, optionally with the
    /// world model as action advisor (VARL).
    TrainOnline(TrainOnlineArgs),
    /// Compare online RL advised by the world model with the same learner unadvised (VARL),
    /// over seeds, on CLEVR and Meta-World tasks with sparse rewards: env steps to a success
    /// threshold, final success, curves (`[varl]`, `[online]`).
    Varl(VarlArgs),
    /// Evaluate a policy closed-loop in the built-in simulators.
    Eval(EvalArgs),
    /// Run the whole VLGOR experiment: collect → VLM → imagine + validate → offline RL → eval.
    Pipeline(PipelineArgs),
    /// Open a window showing a simulator live or replaying a rollout.
    View(ViewArgs),
    /// Measure throughput figures (recorded in BENCHMARKS.md).
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Debug, Args)]
pub struct EnvArg {
    /// Simulator: `clevr` (CLEVR-Robot, 5 balls, 40 push actions) or `metaworld` (Sawyer arm,
    /// 10 tasks).
    #[arg(long, value_name = "ENV", value_parser = env_parser())]
    pub env: EnvKind,
}

#[derive(Debug, Args)]
pub struct TasksArgs {
    /// Simulator to list (`clevr` or `metaworld`); both when omitted.
    #[arg(long, value_name = "ENV", value_parser = env_parser())]
    pub env: Option<EnvKind>,
    /// Only this level.
    #[arg(long, value_name = "LEVEL", value_parser = level_parser())]
    pub level: Option<Level>,
}

#[derive(Debug, Args)]
pub struct CollectArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// Number of episodes (rollout–instruction pairs) to collect (default: the preset's).
    #[arg(long)]
    pub episodes: Option<usize>,
    /// Output dataset directory; an interrupted collection resumes there.
    #[arg(long)]
    pub out: PathBuf,
    /// Probability of a random action at each step (ε-noisy expert), in [0, 1].
    #[arg(long)]
    pub noise: Option<f32>,
    /// Meta-World task (or `all`, every task in turn; default: reach); CLEVR has none.
    #[arg(long, value_name = "TASK", value_parser = task_choice_parser())]
    pub task: Option<TaskChoice>,
    /// Also store rendered frames on disk (by default they are re-rendered from states on load).
    #[arg(long)]
    pub frames: bool,
    /// Instruction level of the collected episodes (default: seen, the training level). Any
    /// other level collects the oracle data of the experiment: the scripted expert on that
    /// level's (unseen) instructions.
    #[arg(long, value_name = "LEVEL", value_parser = level_parser())]
    pub level: Option<Level>,
    /// Cap on the steps of each episode (default: the simulator's horizon).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_steps: Option<u64>,
}

/// A scripted reference row of an evaluation table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReferenceArg {
    /// Uniformly random pushes / actions.
    Random,
    /// The scripted expert (noise from the preset's `eval.noise`).
    Expert,
    /// No reference rows.
    None,
}

#[derive(Debug, Subcommand)]
pub enum DatasetCommand {
    /// Print counts per task/level, mean episode length, success rate and size on disk.
    Info {
        /// Dataset directory (holds manifest.json).
        dir: PathBuf,
    },
    /// Merge datasets of one environment into a new one (verdicts kept with the episodes), e.g.
    /// the oracle data of several levels into one training set, or imagined runs into a
    /// validated or verified training mix.
    Merge {
        /// Source dataset directories.
        #[arg(required = true, num_args = 1..)]
        sources: Vec<PathBuf>,
        /// Output dataset directory (must not hold a dataset yet).
        #[arg(long)]
        out: PathBuf,
        /// Which episodes to keep.
        #[arg(long, value_name = "RULE", default_value = "unvalidated", value_parser = mix_rule_parser())]
        keep: MixRule,
        /// With --keep validated|verified: what happens to a flagged episode.
        #[arg(long, value_name = "FILTER", default_value = "truncate", value_parser = filter_parser(&Filter::ALL))]
        filter: Filter,
    },
}

#[derive(Debug, Args)]
pub struct TrainVlmArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// Training stage.
    #[arg(long, value_enum)]
    pub stage: VlmStage,
    /// Dataset directory with the rollouts to fine-tune on (lora and full stages).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Fine-tuning samples drawn from --data (default: the preset's vlm.lora_samples).
    #[arg(long)]
    pub samples: Option<usize>,
    /// Epochs (default: the preset's vlm.base_epochs / vlm.lora_epochs / vlm.readout_epochs).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Base checkpoint directory the lora and full stages start from (default: OUT/base).
    #[arg(long)]
    pub base: Option<PathBuf>,
    /// Run directory; the stage writes OUT/<stage>/.
    #[arg(long)]
    pub out: PathBuf,
    /// Continue an unfinished stage from its last epoch checkpoint.
    #[arg(long)]
    pub resume: bool,
}

#[derive(Debug, Subcommand)]
pub enum VlmCommand {
    /// PSNR, SSIM and MED for (a) one step and (b) whole held-out rollouts imagined with the real
    /// actions, and (c) the goal-reaching rate of counterfactual rollouts imagined freely.
    Eval(VlmEvalArgs),
}

#[derive(Debug, Args)]
pub struct VlmEvalArgs {
    /// World-model run directory (its lora/, else full/, else base/ stage is evaluated).
    pub run: PathBuf,
    /// Held-out dataset directory (real rollouts with states).
    #[arg(long)]
    pub data: PathBuf,
    /// Readout directory for MED and the goal check (default: RUN/readout).
    #[arg(long)]
    pub readout: Option<PathBuf>,
    /// Evaluate this stage instead of the newest finished one.
    #[arg(long, value_name = "STAGE", value_parser = ["base", "lora", "full"])]
    pub stage: Option<String>,
    /// Write the metrics JSON here (default: RUN/eval.json, or RUN/eval-<stage>.json with --stage).
    #[arg(long)]
    pub report: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct TrainKalmArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// Dataset directory with the real rollouts (observations and actions) to train on.
    #[arg(long)]
    pub data: PathBuf,
    /// Run directory: the base stage writes OUT/base/, the LoRA stage OUT/lora/ (a finished
    /// stage is kept on a rerun, an unfinished one resumes at its last epoch).
    #[arg(long)]
    pub out: PathBuf,
    /// LoRA-stage transitions drawn from --data (default: the preset's kalm.lora_samples).
    #[arg(long)]
    pub samples: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FaultKind {
    /// Two balls overlapping.
    Overlap,
    /// A ball teleported between frames.
    Teleport,
    /// The wrong ball moved.
    WrongBall,
    /// A frame repeated while the state changes.
    FrozenFrame,
    /// An object pushed through the table.
    ThroughTable,
    /// An object lifted 5 to 10 cm above the table with nothing holding it up.
    Lift,
    /// One transition's reward, success or terminal label rewritten.
    Relabel,
    /// Two objects' colours swapped in the frames from some step on.
    ColorSwap,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Rollout directory (dataset format), real or imagined.
    pub dir: PathBuf,
    /// Inject this fault into every rollout before checking (to measure the validator).
    #[arg(long, value_enum)]
    pub inject: Option<FaultKind>,
    /// Where to write the JSON report (default: DIR/check_report.json).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Filter deciding the verdicts: `drop` (any violation rejects the rollout) or `truncate`
    /// (keep the transitions before the first violation).
    #[arg(long, value_name = "FILTER", default_value = "drop", value_parser = filter_parser(&[Filter::Drop, Filter::Truncate]))]
    pub policy: Filter,
    /// A state readout (safetensors) to read states out of the frames of datasets without
    /// states; without it such datasets are checked on their stored observations (the
    /// perceived states the imagination recorded).
    #[arg(long, value_name = "PATH")]
    pub readout: Option<PathBuf>,
    /// Check only the first N episodes.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Env steps per stored transition (h) for datasets without states (default: CLEVR 1,
    /// Meta-World 10, the world model's step); datasets with states use 1.
    #[arg(long)]
    pub steps_per_action: Option<usize>,
}

#[derive(Debug, Args)]
pub struct TrainPolicyArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// Algorithm.
    #[arg(long, value_name = "ALGO", value_parser = algo_parser())]
    pub algo: AlgoKind,
    /// Real dataset directory.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Imagined dataset directory mixed into every batch (see --ratio).
    #[arg(long, value_name = "DIR")]
    pub imagined: Option<PathBuf>,
    /// Share of imagined samples in each batch, in [0, 1] (default: proportional to the
    /// imagined and real transitions, capped at the preset's `rl.ratio`).
    #[arg(long)]
    pub ratio: Option<f32>,
    /// Observation the policy sees.
    #[arg(long, value_name = "OBS", default_value = "image", value_parser = obs_parser())]
    pub obs: ObsKind,
    /// Run directory (config, checkpoints, logs, eval results).
    #[arg(long)]
    pub out: PathBuf,
    /// Continue from the last checkpoint in --out.
    #[arg(long)]
    pub resume: bool,
}

/// `train-online --algo`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OnlineAlgoArg {
    /// Double DQN with a replay buffer (discrete actions: CLEVR's 40 pushes).
    Dqn,
    /// Soft actor-critic (continuous actions: Meta-World's 4-d Sawyer action).
    Sac,
}

/// `train-online --advisor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdvisorArg {
    /// No advice: plain online RL.
    None,
    /// The trained world model of --vlm suggests the action from a rendered frame and the
    /// instruction: by default the candidate whose imagined outcome the instruction's test
    /// scores highest (`online.advice = "lookahead"`), or its action head's prediction
    /// (`"action-head"`).
    WorldModel,
    /// The simulator's scripted expert suggests the action (an oracle: VARL's upper bound).
    Expert,
}

/// `train-online --reward`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RewardArg {
    /// 1 on the step the instruction's goal first holds, else 0 (the success signal only).
    Sparse,
    /// The simulator's shaped reward.
    Dense,
}

#[derive(Debug, Args)]
pub struct TrainOnlineArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// Meta-World task (default: reach).
    #[arg(long, value_name = "TASK", value_parser = task_parser())]
    pub task: Option<Task>,
    /// Online learner (`dqn` for clevr, `sac` for metaworld).
    #[arg(long, value_enum)]
    pub algo: OnlineAlgoArg,
    /// Action advisor queried on every k-th vector step before the cutoff (preset keys
    /// `online.advise_every`, `online.advice_cutoff`).
    #[arg(long, value_enum, default_value_t = AdvisorArg::None)]
    pub advisor: AdvisorArg,
    /// Reward the agent learns from.
    #[arg(long, value_enum, default_value_t = RewardArg::Sparse)]
    pub reward: RewardArg,
    /// Environment steps to train for (all simulators together; rounded up to whole vector
    /// steps of `online.parallel`).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub steps: u64,
    /// Instruction level of training and evaluation episodes.
    #[arg(long, default_value = "seen", value_parser = level_parser())]
    pub level: Level,
    /// Run directory (online.json, state/, policy/, evals.jsonl, summary.json).
    #[arg(long)]
    pub out: PathBuf,
    /// World-model run directory (from `train-vlm`; its LoRA stage, else full, else base);
    /// required with `--advisor world-model`.
    #[arg(long, value_name = "DIR")]
    pub vlm: Option<PathBuf>,
    /// Continue from the newest resume checkpoint in --out (--steps may be raised).
    #[arg(long)]
    pub resume: bool,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A policy run directory (alternative to --policy CKPT); its env and config are used. A
    /// checkpoint file, or a TorchScript module (with --env), is accepted here too.
    pub run: Option<PathBuf>,
    /// Simulator (required unless RUN is given).
    #[arg(long, value_name = "ENV", value_parser = env_parser())]
    pub env: Option<EnvKind>,
    /// The policy evaluated. A TorchScript module (a policy trained in PyTorch, or one written
    /// by `vlgor export-policy`) is loaded once and probed for its observation form (states,
    /// else frames at the configured render size); it needs --env. One that breaks the contract
    /// exits 2 naming the file, the expected and the actual shapes.
    #[arg(long, value_name = "POLICY", default_value = "expert", value_parser = policy_parser())]
    pub policy: PolicyArg,
    /// Meta-World task, or `all` for one row per task (default: reach).
    #[arg(long, value_name = "TASK", value_parser = task_choice_parser())]
    pub task: Option<TaskChoice>,
    /// Instruction level(s), comma-separated. CLEVR counterfactual episodes are one push
    /// (KALM's step level); the others run to success or 50 pushes. Meta-World has no
    /// unseen-relation level.
    #[arg(long, default_value = "seen", value_delimiter = ',', value_parser = level_parser())]
    pub level: Vec<Level>,
    /// Episodes per level and seed (default: the preset's).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub episodes: Option<u64>,
    /// Evaluation seeds, comma-separated; the table shows mean ± std over them. Episode i of
    /// a seed and level is the same for every policy, so rows are paired.
    #[arg(long, value_delimiter = ',')]
    pub seeds: Option<Vec<u64>>,
    /// Reference rows run on the same episodes, comma-separated; the table adds the paired
    /// difference (policy − reference) with its 95% interval.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "random,expert"
    )]
    pub reference: Vec<ReferenceArg>,
    /// Exit with status 1 when the success rate falls below this fraction (CI gate), in [0, 1].
    #[arg(long, value_parser = unit_fraction)]
    pub min_success: Option<f64>,
    /// Parallel environment instances in the evaluation loop (also the learned policy's
    /// batch).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub parallel: u64,
}

#[derive(Debug, Args)]
pub struct ViewArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// Meta-World task (default: reach).
    #[arg(long, value_name = "TASK", value_parser = task_parser())]
    pub task: Option<Task>,
    /// The policy acting: scripted, a checkpoint or run directory, or a TorchScript module
    /// (probed for states, else frames at the configured render size, as in `eval`).
    #[arg(long, value_name = "POLICY", default_value = "expert", value_parser = policy_parser())]
    pub policy: PolicyArg,
    /// Replay the rollouts of this dataset directory instead of running the simulator live.
    #[arg(long, value_name = "DIR")]
    pub rollout: Option<PathBuf>,
    /// With --rollout: a second dataset (e.g. imagined rollouts) shown beside it in split mode
    /// (S key), episode by episode.
    #[arg(long, value_name = "DIR", requires = "rollout")]
    pub compare: Option<PathBuf>,
    /// With --rollout: the episode (position in the dataset) to start from.
    #[arg(long, default_value_t = 0)]
    pub episode: usize,
    /// Camera preset to start with (C cycles): clevr `default`/`topview`, metaworld
    /// `corner4`/`topview`/`corner2`.
    #[arg(long)]
    pub camera: Option<String>,
    /// Steps shown per second while running.
    #[arg(long, default_value_t = 5.0)]
    pub fps: f32,
    /// Close the window after this many frames (for scripted screenshots).
    #[arg(long)]
    pub max_frames: Option<u64>,
    /// Size of one rendered panel in pixels (square); the window shows it at 2× zoom.
    #[arg(long, default_value_t = 256)]
    pub size: u32,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Physics steps per second with random actions on one core (state only).
    Sim {
        #[command(flatten)]
        env: EnvArg,
        /// Meta-World task (default: reach).
        #[arg(long, value_name = "TASK", value_parser = task_parser())]
        task: Option<Task>,
        /// Steps to time.
        #[arg(long, default_value_t = 20_000)]
        steps: usize,
    },
    /// Batched 128×128 frames per second of random scenes, readback included.
    Render {
        #[command(flatten)]
        env: EnvArg,
        /// Frames per batch.
        #[arg(long, default_value_t = 128)]
        batch: usize,
        /// Batches to time.
        #[arg(long, default_value_t = 16)]
        batches: usize,
    },
    /// Expert episodes collected per second, stored bytes per transition, and load time.
    Collect {
        #[command(flatten)]
        env: EnvArg,
        /// Episodes to collect (default: 6,400 for CLEVR, the paper's baseline set; 200 for
        /// Meta-World).
        #[arg(long)]
        episodes: Option<usize>,
        /// ε of the ε-noisy expert (1.0 = random actions, full-length episodes).
        #[arg(long, default_value_t = 0.1)]
        noise: f32,
        /// Meta-World task, or `all` (default).
        #[arg(long, value_name = "TASK", value_parser = task_choice_parser())]
        task: Option<TaskChoice>,
    },
    /// Offline RL training throughput (full loop vs bare network).
    Train {
        /// Algorithm.
        #[arg(long, value_name = "ALGO", default_value = "bc", value_parser = algo_parser())]
        algo: AlgoKind,
        /// Observation the policy sees.
        #[arg(long, value_name = "OBS", default_value = "image", value_parser = obs_parser())]
        obs: ObsKind,
    },
    /// Closed-loop evaluation throughput: 64 parallel envs with an image policy (physics +
    /// batched render + batched policy forward + scoring), in env-steps per second.
    Eval {
        #[command(flatten)]
        env: EnvArg,
        /// Episodes to run (each up to the horizon, or to its first success).
        #[arg(long, default_value_t = 192)]
        episodes: usize,
    },
    /// World-model training samples/s (base and LoRA stages) and imagined frames/s, with the
    /// preset's model size, batch and imagination horizon.
    Vlm {
        #[command(flatten)]
        env: EnvArg,
    },
}
