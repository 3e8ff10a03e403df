//! World-model quality on held-out real rollouts (the paper's Table 1 metrics):
//! (a) one step, (b) whole rollouts imagined with the real actions fed in, each as PSNR, SSIM
//! (Gaussian 11×11, σ 1.5) and MED (the main object's read-out position against the true one,
//! normalised by the workspace); (c) the goal-reaching rate of counterfactual rollouts imagined
//! freely, judged on read-out states. A copy-the-input-frame baseline is reported beside (a)
//! and (b).

mod state_error;
pub use state_error::StateError;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::time::Instant;
use vlgor_sim::dataset::Dataset;
use vlgor_sim::language::CounterfactualKind;
use vlgor_sim::{Action, EnvKind, GoalSpec, Instruction};
use vlgor_vlm::SentenceEncoder;
use vlgor_vlm::metrics::{med, psnr, ssim, to_unit};
use vlgor_vlm::perception::{ReadoutKind, StateReadout};
use vlgor_vlm::world_model::samples::keyframe_action;
use vlgor_vlm::world_model::{
    CachedText, GoalCheck, PredictedFrames, PredictedObjects, StateCanvas, TextSource, VisualHead,
    WorldModel, imagine, rollout_with_actions,
};

use crate::config_vlm::VlmSection;
use crate::context::Context;
use crate::error::CliError;
use crate::frames::env_for;
use crate::imagination::records::perceive;
use crate::imagination::{InstructionSet, PerceivedGoal};
use crate::vlm_run::{renderer, vlm_error};

/// Mean PSNR (dB), SSIM and MED over `n` predicted frames.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct Quality {
    pub psnr: f64,
    pub ssim: f64,
    pub med: f64,
    pub n: usize,
}

#[derive(Default)]
struct Sums {
    psnr: f64,
    ssim: f64,
    med: f64,
    n: usize,
}

impl Sums {
    fn mean(&self) -> Quality {
        let d = self.n.max(1) as f64;
        Quality {
            psnr: self.psnr / d,
            ssim: self.ssim / d,
            med: self.med / d,
            n: self.n,
        }
    }
}

/// What `vlgor vlm eval` reports.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct VlmEvalReport {
    pub stage: String,
    pub one_step: Quality,
    pub rollout: Quality,
    /// Predicting "nothing changes" (the input frame), for scale.
    pub copy_one_step: Quality,
    pub copy_rollout: Quality,
    pub goal_rate: f64,
    pub goal_rollouts: usize,
    /// CLEVR one-step samples: how far the pushed ball moves (absent for Meta-World and in
    /// reports of earlier releases).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push: Option<PushDisplacement>,
    /// The model's visual head ("direct" in reports of earlier releases).
    #[serde(default)]
    pub visual_head: String,
    /// Meta-World with the object-state head: over the whole held-out rollouts, the mean
    /// absolute error of every predicted perceived value (hand x, y, z, gripper opening, object
    /// point x, y, z; m, the opening in its own units) against the true one, without the
    /// readout; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_error: Option<StateError>,
    /// Meta-World with the object-state head: the true states of the same whole rollouts
    /// drawn the way the head draws its predictions, scored like them (PSNR and SSIM against
    /// the real frames, MED through the readout): the floor the head's frames cannot go below
    /// however well it predicts; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drawn_truth: Option<Quality>,
    pub seconds: f64,
}

/// The pushed ball's displacement over one push: imagined (read out of the predicted frame
/// against the read-out input frame) and rapier's (the held-out episode's true states), on the
/// same start states and actions.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct PushDisplacement {
    /// Median imagined displacement (m).
    pub imagined_median: f64,
    /// Median displacement in the real rollouts (m).
    pub real_median: f64,
    /// imagined_median / real_median (the bar: 0.8–1.2).
    pub ratio: f64,
    pub n: usize,
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        0.5 * (v[m - 1] + v[m])
    }
}

