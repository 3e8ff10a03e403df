//! Where imagined rollouts start, for every generator alike: the plan's checks, the source
//! dataset, the (source episode, instruction) of each rollout, and the fair-start redraw.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use vlgor_sim::dataset::Dataset;
use vlgor_sim::{EnvKind, Instruction};

use super::{ImaginePlan, ImagineSummary, PerceivedGoal};
use crate::error::CliError;
use crate::frames::env_for;

/// Mixed into the run's seed for the draws of sources and instructions.
pub const PICK_SEED: u64 = 0x001A_617E;

/// Instruction draws per source episode before a goal that already holds at the first frame
/// is kept anyway (the validator's label check then sees it).
const FAIR_START_TRIES: usize = 8;
/// Source episodes drawn for one rollout before an aimed set is declared unreachable.
const SOURCE_TRIES: usize = 10_000;

/// Refuses a plan without rollouts, horizon or batch, or whose output already holds a dataset.
pub fn check_plan(plan: &ImaginePlan) -> Result<(), CliError> {
    if plan.count == 0 || plan.horizon == 0 || plan.batch == 0 || plan.candidates == 0 {
        return Err(CliError::Input(
            "imagination needs --count, --horizon, --candidates and the batch size >= 1".into(),
        ));
    }
    if !(plan.temperature.is_finite() && plan.temperature >= 0.0) {
        return Err(CliError::Input(format!(
            "--temperature {}: a finite number >= 0 (0 = greedy)",
            plan.temperature
        )));
    }
    if plan
        .out
        .join(vlgor_sim::dataset::manifest::MANIFEST_FILE)
        .exists()
    {
        return Err(CliError::Input(format!(
            "{} already holds a dataset; choose another --out or delete it",
            plan.out.display()
        )));
    }
    Ok(())
}

/// The source dataset: real episodes with states.
pub fn open_sources(plan: &ImaginePlan) -> Result<Dataset, CliError> {
    let data = Dataset::open(&plan.from, Some(&plan.env.to_string()))
        .map_err(|e| CliError::Input(e.to_string()))?;
    if data.states.is_empty() || data.episodes.is_empty() {
        return Err(CliError::Input(format!(
            "{}: imagination starts from real episodes with states; this dataset has {} \
             episodes and {} states",
            plan.from.display(),
            data.episodes.len(),
            if data.states.is_empty() { "no" } else { "its" }
        )));
    }
    Ok(data)
}

/// (source episode, instruction) of every rollout start; a source that cannot give the set's
/// instructions (an aimed prompt that no swap of it reaches) is replaced by another, and an
/// instruction whose goal already holds at the source's first state is redrawn (fair start).
/// Every generator draws the same starts from the same seed.
pub fn pick_sources(
    plan: &ImaginePlan,
    data: &Dataset,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<(usize, Instruction)>, CliError> {
    let mut picks = Vec::with_capacity(plan.count);
    for i in 0..plan.count {
        let mut tries = 0;
        let (e, first) = loop {
            let e = rng.random_range(0..data.episodes.len());
            if let Some(ins) = plan.set.pick(&data.episodes[e].instruction, i, rng)? {
                break (e, ins);
            }
            tries += 1;
            if tries >= SOURCE_TRIES {
                return Err(CliError::Input(format!(
                    "{}: no source episode gives '{}' instructions in {SOURCE_TRIES} draws",
                    plan.from.display(),
                    plan.set.name()
                )));
            }
        };
        let meta = &data.episodes[e];
        let start = start_perceived(plan.env, data, e)?;
        let (ins, _) = fair_start(plan, &meta.instruction, meta.seed, i, &first, &start, rng)?;
        picks.push((e, ins));
    }
    Ok(picks)
}

/// The perceived state (the policy's observation) of episode `e`'s first frame.
fn start_perceived(env: EnvKind, data: &Dataset, e: usize) -> Result<Vec<f32>, CliError> {
    let meta = &data.episodes[e];
    let mut sim = env_for(meta);
    sim.reset(meta.seed, &meta.instruction)?;
    sim.set_state(data.state(meta.first_row))?;
    Ok(super::records::perceive(env, &sim.observation()))
}

/// Fair start: redraws (from the source's instruction, as rollout `index`) an instruction
/// whose goal already holds at the perceived first state `start`, a few times at most.
pub fn fair_start(
    plan: &ImaginePlan,
    source: &Instruction,
    seed: u64,
    index: usize,
    first: &Instruction,
    start: &[f32],
    rng: &mut ChaCha8Rng,
) -> Result<(Instruction, PerceivedGoal), CliError> {
    let mut tries = 1;
    let mut ins = first.clone();
    let mut goal = PerceivedGoal::new(&ins, seed, start)?;
    while goal.success(start) && tries < FAIR_START_TRIES {
        tries += 1;
        if let Some(again) = plan.set.pick(source, index, rng)? {
            goal = PerceivedGoal::new(&again, seed, start)?;
            ins = again;
        }
    }
    Ok((ins, goal))
}

/// Completes a summary of `validate_and_write` with the run's instruction set, its total time
/// since `start` and the generation speed (`made` transitions in `generate_seconds`), and
/// writes it to `OUT/imagine.json`.
pub fn finish(
    plan: &ImaginePlan,
    summary: ImagineSummary,
    start: std::time::Instant,
    made: usize,
    generate_seconds: f64,
) -> Result<ImagineSummary, CliError> {
    let summary = ImagineSummary {
        instructions: plan.set.name(),
        seconds: start.elapsed().as_secs_f64(),
        imagined_frames_per_sec: made as f64 / generate_seconds.max(1e-9),
        ..summary
    };
    crate::vlm_run::write_json(&plan.out.join(super::SUMMARY_FILE), &summary)?;
    Ok(summary)
}
