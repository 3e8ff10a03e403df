//! One-step look-ahead: the model's prediction of s_{t+h} for many candidate actions from the
//! same frames, as perceived states, so a caller can judge each imagined outcome against the
//! instruction (VARL's advisor picks the candidate whose imagined outcome the instruction's own
//! test scores highest).
//!
//! With the object-state head the outcome is the tracked objects moved by the predicted
//! displacements (exact by construction, no frame drawn); with the other heads it is the state
//! readout of the predicted frame.

use tch::Tensor;
use vlgor_sim::{Action, EnvKind};

use super::config::VisualHead;
use super::error::WorldModelError;
use super::model::{ActionInput, StepInput, WorldModel};
use super::objects::{add_displacements, objects_tensor, perceived, place_for_action};
use super::sampling::LookaheadJudge;
use super::text::TextSource;
use super::train::frames_to_tensor;
use crate::perception::StateReadout;

/// Rows of one forward batch (bounds the activations' memory).
const CHUNK_ROWS: usize = 256;

/// Start frames and the candidate actions to imagine from each.
pub struct Candidates<'a> {
    pub env: EnvKind,
    pub instructions: &'a [&'a str],
    /// u8 [N, H, W, 3] at the model's frame size.
    pub frames: &'a [u8],
    /// Object-state head: per start frame its tracked objects (metres); else `None`.
    pub objects: Option<&'a [Vec<f32>]>,
    /// Per start frame the candidate actions (each held for h environment steps).
    pub actions: &'a [Vec<Action>],
}

/// Per start frame, per candidate: the perceived state the model predicts after the action.
/// `readout` is required by every head but the object-state head.
pub fn predict_outcomes(
    model: &WorldModel,
    text: &mut dyn TextSource,
    c: &Candidates,
    readout: Option<&StateReadout>,
) -> Result<Vec<Vec<Vec<f32>>>, WorldModelError> {
    let cfg = model.config();
    let n = c.instructions.len();
    let fl = (cfg.image_size * cfg.image_size * 3) as usize;
    if n == 0 || c.frames.len() != n * fl || c.actions.len() != n {
        return Err(WorldModelError::BadInput(format!(
            "{n} instructions need {} frame bytes and {n} candidate lists, got {} bytes and {} \
             lists",
            n * fl,
            c.frames.len(),
            c.actions.len()
        )));
    }
    let object_head = cfg.visual_head == VisualHead::ObjectState;
    let objects = match (object_head, c.objects) {
        (true, Some(o)) if o.len() == n => Some(o),
        (true, _) => {
            return Err(WorldModelError::BadInput(
                "the object_state head's look-ahead needs every start frame's tracked objects"
                    .into(),
            ));
        }
        (false, _) => None,
    };
    if !object_head && readout.is_none() {
        return Err(WorldModelError::BadInput(format!(
            "the {:?} head's look-ahead reads its predicted frames with a state readout",
            cfg.visual_head
        )));
    }
    let dev = model.device();
    let frames = frames_to_tensor(c.frames, n, cfg.image_size, dev);
    let (tokens, mask) = text.tokens(c.instructions)?;
    let (tokens, mask) = (tokens.to_device(dev), mask.to_device(dev));
    // Every (start frame, candidate) pair is one row.
    let rows: Vec<(usize, Action)> = c
        .actions
        .iter()
        .enumerate()
        .flat_map(|(i, a)| a.iter().map(move |&a| (i, a)))
        .collect();
    let mut out: Vec<Vec<Vec<f32>>> = c
        .actions
        .iter()
        .map(|a| Vec::with_capacity(a.len()))
        .collect();
    tch::no_grad(|| -> Result<(), WorldModelError> {
        for chunk in rows.chunks(CHUNK_ROWS) {
            let idx: Vec<i64> = chunk.iter().map(|&(i, _)| i as i64).collect();
            let idx = Tensor::from_slice(&idx).to_device(dev);
            let given: Vec<Option<Action>> = chunk.iter().map(|&(_, a)| Some(a)).collect();
            let input = ActionInput::from_actions(cfg.action_space, &given, dev)?;
            let placed: Option<Vec<Vec<f32>>> = objects.map(|o| {
                chunk
                    .iter()
                    .map(|&(i, a)| {
                        let mut p = o[i].clone();
                        place_for_action(&mut p, Some(a));
                        p
                    })
                    .collect()
            });
            let dim = cfg.object_dim as usize;
            let now = placed.as_ref().map(|p| objects_tensor(p, dim, dev));
            let step = model.forward(&StepInput {
                frames: &frames.index_select(0, &idx),
                text: &tokens.index_select(0, &idx),
                text_mask: &mask.index_select(0, &idx),
                actions: &input,
                objects: now.as_ref(),
            })?;
            let states = match (placed, &step.objects) {
                (Some(mut placed), Some(pred)) => {
                    add_displacements(c.env, &mut placed, pred, dim)?;
                    placed.iter().map(|o| perceived(c.env, o)).collect()
                }
                _ => {
                    let r = readout.expect("checked above");
                    r.read_tensor(&step.frames.clamp(0.0, 1.0))?
                }
            };
            for (&(i, _), s) in chunk.iter().zip(states) {
                out[i].push(s);
            }
        }
        Ok(())
    })?;
    Ok(out)
}

