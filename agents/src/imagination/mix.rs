//! Training sets of imagined rollouts: several imagination runs (stored whole, with verdicts)
//! merged into one dataset, with the physics filter applied (validated), not (the ablation),
//! or with the goal test on top (generate and verify).

use serde::Serialize;
use std::path::Path;
use vlgor_sim::dataset::{Collection, Dataset, DatasetHeader, DatasetWriter, EpisodeRecord};
use vlgor_sim::validate::Filter;

use crate::context::Context;
use crate::error::CliError;

/// Episode `e` of `data` cut to its first `k` transitions (states and frames kept if stored).
pub fn episode_record(data: &Dataset, e: usize, k: usize) -> EpisodeRecord {
    let m = &data.episodes[e];
    let rows = m.first_row..m.first_row + k + 1;
    let tr = m.first_transition..m.first_transition + k;
    let sd = data.manifest.state_dim;
    let od = data.manifest.obs_dim;
    let frames = data
        .frames
        .as_ref()
        .zip(data.manifest.frames.as_ref())
        .map(|(f, spec)| {
            let fl = spec.height * spec.width * 3;
            f[rows.start * fl..rows.end * fl].to_vec()
        });
    let flags = |v: &[u8]| v[tr.clone()].iter().map(|&b| b != 0).collect::<Vec<bool>>();
    let mut terminals = flags(&data.terminals);
    let mut timeouts = flags(&data.timeouts);
    if k < m.length && k > 0 {
        // A cut episode ends by truncation, not by the task.
        terminals[k - 1] = false;
        timeouts[k - 1] = true;
    }
    EpisodeRecord {
        index: m.index,
        seed: m.seed,
        instruction: m.instruction.clone(),
        states: if sd > 0 {
            data.states[rows.start * sd..rows.end * sd].to_vec()
        } else {
            Vec::new()
        },
        observations: data.observations[rows.start * od..rows.end * od].to_vec(),
        actions: tr.clone().map(|t| data.actions.get(t)).collect(),
        rewards: data.rewards[tr.clone()].to_vec(),
        success: flags(&data.success),
        terminals,
        timeouts,
        frames,
        verdict: m.verdict.clone(),
    }
}

/// Which imagined rollouts a mix admits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MixRule {
    /// Every rollout whole (the validation ablation; also merges of real data).
    Unvalidated,
    /// The physics filter applied to each stored verdict ([`Filter::kept_transitions`]).
    Validated,
    /// Validated, and the kept transitions reach the instruction's goal by the environment's
    /// own success test on the imagined states (generate and verify).
    Verified,
}

impl MixRule {
    pub const ALL: [MixRule; 3] = [MixRule::Unvalidated, MixRule::Validated, MixRule::Verified];

    pub fn name(self) -> &'static str {
        match self {
            MixRule::Unvalidated => "unvalidated",
            MixRule::Validated => "validated",
            MixRule::Verified => "verified",
        }
    }

    /// One line for `--help`.
    pub fn describe(self) -> &'static str {
        match self {
            MixRule::Unvalidated => "every episode whole, whatever its verdict",
            MixRule::Validated => "the physics filter applied to each episode's stored verdict",
            MixRule::Verified => {
                "validated, and only episodes whose kept transitions reach their goal"
            }
        }
    }
}

impl std::str::FromStr for MixRule {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        MixRule::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| format!("unknown rule '{s}'; valid: unvalidated, validated, verified"))
    }
}

/// What a mix holds.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
pub struct MixSummary {
    pub sources: Vec<String>,
    pub validated: bool,
    /// Only goal-reaching rollouts were admitted (absent in summaries of earlier releases).
    #[serde(default)]
    pub verified: bool,
    pub episodes_in: usize,
    pub episodes_out: usize,
    pub transitions_out: usize,
}

/// Merges the imagined datasets `sources` into `out` under `rule` (an episode without a
/// verdict was never checked, and only [`Filter::Keep`] admits it when validating).
pub fn mix(
    ctx: &Context,
    sources: &[&Path],
    out: &Path,
    filter: Filter,
    rule: MixRule,
) -> Result<MixSummary, CliError> {
    let whole: Vec<(&Path, usize)> = sources.iter().map(|p| (*p, usize::MAX)).collect();
    mix_parts(ctx, &whole, out, filter, rule)
}

/// Like [`mix`], taking only the first `n` episodes (before filtering) of each `(source, n)`.
pub fn mix_parts(
    ctx: &Context,
    parts: &[(&Path, usize)],
    out: &Path,
    filter: Filter,
    rule: MixRule,
) -> Result<MixSummary, CliError> {
    let sources: Vec<&Path> = parts.iter().map(|(p, _)| *p).collect();
    let validated = rule != MixRule::Unvalidated;
    let mut s = MixSummary {
        sources: sources.iter().map(|p| p.display().to_string()).collect(),
        validated,
        verified: rule == MixRule::Verified,
        ..MixSummary::default()
    };
    let mut records = Vec::new();
    let mut header = None;
    for (src, take) in parts {
        let data = Dataset::open(src, None).map_err(|e| CliError::Input(e.to_string()))?;
        for (e, m) in data.episodes.iter().enumerate().take(*take) {
            s.episodes_in += 1;
            let keep = if validated {
                filter.kept_transitions(m.verdict.as_ref(), m.length)
            } else {
                Some(m.length)
            };
            let reached = |k: usize| {
                data.success[m.first_transition..m.first_transition + k]
                    .iter()
                    .any(|&b| b != 0)
            };
            let keep = keep.filter(|&k| k > 0 && (rule != MixRule::Verified || reached(k)));
            if let Some(k) = keep {
                let mut r = episode_record(&data, e, k);
                r.index = records.len() as u64;
                records.push(r);
            }
        }
        if header.is_none() {
            header = Some(DatasetHeader::of_manifest(&data.manifest));
        }
    }
    let mut header =
        header.ok_or_else(|| CliError::Input("mix needs at least one source dataset".into()))?;
    header.collection = Collection {
        episodes: records.len(),
        ..header.collection
    };
    header.split.level = if header.origin == vlgor_sim::dataset::Origin::Real {
        "merge".to_string()
    } else {
        format!("mix ({})", rule.name())
    };
    header.split.definition = format!("merged from {}", s.sources.join(", "));
    let per_shard = ctx.config.collect.episodes_per_shard.max(1);
    let mut writer =
        DatasetWriter::create_or_resume(out, header).map_err(|e| CliError::Input(e.to_string()))?;
    for chunk in records.chunks(per_shard) {
        writer
            .append_shard(chunk)
            .map_err(|e| CliError::Other(e.into()))?;
    }
    s.episodes_out = records.len();
    s.transitions_out = records.iter().map(EpisodeRecord::len).sum();
    Ok(s)
}