/// The distance (m) ball `b` moved between two perceived CLEVR states.
fn ball_moved(from: &[f32], to: &[f32], b: usize) -> f64 {
    let (dx, dy) = (to[2 * b] - from[2 * b], to[2 * b + 1] - from[2 * b + 1]);
    f64::from(dx.hypot(dy))
}

/// Indices of the main object's coordinates in a perceived state.
fn main_object(goal: &GoalSpec) -> Vec<usize> {
    match goal {
        GoalSpec::Clevr(g) => {
            let b = g.balls().first().copied().unwrap_or(0);
            vec![2 * b, 2 * b + 1]
        }
        GoalSpec::MetaWorld(g) if g.task == vlgor_sim::metaworld::Task::Reach => vec![0, 1, 2],
        GoalSpec::MetaWorld(_) => vec![4, 5, 6],
    }
}

/// MED of the main object (coordinates `object` of perceived states of `kind`): `pred` against
/// `truth`, each axis normalised by the workspace; 0 where the lengths do not fit.
fn object_med(kind: ReadoutKind, pred: &[f32], truth: &[f32], object: &[usize]) -> f64 {
    let bounds = kind.bounds();
    let pick = |v: &[f32]| object.iter().map(|&i| v[i]).collect::<Vec<f32>>();
    let bnds: Vec<(f32, f32)> = object.iter().map(|&i| bounds[i]).collect();
    med(&pick(pred), &pick(truth), &bnds).unwrap_or(0.0)
}

struct Scorer<'a> {
    readout: &'a StateReadout,
    size: usize,
}

impl Scorer<'_> {
    /// Adds frame `pred` against the real frame `real` whose true perceived state is `truth`.
    fn add(
        &self,
        s: &mut Sums,
        pred: &[u8],
        real: &[u8],
        truth: &[f32],
        object: &[usize],
    ) -> Result<(), CliError> {
        let (a, b) = (to_unit(pred), to_unit(real));
        let read = self.readout.read(pred, 1).map_err(vlm_error)?;
        s.psnr += psnr(&a, &b, 1.0).unwrap_or(0.0);
        s.ssim += ssim(&a, &b, self.size, self.size, 3, 1.0).unwrap_or(0.0);
        s.med += object_med(self.readout.kind(), &read[0], truth, object);
        s.n += 1;
        Ok(())
    }
}

/// One held-out episode cut into keyframes.
struct Keyframes {
    /// Index of the episode in its dataset.
    episode: usize,
    instruction: Instruction,
    seed: u64,
    /// The simulator state of the first keyframe.
    start_state: Vec<f32>,
    /// Real frames s_0, s_h, ..., u8 [H, W, 3].
    frames: Vec<Vec<u8>>,
    /// True perceived states of those frames.
    truth: Vec<Vec<f32>>,
    /// ā_0, ā_h, ... (one fewer than frames).
    actions: Vec<Action>,
}

/// Episode `e` cut into keyframes: all of them, or the first `limit` transitions' worth.
fn keyframes(
    data: &Dataset,
    e: usize,
    h: usize,
    r: &mut vlgor_render::Renderer,
    kind: EnvKind,
    limit: Option<usize>,
) -> Result<Keyframes, CliError> {
    let meta = &data.episodes[e];
    let k = (meta.length / h).min(limit.unwrap_or(usize::MAX));
    let mut env = env_for(meta);
    env.reset(meta.seed, &meta.instruction)?;
    let camera = env.cameras()[0];
    let d = data.manifest.obs_dim;
    let mut states = Vec::new();
    let mut truth = Vec::new();
    for j in 0..=k {
        let row = meta.first_row + j * h;
        states.extend_from_slice(data.state(row));
        truth.push(perceive(kind, &data.observations[row * d..(row + 1) * d]));
    }
    let sd = data.manifest.state_dim;
    let pixels = vlgor_render::render_states(&mut *env, &states, sd, camera, r)
        .map_err(|e| CliError::Other(e.into()))?;
    let start_state = states[..sd].to_vec();
    let fl = pixels.len() / (k + 1);
    let actions = (0..k)
        .map(|j| {
            let w: Vec<Action> = (j * h..(j + 1) * h)
                .map(|t| data.actions.get(meta.first_transition + t))
                .collect();
            keyframe_action(&w)
        })
        .collect();
    Ok(Keyframes {
        episode: e,
        instruction: meta.instruction.clone(),
        seed: meta.seed,
        start_state,
        frames: pixels.chunks(fl).map(<[u8]>::to_vec).collect(),
        truth,
        actions,
    })
}