/// Scores start frame `i`'s move from perceived state `now` to imagined `next`.
pub type OutcomeScore<'s> = dyn FnMut(usize, &[f32], &[f32]) -> f32 + 's;

/// Per start frame, the candidate whose imagined outcome `score(i, &now[i], &outcome)` rates
/// highest (ties: the first), or `None` where no candidate scores above −∞.
pub fn best_candidates(
    model: &WorldModel,
    text: &mut dyn TextSource,
    c: &Candidates,
    readout: Option<&StateReadout>,
    now: &[Vec<f32>],
    score: &mut OutcomeScore,
) -> Result<Vec<Option<Action>>, WorldModelError> {
    let outcomes = predict_outcomes(model, text, c, readout)?;
    Ok(c.actions
        .iter()
        .zip(&outcomes)
        .enumerate()
        .map(|(i, (cands, imagined))| {
            let mut best: Option<(f32, Action)> = None;
            for (a, next) in cands.iter().zip(imagined) {
                let s = score(i, &now[i], next);
                if s > best.map_or(f32::NEG_INFINITY, |(b, _)| b) {
                    best = Some((s, *a));
                }
            }
            best.map(|(_, a)| a)
        })
        .collect())
}

/// Where a look-ahead step starts: per rollout its frame, tracked objects and perceived state.
pub struct LookaheadStart<'a> {
    pub env: EnvKind,
    pub instructions: &'a [&'a str],
    /// u8 [N, H, W, 3] at the model's frame size.
    pub frames: &'a [u8],
    /// Object-state head: per rollout its tracked objects (metres); else `None`.
    pub objects: Option<&'a [Vec<f32>]>,
    /// Per rollout the perceived state the judge scores from.
    pub now: &'a [Vec<f32>],
}

/// The look-ahead choice of every rollout not `done`: the candidates `judge` names around
/// the action head's `decoded` action, each imagined from `start` ([`best_candidates`]), the
/// best-scored taken; done rollouts (and any without a candidate) keep `decoded`.
pub fn judged_actions(
    model: &WorldModel,
    text: &mut dyn TextSource,
    readout: Option<&StateReadout>,
    start: &LookaheadStart,
    judge: &mut dyn LookaheadJudge,
    done: &[bool],
    decoded: Vec<Action>,
) -> Result<Vec<Action>, WorldModelError> {
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
    let best = best_candidates(
        model,
        text,
        &Candidates {
            env: start.env,
            instructions: start.instructions,
            frames: start.frames,
            objects: start.objects,
            actions: &candidates,
        },
        readout,
        start.now,
        &mut |i, now, next| judge.score(i, now, next),
    )?;
    Ok(best
        .into_iter()
        .zip(decoded)
        .map(|(b, d)| b.unwrap_or(d))
        .collect())
}
