//! Physics validation of rollouts as a bevy_ecs world: one entity per rollout carrying its
//! goal, full states, actions, `h` (env steps per action) and optional frames; small systems
//! find violations — `check_states` (interpenetration, workspace, teleport), `replay_dynamics`
//! (rapier replay, the [`Replayer`] a resource), `check_stored_labels` (rewards, success and
//! terminal flags recomputed from the goal), `check_frames` (render each state and compare
//! PSNR with the frame, and each object's colour where it appears; rollouts without frames are
//! skipped) — and `decide_verdict` turns them
//! into a [`Verdict`] under the [`Filter`]. See `vlgor_sim::validate` for the checks.

use bevy_ecs::prelude::*;
use bevy_ecs::system::RunSystemOnce;
use std::sync::Mutex;
use vlgor_render::{RenderConfig, Renderer};
use vlgor_sim::validate::checks::{check_dynamics, check_states as state_violations};
use vlgor_sim::validate::labels::{Labels, check_labels};
use vlgor_sim::validate::perceive::check_state;
use vlgor_sim::validate::{Filter, Reason, Replayer, ValidatorConfig, Verdict, Violation, verdict};
use vlgor_sim::{Action, GoalSpec};

use crate::error::CliError;

pub(crate) mod colors;

/// One rollout to validate.
#[derive(Clone, Debug)]
pub struct RolloutUnderCheck {
    pub goal: GoalSpec,
    /// Full simulator states, one per keyframe.
    pub states: Vec<Vec<f32>>,
    /// u8 H×W×3 frames, one per keyframe (H = W = `frame_size`), when the rollout has them.
    pub frames: Option<Vec<Vec<u8>>>,
    pub frame_size: usize,
    /// Camera preset the frames were drawn from.
    pub camera: String,
    /// `actions[k]` takes keyframe k to k + 1.
    pub actions: Vec<Action>,
    /// Env steps per action (`h`; real data 1).
    pub steps_per_action: usize,
    /// Reward, success and terminal labels per transition, when the rollout has them (checked
    /// against the goal where `ValidatorConfig::check_labels` is on).
    pub labels: Option<Labels>,
}

/// Position of the rollout in the input (the verdicts come back in this order).
#[derive(Component)]
pub struct RolloutIndex(pub usize);

#[derive(Component)]
pub struct Goal(pub GoalSpec);

/// Full states per keyframe.
#[derive(Component)]
pub struct States(pub Vec<Vec<f32>>);

#[derive(Component)]
pub struct Actions(pub Vec<Action>);

/// Env steps per action.
#[derive(Component)]
pub struct StepsPerAction(pub usize);

/// Frames per keyframe, their size and camera; absent when the rollout has none.
#[derive(Component)]
pub struct Frames {
    pub frames: Vec<Vec<u8>>,
    pub size: usize,
    pub camera: String,
}

/// Stored labels per transition; absent when the rollout has none.
#[derive(Component)]
pub struct StoredLabels(pub Labels);

/// Violations found so far.
#[derive(Component, Default)]
pub struct Found(pub Vec<Violation>);

/// The verdict, once decided.
#[derive(Component, Default)]
pub struct Decided(pub Option<Verdict>);

/// Thresholds and the filter policy.
#[derive(Resource)]
pub struct Checking {
    pub cfg: ValidatorConfig,
    pub policy: Filter,
}

/// The simulators of the replay (a mutex makes the `Send` simulators a `Sync` resource).
#[derive(Resource)]
pub struct ReplayerRes(pub Mutex<Replayer>);

/// The first error raised inside a system.
#[derive(Resource, Default)]
pub struct CheckError(pub Option<String>);

/// Which frame size `check_frames` handles in this run (one renderer per size).
#[derive(Resource)]
pub struct FrameSizeNow(pub usize);

/// Interpenetration, workspace and teleport violations of every rollout.
pub fn check_states(
    checking: Res<Checking>,
    replayer: Res<ReplayerRes>,
    mut errors: ResMut<CheckError>,
    mut query: Query<(&RolloutIndex, &Goal, &States, &StepsPerAction, &mut Found)>,
) {
    let mut rp = replayer.0.lock().expect("replayer lock");
    for (index, goal, states, h, mut found) in query.iter_mut() {
        record(
            &mut found,
            &mut errors,
            index,
            state_violations(&mut rp, &goal.0, &states.0, h.0, &checking.cfg),
        );
    }
}

/// Adds a check's violations to the rollout's findings, or keeps the first error of the run.
fn record(
    found: &mut Found,
    errors: &mut CheckError,
    index: &RolloutIndex,
    result: Result<Vec<Violation>, impl std::fmt::Display>,
) {
    match result {
        Ok(v) => found.0.extend(v),
        Err(e) => {
            errors.0.get_or_insert(format!("rollout {}: {e}", index.0));
        }
    }
}

