//! Imagined rollouts as dataset episodes: perceived observations, rewards from the goal, the
//! physics verdict, the filter, and the write.

use vlgor_sim::dataset::Dataset;
use vlgor_sim::dataset::{
    Collection, DatasetHeader, DatasetWriter, EpisodeRecord, FrameSpec, Origin, SplitInfo,
};
use vlgor_sim::validate::{self, Reason, ValidatorConfig, Verdict, VerdictKind};
use vlgor_sim::{Action, EnvKind, EnvSpec, GoalSpec, Instruction};

use super::{ImaginePlan, ImagineSummary, PerceivedGoal, plausibility};
use crate::context::Context;
use crate::ecs::validate::{RolloutUnderCheck, validate_rollouts};
use crate::error::CliError;

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
    /// Whether the validator compares the frames with renders of the states (not for frames
    /// rendered from the states themselves).
    check_frames: bool,
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
        let goal_dims = metaworld_goal_point(&meta.instruction, &instruction, &obs0);
        let observations = observations(kind, &obs0, &perceived, h, goal_dims);
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
            check_frames: true,
        })
    }

    /// Skips the frame-consistency check: the frames were rendered from the rollout's states.
    pub fn without_frame_check(mut self) -> Self {
        self.check_frames = false;
        self
    }

    fn transitions(&self) -> usize {
        self.actions.len()
    }

    /// The episode record of the first `k` transitions.
    fn record(&self, index: u64, k: usize, verdict: Verdict) -> EpisodeRecord {
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
/// with the current (hand, gripper, object) perceived, the previous frame's values one env step
/// back (a real observation's previous frame is the last step, not the last keyframe: the
/// keyframe's motion, taken as uniform over its `h` steps, is undone for one step), and the goal
/// point `goal` the imagined instruction reports where it is given.
fn observations(
    kind: EnvKind,
    obs0: &[f32],
    perceived: &[Vec<f32>],
    h: usize,
    goal: Option<[f32; 3]>,
) -> Vec<Vec<f32>> {
    match kind {
        EnvKind::Clevr => perceived.to_vec(),
        EnvKind::MetaWorld => {
            let mut base = obs0.to_vec();
            if let Some(g) = goal {
                base[36..39].copy_from_slice(&g);
            }
            let mut out: Vec<Vec<f32>> = Vec::with_capacity(perceived.len());
            for (t, p) in perceived.iter().enumerate() {
                let mut o = base.clone();
                o[..7].copy_from_slice(&p[..7]);
                let mut prev: Vec<f32> = o[..18].to_vec();
                if t > 0 {
                    let last = &out[t - 1];
                    for (j, v) in prev.iter_mut().enumerate().take(7) {
                        *v -= (o[j] - last[j]) / h.max(1) as f32;
                    }
                }
                o[18..36].copy_from_slice(&prev);
                out.push(o);
            }
            out
        }
    }
}

/// The goal point a Meta-World observation reports for `imagined`'s first stage, from a
/// source episode collected for `source` whose first observation is `obs0`: the task's goal is
/// the source's reported point less its instruction's offset. `None` for CLEVR.
fn metaworld_goal_point(
    source: &Instruction,
    imagined: &Instruction,
    obs0: &[f32],
) -> Option<[f32; 3]> {
    let (GoalSpec::MetaWorld(src), GoalSpec::MetaWorld(new)) = (&source.goal, &imagined.goal)
    else {
        return None;
    };
    let reported = obs0.get(36..39)?;
    let off = src.goal_point([0.0; 3], 0);
    let task_goal = [
        reported[0] - off[0],
        reported[1] - off[1],
        reported[2] - off[2],
    ];
    Some(new.goal_point(task_goal, 0))
}

/// Validates every draft against the physics engine, applies the filter and writes the dataset
/// (the world model's rollouts).
pub fn validate_and_write(
    ctx: &Context,
    plan: &ImaginePlan,
    drafts: &mut [RolloutDraft],
    renderer: &mut vlgor_render::Renderer,
    size: i64,
    stage: &str,
) -> Result<ImagineSummary, CliError> {
    validate_and_write_from(ctx, plan, drafts, renderer, size, stage, "vlm")
}

/// [`validate_and_write`] for the rollouts of `generator` (named in the dataset's policy
/// field, e.g. "vlm" or "kalm").
pub fn validate_and_write_from(
    ctx: &Context,
    plan: &ImaginePlan,
    drafts: &mut [RolloutDraft],
    renderer: &mut vlgor_render::Renderer,
    size: i64,
    stage: &str,
    generator: &str,
) -> Result<ImagineSummary, CliError> {
    let mut checks = Vec::with_capacity(drafts.len());
    let mut errors = Vec::with_capacity(drafts.len());
    let mut replayer = validate::Replayer::new();
    let mut cameras: std::collections::HashMap<&'static str, String> = Default::default();
    for d in drafts.iter() {
        let states = d
            .perceived
            .iter()
            .map(|p| replayer.perceived_to_state(&d.instruction.goal, &d.base_state, p))
            .collect::<Result<Vec<_>, _>>()?;
        let spec = EnvSpec::of_goal(&d.instruction.goal);
        let camera = cameras
            .entry(spec.label())
            .or_insert_with(|| spec.make().cameras()[0].to_string())
            .clone();
        errors.push(plausibility::replay_errors(
            &mut replayer,
            &d.instruction.goal,
            &states,
            &d.actions,
            d.h,
        ));
        checks.push(RolloutUnderCheck {
            goal: d.instruction.goal.clone(),
            states,
            frames: d.check_frames.then(|| d.frames.clone()),
            frame_size: size as usize,
            camera,
            actions: d.actions.clone(),
            steps_per_action: d.h,
            labels: None,
        });
    }
    let cfg = ValidatorConfig::for_env(plan.env);
    let verdicts = validate_rollouts(checks, &cfg, plan.filter, Some(renderer))?;
    let mut s = ImagineSummary {
        stage: stage.to_string(),
        rollouts: drafts.len(),
        filter: plan.filter.name().into(),
        ..ImagineSummary::default()
    };
    let mut records = Vec::new();
    let per_start = plan.candidates.max(1);
    let mut verified_starts = std::collections::BTreeSet::new();
    for (i, ((d, v), e)) in drafts.iter().zip(&verdicts).zip(&errors).enumerate() {
        s.plausibility.add(d.transitions(), v, e);
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
        let keep = plan.filter.kept_transitions(Some(v), d.transitions());
        match v.kind {
            VerdictKind::Valid => s.valid += 1,
            VerdictKind::Truncated { .. } => s.truncated += 1,
            VerdictKind::Rejected => s.rejected += 1,
        }
        if let Some(k) = keep.filter(|&k| k > 0) {
            let reached = d.success[..k].iter().any(|&b| b);
            if reached {
                s.verified += 1;
                verified_starts.insert(i / per_start);
            }
            if reached || !plan.verified_only {
                records.push(d.record(records.len() as u64, k, v.clone()));
            }
        }
    }
    s.verified_starts = verified_starts.len();
    s.written = records.len();
    s.transitions = records.iter().map(EpisodeRecord::len).sum();
    write(ctx, plan, &records, size, generator)?;
    Ok(s)
}

fn write(
    ctx: &Context,
    plan: &ImaginePlan,
    records: &[EpisodeRecord],
    size: i64,
    generator: &str,
) -> Result<(), CliError> {
    let probe = EnvSpec::first_of(plan.env).make();
    let per_shard = ctx.config.collect.episodes_per_shard;
    let header = DatasetHeader {
        env: plan.env.name().into(),
        origin: Origin::Imagined,
        collection: Collection {
            policy: format!("{generator}:{}", plan.vlm.display()),
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
                "imagined from the initial {} of {} for '{}' instructions, {} model steps \
                 at most, filter '{}'",
                if generator == "vlm" {
                    "frames"
                } else {
                    "states"
                },
                plan.from.display(),
                plan.set.name(),
                plan.horizon,
                plan.filter.name()
            ),
        },
        state_dim: 0,
        obs_dim: probe.observation().len(),
        action_space: vlgor_sim::spec::action_space(plan.env),
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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use vlgor_sim::Level;
    use vlgor_sim::metaworld::Task;
    use vlgor_sim::metaworld::goal::{MetaWorldGoal, Stage};

    fn reach_instruction(offset: [f32; 3], rng: &mut rand_chacha::ChaCha8Rng) -> Instruction {
        let mut ins = EnvSpec::MetaWorld(Task::Reach).sample_instruction(Level::Seen, rng);
        ins.goal = GoalSpec::MetaWorld(MetaWorldGoal {
            task: Task::Reach,
            stages: vec![Stage::TaskGoal { offset }],
            constraint: None,
        });
        ins
    }

    #[test]
    fn imagined_metaworld_observations_look_one_step_back_and_report_the_imagined_goal() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let source = reach_instruction([0.0; 3], &mut rng);
        let left = reach_instruction([-0.1, 0.0, 0.0], &mut rng);
        let mut obs0 = vec![0.0f32; 39];
        obs0[..7].copy_from_slice(&[0.0, 0.6, 0.2, 1.0, 0.1, 0.7, 0.02]);
        let head = obs0[..7].to_vec();
        obs0[18..25].copy_from_slice(&head);
        obs0[36..39].copy_from_slice(&[0.05, 0.8, 0.15]);
        let goal = metaworld_goal_point(&source, &left, &obs0);
        assert_eq!(
            goal,
            Some([0.05 - 0.1, 0.8, 0.15]),
            "the task goal moved left"
        );
        assert_eq!(
            metaworld_goal_point(&source, &source, &obs0),
            Some([0.05, 0.8, 0.15])
        );
        let mut p1 = obs0[..7].to_vec();
        p1[0] += 0.1; // the hand 10 cm along x over one keyframe of 10 steps
        let o = observations(
            EnvKind::MetaWorld,
            &obs0,
            &[obs0[..7].to_vec(), p1],
            10,
            goal,
        );
        assert_eq!(
            o[0][..18],
            o[0][18..36],
            "a reset observation's previous frame is itself"
        );
        assert!((o[1][0] - 0.1).abs() < 1e-6);
        assert!(
            (o[1][18] - 0.09).abs() < 1e-6,
            "one step back: {}",
            o[1][18]
        );
        assert_eq!(
            o[1][19..25],
            o[1][1..7],
            "what did not move is where it was"
        );
        assert_eq!(o[1][36..39], [0.05 - 0.1, 0.8, 0.15]);
    }
}
