//! `vlgor export`, `vlgor import` and `vlgor export-policy`'s flags: datasets and policies to and
//! from the formats Python tools read.

use clap::{Args, ValueEnum};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// LeRobot v3.0 layout (parquet + meta/info.json).
    Lerobot,
    /// Minari layout (data/main_data.hdf5 + data/metadata.json); the output directory's name
    /// is the dataset id and must end in -v<N>.
    Minari,
    /// d3rlpy MDPDataset HDF5 dump (not implemented: exits 2).
    D3rlpy,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Dataset directory to export.
    pub dir: PathBuf,
    /// Target format.
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// Output path.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ImportFormat {
    /// LeRobot v3.0 layout (parquet + meta/info.json).
    Lerobot,
    /// Minari layout (data/main_data.hdf5 + data/metadata.json).
    Minari,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Directory of the dataset to import.
    pub src: PathBuf,
    /// Its format.
    #[arg(long, value_enum)]
    pub format: ImportFormat,
    /// New vlgor dataset directory.
    #[arg(long)]
    pub out: PathBuf,
}

/// `vlgor export-policy RUN_OR_CHECKPOINT --out MODULE.pt`.
#[derive(Debug, Args)]
pub struct ExportPolicyArgs {
    /// A policy run directory (its newest checkpoint) or a checkpoint `.safetensors` / `.json`
    /// (BC, CQL or TD3+BC, state or image observations; `train-online`'s `RUN/policy/` too).
    #[arg(value_name = "RUN_OR_CHECKPOINT")]
    pub policy: PathBuf,
    /// The TorchScript file to write (atomically). Its forward(obs, goal) takes states [N, D]
    /// f32 (raw, normalised inside) or frames [N, 3, H, W] u8 at the checkpoint's frame size,
    /// and the MiniLM goal embedding [N, 384] f32; it returns logits [N, n] (discrete) or
    /// actions [N, dim] (continuous). The export is checked against the checkpoint on a probe
    /// batch before it is kept.
    #[arg(long, value_name = "MODULE.pt")]
    pub out: PathBuf,
}
