//! Imagination with the KALM baseline: rollouts generated as state vectors from the instruction
//! and a real initial observation (no images), then the same downstream path as the world
//! model's: rewards and success from the environment's goal functions on the generated
//! (perceived) states ([`PerceivedGoal`]), full simulator states rebuilt from them
//! (`perceived_to_state`), the same physics validation and filter, and frames rendered from the
//! generated states by the wgpu renderer (as the paper renders KALM's states with MuJoCo) at
//! the world model's frame size, for image policies. The frame-consistency check does not
//! apply: those frames are renders of the very states checked.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};
use std::time::Instant;
use vlgor_sim::Instruction;
use vlgor_sim::validate::Replayer;
use vlgor_vlm::SentenceEncoder;
use vlgor_vlm::kalm::{KalmModel, Sampling, generate};
use vlgor_vlm::world_model::{CachedText, WorldModelConfig};

use super::records::{self, RolloutDraft};
use super::{Dynamics, ImaginePlan, ImagineSummary, PerceivedGoal, sources};
use crate::context::Context;
use crate::error::CliError;
use crate::frames::env_for;
use crate::vlm_run::{renderer, vlm_error};
use vlgor_vlm::world_model::lora::LoraAdapters;

/// The stage directory of a `train-kalm` run that imagination loads (the LoRA stage).
pub const KALM_FINAL_STAGE: &str = "lora";

/// The checkpoint of a `train-kalm` run directory (its LoRA stage), or `dir` itself when it is
/// a checkpoint.
pub fn kalm_checkpoint(dir: &Path) -> PathBuf {
    let stage = dir.join(KALM_FINAL_STAGE);
    if stage
        .join(vlgor_vlm::world_model::checkpoint::CONFIG_FILE)
        .is_file()
    {
        stage
    } else {
        dir.to_path_buf()
    }
}

/// Loads the generator of `plan.vlm` for inference (adapters merged), checking its simulator.
fn load(ctx: &Context, plan: &ImaginePlan) -> Result<KalmModel, CliError> {
    let dir = kalm_checkpoint(&plan.vlm);
    let mut model = KalmModel::load(&dir, ctx.device).map_err(|e| {
        CliError::Input(format!(
            "{}: not a finished `vlgor train-kalm` run ({e})",
            plan.vlm.display()
        ))
    })?;
    let c = model.config();
    if c.env != plan.env {
        return Err(CliError::Input(format!(
            "{} was trained on {}, not '{}'",
            dir.display(),
            c.env,
            plan.env
        )));
    }
    model.merge_lora();
    Ok(model)
}