/// The frames `model` imagines from the first keyframes of `eps` with actions `acts` fed in
/// (the object-state head draws them from the episodes' start states), with the object-state
/// head's predicted tracked objects of each frame (empty for the other heads).
fn imagined(
    model: &WorldModel,
    text: &mut dyn TextSource,
    data: &Dataset,
    eps: &[&Keyframes],
    acts: &[Vec<Action>],
    r: &mut vlgor_render::Renderer,
) -> Result<(PredictedFrames, PredictedObjects), CliError> {
    let texts: Vec<&str> = eps.iter().map(|k| k.instruction.text.as_str()).collect();
    let initial: Vec<u8> = eps.iter().flat_map(|k| k.frames[0].clone()).collect();
    let mut canvas = start_canvas(r, data, eps)?;
    rollout_with_actions(model, text, &texts, &initial, acts, Some(&mut canvas)).map_err(vlm_error)
}

/// A canvas that draws states of `eps`' episodes: their start states, their instructions' goals.
fn start_canvas<'a>(
    r: &'a mut vlgor_render::Renderer,
    data: &Dataset,
    eps: &[&Keyframes],
) -> Result<StateCanvas<'a>, CliError> {
    StateCanvas::new(
        r,
        eps.iter().map(|k| k.start_state.clone()).collect(),
        eps.iter()
            .map(|k| data.episodes[k.episode].instruction.goal.clone())
            .collect(),
    )
    .map_err(vlm_error)
}

/// Scores into `sums` the true perceived states of every keyframe after the first of `eps`
/// drawn by a [`StateCanvas`] from their episodes' start states (Meta-World: the tracked objects
/// are the perceived state), against the real frames.
fn add_drawn_truth(
    scorer: &Scorer,
    sums: &mut Sums,
    data: &Dataset,
    eps: &[Keyframes],
    r: &mut vlgor_render::Renderer,
) -> Result<(), CliError> {
    let mut canvas = start_canvas(r, data, &eps.iter().collect::<Vec<_>>())?;
    let steps = eps.iter().map(|k| k.frames.len()).max().unwrap_or(1);
    let fl = scorer.size * scorer.size * 3;
    for j in 1..steps {
        let at = |k: &Keyframes| k.truth[j.min(k.truth.len() - 1)].clone();
        let drawn = canvas
            .draw(&eps.iter().map(at).collect::<Vec<_>>())
            .map_err(vlm_error)?;
        for (i, k) in eps.iter().enumerate() {
            if j < k.frames.len() {
                let obj = main_object(&k.instruction.goal);
                let frame = &drawn[i * fl..(i + 1) * fl];
                scorer.add(sums, frame, &k.frames[j], &k.truth[j], &obj)?;
            }
        }
    }
    Ok(())
}

