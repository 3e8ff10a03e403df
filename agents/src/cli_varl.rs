//! Flags of `vlgor varl`.

use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct VarlArgs {
    /// Comparison directory: `runs/<task>-<advisor>-s<seed>/` (one `train-online` run each;
    /// finished runs are read back, interrupted ones resumed), `results.json`, `report.md`,
    /// `curves.png`.
    #[arg(long)]
    pub out: PathBuf,
    /// CLEVR world-model run directory (a pipeline's `vlm/` or a `train-vlm --out`): the
    /// advisor of the CLEVR runs (double DQN, sparse reward, `varl.clevr_steps` env steps).
    /// Without it CLEVR is left out.
    #[arg(long, value_name = "DIR")]
    pub clevr_vlm: Option<PathBuf>,
    /// Meta-World world-model run directory: the advisor of the runs on `varl.metaworld_tasks`
    /// (SAC, sparse reward, `varl.metaworld_steps` env steps). Without it Meta-World is left
    /// out.
    #[arg(long, value_name = "DIR")]
    pub metaworld_vlm: Option<PathBuf>,
    /// Run seeds (default: `varl.seeds`, three in both presets).
    #[arg(long, value_delimiter = ',', value_name = "SEEDS")]
    pub seeds: Vec<u64>,
}