/// Runs an imagination plan with KALM (`plan.vlm`: a `train-kalm` run) and writes `plan.out`.
pub fn imagine_kalm(ctx: &Context, plan: &ImaginePlan) -> Result<ImagineSummary, CliError> {
    sources::check_plan(plan)?;
    if plan.readout.is_some() {
        return Err(CliError::Input(
            "--readout belongs to the world model; KALM generates states, no frames to read".into(),
        ));
    }
    if plan.candidates != 1
        || plan.temperature > 0.0
        || plan.verified_only
        || plan.dynamics != Dynamics::WorldModel
    {
        return Err(CliError::Input(
            "--candidates, --temperature, --verify and --dynamics belong to the world model; \
             KALM imagines one rollout per start, sampled at the preset's kalm.temperature"
                .into(),
        ));
    }
    let start = Instant::now();
    let model = load(ctx, plan)?;
    let h = model.config().horizon_steps;
    let max_steps = model.config().max_steps as usize;
    let data = sources::open_sources(plan)?;
    let mut rng = ChaCha8Rng::seed_from_u64(ctx.seed ^ sources::PICK_SEED);
    let picks = sources::pick_sources(plan, &data, &mut rng)?;
    let encoder =
        SentenceEncoder::from_env(ctx.device).map_err(|e| CliError::Input(e.to_string()))?;
    let mut text = CachedText::new(encoder);
    // The world model's frame size, so both generators' datasets feed image policies alike.
    let size = WorldModelConfig::preset(&ctx.config.vlm.model, plan.env)
        .map_err(vlm_error)?
        .image_size;
    let mut r = renderer(ctx, size)?;
    let mut replayer = Replayer::new();
    let bar = ctx.progress(
        plan.count as u64,
        &format!("KALM imagining {}", plan.set.name()),
    );
    let mut drafts = Vec::with_capacity(plan.count);
    let mut made = 0usize;
    for (b, chunk) in picks.chunks(plan.batch).enumerate() {
        let mut instructions: Vec<Instruction> = Vec::with_capacity(chunk.len());
        let mut goals: Vec<PerceivedGoal> = Vec::with_capacity(chunk.len());
        let mut initial = Vec::with_capacity(chunk.len());
        for (k, (e, first)) in chunk.iter().enumerate() {
            let meta = &data.episodes[*e];
            let obs = data.observation(meta.first_row).to_vec();
            let begin = records::perceive(plan.env, &obs);
            let (ins, goal) = sources::fair_start(
                plan,
                &meta.instruction,
                meta.seed,
                b * plan.batch + k,
                first,
                &begin,
                &mut rng,
            )?;
            instructions.push(ins);
            goals.push(goal);
            initial.push(obs);
        }
        let texts: Vec<&str> = instructions.iter().map(|i| i.text.as_str()).collect();
        let env = plan.env;
        let mut check = |i: usize, o: &[f32]| goals[i].success(&records::perceive(env, o));
        // Step-level goals (one push decides them) need one step.
        let horizon = if instructions.iter().all(|i| i.goal.is_step_level()) {
            1
        } else {
            plan.horizon.min(max_steps)
        };
        let sampling = Sampling {
            temperature: ctx.config.kalm.temperature,
            seed: ctx.seed.wrapping_mul(0x9E37_79B9).wrapping_add(b as u64),
        };
        let out = generate(
            &model,
            &mut text,
            &texts,
            &initial,
            horizon,
            sampling,
            Some(&mut check),
        )
        .map_err(vlm_error)?;
        for (k, &(e, _)) in chunk.iter().enumerate() {
            let mut observations = out.observations[k].clone();
            let mut actions = out.actions[k].clone();
            // A step-level goal (CLEVR "move ball X toward D") is decided by its first push.
            if instructions[k].goal.is_step_level() {
                observations.truncate(2);
                actions.truncate(1);
            }
            made += actions.len();
            let generated = Generated {
                episode: e,
                instruction: &instructions[k],
                goal: &goals[k],
                observations: &observations,
                actions,
            };
            drafts.push(generated_draft(&mut replayer, &mut r, &data, generated, h)?);
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    let generate_seconds = start.elapsed().as_secs_f64();
    let stage = format!("kalm-{KALM_FINAL_STAGE}");
    let summary =
        records::validate_and_write_from(ctx, plan, &mut drafts, &mut r, size, &stage, "kalm")?;
    let summary = ImagineSummary {
        starts: picks.len(),
        candidates_per_start: 1,
        temperature: ctx.config.kalm.temperature,
        ..summary
    };
    sources::finish(plan, summary, start, made, generate_seconds)
}

/// One generated rollout and where it started.
pub struct Generated<'a> {
    /// Source episode in the dataset.
    pub episode: usize,
    pub instruction: &'a Instruction,
    pub goal: &'a PerceivedGoal,
    /// o_0 (the real one), o_1, ... as the generator wrote them.
    pub observations: &'a [Vec<f32>],
    pub actions: Vec<vlgor_sim::Action>,
}

/// The draft of a generated rollout for validation: perceived states taken from the generated
/// observations, rewards and success from the goal, frames rendered from the states (each
/// perceived state made a full simulator state on the source episode's initial state, drawn
/// with the simulator's first camera), no frame-consistency check.
pub fn generated_draft(
    replayer: &mut Replayer,
    renderer: &mut vlgor_render::Renderer,
    data: &vlgor_sim::dataset::Dataset,
    g: Generated,
    h: usize,
) -> Result<RolloutDraft, CliError> {
    let meta = &data.episodes[g.episode];
    let kind = vlgor_sim::validate::perceive::env_of(&g.instruction.goal);
    let perceived: Vec<Vec<f32>> = g
        .observations
        .iter()
        .map(|o| records::perceive(kind, o))
        .collect();
    let base = data.state(meta.first_row);
    let mut states = Vec::with_capacity(perceived.len() * base.len());
    states.extend_from_slice(base);
    for p in &perceived[1..] {
        states.extend(replayer.perceived_to_state(&g.instruction.goal, base, p)?);
    }
    let mut env = env_for(meta);
    env.reset(meta.seed, &meta.instruction)?;
    let camera = env.cameras()[0];
    let pixels = vlgor_render::render_states(&mut *env, &states, base.len(), camera, renderer)
        .map_err(|e| CliError::Other(e.into()))?;
    let fl = (pixels.len() / perceived.len().max(1)).max(1);
    let frames = pixels.chunks(fl).map(<[u8]>::to_vec).collect();
    Ok(RolloutDraft::new(
        data,
        g.episode,
        g.instruction.clone(),
        frames,
        g.actions,
        perceived,
        g.goal,
        h,
    )?
    .without_frame_check())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imagination::InstructionSet;
    use vlgor_sim::validate::Filter;
    use vlgor_sim::{Action, Level};

    fn context() -> Context {
        Context::quick_for_tests(None)
    }

    /// A generated CLEVR rollout whose second state puts ball 1 inside ball 0 is flagged for
    /// interpenetration through KALM's path (perceived states → full states → validator), the
    /// transition into it counted, and no frame check runs on frames rendered from the states.
    #[test]
    fn overlapping_balls_are_flagged_as_interpenetration() {
        let ctx = context();
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clevr-4");
        let data = vlgor_sim::dataset::Dataset::open(&fixture, Some("clevr")).unwrap();
        let meta = &data.episodes[0];
        let o0 = data.observation(meta.first_row).to_vec();
        let mut o1 = o0.clone();
        // Ball 1's centre 5 cm from ball 0's: two 0.13 m balls overlap by 0.21 m.
        o1[2] = o0[0] + 0.05;
        o1[3] = o0[1];
        let observations = [o0.clone(), o1];
        let goal = PerceivedGoal::new(&meta.instruction, meta.seed, &o0).unwrap();
        let size = 64;
        let mut r = renderer(&ctx, size).unwrap();
        let generated = Generated {
            episode: 0,
            instruction: &meta.instruction,
            goal: &goal,
            observations: &observations,
            actions: vec![Action::Discrete(8)],
        };
        let mut drafts =
            vec![generated_draft(&mut Replayer::new(), &mut r, &data, generated, 1).unwrap()];
        let out = tempfile::tempdir().unwrap();
        let plan = ImaginePlan {
            env: vlgor_sim::EnvKind::Clevr,
            vlm: PathBuf::from("kalm-run"),
            readout: None,
            from: fixture,
            set: InstructionSet::Level(Level::Seen),
            count: 1,
            out: out.path().join("imagined"),
            horizon: 1,
            filter: Filter::Truncate,
            batch: 1,
            candidates: 1,
            temperature: 0.0,
            verified_only: false,
            dynamics: crate::imagination::Dynamics::WorldModel,
            actions: crate::imagination::ImagineActions::ActionHead,
        };
        let s = records::validate_and_write_from(
            &ctx,
            &plan,
            &mut drafts,
            &mut r,
            size,
            "kalm-lora",
            "kalm",
        )
        .unwrap();
        assert_eq!(
            s.by_reason.get("interpenetration"),
            Some(&1),
            "{:?}",
            s.by_reason
        );
        assert!(
            !s.by_reason.contains_key("frame_consistency"),
            "{:?}",
            s.by_reason
        );
        assert_eq!(s.rejected, 1, "the first transition is condemned");
        let p = &s.plausibility;
        assert_eq!(p.transitions_by_reason.get("interpenetration"), Some(&1));
        assert_eq!((p.flagged_transitions, p.replayed_transitions), (1, 1));
        assert!(p.mean_max_position_error_m > 0.01, "{p:?}");
    }
}
