//! The closed-loop evaluation loop as a bevy_ecs world.
//!
//! Each environment instance is an entity carrying an [`EnvSlot`] (the simulator), an
//! [`Episode`] (the running episode's bookkeeping) and a [`ChosenAction`]. Small systems run in a
//! [`Schedule`] until the episode budget in [`EpisodeQueue`] is spent:
//! `act` (the policy picks an action per live env) → `step` (physics) → `finish` (record the
//! finished episodes in [`Outcomes`], reset their envs with the next queued episode, or despawn).

mod learned;
mod systems;
pub mod validate;

pub use learned::LearnedPolicy;

use bevy_ecs::prelude::*;
use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;
use std::sync::Mutex;
use vlgor_sim::{Action, Env, Instruction, Level};

use crate::error::CliError;
use vlgor_sim::EnvSpec;

/// A scripted policy: the reference rows of every evaluation table.
#[derive(Resource, Clone, Copy, Debug, PartialEq)]
pub enum Scripted {
    /// The simulator's scripted expert; with probability `noise` a random action instead.
    Expert { noise: f32 },
    /// Uniformly random actions.
    Random,
}

impl Scripted {
    /// `expert` or `random`, as tables and `results.json` name the row.
    pub fn name(self) -> &'static str {
        match self {
            Scripted::Expert { .. } => "expert",
            Scripted::Random => "random",
        }
    }
}

/// What drives the loop. Every variant acts, so a loop always finishes.
pub enum Driver {
    Scripted(Scripted),
    /// A trained policy, held in the loop as the non-`Send` [`LearnedPolicy`] resource.
    Learned(Box<LearnedPolicy>),
}

/// One episode to run: the instruction and initial state are fixed by `seed`.
#[derive(Clone, Debug)]
pub struct EpisodeJob {
    /// Index within its (level, evaluation seed) cell.
    pub index: usize,
    /// The episode's own seed ([`episode_seed`]).
    pub seed: u64,
    pub level: Level,
    /// The evaluation seed the episode was drawn with.
    pub eval_seed: u64,
    pub instruction: Instruction,
}

/// The simulator of one entity. A mutex makes the `Send`-only simulator a `Sync` component; it
/// is never contended (each system touches each entity once).
#[derive(Component)]
pub struct EnvSlot(pub Mutex<Box<dyn Env>>);

/// Bookkeeping of the episode an entity is running.
#[derive(Component)]
pub struct Episode {
    pub job: EpisodeJob,
    pub rng: ChaCha8Rng,
    pub steps: usize,
    pub episode_return: f32,
    pub success: bool,
    pub finished: bool,
}

impl Episode {
    fn new(job: EpisodeJob) -> Episode {
        Episode {
            rng: vlgor_sim::episode::action_rng(job.seed),
            job,
            steps: 0,
            episode_return: 0.0,
            success: false,
            finished: false,
        }
    }
}

/// The action chosen for an entity in this tick.
#[derive(Component, Default)]
pub struct ChosenAction(pub Option<Action>);

/// Episodes not yet started.
#[derive(Resource, Default)]
pub struct EpisodeQueue(pub VecDeque<EpisodeJob>);

/// Result of one finished episode.
#[derive(Clone, Debug, serde::Serialize)]
pub struct EpisodeOutcome {
    pub index: usize,
    pub seed: u64,
    pub level: Level,
    pub eval_seed: u64,
    pub instruction: String,
    pub success: bool,
    /// Steps taken (to the first success, or the horizon).
    pub steps: usize,
    pub episode_return: f32,
    /// KALM's step-level judges of the first push (CLEVR directional goals).
    pub judges: Option<vlgor_sim::clevr::StepJudges>,
}

/// Finished episodes, in completion order (sort by (level, seed, index) for a stable order).
#[derive(Resource, Default)]
pub struct Outcomes(pub Vec<EpisodeOutcome>);

/// The first error raised inside a system; the loop stops and returns it.
#[derive(Resource, Default)]
pub struct LoopError(pub Option<String>);

/// Progress reporting hook: called with the number of finished episodes.
#[derive(Resource)]
pub struct ProgressHook(pub indicatif::ProgressBar);

pub use vlgor_sim::episode::episode_seed;

/// The episodes of one evaluation run: `episodes` instructions of `level`, drawn with `seed`.
pub fn episode_jobs(spec: EnvSpec, level: Level, seed: u64, episodes: usize) -> Vec<EpisodeJob> {
    (0..episodes)
        .map(|index| {
            let episode = episode_seed(seed, level, index);
            let mut rng = vlgor_sim::episode::instruction_rng(episode);
            EpisodeJob {
                index,
                seed: episode,
                level,
                eval_seed: seed,
                instruction: spec.sample_instruction(level, &mut rng),
            }
        })
        .collect()
}

/// Runs `jobs` closed-loop with `parallel` env instances, driven by `driver`; outcomes sorted
/// by (level, evaluation seed, index). The driver is handed back for the next run.
pub fn run_episodes(
    spec: EnvSpec,
    driver: Driver,
    jobs: Vec<EpisodeJob>,
    parallel: usize,
    progress: indicatif::ProgressBar,
) -> Result<(Vec<EpisodeOutcome>, Driver), CliError> {
    let mut world = World::new();
    let mut queue: VecDeque<EpisodeJob> = jobs.into();
    for _ in 0..parallel.max(1) {
        let Some(job) = queue.pop_front() else { break };
        let mut env = spec.make();
        env.reset(job.seed, &job.instruction)?;
        world.spawn((
            EnvSlot(Mutex::new(env)),
            Episode::new(job),
            ChosenAction::default(),
        ));
    }
    world.insert_resource(EpisodeQueue(queue));
    world.insert_resource(Outcomes::default());
    world.insert_resource(LoopError::default());
    world.insert_resource(ProgressHook(progress));
    let scripted = match driver {
        Driver::Scripted(s) => {
            world.insert_resource(s);
            Some(s)
        }
        Driver::Learned(learned) => {
            world.insert_non_send(*learned);
            None
        }
    };

    let mut schedule = Schedule::default();
    schedule.add_systems(
        (
            systems::act,
            learned::act_learned,
            systems::step,
            systems::finish,
        )
            .chain(),
    );
    let mut live = world.query::<&Episode>();
    while live.iter(&world).next().is_some() {
        schedule.run(&mut world);
        if let Some(e) = world.resource::<LoopError>().0.clone() {
            return Err(CliError::Other(anyhow::anyhow!(e)));
        }
    }
    let mut outcomes = std::mem::take(&mut world.resource_mut::<Outcomes>().0);
    outcomes.sort_by_key(|o| (o.level, o.eval_seed, o.index));
    let driver = match scripted {
        Some(s) => Driver::Scripted(s),
        None => Driver::Learned(Box::new(
            world
                .remove_non_send::<LearnedPolicy>()
                .ok_or_else(|| CliError::Other(anyhow::anyhow!("the loop lost its policy")))?,
        )),
    };
    Ok((outcomes, driver))
}
