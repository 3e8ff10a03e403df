//! One module per command; `run` dispatches.

mod bench;
mod bench_eval;
mod collect;
mod dataset;
pub(crate) mod eval;
mod tasks;
mod train_policy;
mod view;

use crate::cli::{BenchCommand, Command, DatasetCommand};
use crate::context::Context;
use crate::error::CliError;

pub fn run(ctx: &Context, command: &Command) -> Result<(), CliError> {
    match command {
        Command::Tasks(a) => tasks::run(ctx, a),
        Command::Eval(a) => eval::run(ctx, a),
        Command::View(a) => view::run(ctx, a),
        Command::Bench(BenchCommand::Sim { env, task, steps }) => {
            bench::sim(ctx, &env.env, task.as_deref(), *steps)
        }
        Command::Bench(BenchCommand::Render {
            env,
            batch,
            batches,
        }) => bench::render(ctx, &env.env, *batch, *batches),
        Command::Collect(a) => collect::run(ctx, a),
        Command::Dataset(DatasetCommand::Info { dir }) => dataset::info(ctx, dir),
        Command::Export(_) => not_built("export", "dataset export lands with issue #6"),
        Command::TrainVlm(_) => not_built("train-vlm", "the world model lands with issue #8"),
        Command::Vlm(_) => not_built("vlm eval", "the world model lands with issue #8"),
        Command::Imagine(_) => not_built("imagine", "imagination lands with issue #8"),
        Command::Check(_) => not_built("check", "physics validation lands with issue #9"),
        Command::TrainPolicy(a) => train_policy::run(ctx, a),
        Command::Pipeline(_) => {
            not_built("pipeline", "the end-to-end experiment lands with issue #9")
        }
        Command::Bench(BenchCommand::Collect {
            env,
            episodes,
            noise,
            task,
        }) => bench::collect(ctx, &env.env, *episodes, *noise, task.as_deref()),
        Command::Bench(BenchCommand::Train { algo, obs }) => {
            train_policy::bench(ctx, *algo, *obs, None, None, 10)
        }
        Command::Bench(BenchCommand::Eval { env, episodes }) => {
            bench_eval::run(ctx, &env.env, *episodes)
        }
        Command::Bench(BenchCommand::Vlm) => {
            not_built("bench vlm", "the world model lands with issue #8")
        }
    }
}

fn not_built(command: &'static str, why: &'static str) -> Result<(), CliError> {
    Err(CliError::NotBuilt(command, why))
}