/// Dynamics replay of every transition: set s_k, apply a_k `h` times, compare with s_{k+1}.
pub fn replay_dynamics(
    checking: Res<Checking>,
    replayer: Res<ReplayerRes>,
    mut errors: ResMut<CheckError>,
    mut query: Query<(
        &RolloutIndex,
        &Goal,
        &States,
        &Actions,
        &StepsPerAction,
        &mut Found,
    )>,
) {
    let mut rp = replayer.0.lock().expect("replayer lock");
    for (index, goal, states, actions, h, mut found) in query.iter_mut() {
        record(
            &mut found,
            &mut errors,
            index,
            check_dynamics(&mut rp, &goal.0, &states.0, &actions.0, h.0, &checking.cfg),
        );
    }
}

/// Label consistency of rollouts with labels: reward, success and terminal flags recomputed
/// from the goal and the states.
pub fn check_stored_labels(
    checking: Res<Checking>,
    replayer: Res<ReplayerRes>,
    mut errors: ResMut<CheckError>,
    mut query: Query<(
        &RolloutIndex,
        &Goal,
        &States,
        &StoredLabels,
        &StepsPerAction,
        &mut Found,
    )>,
) {
    let mut rp = replayer.0.lock().expect("replayer lock");
    for (index, goal, states, labels, h, mut found) in query.iter_mut() {
        record(
            &mut found,
            &mut errors,
            index,
            check_labels(&mut rp, &goal.0, &states.0, &labels.0, h.0, &checking.cfg),
        );
    }
}

/// Frame consistency of rollouts with frames of the current size: each state rendered with
/// the renderer given as input and compared with its frame (PSNR below the threshold), and
/// each frame compared with the previous state's render (a frame that matches the previous
/// state better than its own by more than the margin is stale, e.g. frozen).
pub fn check_frames(
    InMut(renderer): InMut<Renderer>,
    checking: Res<Checking>,
    size: Res<FrameSizeNow>,
    replayer: Res<ReplayerRes>,
    mut errors: ResMut<CheckError>,
    mut query: Query<(&RolloutIndex, &Goal, &States, &Frames, &mut Found)>,
) {
    let mut rp = replayer.0.lock().expect("replayer lock");
    for (index, goal, states, frames, mut found) in query.iter_mut() {
        if frames.size != size.0 {
            continue;
        }
        record(
            &mut found,
            &mut errors,
            index,
            frame_violations(&mut rp, renderer, &goal.0, &states.0, frames, &checking.cfg),
        );
    }
}

