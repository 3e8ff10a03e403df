//! Expert data collection: ε-noisy scripted experts on one level's instructions (training
//! level by default; an unseen level gives the experiment's oracle data), episodes in parallel
//! across cores, written shard by shard so a killed run resumes.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::path::Path;
use vlgor_sim::dataset::parts::{self, Part, PartWriter};
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

/// The header of the dataset `plan` collects.
fn header(plan: &CollectPlan) -> DatasetHeader {
    let probe = plan.specs[0].make();
    let action_space = match probe.random_action(&mut ChaCha8Rng::seed_from_u64(0)) {
        Action::Discrete(_) => ActionSpace::Discrete { n: 40 },
        Action::Continuous(v) => ActionSpace::Continuous { dim: v.len() },
    };
    DatasetHeader {
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
    }
}

/// The episodes of shard file `f`: `f·S .. (f+1)·S`, the last one shorter.
fn shard_range(plan: &CollectPlan, f: usize) -> std::ops::Range<usize> {
    let per = plan.episodes_per_shard.max(1);
    f * per..((f + 1) * per).min(plan.episodes)
}

/// Shard files of the whole collection.
fn shard_count(plan: &CollectPlan) -> usize {
    plan.episodes.div_ceil(plan.episodes_per_shard.max(1))
}

/// Runs the episodes of shard file `f` (episodes in parallel across cores), with their
/// frames where the plan stores them.
fn shard_episodes(
    plan: &CollectPlan,
    f: usize,
    renderer: Option<&mut vlgor_render::Renderer>,
    progress: &indicatif::ProgressBar,
) -> Result<Vec<EpisodeRecord>, CliError> {
    let range = shard_range(plan, f);
    let first = range.start;
    let mut shard: Vec<EpisodeRecord> = range
        .into_par_iter()
        .map(|i| {
            let r = run_episode(plan.specs[i % plan.specs.len()], i as u64, plan);
            progress.inc(1);
            r
        })
        .collect::<Result<_, _>>()?;
    if let Some(renderer) = renderer {
        for (k, rec) in shard.iter_mut().enumerate() {
            rec.frames = Some(episode_frames(
                plan.specs[(first + k) % plan.specs.len()],
                rec,
                renderer,
            )?);
        }
    }
    Ok(shard)
}

fn renderer(plan: &CollectPlan) -> Result<Option<vlgor_render::Renderer>, CliError> {
    plan.frames
        .map(vlgor_render::Renderer::new)
        .transpose()
        .map_err(|e| CliError::Other(e.into()))
}

/// Collects into `dir`, resuming an interrupted collection with the same plan. A collection
/// written in parts ([`collect_part`]) is completed (the shards no part wrote) and merged.
pub fn collect(
    plan: &CollectPlan,
    dir: &Path,
    progress: &indicatif::ProgressBar,
) -> Result<Manifest, CliError> {
    if parts::in_parts(dir) {
        collect_part(plan, dir, Part::WHOLE, progress)?;
        return parts::merge(dir, shard_count(plan)).map_err(|e| CliError::Other(e.into()));
    }
    let mut renderer = renderer(plan)?;
    let mut writer = DatasetWriter::create_or_resume(dir, header(plan))
        .map_err(|e| CliError::Input(e.to_string()))?;
    let done = writer.episodes_done();
    if done > 0 {
        tracing::info!(done, "resuming collection");
    }
    progress.set_position(done as u64);
    for f in writer.shards_done()..shard_count(plan) {
        let shard = shard_episodes(plan, f, renderer.as_mut(), progress)?;
        writer
            .append_shard(&shard)
            .map_err(|e| CliError::Other(e.into()))?;
    }
    Ok(writer.manifest().clone())
}

/// Collects `part`'s shard files of `dir` (shard `f` when `part` owns `f`), skipping those
/// already written; [`collect`] on the same plan then merges the parts into the dataset the
/// sequential collection writes, byte for byte. A finished dataset is left as it is.
pub fn collect_part(
    plan: &CollectPlan,
    dir: &Path,
    part: Part,
    progress: &indicatif::ProgressBar,
) -> Result<(), CliError> {
    if !parts::in_parts(dir)
        && let Ok(m) = Manifest::read(dir)
        && m.counts.episodes == plan.episodes
    {
        return Ok(());
    }
    let mut renderer = renderer(plan)?;
    let writer = PartWriter::open(dir, header(plan)).map_err(|e| CliError::Input(e.to_string()))?;
    for f in (0..shard_count(plan)).filter(|&f| part.owns(f)) {
        if writer.written(f) {
            progress.inc(shard_range(plan, f).len() as u64);
            continue;
        }
        let shard = shard_episodes(plan, f, renderer.as_mut(), progress)?;
        writer
            .write(f, &shard)
            .map_err(|e| CliError::Other(e.into()))?;
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_collection_in_parts_merges_into_the_sequential_dataset() {
        let tmp = tempfile::tempdir().unwrap();
        let plan = CollectPlan {
            specs: EnvSpec::all_of(vlgor_sim::EnvKind::Clevr),
            task_arg: None,
            episodes: 25,
            seed: 5,
            noise: 0.3,
            episodes_per_shard: 4,
            preset: "test".into(),
            frames: None,
            level: Level::Seen,
            max_steps: Some(6),
        };
        let hidden = indicatif::ProgressBar::hidden();
        let seq = tmp.path().join("seq");
        collect(&plan, &seq, &hidden).unwrap();
        // Parts 2 and 1 of 3 as jobs would run them; part 0 never ran, so the merging
        // collection writes its shards itself.
        let par = tmp.path().join("par");
        for k in [2, 1] {
            collect_part(&plan, &par, Part::new(k, 3).unwrap(), &hidden).unwrap();
        }
        assert!(parts::in_parts(&par));
        let merged = collect(&plan, &par, &hidden).unwrap();
        assert!(!parts::in_parts(&par));
        assert_eq!(merged, Manifest::read(&seq).unwrap());
        assert_eq!(merged.shards.len(), 7);
        for f in std::iter::once("manifest.json".to_string())
            .chain(merged.shards.iter().map(|s| s.file.clone()))
        {
            assert_eq!(
                std::fs::read(seq.join(&f)).unwrap(),
                std::fs::read(par.join(&f)).unwrap(),
                "{f}: same bytes"
            );
        }
        // A part run on the finished dataset changes nothing.
        collect_part(&plan, &par, Part::new(0, 3).unwrap(), &hidden).unwrap();
        assert!(!parts::in_parts(&par));
    }
}
