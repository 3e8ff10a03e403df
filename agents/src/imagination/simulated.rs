//! The decomposition row "world-model actions in rapier": the world model chooses every action
//! from the true frame (and, for the object-state head, the true object positions), and the
//! simulator and the renderer produce what follows. Prompts, start states, horizon and action
//! choice are imagination's (look-ahead included: its candidates are imagined from the true
//! frame and scored on the imagined outcome, the chosen one played in rapier); only the
//! dynamics differ, so the row measures what imagined frames and states cost against the same
//! action choice in the real physics.

use vlgor_render::Renderer;
use vlgor_sim::{Action, Env};
use vlgor_vlm::perception::StateReadout;
use vlgor_vlm::world_model::objects::{self, place_for_action};
use vlgor_vlm::world_model::sampling::{ActionChoice, decode_actions};
use vlgor_vlm::world_model::text::TextSource;
use vlgor_vlm::world_model::train::frames_to_tensor;
use vlgor_vlm::world_model::{ActionInput, ImaginedRollouts, StepInput, VisualHead, WorldModel};
use vlgor_vlm::world_model::{LookaheadStart, judged_actions};

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
    // The object-state head's tracked objects, as the simulators hold them now.
    let tracked = |envs: &[Box<dyn Env>]| -> Result<Option<Vec<Vec<f32>>>, CliError> {
        if c.visual_head != VisualHead::ObjectState {
            return Ok(None);
        }
        let o = envs
            .iter()
            .map(|e| objects::read_objects(e.kind(), &e.state(), &e.observation()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(vlm_error)?;
        Ok(Some(o))
    };
    let mut current = b.initial.to_vec();
    let mut given: Vec<Option<Action>> = vec![None; n];
    let mut done = vec![false; n];
    tch::no_grad(|| -> Result<(), CliError> {
        for step in 1..=b.horizon {
            let input =
                ActionInput::from_actions(c.action_space, &given, dev).map_err(vlm_error)?;
            let objects = tracked(&envs)?;
            let placed = objects.as_ref().map(|o| {
                let mut p = o.clone();
                for (p, a) in p.iter_mut().zip(&given) {
                    place_for_action(p, *a);
                }
                objects::objects_tensor(&p, c.object_dim as usize, dev)
            });
            let pred = b
                .model
                .forward(&StepInput {
                    frames: &frames_to_tensor(&current, n, c.image_size, dev),
                    text: &tokens,
                    text_mask: &mask,
                    actions: &input,
                    objects: placed.as_ref(),
                })
                .map_err(vlm_error)?;
            let mut actions = decode_actions(c.action_space, &pred.action, choice);
            if let ActionChoice::Lookahead(judge) = choice {
                let now: Vec<Vec<f32>> =
                    out.objects.iter().map(|o| o[o.len() - 1].clone()).collect();
                let kind = envs.first().map_or(c.env, |e| e.kind());
                let start = LookaheadStart {
                    env: kind,
                    instructions: b.texts,
                    frames: &current,
                    objects: objects.as_deref(),
                    now: &now,
                };
                actions = judged_actions(
                    b.model,
                    text,
                    b.readout,
                    &start,
                    &mut **judge,
                    &done,
                    actions,
                )
                .map_err(vlm_error)?;
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
            current = bytes;
            if done.iter().all(|&d| d) {
                break;
            }
        }
        Ok(())
    })?;
    Ok(out)
}