fn frame_violations(
    rp: &mut Replayer,
    renderer: &mut Renderer,
    goal: &GoalSpec,
    states: &[Vec<f32>],
    frames: &Frames,
    cfg: &ValidatorConfig,
) -> Result<Vec<Violation>, String> {
    let points = states
        .iter()
        .map(|s| {
            rp.snapshot(goal, s)
                .map(|snap| colors::object_points(&snap))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let env = rp.env(goal).map_err(|e| e.to_string())?;
    let scenes = states
        .iter()
        .map(|s| {
            env.set_state(s)?;
            env.scene(&frames.camera)
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let batch = renderer.render_batch(&scenes).map_err(|e| e.to_string())?;
    let n = batch.frame_len();
    let rendered: Vec<Vec<f32>> = (0..states.len())
        .map(|j| vlgor_vlm::metrics::to_unit(&batch.pixels[j * n..(j + 1) * n]))
        .collect();
    let mut out = Vec::new();
    for (j, frame) in frames.frames.iter().enumerate() {
        let f = vlgor_vlm::metrics::to_unit(frame);
        let own = vlgor_vlm::metrics::psnr(&f, &rendered[j], 1.0).unwrap_or(0.0) as f32;
        if own < cfg.min_frame_psnr_db {
            out.push(Violation::new(
                j,
                Reason::FrameConsistency,
                cfg.min_frame_psnr_db - own,
                format!(
                    "frame {j} vs its state's render: PSNR {own:.1} dB < {:.1} dB",
                    cfg.min_frame_psnr_db
                ),
            ));
            continue;
        }
        if let Some(v) = colors::object_color_violation(
            j,
            &f,
            &rendered[j],
            frames.size,
            &scenes[j].camera,
            &points[j],
            cfg,
        ) {
            out.push(v);
            continue;
        }
        if j > 0 {
            let prev = vlgor_vlm::metrics::psnr(&f, &rendered[j - 1], 1.0).unwrap_or(0.0) as f32;
            if prev - own > cfg.stale_frame_margin_db {
                out.push(Violation::new(
                    j,
                    Reason::FrameConsistency,
                    prev - own,
                    format!(
                        "frame {j} looks like state {} (PSNR {prev:.1} dB) more than its own (PSNR {own:.1} dB): stale frame",
                        j - 1
                    ),
                ));
            }
        }
    }
    Ok(out)
}

/// Turns each rollout's violations into its verdict.
pub fn decide_verdict(checking: Res<Checking>, mut query: Query<(&mut Found, &mut Decided)>) {
    for (mut found, mut decided) in query.iter_mut() {
        let mut v = std::mem::take(&mut found.0);
        v.sort_by_key(|x| (x.step, x.reason));
        decided.0 = Some(verdict(v, checking.policy));
    }
}

/// Checks the shape of one rollout; errors name the rollout and what is wrong.
fn check_input(i: usize, r: &RolloutUnderCheck) -> Result<(), CliError> {
    let bad = |m: String| CliError::Input(format!("rollout {i}: {m}"));
    if r.states.len() != r.actions.len() + 1 {
        return Err(bad(format!(
            "{} actions need {} states, got {}",
            r.actions.len(),
            r.actions.len() + 1,
            r.states.len()
        )));
    }
    if r.steps_per_action == 0 {
        return Err(bad("steps_per_action must be at least 1".into()));
    }
    if let Some(l) = &r.labels {
        let n = r.actions.len();
        if l.rewards.len() != n || l.success.len() != n || l.terminals.len() != n {
            return Err(bad(format!(
                "{n} actions need {n} labels, got {} rewards, {} success and {} terminal flags",
                l.rewards.len(),
                l.success.len(),
                l.terminals.len()
            )));
        }
    }
    for (j, s) in r.states.iter().enumerate() {
        check_state(&r.goal, s).map_err(|e| bad(format!("state {j}: {e}")))?;
    }
    if let Some(frames) = &r.frames {
        let len = r.frame_size * r.frame_size * 3;
        if frames.len() != r.states.len() {
            return Err(bad(format!(
                "{} frames for {} states",
                frames.len(),
                r.states.len()
            )));
        }
        if r.frame_size == 0 || frames.iter().any(|f| f.len() != len) {
            return Err(bad(format!(
                "frames must be {0}x{0}x3 = {len} bytes each",
                r.frame_size
            )));
        }
    }
    Ok(())
}

/// Validates `rollouts` and returns their verdicts in input order. Frames are compared with
/// renders of the states: `renderer` is used when its size equals a rollout's `frame_size`,
/// otherwise a renderer of that size (supersample 2) is made.
pub fn validate_rollouts(
    rollouts: Vec<RolloutUnderCheck>,
    cfg: &ValidatorConfig,
    policy: Filter,
    mut renderer: Option<&mut Renderer>,
) -> Result<Vec<Verdict>, CliError> {
    cfg.validate().map_err(CliError::Input)?;
    for (i, r) in rollouts.iter().enumerate() {
        check_input(i, r)?;
    }
    let n = rollouts.len();
    let mut sizes: Vec<usize> = rollouts
        .iter()
        .filter(|r| r.frames.is_some())
        .map(|r| r.frame_size)
        .collect();
    sizes.sort_unstable();
    sizes.dedup();

    let mut world = World::new();
    for (i, r) in rollouts.into_iter().enumerate() {
        let mut e = world.spawn((
            RolloutIndex(i),
            Goal(r.goal),
            States(r.states),
            Actions(r.actions),
            StepsPerAction(r.steps_per_action),
            Found::default(),
            Decided::default(),
        ));
        if let Some(labels) = r.labels {
            e.insert(StoredLabels(labels));
        }
        if let Some(frames) = r.frames {
            e.insert(Frames {
                frames,
                size: r.frame_size,
                camera: r.camera,
            });
        }
    }
    world.insert_resource(Checking {
        cfg: cfg.clone(),
        policy,
    });
    world.insert_resource(ReplayerRes(Mutex::new(Replayer::new())));
    world.insert_resource(CheckError::default());

    let mut schedule = Schedule::default();
    schedule.add_systems((check_states, replay_dynamics, check_stored_labels).chain());
    schedule.run(&mut world);
    take_error(&mut world)?;

    for size in sizes {
        world.insert_resource(FrameSizeNow(size));
        let fits =
            |r: &Renderer| r.config().width as usize == size && r.config().height as usize == size;
        let run = |world: &mut World, r: &mut Renderer| {
            world
                .run_system_once_with(check_frames, r)
                .map_err(|e| CliError::Other(anyhow::anyhow!("check_frames: {e}")))
        };
        match renderer.as_deref_mut() {
            Some(r) if fits(r) => run(&mut world, r)?,
            _ => {
                let mut own = Renderer::new(RenderConfig {
                    width: size as u32,
                    height: size as u32,
                    supersample: RenderConfig::default().supersample,
                })
                .map_err(|e| CliError::Other(e.into()))?;
                run(&mut world, &mut own)?;
            }
        }
        take_error(&mut world)?;
    }

    world
        .run_system_once(decide_verdict)
        .map_err(|e| CliError::Other(anyhow::anyhow!("decide_verdict: {e}")))?;
    let mut out: Vec<Option<Verdict>> = vec![None; n];
    let mut q = world.query::<(&RolloutIndex, &mut Decided)>();
    for (i, mut d) in q.iter_mut(&mut world) {
        out[i.0] = d.0.take();
    }
    out.into_iter()
        .enumerate()
        .map(|(i, v)| {
            v.ok_or_else(|| CliError::Other(anyhow::anyhow!("rollout {i} got no verdict")))
        })
        .collect()
}

fn take_error(world: &mut World) -> Result<(), CliError> {
    match world.resource_mut::<CheckError>().0.take() {
        Some(e) => Err(CliError::Other(anyhow::anyhow!("validation failed: {e}"))),
        None => Ok(()),
    }
}
