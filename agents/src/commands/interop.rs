//! `vlgor export` and `vlgor import`: datasets to and from LeRobot v3 and Minari.
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

fn convert(
    ctx: &Context,
    direction: &str,
    src: &Path,
    format: &str,
    out: &Path,
) -> Result<(), CliError> {
    let py = python();
    let output = Command::new(&py)
        .args(["-m", "vlgor.interop", direction])
        .arg(src)
        .args(["--format", format, "--out"])
        .arg(out)
        .output()
        .map_err(|e| {
            CliError::Input(format!(
                "{direction} needs Python with the vlgor package; {} could not start: {e} \
                 (run scripts/setup.sh, or set VLGOR_PYTHON)",
                py.display()
            ))
        })?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("No module named vlgor") || stderr.contains("No module named 'vlgor") {
        return Err(CliError::Input(format!(
            "{direction}: {} has no vlgor package (run scripts/setup.sh, or set VLGOR_PYTHON)",
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
                "{direction} --format {format} failed:\n{}",
                stderr.trim()
            )));
        }
    }
    let line = String::from_utf8_lossy(&output.stdout);
    let v: Value = serde_json::from_str(line.trim()).unwrap_or(Value::Null);
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
