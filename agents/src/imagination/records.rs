//! Imagined rollouts as dataset episodes: perceived observations, rewards from the goal, the
//! physics verdict, the filter, and the write.

use vlgor_sim::dataset::Dataset;
use vlgor_sim::dataset::{
    ActionSpace, Collection, DatasetHeader, DatasetWriter, EpisodeRecord, FrameSpec, Origin,
    SplitInfo,
};
use vlgor_sim::validate::{self, FilterPolicy, Reason, ValidatorConfig, VerdictKind};
use vlgor_sim::{Action, EnvKind, Instruction};

use super::{ImaginePlan, ImagineSummary, PerceivedGoal};
use crate::context::Context;
use crate::ecs::validate::{RolloutUnderCheck, validate_rollouts};
use crate::error::CliError;

/// What happens to rollouts the physics check flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    /// Keep the valid prefix (up to the first violating transition).
    Truncate,
    /// Discard flagged rollouts.
    Drop,
    /// Store every rollout whole with its verdict (to measure what validation buys).
    Keep,
}

impl Filter {
    pub fn parse(s: &str) -> Result<Self, CliError> {
        match s {
            "truncate" => Ok(Filter::Truncate),
            "drop" => Ok(Filter::Drop),
            "keep" => Ok(Filter::Keep),
            _ => Err(CliError::Input(format!(
                "--filter {s}: valid filters are truncate, drop, keep"
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Filter::Truncate => "truncate",
            Filter::Drop => "drop",
            Filter::Keep => "keep",
        }
    }
}

pub use vlgor_sim::validate::perceive;

/// One imagined rollout before validation.
pub struct RolloutDraft {
    source_seed: u64,
    instruction: Instruction,
    /// s_0 (real) .. s_K, u8 [H, W, 3] each.
    frames: Vec<Vec<u8>>,
    /// ā_0 .. ā_{K-1}.
    actions: Vec<Action>,
    /// Perceived states of the frames (s_0: the true one).
    perceived: Vec<Vec<f32>>,
    observations: Vec<Vec<f32>>,
    rewards: Vec<f32>,
    success: Vec<bool>,
    /// The source episode's true initial state (the base for full states).
    base_state: Vec<f32>,
    h: usize,
}

impl RolloutDraft {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        data: &Dataset,
        episode: usize,
        instruction: Instruction,
        frames: Vec<Vec<u8>>,
        actions: Vec<Action>,
        mut perceived: Vec<Vec<f32>>,
        goal: &PerceivedGoal,
        h: usize,
    ) -> Result<Self, CliError> {
        let meta = &data.episodes[episode];
        let d = data.manifest.obs_dim;
        let obs0 = data.observations[meta.first_row * d..(meta.first_row + 1) * d].to_vec();
        let kind = validate::perceive::env_of(&instruction.goal);
        let k = frames.len() - 1;
        perceived[0] = perceive(kind, &obs0);
        let mut rewards = Vec::with_capacity(k);
        let mut success = Vec::with_capacity(k);
        for t in 0..k {
            rewards.push(goal.reward(&perceived[t], &perceived[t + 1]));
            success.push(goal.success(&perceived[t + 1]));
        }
        let observations = observations(kind, &obs0, &perceived);
        Ok(RolloutDraft {
            source_seed: meta.seed,
            instruction,
            frames,
            actions: actions.into_iter().take(k).collect(),
            perceived,
            observations,
            rewards,
            success,
            base_state: data.state(meta.first_row).to_vec(),
            h,
        })
    }

    fn transitions(&self) -> usize {
        self.actions.len()
    }

    /// The episode record of the first `k` transitions.
    fn record(&self, index: u64, k: usize, verdict: serde_json::Value) -> EpisodeRecord {
        let success = self.success[..k].to_vec();
        let ended = success.last().copied().unwrap_or(false);
        let mut terminals = vec![false; k];
        let mut timeouts = vec![false; k];
        if k > 0 {
            terminals[k - 1] = ended;
            timeouts[k - 1] = !ended;
        }
        EpisodeRecord {
            index,
            seed: self.source_seed,
            instruction: self.instruction.clone(),
            states: Vec::new(),
            observations: self.observations[..=k].concat(),
            actions: self.actions[..k].to_vec(),
            rewards: self.rewards[..k].to_vec(),
            success,
            terminals,
            timeouts,
            frames: Some(self.frames[..=k].concat()),
            verdict: Some(verdict),
        }
    }
}

/// Observations per frame: CLEVR the perceived state; Meta-World the source's first observation
/// with the current (hand, gripper, object) perceived and the previous frame's copied in.
fn observations(kind: EnvKind, obs0: &[f32], perceived: &[Vec<f32>]) -> Vec<Vec<f32>> {
    match kind {
        EnvKind::Clevr => perceived.to_vec(),
        EnvKind::MetaWorld => {
            let mut out: Vec<Vec<f32>> = Vec::with_capacity(perceived.len());
            for (t, p) in perceived.iter().enumerate() {
                let mut o = obs0.to_vec();
                o[..7].copy_from_slice(&p[..7]);
                let prev: Vec<f32> = if t == 0 {
                    o[..18].to_vec()
                } else {
                    out[t - 1][..18].to_vec()
                };
                o[18..36].copy_from_slice(&prev);
                out.push(o);
            }
            out
        }
    }
}

/// Validates every draft against the physics engine, applies the filter and writes the dataset.
pub fn validate_and_write(
    ctx: &Context,
    plan: &ImaginePlan,
    drafts: &mut [RolloutDraft],
    renderer: &mut vlgor_render::Renderer,
    size: i64,
    stage: &str,
) -> Result<ImagineSummary, CliError> {
    let mut checks = Vec::with_capacity(drafts.len());
    let mut replayer = validate::Replayer::new();
    let mut cameras: std::collections::HashMap<&'static str, String> = Default::default();
    for d in drafts.iter() {
        let states = d
            .perceived
            .iter()
            .map(|p| replayer.perceived_to_state(&d.instruction.goal, &d.base_state, p))
            .collect::<Result<Vec<_>, _>>()?;
        let spec = crate::envs::EnvSpec::of_goal(&d.instruction.goal);
        let camera = cameras
            .entry(spec.label())
            .or_insert_with(|| spec.make().cameras()[0].to_string())
            .clone();
        checks.push(RolloutUnderCheck {
            goal: d.instruction.goal.clone(),
            states,
            frames: Some(d.frames.clone()),
            frame_size: size as usize,
            camera,
            actions: d.actions.clone(),
            steps_per_action: d.h,
            labels: None,
        });
    }
    let policy = match plan.filter {
        Filter::Drop => FilterPolicy::Drop,
        Filter::Truncate | Filter::Keep => FilterPolicy::Truncate,
    };
    let cfg = ValidatorConfig::for_env(plan.env);
    let verdicts = validate_rollouts(checks, &cfg, policy, Some(renderer))?;
    let mut s = ImagineSummary {
        stage: stage.to_string(),
        rollouts: drafts.len(),
        filter: plan.filter.name().into(),
        ..ImagineSummary::default()
    };
    let mut records = Vec::new();
    for (d, v) in drafts.iter().zip(&verdicts) {
        if d.success.last().copied().unwrap_or(false) {
            s.goal_reached += 1;
        }
        let mut reasons: Vec<String> = v.violations.iter().map(|x| x.reason.to_string()).collect();
        reasons.sort();
        reasons.dedup();
        for r in reasons {
            *s.by_reason.entry(r).or_default() += 1;
        }
        let total = d.transitions();
        let replay_failed: std::collections::BTreeSet<usize> = v
            .violations
            .iter()
            .filter(|x| matches!(x.reason, Reason::DynamicsReplay | Reason::Diverged))
            .map(|x| x.step)
            .collect();
        s.imagined_transitions += total;
        s.replay_passed_transitions += total.saturating_sub(replay_failed.len());
        let keep = match (&v.kind, plan.filter) {
            (_, Filter::Keep) => Some(d.transitions()),
            (VerdictKind::Valid, _) => Some(d.transitions()),
            (VerdictKind::Truncated { at }, Filter::Truncate) => Some(*at),
            _ => None,
        };
        match v.kind {
            VerdictKind::Valid => s.valid += 1,
            VerdictKind::Truncated { .. } => s.truncated += 1,
            VerdictKind::Rejected => s.rejected += 1,
        }
        if let Some(k) = keep.filter(|&k| k > 0) {
            records.push(d.record(records.len() as u64, k, v.to_json()));
        }
    }
    s.written = records.len();
    s.transitions = records.iter().map(EpisodeRecord::len).sum();
    write(ctx, plan, &records, size)?;
    Ok(s)
}

fn write(
    ctx: &Context,
    plan: &ImaginePlan,
    records: &[EpisodeRecord],
    size: i64,
) -> Result<(), CliError> {
    let probe = match plan.env {
        EnvKind::Clevr => crate::envs::EnvSpec::Clevr.make(),
        EnvKind::MetaWorld => {
            crate::envs::EnvSpec::MetaWorld(vlgor_sim::metaworld::Task::Reach).make()
        }
    };
    let per_shard = ctx.config.collect.episodes_per_shard;
    let header = DatasetHeader {
        env: plan.env.name().into(),
        origin: Origin::Imagined,
        collection: Collection {
            policy: format!("vlm:{}", plan.vlm.display()),
            seed: ctx.seed,
            noise: 0.0,
            episodes: records.len(),
            episodes_per_shard: per_shard,
            task: None,
            preset: ctx.preset.clone(),
            max_steps: None,
        },
        split: SplitInfo {
            level: plan.set.name(),
            definition: format!(
                "imagined from the initial frames of {} for '{}' instructions, {} model steps \
                 at most, filter '{}'",
                plan.from.display(),
                plan.set.name(),
                plan.horizon,
                plan.filter.name()
            ),
        },
        state_dim: 0,
        obs_dim: probe.observation().len(),
        action_space: match plan.env {
            EnvKind::Clevr => ActionSpace::Discrete { n: 40 },
            EnvKind::MetaWorld => ActionSpace::Continuous { dim: 4 },
        },
        frames: Some(FrameSpec {
            height: size as usize,
            width: size as usize,
            camera: probe.cameras()[0].to_string(),
        }),
    };
    let mut writer = DatasetWriter::create_or_resume(&plan.out, header)
        .map_err(|e| CliError::Input(e.to_string()))?;
    for chunk in records.chunks(per_shard.max(1)) {
        writer
            .append_shard(chunk)
            .map_err(|e| CliError::Other(e.into()))?;
    }
    Ok(())
}