/// Evaluates `model` on held-out `data` (with states) using `readout` for MED and goals.
pub fn evaluate(
    ctx: &Context,
    model: &WorldModel,
    stage: &str,
    readout: &StateReadout,
    data: &Dataset,
    v: &VlmSection,
) -> Result<VlmEvalReport, CliError> {
    let start = Instant::now();
    let kind: EnvKind = data.manifest.env.parse()?;
    if data.states.is_empty() {
        return Err(CliError::Input(format!(
            "{}: held-out data needs states (a real dataset)",
            data.dir.display()
        )));
    }
    let c = model.config();
    let (h, size) = (c.horizon_steps, c.image_size as usize);
    let mut r = renderer(ctx, c.image_size)?;
    let encoder =
        SentenceEncoder::from_env(ctx.device).map_err(|e| CliError::Input(e.to_string()))?;
    let mut text = CachedText::new(encoder);
    let mut rng = ChaCha8Rng::seed_from_u64(ctx.seed ^ 0xE7A1);
    let mut order: Vec<usize> = (0..data.episodes.len())
        .filter(|&e| data.episodes[e].length >= h)
        .collect();
    if order.is_empty() {
        return Err(CliError::Input(format!(
            "{}: no episode is at least {h} steps long",
            data.dir.display()
        )));
    }
    order.shuffle(&mut rng);
    let scorer = Scorer { readout, size };
    let bar = ctx.progress(
        (v.eval_rollouts + v.eval_samples + v.goal_rollouts) as u64,
        "world-model evaluation",
    );
    // (b) whole rollouts with the real actions.
    let (mut roll, mut copy_roll) = (Sums::default(), Sums::default());
    let mut state_error = StateError::default();
    let mut drawn_truth = Sums::default();
    let tracks_perceived = kind == EnvKind::MetaWorld && c.visual_head == VisualHead::ObjectState;
    let picks: Vec<usize> = order
        .iter()
        .copied()
        .cycle()
        .take(v.eval_rollouts)
        .collect();
    for chunk in picks.chunks(v.imagine_batch) {
        let eps: Vec<Keyframes> = chunk
            .iter()
            .map(|&e| keyframes(data, e, h, &mut r, kind, None))
            .collect::<Result<_, _>>()?;
        let acts: Vec<Vec<Action>> = eps.iter().map(|k| k.actions.clone()).collect();
        let refs: Vec<&Keyframes> = eps.iter().collect();
        let (pred, objects) = imagined(model, &mut text, data, &refs, &acts, &mut r)?;
        for ((k, p), o) in eps.iter().zip(&pred).zip(&objects) {
            let obj = main_object(&k.instruction.goal);
            if tracks_perceived {
                for (j, predicted) in o.iter().enumerate() {
                    state_error.add(predicted, &k.truth[0], &k.truth[j + 1], &obj);
                }
            }
            for (j, frame) in p.iter().enumerate() {
                scorer.add(&mut roll, frame, &k.frames[j + 1], &k.truth[j + 1], &obj)?;
                scorer.add(
                    &mut copy_roll,
                    &k.frames[0],
                    &k.frames[j + 1],
                    &k.truth[j + 1],
                    &obj,
                )?;
            }
        }
        if tracks_perceived {
            add_drawn_truth(&scorer, &mut drawn_truth, data, &eps, &mut r)?;
        }
        bar.inc(chunk.len() as u64);
    }
    // (a) one step from random keyframes of random episodes.
    let (mut one, mut copy_one) = (Sums::default(), Sums::default());
    let mut samples = Vec::new();
    for &e in order.iter().cycle().take(v.eval_samples) {
        samples.push(keyframes(data, e, h, &mut r, kind, Some(1))?);
    }
    let (mut moved_imagined, mut moved_real) = (Vec::new(), Vec::new());
    for chunk in samples.chunks(v.imagine_batch) {
        let acts: Vec<Vec<Action>> = chunk.iter().map(|k| vec![k.actions[0]]).collect();
        let refs: Vec<&Keyframes> = chunk.iter().collect();
        let (pred, _) = imagined(model, &mut text, data, &refs, &acts, &mut r)?;
        for (k, p) in chunk.iter().zip(&pred) {
            let obj = main_object(&k.instruction.goal);
            scorer.add(&mut one, &p[0], &k.frames[1], &k.truth[1], &obj)?;
            scorer.add(&mut copy_one, &k.frames[0], &k.frames[1], &k.truth[1], &obj)?;
            if let (EnvKind::Clevr, Action::Discrete(a)) = (kind, k.actions[0]) {
                let ball = a as usize / vlgor_sim::clevr::DIRECTIONS.len();
                let both = [&k.frames[0][..], &p[0][..]].concat();
                let read = readout.read(&both, 2).map_err(vlm_error)?;
                moved_imagined.push(ball_moved(&read[0], &read[1], ball));
                moved_real.push(ball_moved(&k.truth[0], &k.truth[1], ball));
            }
        }
        bar.inc(chunk.len() as u64);
    }
    let push = (!moved_real.is_empty()).then(|| {
        let n = moved_real.len();
        let (imagined_median, real_median) = (median(&mut moved_imagined), median(&mut moved_real));
        PushDisplacement {
            imagined_median,
            real_median,
            ratio: imagined_median / real_median.max(1e-9),
            n,
        }
    });
    // (c) counterfactual instructions imagined freely until the read-out goal holds.
    let mut reached = 0usize;
    let picks: Vec<usize> = order
        .iter()
        .copied()
        .cycle()
        .take(v.goal_rollouts)
        .collect();
    for (b, chunk) in picks.chunks(v.imagine_batch).enumerate() {
        let mut ins = Vec::new();
        let mut goals = Vec::new();
        let mut initial = Vec::new();
        let mut states = Vec::new();
        for (i, &e) in chunk.iter().enumerate() {
            let kf = keyframes(data, e, h, &mut r, kind, Some(0))?;
            let set = InstructionSet::Counterfactual(if (b + i) % 2 == 0 {
                CounterfactualKind::Target
            } else {
                CounterfactualKind::Behavior
            });
            let cf = set.pick(&kf.instruction, i, &mut rng)?.ok_or_else(|| {
                CliError::Other(anyhow::anyhow!("counterfactual swaps always give a goal"))
            })?;
            goals.push(PerceivedGoal::new(&cf, kf.seed, &kf.truth[0])?);
            initial.extend_from_slice(&kf.frames[0]);
            states.push(kf.start_state);
            ins.push(cf);
        }
        let texts: Vec<&str> = ins.iter().map(|i| i.text.as_str()).collect();
        let mut check = |i: usize, p: &[f32]| goals[i].success(p);
        let episode_goals = chunk
            .iter()
            .map(|&e| data.episodes[e].instruction.goal.clone())
            .collect();
        let mut canvas = StateCanvas::new(&mut r, states, episode_goals).map_err(vlm_error)?;
        let out = imagine(
            model,
            &mut text,
            &texts,
            &initial,
            v.imagine_horizon,
            Some(GoalCheck {
                readout,
                check: &mut check,
            }),
            Some(&mut canvas),
        )
        .map_err(vlm_error)?;
        reached += out.success_step.iter().filter(|s| s.is_some()).count();
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    Ok(VlmEvalReport {
        stage: stage.to_string(),
        one_step: one.mean(),
        rollout: roll.mean(),
        copy_one_step: copy_one.mean(),
        copy_rollout: copy_roll.mean(),
        goal_rate: reached as f64 / v.goal_rollouts.max(1) as f64,
        goal_rollouts: v.goal_rollouts,
        push,
        visual_head: c.visual_head.to_string(),
        state_error: state_error.mean(),
        drawn_truth: (drawn_truth.n > 0).then(|| drawn_truth.mean()),
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Concatenates equally sized frames left to right (u8 [H, W, 3] each).
fn hstack(frames: &[&[u8]], size: usize) -> vlgor_render::Frame {
    let n = frames.len();
    let mut pixels = vec![255u8; n * size * size * 3];
    for (k, f) in frames.iter().enumerate() {
        for y in 0..size {
            let src = &f[y * size * 3..(y + 1) * size * 3];
            let d = (y * n * size + k * size) * 3;
            pixels[d..d + size * 3].copy_from_slice(src);
        }
    }
    vlgor_render::Frame {
        width: (n * size) as u32,
        height: size as u32,
        pixels,
    }
}

/// Writes `dir/real_vs_imagined.png` (per held-out episode, a row of real keyframes above the
/// keyframes imagined with the real actions) and `dir/real_vs_imagined.gif` (the same episodes
/// animated, "real | imagined").
pub fn real_vs_imagined(
    ctx: &Context,
    model: &WorldModel,
    data: &Dataset,
    episodes: usize,
    dir: &std::path::Path,
) -> Result<(), CliError> {
    let kind: EnvKind = data.manifest.env.parse()?;
    let c = model.config();
    let (h, size) = (c.horizon_steps, c.image_size as usize);
    let mut r = renderer(ctx, c.image_size)?;
    let picks: Vec<usize> = (0..data.episodes.len())
        .filter(|&e| data.episodes[e].length >= 2 * h)
        .take(episodes)
        .collect();
    if picks.is_empty() {
        return Err(CliError::Input(format!(
            "{}: no episode has two keyframes to show",
            data.dir.display()
        )));
    }
    let eps: Vec<Keyframes> = picks
        .iter()
        .map(|&e| keyframes(data, e, h, &mut r, kind, None))
        .collect::<Result<_, _>>()?;
    let encoder =
        SentenceEncoder::from_env(ctx.device).map_err(|e| CliError::Input(e.to_string()))?;
    let mut text = CachedText::new(encoder);
    let acts: Vec<Vec<Action>> = eps.iter().map(|k| k.actions.clone()).collect();
    let refs: Vec<&Keyframes> = eps.iter().collect();
    let (pred, _) = imagined(model, &mut text, data, &refs, &acts, &mut r)?;
    let cols = eps.iter().map(|k| k.frames.len()).max().unwrap_or(1).min(8);
    let blank = vec![255u8; size * size * 3];
    let mut rows: Vec<vlgor_render::Frame> = Vec::new();
    for (k, p) in eps.iter().zip(&pred) {
        let real: Vec<&[u8]> = (0..cols)
            .map(|j| k.frames.get(j).map_or(blank.as_slice(), Vec::as_slice))
            .collect();
        let imagined: Vec<&[u8]> = (0..cols)
            .map(|j| match j {
                0 => k.frames[0].as_slice(),
                _ => p.get(j - 1).map_or(blank.as_slice(), Vec::as_slice),
            })
            .collect();
        rows.push(hstack(&real, size));
        rows.push(hstack(&imagined, size));
    }
    let width = rows[0].width as usize;
    let mut grid = vlgor_render::Frame {
        width: width as u32,
        height: (rows.len() * size) as u32,
        pixels: Vec::new(),
    };
    for row in &rows {
        grid.pixels.extend_from_slice(&row.pixels);
    }
    std::fs::create_dir_all(dir).map_err(|e| CliError::Other(e.into()))?;
    vlgor_render::output::save_png(dir.join("real_vs_imagined.png"), &grid)
        .map_err(|e| CliError::Other(e.into()))?;
    let steps = eps.iter().map(|k| k.frames.len()).max().unwrap_or(1);
    let mut real_seq = Vec::new();
    let mut imagined_seq = Vec::new();
    for j in 0..steps {
        let at = |v: &[Vec<u8>], j: usize| -> Vec<u8> { v[j.min(v.len() - 1)].clone() };
        let real: Vec<Vec<u8>> = eps.iter().map(|k| at(&k.frames, j)).collect();
        let imagined: Vec<Vec<u8>> = eps
            .iter()
            .zip(&pred)
            .map(|(k, p)| {
                if j == 0 {
                    k.frames[0].clone()
                } else {
                    at(p, j - 1)
                }
            })
            .collect();
        real_seq.push(hstack(
            &real.iter().map(Vec::as_slice).collect::<Vec<_>>(),
            size,
        ));
        imagined_seq.push(hstack(
            &imagined.iter().map(Vec::as_slice).collect::<Vec<_>>(),
            size,
        ));
    }
    vlgor_render::output::save_side_by_side(
        dir.join("real_vs_imagined.gif"),
        &real_seq,
        &imagined_seq,
        600,
    )
    .map_err(|e| CliError::Other(e.into()))?;
    Ok(())
}
