//! The systems of the evaluation loop: small functions over typed queries and resources.

use bevy_ecs::prelude::*;
use rayon::prelude::*;

use super::{
    ChosenAction, EnvSlot, Episode, EpisodeOutcome, EpisodeQueue, LoopError, Outcomes,
    ProgressHook, Scripted,
};

/// A scripted policy picks an action for every live env (envs in parallel across cores); a
/// learned policy acts in `learned::act_learned` instead, for all envs in one batch.
pub fn act(
    policy: Option<Res<Scripted>>,
    mut query: Query<(&EnvSlot, &mut Episode, &mut ChosenAction)>,
) {
    let Some(policy) = policy.map(|p| *p) else {
        return;
    };
    let mut items: Vec<_> = query.iter_mut().collect();
    items.par_iter_mut().for_each(|(slot, episode, chosen)| {
        let mut env = slot.0.lock().expect("env lock");
        chosen.0 = Some(match policy {
            Scripted::Expert { noise } => env.expert_action(noise, &mut episode.rng),
            Scripted::Random => env.random_action(&mut episode.rng),
        });
    });
}

/// Steps the physics of every live env with its chosen action and scores the step.
pub fn step(
    mut errors: ResMut<LoopError>,
    mut query: Query<(&EnvSlot, &mut Episode, &mut ChosenAction)>,
) {
    let mut items: Vec<_> = query.iter_mut().collect();
    let failures: Vec<String> = items
        .par_iter_mut()
        .filter_map(|(slot, episode, chosen)| {
            let action = chosen.0.take()?;
            let mut env = slot.0.lock().expect("env lock");
            match env.step(&action) {
                Ok(outcome) => {
                    episode.steps += 1;
                    episode.episode_return += outcome.reward;
                    episode.success |= outcome.success;
                    episode.finished = outcome.success
                        || outcome.terminal
                        || outcome.timeout
                        || env.steps() >= env.horizon();
                    None
                }
                Err(e) => Some(format!(
                    "episode {} (seed {}): {e}",
                    episode.job.index, episode.job.seed
                )),
            }
        })
        .collect();
    if let Some(first) = failures.into_iter().next() {
        errors.0.get_or_insert(first);
    }
}

/// Records finished episodes, then restarts their env on the next queued episode or despawns it.
pub fn finish(
    mut commands: Commands,
    mut queue: ResMut<EpisodeQueue>,
    mut outcomes: ResMut<Outcomes>,
    mut errors: ResMut<LoopError>,
    progress: Res<ProgressHook>,
    mut query: Query<(Entity, &EnvSlot, &mut Episode)>,
) {
    for (entity, slot, mut episode) in query.iter_mut() {
        if !episode.finished {
            continue;
        }
        let judges = slot.0.lock().expect("env lock").step_judges();
        outcomes.0.push(EpisodeOutcome {
            index: episode.job.index,
            seed: episode.job.seed,
            level: episode.job.level,
            eval_seed: episode.job.eval_seed,
            instruction: episode.job.instruction.text.clone(),
            success: episode.success,
            steps: episode.steps,
            episode_return: episode.episode_return,
            judges,
        });
        progress.0.inc(1);
        match queue.0.pop_front() {
            Some(job) => {
                let mut env = slot.0.lock().expect("env lock");
                if let Err(e) = env.reset(job.seed, &job.instruction) {
                    errors
                        .0
                        .get_or_insert(format!("reset of episode {}: {e}", job.index));
                }
                *episode = Episode::new(job);
            }
            None => commands.entity(entity).despawn(),
        }
    }
}
