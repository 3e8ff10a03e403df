//! `vlgor export-policy RUN_OR_CHECKPOINT --out MODULE.pt`: a vlgor policy checkpoint as a
//! TorchScript module.
//!
//! tch cannot script Rust modules, so the vlgor Python package rebuilds the same network in
//! PyTorch and scripts it (`python -m vlgor.torchscript`, through the interpreter `vlgor export`
//! uses). The module is written beside `--out` first, loaded back through the same
//! TorchScript contract as `eval --policy`, and kept only when its greedy actions equal the
//! checkpoint's on a probe batch (real instructions' goal embeddings; states around the run's
//! statistics, or random frames).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use std::path::{Path, PathBuf};
use tch::Tensor;
use vlgor_rl::{ObsSpec, Policy, PolicyObservations, ScriptContract, ScriptPolicy};
use vlgor_sim::{EnvKind, EnvSpec, Level};

use crate::cli::ExportPolicyArgs;
use crate::context::Context;
use crate::error::CliError;

/// Rows of the probe batch the export is checked on.
const PROBE_ROWS: usize = 64;

pub fn run(ctx: &Context, a: &ExportPolicyArgs) -> Result<(), CliError> {
    let ext = a.out.extension().and_then(|e| e.to_str()).unwrap_or("");
    if matches!(ext, "safetensors" | "json") || a.out.is_dir() {
        return Err(CliError::Input(format!(
            "--out {}: name a TorchScript file (e.g. model.pt), not a checkpoint or directory",
            a.out.display()
        )));
    }
    if !a.policy.exists() {
        return Err(CliError::Input(format!(
            "{}: no such run directory or checkpoint",
            a.policy.display()
        )));
    }
    let policy = crate::policies::load(ctx, &a.policy, None)?;
    let (tensors, epoch) = policy.checkpoint();
    let tensors = tensors.to_path_buf();
    let tmp = temporary_beside(&a.out);
    let written = super::interop::run_python_module(
        "export-policy",
        "vlgor.torchscript",
        &[
            "export".as_ref(),
            tensors.as_os_str(),
            "--out".as_ref(),
            tmp.as_os_str(),
        ],
    );
    let checked = written.and_then(|v| verify(ctx, &policy, &tmp).map(|agree| (v, agree)));
    let (written, agree) = match checked {
        Ok(ok) => ok,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    std::fs::rename(&tmp, &a.out).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        CliError::Other(anyhow::anyhow!("{}: {e}", a.out.display()))
    })?;
    let run = policy.run_config();
    let frame = policy.frame_shape();
    let render = (
        ctx.config.render.height as usize,
        ctx.config.render.width as usize,
    );
    if !ctx.json {
        println!(
            "exported {} (epoch {epoch}, {}, {} observations) to {}; {agree}/{PROBE_ROWS} probe \
             actions identical to the checkpoint's",
            tensors.display(),
            run.algo,
            run.obs.kind(),
            a.out.display()
        );
        if let Some((h, w)) = frame.filter(|f| *f != render) {
            println!(
                "note: the module takes {w}x{h} frames; evaluate it with [render] width = {w}, \
                 height = {h} (--config FILE.toml)"
            );
        }
    }
    ctx.emit_json(&json!({
        "policy": a.policy.display().to_string(),
        "checkpoint": tensors.display().to_string(),
        "epoch": epoch,
        "out": a.out.display().to_string(),
        "env": run.env,
        "algo": run.algo,
        "obs": run.obs.kind().name(),
        "frame": frame.map(|(h, w)| [h, w]),
        "output": written["output"],
        "torch": written["torch"],
        "probe_rows": PROBE_ROWS,
        "probe_identical": agree,
    }));
    Ok(())
}

/// `.NAME.tmp-PID` beside `out`.
fn temporary_beside(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = out.parent().filter(|d| !d.as_os_str().is_empty());
    dir.unwrap_or(Path::new("."))
        .join(format!(".{name}.tmp-{}", std::process::id()))
}

/// Loads the written module through the TorchScript contract and counts the probe rows on
/// which its greedy action equals the checkpoint's; an error unless all do.
fn verify(ctx: &Context, policy: &Policy, module: &Path) -> Result<usize, CliError> {
    let run = policy.run_config();
    let kind: EnvKind = run.env.parse()?;
    let spec = EnvSpec::select(kind, None)?[0];
    let state_dim = spec.make().observation().len();
    let contract = ScriptContract {
        state_dim,
        frame: policy.frame_shape().unwrap_or((
            ctx.config.render.height as usize,
            ctx.config.render.width as usize,
        )),
        goal_dim: policy.goal_dim(),
        action_space: run.action_space,
    };
    let script = ScriptPolicy::load(module, ctx.device, contract)
        .map_err(|e| CliError::Other(anyhow::anyhow!("the exported module: {e}")))?;
    if script.obs_kind() != policy.obs_kind() {
        return Err(CliError::Other(anyhow::anyhow!(
            "the exported module takes {} observations, the checkpoint {}",
            script.obs_kind(),
            policy.obs_kind()
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(ctx.seed);
    let texts: Vec<String> = (0..PROBE_ROWS)
        .map(|_| spec.sample_instruction(Level::Seen, &mut rng).text)
        .collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let encoder = vlgor_vlm::SentenceEncoder::from_env(ctx.device)
        .map_err(|e| CliError::Input(e.to_string()))?;
    let mut cache = vlgor_vlm::EmbeddingCache::default();
    let goals: Tensor = vlgor_rl::GoalTable::for_texts(&encoder, &mut cache, &texts)
        .and_then(|t| t.tensor(&texts, ctx.device))
        .map_err(|e| CliError::Other(e.into()))?;
    let (states, frames): (Vec<f32>, Vec<u8>) = match run.obs {
        ObsSpec::State { dim } => {
            let states = (0..PROBE_ROWS * dim)
                .map(|i| {
                    let (m, s) = (run.obs_mean[i % dim], run.obs_std[i % dim]);
                    m + s * rng.random_range(-2.0f32..2.0)
                })
                .collect();
            (states, vec![])
        }
        ObsSpec::Image { height, width } => {
            let frames = (0..PROBE_ROWS * height * width * 3)
                .map(|_| rng.random::<u8>())
                .collect();
            (vec![], frames)
        }
    };
    let obs = match run.obs {
        ObsSpec::State { .. } => PolicyObservations::States(&states),
        ObsSpec::Image { .. } => PolicyObservations::Frames(&frames),
    };
    let want = policy
        .act_batch(obs, &goals)
        .map_err(|e| CliError::Other(e.into()))?;
    let got = script
        .act_batch(obs, &goals)
        .map_err(|e| CliError::Other(e.into()))?;
    let agree = want.iter().zip(&got).filter(|(a, b)| a == b).count();
    if agree != PROBE_ROWS || got.len() != PROBE_ROWS {
        return Err(CliError::Other(anyhow::anyhow!(
            "the exported module disagrees with the checkpoint on {} of {PROBE_ROWS} probe \
             observations (is this Python's torch the libtorch vlgor runs?)",
            PROBE_ROWS - agree
        )));
    }
    Ok(agree)
}
