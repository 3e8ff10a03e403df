//! One module per command; `run` dispatches.

mod bench;
mod bench_eval;
mod bench_vlm;
pub(crate) mod check;
mod collect;
mod dataset;
pub(crate) mod eval;
mod export_policy;
mod imagine;
mod interop;
mod tasks;
pub(crate) mod train_kalm;
mod train_online;
pub(crate) mod train_policy;
pub(crate) mod train_vlm;
mod varl;
mod view;
mod vlm_eval;

use crate::cli::{BenchCommand, Command, DatasetCommand, VlmCommand};
use crate::context::Context;
use crate::error::CliError;

pub fn run(ctx: &Context, command: &Command) -> Result<(), CliError> {
    match command {
        Command::Tasks(a) => tasks::run(ctx, a),
        Command::Eval(a) => eval::run(ctx, a),
        Command::View(a) => view::run(ctx, a),
        Command::Bench(BenchCommand::Sim { env, task, steps }) => {
            bench::sim(ctx, env.env, *task, *steps)
        }
        Command::Bench(BenchCommand::Render {
            env,
            batch,
            batches,
        }) => bench::render(ctx, env.env, *batch, *batches),
        Command::Collect(a) => collect::run(ctx, a),
        Command::Dataset(DatasetCommand::Info { dir }) => dataset::info(ctx, dir),
        Command::Dataset(DatasetCommand::Merge {
            sources,
            out,
            keep,
            filter,
        }) => dataset::merge(ctx, sources, out, *keep, *filter),
        Command::Export(a) => interop::export(ctx, a),
        Command::Import(a) => interop::import(ctx, a),
        Command::ExportPolicy(a) => export_policy::run(ctx, a),
        Command::TrainVlm(a) => train_vlm::run(ctx, a),
        Command::TrainKalm(a) => train_kalm::run(ctx, a),
        Command::Vlm(VlmCommand::Eval(a)) => vlm_eval::run(ctx, a),
        Command::Imagine(a) => imagine::run(ctx, a),
        Command::Check(a) => check::run(ctx, a),
        Command::TrainPolicy(a) => train_policy::run(ctx, a),
        Command::TrainOnline(a) => train_online::run(ctx, a),
        Command::Varl(a) => varl::run(ctx, a),
        Command::Pipeline(a) => crate::pipeline::run(ctx, a),
        Command::Bench(BenchCommand::Collect {
            env,
            episodes,
            noise,
            task,
        }) => bench::collect(ctx, env.env, *episodes, *noise, *task),
        Command::Bench(BenchCommand::Train { algo, obs }) => {
            train_policy::bench(ctx, *algo, *obs, None, None, 10)
        }
        Command::Bench(BenchCommand::Eval { env, episodes }) => {
            bench_eval::run(ctx, env.env, *episodes)
        }
        Command::Bench(BenchCommand::Vlm { env }) => bench_vlm::run(ctx, env.env),
    }
}

impl Command {
    /// The simulator the command names with `--env`, if any: its preset overrides apply
    /// (`crate::config::Config::for_env`).
    pub fn env(&self) -> Option<vlgor_sim::EnvKind> {
        match self {
            Command::Collect(a) => Some(a.env.env),
            Command::TrainVlm(a) => Some(a.env.env),
            Command::TrainKalm(a) => Some(a.env.env),
            Command::Imagine(a) => Some(a.env.env),
            Command::TrainPolicy(a) => Some(a.env.env),
            Command::TrainOnline(a) => Some(a.env.env),
            Command::Pipeline(a) => match &a.cluster {
                Some(crate::cli::PipelineCommand::Plan { env, .. }) => Some(*env),
                _ => a.env,
            },
            Command::View(a) => Some(a.env.env),
            Command::Eval(a) => a.env,
            Command::Tasks(_)
            | Command::Dataset(_)
            | Command::Export(_)
            | Command::Import(_)
            | Command::ExportPolicy(_)
            | Command::Vlm(_)
            | Command::Check(_)
            | Command::Varl(_)
            | Command::Bench(_) => None,
        }
    }

    /// Whether the command runs torch between steps of simulators or the renderer (policy
    /// forwards in closed-loop evaluation, the world model in imagination, online RL), so
    /// torch's OpenMP threads must not spin between its ops (`main`'s `passive_openmp`).
    pub fn interleaves_torch(&self) -> bool {
        match self {
            Command::TrainVlm(_)
            | Command::Vlm(_)
            | Command::TrainKalm(_)
            | Command::Imagine(_)
            | Command::TrainPolicy(_)
            | Command::TrainOnline(_)
            | Command::Varl(_)
            | Command::Eval(_)
            | Command::Pipeline(_)
            | Command::View(_)
            | Command::Bench(_) => true,
            Command::Tasks(_)
            | Command::Collect(_)
            | Command::Dataset(_)
            | Command::Export(_)
            | Command::Import(_)
            | Command::ExportPolicy(_)
            | Command::Check(_) => false,
        }
    }
}
