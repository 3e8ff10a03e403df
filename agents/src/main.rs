//! `vlgor`: the command line of the vlgor system. See `vlgor --help`.

mod cli;
mod cli_imagine;
mod cli_interop;
mod cli_pipeline;
mod cli_values;
mod cli_varl;
mod collect;
mod commands;
mod config;
mod config_kalm;
mod config_varl;
mod config_vlm;
mod context;
mod curves;
mod ecs;
mod error;
mod evaluation;
mod frames;
mod imagination;
mod online;
mod out_paths;
mod pipeline;
mod policies;
mod report;
mod vlm_eval;
mod vlm_run;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    default_sigpipe();
    ensure_runtime_dir();
    let cli = cli::Cli::parse();
    passive_openmp(&cli.command);
    init_logging(&cli.global);
    tracing::debug!(
        omp_wait_policy = std::env::var("OMP_WAIT_POLICY").unwrap_or_default(),
        "torch's OpenMP threads"
    );
    let result = context::Context::new(&cli.global, cli.command.env())
        .and_then(|ctx| commands::run(&ctx, &cli.command));
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

/// A closed stdout (`vlgor tasks | head -1`) ends the program the Unix way: killed by SIGPIPE
/// (status 141 in the shell), no message. Rust starts with SIGPIPE ignored, which turns a
/// write to a closed pipe into a `println!` panic.
fn default_sigpipe() {
    // SAFETY: called first thing in main, before any other thread exists; SIG_DFL is a valid
    // disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Mesa's Vulkan driver complains ("XDG_RUNTIME_DIR is invalid") on every renderer start when
/// the variable is unset, as in CI and containers; give it a private directory instead.
fn ensure_runtime_dir() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_some() {
        return;
    }
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    let uid = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("vlgor-runtime-{uid}"));
    let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
    // Only a directory we own and nobody else can enter.
    if std::fs::metadata(&dir)
        .is_ok_and(|m| m.is_dir() && m.uid() == uid && m.permissions().mode() & 0o077 == 0)
    {
        // SAFETY: called first thing in main, before any other thread exists.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
    }
}

/// Torch's OpenMP runtime (libgomp) reads `OMP_WAIT_POLICY` once, when it is loaded, before
/// `main` runs. Unset, its worker threads keep spinning after every torch op and take the
/// cores that the simulators' and the renderer's threads need between two policy forwards
/// (closed-loop evaluation of a state policy ran 3.4× slower on 2 cores). A command that
/// interleaves torch with simulation therefore starts again in the same process (`exec`, same
/// arguments) with the policy `PASSIVE`, unless the user chose a policy; if `exec` fails it
/// runs on as it is.
fn passive_openmp(command: &cli::Command) {
    if !command.interleaves_torch() || std::env::var_os("OMP_WAIT_POLICY").is_some() {
        return;
    }
    use std::os::unix::process::CommandExt;
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut args = std::env::args_os();
    let mut again = std::process::Command::new(exe);
    if let Some(arg0) = args.next() {
        again.arg0(arg0);
    }
    let _failed = again.args(args).env("OMP_WAIT_POLICY", "PASSIVE").exec();
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
    // winit warns about harmless X server quirks (Xvfb's 0 mm screen); keep those out by default.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{level},winit=error")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
