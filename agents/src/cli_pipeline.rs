//! Flags of `vlgor pipeline` and of its cluster subcommands (`plan`, `run-job`, `slurm`).

use clap::{Args, Subcommand};
use std::path::PathBuf;
use vlgor_sim::EnvKind;

use crate::cli_values::env_parser;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct PipelineArgs {
    /// Run the experiment as jobs on a cluster instead of in this process.
    #[command(subcommand)]
    pub cluster: Option<PipelineCommand>,
    /// Simulator: `clevr` (CLEVR-Robot, 5 balls, 40 push actions) or `metaworld` (Sawyer arm,
    /// 10 tasks).
    #[arg(long, value_name = "ENV", value_parser = env_parser(), required = true)]
    pub env: Option<EnvKind>,
    /// Output directory; a finished stage found there is not redone.
    #[arg(long, required = true)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum PipelineCommand {
    /// Write the experiment as a job plan (`OUT/plan.json`): every stage, the policy grid as
    /// one job per (algorithm, arm, seed), and the report, each with the jobs it waits for,
    /// its inputs and outputs, and its resources (CPUs, GPU, memory, time limit). With
    /// `--json` the plan is printed too. With `--shards N`, collection, imagination (with
    /// its validation), the oracle data and the reference evaluation run as N parts each
    /// that merge into exactly what one job would have written.
    Plan {
        /// Simulator: `clevr` or `metaworld`.
        #[arg(long, value_name = "ENV", value_parser = env_parser())]
        env: EnvKind,
        /// Pipeline directory (created; it keeps the preset, seed and config every job runs
        /// with).
        #[arg(long)]
        out: PathBuf,
        /// Split each of the stages collect, imagine, oracle and references into this many
        /// parts (one job each, a Slurm job array), merged bit for bit by the stage's job.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=512))]
        shards: u16,
    },
    /// Run exactly one job of a planned directory with the configuration stored there. A job
    /// whose outputs exist is verified, not redone; a job whose inputs have not finished
    /// stops with the job to run first.
    RunJob {
        /// Pipeline directory written by `vlgor pipeline plan`.
        dir: PathBuf,
        /// Job id from `plan.json` (`collect`, `policy-bc-baseline-s0`, `report`, ...).
        #[arg(long)]
        job: String,
    },
    /// Write Slurm batch scripts for a planned directory under `DIR/slurm/`: one job per
    /// stage, the policy grid as one array job (and each split stage's parts as another),
    /// `--dependency=afterok` between them, GPU requests for the world-model stages (and
    /// image policies), logs in `DIR/slurm/`, and `submit.sh`, which submits them in order.
    /// Review the scripts, then run `submit.sh` (or pass `--submit`).
    Slurm {
        /// Pipeline directory written by `vlgor pipeline plan`.
        dir: PathBuf,
        /// Partition for CPU jobs (default: the cluster's default partition).
        #[arg(long)]
        partition: Option<String>,
        /// Partition for GPU jobs; without it they run on `--partition` without a GPU request.
        #[arg(long)]
        gpu_partition: Option<String>,
        /// Account to charge (`#SBATCH --account`).
        #[arg(long)]
        account: Option<String>,
        /// Multiply every job's time limit by this factor (the plan's limits are twice the
        /// quick preset's measured times on 2 CPU cores, scaled by the preset's work).
        #[arg(long, default_value_t = 1.0)]
        time_scale: f64,
        /// Submit with `sbatch` (on PATH) after writing the scripts.
        #[arg(long)]
        submit: bool,
    },
}
