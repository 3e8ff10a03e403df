//! The decomposition row "world-model actions in rapier": the world model chooses every action
//! from the true frame (and, for the object-state head, the true object positions), and the
//! simulator and the renderer produce what follows. Prompts, start states, horizon and action
//! choice are imagination's (look-ahead included: its candidates are imagined from the true
//! frame and scored on the imagined outcome, the chosen one played in rapier); only the
//! dynamics differ, so the row measures what imagined frames and states cost against the same
//! action choice in the real physics.

use tch::Tensor;
use vlgor_render::Renderer;
use vlgor_sim::{Action, Env};
use vlgor_vlm::perception::StateReadout;
use vlgor_vlm::world_model::objects::{self, place_for_action};
use vlgor_vlm::world_model::sampling::{ActionChoice, LookaheadJudge, decode_actions};
use vlgor_vlm::world_model::text::TextSource;
use vlgor_vlm::world_model::train::frames_to_tensor;
use vlgor_vlm::world_model::{ActionInput, ImaginedRollouts, StepInput, VisualHead, WorldModel};
use vlgor_vlm::world_model::{Candidates, best_candidates};

use super::goals::PerceivedGoal;
use crate::error::CliError;
use crate::vlm_run::vlm_error;

/// One batch of rollouts whose dynamics are the simulator's.
pub struct SimulatedBatch<'a> {
    pub model: &'a WorldModel,
    pub texts: &'a [&'a str],
    /// One simulator per rollout, each at its start state.
    pub envs: Vec<Box<dyn Env>>,
    /// The start states' frames, u8 [N, H, W, 3].
    pub initial: &'a [u8],
    /// Model steps (each `h` simulator steps with the action held).
    pub horizon: usize,
    pub h: usize,
    pub goals: &'a [PerceivedGoal],
    /// Reads predicted frames for the look-ahead of heads other than the object-state head.
    pub readout: Option<&'a StateReadout>,
}

