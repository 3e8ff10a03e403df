//! `vlgor export` and `vlgor import`: datasets to and from LeRobot v3 and Minari; and the
//! helper every command that runs the vlgor Python package uses ([`run_python_module`]).
//!
//! The converters are the `vlgor` Python package's (`python -m vlgor.interop`, installed by
//! `scripts/setup.sh`): they write and read through the real `minari` and `pyarrow` libraries,
//! and write vlgor datasets through the same Rust writer as `vlgor collect`. The interpreter is
//! `$VLGOR_PYTHON`, else `$VIRTUAL_ENV/bin/python`, else `python3` on PATH.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cli::{ExportArgs, ExportFormat, ImportArgs, ImportFormat};
use crate::context::Context;
use crate::error::CliError;

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("VLGOR_PYTHON") {
        return p.into();
    }
    if let Some(v) = std::env::var_os("VIRTUAL_ENV") {
        let p = Path::new(&v).join("bin/python");
        if p.exists() {
            return p;
        }
    }
    "python3".into()
}

/// Runs `python -m MODULE ARGS…` (a module of the vlgor Python package) and returns the JSON
/// object it prints as its last stdout line. Exit status 2 of the module (bad input; its stderr
/// says why) becomes [`CliError::Input`]; a missing interpreter or package says how to get one.
/// `what` names the command in messages. Python runs with `PYTHONHASHSEED=0`.
pub(crate) fn run_python_module(
    what: &str,
    module: &str,
    args: &[&std::ffi::OsStr],
) -> Result<Value, CliError> {
    let py = python();
    let output = Command::new(&py)
        // A fixed hash seed: set iteration order (e.g. in TorchScript's saved code) and so the
        // written bytes do not change from run to run.
        .env("PYTHONHASHSEED", "0")
        .args(["-m", module])
        .args(args)
        .output()
        .map_err(|e| {
            CliError::Input(format!(
                "{what} needs Python with the vlgor package; {} could not start: {e} \
                 (run scripts/setup.sh, or set VLGOR_PYTHON)",
                py.display()
            ))
        })?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("No module named vlgor") || stderr.contains("No module named 'vlgor") {
        return Err(CliError::Input(format!(
            "{what}: {} has no vlgor package (run scripts/setup.sh, or set VLGOR_PYTHON)",
            py.display()
        )));
    }
    match output.status.code() {
        Some(0) => {}
        Some(2) => {
            let msg = stderr.trim().trim_start_matches("error: ");
            return Err(CliError::Input(msg.to_string()));
        }
        _ => {
            return Err(CliError::Other(anyhow::anyhow!(
                "{what} failed:\n{}",
                stderr.trim()
            )));
        }
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.trim().lines().last().unwrap_or("");
    Ok(serde_json::from_str(line).unwrap_or(Value::Null))
}

fn convert(
    ctx: &Context,
    direction: &str,
    src: &Path,
    format: &str,
    out: &Path,
) -> Result<(), CliError> {
    let v = run_python_module(
        &format!("{direction} --format {format}"),
        "vlgor.interop",
        &[
            direction.as_ref(),
            src.as_os_str(),
            "--format".as_ref(),
            format.as_ref(),
            "--out".as_ref(),
            out.as_os_str(),
        ],
    )?;
    if !ctx.json {
        println!(
            "{direction}ed {} episodes ({format}) to {}",
            v["episodes"],
            out.display()
        );
    }
    ctx.emit_json(&v);
    Ok(())
}

/// `vlgor export DIR --format F --out OUT`.
pub fn export(ctx: &Context, a: &ExportArgs) -> Result<(), CliError> {
    let format = match a.format {
        ExportFormat::Lerobot => "lerobot",
        ExportFormat::Minari => "minari",
        ExportFormat::D3rlpy => {
            return Err(CliError::NotBuilt(
                "export --format d3rlpy",
                "d3rlpy export is not implemented; export to minari and load it with \
                 d3rlpy's Minari support",
            ));
        }
    };
    convert(ctx, "export", &a.dir, format, &a.out)
}

/// `vlgor import SRC --format F --out DIR`.
pub fn import(ctx: &Context, a: &ImportArgs) -> Result<(), CliError> {
    let format = match a.format {
        ImportFormat::Lerobot => "lerobot",
        ImportFormat::Minari => "minari",
    };
    convert(ctx, "import", &a.src, format, &a.out)
}
