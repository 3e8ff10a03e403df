//! Expert data collection: ε-noisy scripted experts on one level's instructions (training
//! level by default; an unseen level gives the experiment's oracle data), episodes in parallel
//! across cores, written shard by shard so a killed run resumes.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::path::Path;
use vlgor_sim::dataset::{
    ActionSpace, Collection, DatasetHeader, DatasetWriter, EpisodeRecord, FrameSpec, Manifest,
    Origin, SplitInfo,
};
use vlgor_sim::{Action, Level};

use crate::error::CliError;
use vlgor_sim::EnvSpec;

/// What to collect.
#[derive(Clone, Debug)]
pub struct CollectPlan {
    /// Episode `i` runs on `specs[i % specs.len()]` (Meta-World `--task all` cycles tasks).
    pub specs: Vec<EnvSpec>,
    pub task_arg: Option<String>,
    pub episodes: usize,
    pub seed: u64,
    pub noise: f32,
    pub episodes_per_shard: usize,
    pub preset: String,
    /// Store frames rendered at this size with the env's default camera (`--frames`).
    pub frames: Option<vlgor_render::RenderConfig>,
    /// Level of the instructions ([`Level::Seen`] for training data).
    pub level: Level,
    /// Cap on each episode's steps (`None`: the simulator's horizon).
    pub max_steps: Option<usize>,
}

/// Deterministic seed of collection episode `index` at `level`. Distinct from every
/// evaluation episode's seed ([`crate::ecs::episode_seed`] of the evaluation seed), so oracle
/// data never contains the evaluation's start states.
pub fn collection_seed(seed: u64, level: Level, index: u64) -> u64 {
    crate::ecs::episode_seed(seed ^ 0xC011_EC70, level, index as usize)
}

/// Runs one expert episode: instruction and initial state from the episode seed; stops at the
/// first success (marked terminal), at the horizon (marked timeout) or after `max_steps`.
pub fn run_episode(
    spec: EnvSpec,
    index: u64,
    plan: &CollectPlan,
) -> Result<EpisodeRecord, CliError> {
    let ep_seed = collection_seed(plan.seed, plan.level, index);
    let mut rng = ChaCha8Rng::seed_from_u64(ep_seed);
    let instruction = spec.sample_instruction(plan.level, &mut rng);
    let mut env = spec.make();
    Ok(EpisodeRecord::record(
        &mut *env,
        index,
        ep_seed,
        instruction,
        plan.max_steps.unwrap_or(usize::MAX),
        |env| env.expert_action(plan.noise, &mut rng),
    )?)
}

/// Collects into `dir`, resuming an interrupted collection with the same plan.
pub fn collect(
    plan: &CollectPlan,
    dir: &Path,
    progress: &indicatif::ProgressBar,
) -> Result<Manifest, CliError> {
    let probe = plan.specs[0].make();
    let action_space = match probe.random_action(&mut ChaCha8Rng::seed_from_u64(0)) {
        Action::Discrete(_) => ActionSpace::Discrete { n: 40 },
        Action::Continuous(v) => ActionSpace::Continuous { dim: v.len() },
    };
    let header = DatasetHeader {
        env: plan.specs[0].kind().name().into(),
        origin: Origin::Real,
        collection: Collection {
            policy: "expert".into(),
            seed: plan.seed,
            noise: plan.noise,
            episodes: plan.episodes,
            episodes_per_shard: plan.episodes_per_shard,
            task: plan.task_arg.clone(),
            preset: plan.preset.clone(),
            max_steps: plan.max_steps,
        },
        split: SplitInfo {
            level: plan.level.name().into(),
            definition: format!(
                "{}-level instructions of vlgor-sim {} (seeded split; see `vlgor tasks --env {}`)",
                plan.level,
                env!("CARGO_PKG_VERSION"),
                plan.specs[0].kind()
            ),
        },
        state_dim: probe.state().len(),
        obs_dim: probe.observation().len(),
        action_space,
        frames: plan.frames.map(|r| FrameSpec {
            height: r.height as usize,
            width: r.width as usize,
            camera: probe.cameras()[0].to_string(),
        }),
    };
    let mut renderer = plan
        .frames
        .map(vlgor_render::Renderer::new)
        .transpose()
        .map_err(|e| CliError::Other(e.into()))?;
    let mut writer =
        DatasetWriter::create_or_resume(dir, header).map_err(|e| CliError::Input(e.to_string()))?;
    let done = writer.episodes_done();
    if done > 0 {
        tracing::info!(done, "resuming collection");
    }
    progress.set_position(done as u64);
    let mut next = done;
    while next < plan.episodes {
        let end = (next + plan.episodes_per_shard).min(plan.episodes);
        let mut shard: Vec<EpisodeRecord> = (next..end)
            .into_par_iter()
            .map(|i| {
                let r = run_episode(plan.specs[i % plan.specs.len()], i as u64, plan);
                progress.inc(1);
                r
            })
            .collect::<Result<_, _>>()?;
        if let Some(renderer) = renderer.as_mut() {
            for (k, rec) in shard.iter_mut().enumerate() {
                rec.frames = Some(episode_frames(
                    plan.specs[(next + k) % plan.specs.len()],
                    rec,
                    renderer,
                )?);
            }
        }
        writer
            .append_shard(&shard)
            .map_err(|e| CliError::Other(e.into()))?;
        next = end;
    }
    Ok(writer.manifest().clone())
}

/// Renders the frames of a recorded episode from its states with the env's default camera.
pub fn episode_frames(
    spec: EnvSpec,
    rec: &EpisodeRecord,
    renderer: &mut vlgor_render::Renderer,
) -> Result<Vec<u8>, CliError> {
    let mut env = spec.make();
    env.reset(rec.seed, &rec.instruction)?;
    let state_dim = rec.states.len() / (rec.len() + 1);
    let camera = env.cameras()[0];
    vlgor_render::render_states(&mut *env, &rec.states, state_dim, camera, renderer)
        .map_err(|e| CliError::Other(e.into()))
}