/// Rolls the batch out. The returned `objects` hold, per rollout, the perceived state of every
/// frame (the true one: CLEVR's ball coordinates, Meta-World's observation as
/// [`super::records::perceive`] makes it), so rewards and success are computed from them.
pub fn simulate(
    b: SimulatedBatch,
    text: &mut dyn TextSource,
    renderer: &mut Renderer,
    choice: &mut ActionChoice,
) -> Result<ImaginedRollouts, CliError> {
    let c = b.model.config();
    let dev = b.model.device();
    let n = b.texts.len();
    let fl = (c.image_size * c.image_size * 3) as usize;
    let mut envs = b.envs;
    let (tokens, mask) = text.tokens(b.texts).map_err(vlm_error)?;
    let (tokens, mask) = (tokens.to_device(dev), mask.to_device(dev));
    let perceive = |env: &dyn Env| super::records::perceive(env.kind(), &env.observation());
    let mut out = ImaginedRollouts {
        size: c.image_size,
        frames: (0..n)
            .map(|i| vec![b.initial[i * fl..(i + 1) * fl].to_vec()])
            .collect(),
        actions: vec![Vec::new(); n],
        success_step: vec![None; n],
        objects: envs.iter().map(|e| vec![perceive(&**e)]).collect(),
    };
    let tracked =
        |envs: &[Box<dyn Env>], given: &[Option<Action>]| -> Result<Option<Tensor>, CliError> {
            if c.visual_head != VisualHead::ObjectState {
                return Ok(None);
            }
            let mut tracked = Vec::with_capacity(envs.len());
            for (env, a) in envs.iter().zip(given) {
                let mut o = objects::read_objects(env.kind(), &env.state(), &env.observation())
                    .map_err(vlm_error)?;
                place_for_action(&mut o, *a);
                tracked.push(o);
            }
            let dim = c.object_dim as usize;
            Ok(Some(objects::objects_tensor(&tracked, dim, dev)))
        };
    let mut frames = frames_to_tensor(b.initial, n, c.image_size, dev);
    let mut last: Vec<u8> = Vec::new();
    let mut given: Vec<Option<Action>> = vec![None; n];
    let mut done = vec![false; n];
    tch::no_grad(|| -> Result<(), CliError> {
        for step in 1..=b.horizon {
            let input =
                ActionInput::from_actions(c.action_space, &given, dev).map_err(vlm_error)?;
            let now = tracked(&envs, &given)?;
            let pred = b
                .model
                .forward(&StepInput {
                    frames: &frames,
                    text: &tokens,
                    text_mask: &mask,
                    actions: &input,
                    objects: now.as_ref(),
                })
                .map_err(vlm_error)?;
            let mut actions = decode_actions(c.action_space, &pred.action, choice);
            if let ActionChoice::Lookahead(judge) = choice {
                let current = if step == 1 { b.initial } else { &last[..] };
                let now: Vec<Vec<f32>> =
                    out.objects.iter().map(|o| o[o.len() - 1].clone()).collect();
                let model = (b.model, b.texts, b.readout);
                actions = lookahead(
                    model,
                    text,
                    &mut **judge,
                    &envs,
                    current,
                    &now,
                    &done,
                    actions,
                )?;
            }
            let mut bytes = Vec::with_capacity(n * fl);
            for (i, env) in envs.iter_mut().enumerate() {
                if !done[i] {
                    for _ in 0..b.h {
                        env.step(&actions[i])?;
                    }
                    out.actions[i].push(actions[i]);
                }
                let state = env.state();
                let camera = env.cameras()[0];
                let frame =
                    vlgor_render::render_states(&mut **env, &state, state.len(), camera, renderer)
                        .map_err(|e| CliError::Other(e.into()))?;
                if !done[i] {
                    let p = perceive(&**env);
                    out.frames[i].push(frame.clone());
                    if b.goals[i].success(&p) {
                        out.success_step[i] = Some(step);
                        done[i] = true;
                    }
                    out.objects[i].push(p);
                }
                bytes.extend(frame);
            }
            given = actions.into_iter().map(Some).collect();
            frames = frames_to_tensor(&bytes, n, c.image_size, dev);
            last = bytes;
            if done.iter().all(|&d| d) {
                break;
            }
        }
        Ok(())
    })?;
    Ok(out)
}

/// Look-ahead of `model` for instructions `texts` from the true frames `current` and perceived
/// states `now`: each running rollout's candidates (the judge's, around `decoded`) imagined one
/// step ahead by the world model, the best-scored one returned; done rollouts keep `decoded`.
#[allow(clippy::too_many_arguments)]
fn lookahead(
    (model, texts, readout): (&WorldModel, &[&str], Option<&StateReadout>),
    text: &mut dyn TextSource,
    judge: &mut dyn LookaheadJudge,
    envs: &[Box<dyn Env>],
    current: &[u8],
    now: &[Vec<f32>],
    done: &[bool],
    decoded: Vec<Action>,
) -> Result<Vec<Action>, CliError> {
    let candidates: Vec<Vec<Action>> = decoded
        .iter()
        .enumerate()
        .map(|(i, a)| {
            if done[i] {
                Vec::new()
            } else {
                judge.candidates(i, *a)
            }
        })
        .collect();
    let objects = if model.config().visual_head == VisualHead::ObjectState {
        let o = envs
            .iter()
            .map(|e| objects::read_objects(e.kind(), &e.state(), &e.observation()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(vlm_error)?;
        Some(o)
    } else {
        None
    };
    let kind = envs.first().map_or(model.config().env, |e| e.kind());
    let best = best_candidates(
        model,
        text,
        &Candidates {
            env: kind,
            instructions: texts,
            frames: current,
            objects: objects.as_deref(),
            actions: &candidates,
        },
        readout,
        now,
        &mut |i, now, next| judge.score(i, now, next),
    )
    .map_err(vlm_error)?;
    Ok(best
        .into_iter()
        .zip(decoded)
        .map(|(b, d)| b.unwrap_or(d))
        .collect())
}
