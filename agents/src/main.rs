//! `vlgor`: the command line of the vlgor system. See `vlgor --help`.

mod cli;
mod collect;
mod commands;
mod config;
mod context;
mod ecs;
mod envs;
mod error;
mod frames;
mod report;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_logging(&cli.global);
    let result =
        context::Context::new(&cli.global).and_then(|ctx| commands::run(&ctx, &cli.command));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            if let error::CliError::Other(inner) = &e {
                for cause in inner.chain().skip(1) {
                    eprintln!("  caused by: {cause}");
                }
            }
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

/// Logs go to stderr through `tracing`; RUST_LOG overrides -v/-q.
fn init_logging(global: &cli::GlobalArgs) {
    use tracing_subscriber::EnvFilter;
    let level = if global.quiet {
        "error"
    } else {
        match global.verbose {
            0 => "warn",
            1 => "info",
            2 => "debug",
            _ => "trace",
        }
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
