//! Imagination: batched autoregressive rollouts from real initial frames and instructions.
//!
//! Step 0: (s_0, G, no action) -> a_0. Step k >= 1: (s_{(k-1)h}, G, a_{(k-1)h}) ->
//! (s_{kh}, a_{kh}); the predicted frame (clamped to [0, 1]) is fed back. A rollout stops at
//! `horizon` model steps or, with a goal check, at the first predicted frame whose readout
//! state satisfies it.
//!
//! With the object-state head a [`StateCanvas`] is required: the tracked objects start at the
//! real initial state's, each step feeds them to the model and adds the predicted displacements
//! (balls kept inside the walls), the frame fed back is drawn from that state, and the goal check reads the predicted
//! state itself (the readout is exact by construction).

use tch::Tensor;
use vlgor_sim::Action;

use super::config::VisualHead;
use super::error::WorldModelError;
use super::lookahead::{LookaheadStart, judged_actions};
use super::model::{ActionInput, StepInput, StepOutput, WorldModel};
use super::objects::{StateCanvas, add_displacements, objects_tensor, perceived, place_for_action};
use super::sampling::decode_actions;
pub use super::sampling::{ActionChoice, LookaheadJudge};
use super::text::TextSource;
use super::train::{frames_to_tensor, tensor_to_frames};
use crate::perception::StateReadout;

/// Decides success from the readout state of rollout `i`'s latest frame.
pub struct GoalCheck<'a> {
    pub readout: &'a StateReadout,
    /// (rollout index, readout state in metres) -> success.
    pub check: &'a mut dyn FnMut(usize, &[f32]) -> bool,
}

/// Imagined rollouts of N instructions.
#[derive(Clone, Debug)]
pub struct ImaginedRollouts {
    pub size: i64,
    /// Per rollout: frames s_0, s_h, s_2h, ... as u8 [H, W, 3] each (s_0 is the real frame).
    pub frames: Vec<Vec<Vec<u8>>>,
    /// Per rollout: a_0, a_h, ... (one per frame; for Meta-World hold each for h steps).
    pub actions: Vec<Vec<Action>>,
    /// Per rollout: the model step at which the goal check first held.
    pub success_step: Vec<Option<usize>>,
    /// Object-state head: per rollout the tracked objects of every frame (metres); else empty.
    pub objects: Vec<Vec<Vec<f32>>>,
}

/// The frames fed from one model step to the next, and the object state behind them.
struct Carry<'c, 'a> {
    frames: Tensor,
    /// Object-state head: per rollout the tracked objects of `frames`, and the canvas.
    objects: Option<(Vec<Vec<f32>>, &'c mut StateCanvas<'a>)>,
}

impl<'c, 'a> Carry<'c, 'a> {
    fn new(
        model: &WorldModel,
        initial: &[u8],
        n: usize,
        canvas: Option<&'c mut StateCanvas<'a>>,
    ) -> Result<Self, WorldModelError> {
        let c = model.config();
        let frames = frames_to_tensor(initial, n, c.image_size, model.device());
        let objects = match (c.visual_head, canvas) {
            (VisualHead::ObjectState, Some(canvas)) => {
                if canvas.len() != n {
                    return Err(WorldModelError::BadInput(format!(
                        "the state canvas holds {} initial states for {n} rollouts",
                        canvas.len()
                    )));
                }
                Some((canvas.initial_objects()?, canvas))
            }
            (VisualHead::ObjectState, None) => {
                return Err(WorldModelError::BadInput(
                    "the object_state head draws its frames from states: imagination needs the \
                     rollouts' initial simulator states and a renderer"
                        .into(),
                ));
            }
            _ => None,
        };
        Ok(Carry { frames, objects })
    }

    /// Takes the model step `out`: the predicted frame, or the frame drawn from the moved objects.
    fn advance(&mut self, model: &WorldModel, out: &StepOutput) -> Result<(), WorldModelError> {
        let Some((objects, canvas)) = self.objects.as_mut() else {
            self.frames = out.frames.clamp(0.0, 1.0);
            return Ok(());
        };
        let pred = out.objects.as_ref().ok_or_else(|| {
            WorldModelError::BadInput("the object_state head returned no objects".into())
        })?;
        let c = model.config();
        add_displacements(canvas.kind(), objects, pred, c.object_dim as usize)?;
        let bytes = canvas.draw(objects)?;
        self.frames = frames_to_tensor(&bytes, objects.len(), c.image_size, model.device());
        Ok(())
    }

    /// The perceived state of rollout `i` (object-state head only).
    fn perceived(&self, i: usize) -> Option<Vec<f32>> {
        self.objects
            .as_ref()
            .map(|(o, canvas)| perceived(canvas.kind(), &o[i]))
    }

    /// The tracked objects of `frames` as the model's input, f32 [N, K, D] (object-state head).
    fn objects_tensor(&self, model: &WorldModel) -> Option<Tensor> {
        let dim = model.config().object_dim as usize;
        self.objects
            .as_ref()
            .map(|(o, _)| objects_tensor(o, dim, model.device()))
    }

    /// Object-state head: every rollout's pusher placed where its next push starts.
    fn place_for(&mut self, actions: &[Option<Action>]) {
        if let Some((objects, _)) = self.objects.as_mut() {
            for (o, a) in objects.iter_mut().zip(actions) {
                place_for_action(o, *a);
            }
        }
    }

    fn objects_of(&self, i: usize) -> Option<Vec<f32>> {
        self.objects.as_ref().map(|(o, _)| o[i].clone())
    }
}

/// Rolls out `instructions.len()` imaginations from `initial` frames (u8 [N, H, W, 3]) for up to
/// `horizon` model steps (h environment steps each). Greedy actions (argmax / clamped vector);
/// [`imagine_with`] samples them.
/// `canvas` (the initial frames' simulator states) is required by the object-state head and
/// ignored by the others.
pub fn imagine(
    model: &WorldModel,
    text: &mut dyn TextSource,
    instructions: &[&str],
    initial: &[u8],
    horizon: usize,
    goal: Option<GoalCheck>,
    canvas: Option<&mut StateCanvas>,
) -> Result<ImaginedRollouts, WorldModelError> {
    let mut greedy = ActionChoice::Greedy;
    imagine_with(
        model,
        text,
        instructions,
        initial,
        horizon,
        goal,
        canvas,
        &mut greedy,
    )
}

/// [`imagine`] with the actions picked by `choice` (greedy or sampled).
#[allow(clippy::too_many_arguments)]
pub fn imagine_with(
    model: &WorldModel,
    text: &mut dyn TextSource,
    instructions: &[&str],
    initial: &[u8],
    horizon: usize,
    mut goal: Option<GoalCheck>,
    canvas: Option<&mut StateCanvas>,
    choice: &mut ActionChoice,
) -> Result<ImaginedRollouts, WorldModelError> {
    let c = model.config();
    let n = instructions.len();
    let fl = (c.image_size * c.image_size * 3) as usize;
    if n == 0 || initial.len() != n * fl {
        return Err(WorldModelError::BadInput(format!(
            "{n} instructions need {} initial frame bytes ({s}x{s}x3 each), got {}",
            n * fl,
            initial.len(),
            s = c.image_size
        )));
    }
    let dev = model.device();
    let (tokens, mask) = text.tokens(instructions)?;
    let (tokens, mask) = (tokens.to_device(dev), mask.to_device(dev));
    let mut rollouts = ImaginedRollouts {
        size: c.image_size,
        frames: (0..n)
            .map(|i| vec![initial[i * fl..(i + 1) * fl].to_vec()])
            .collect(),
        actions: vec![Vec::new(); n],
        success_step: vec![None; n],
        objects: vec![Vec::new(); n],
    };
    let mut carry = Carry::new(model, initial, n, canvas)?;
    for i in 0..n {
        rollouts.objects[i].extend(carry.objects_of(i));
    }
    tch::no_grad(|| -> Result<(), WorldModelError> {
        let none = ActionInput::from_actions(c.action_space, &vec![None; n], dev)?;
        let now = carry.objects_tensor(model);
        let mut out = model.forward(&StepInput {
            frames: &carry.frames,
            text: &tokens,
            text_mask: &mask,
            actions: &none,
            objects: now.as_ref(),
        })?;
        let mut done = vec![false; n];
        let mut actions = decode_actions(c.action_space, &out.action, choice);
        let look = Look {
            model,
            instructions,
            readout: goal.as_ref().map(|g| g.readout),
        };
        actions = look.reconsider(text, &carry, choice, &done, actions)?;
        for step in 1..=horizon {
            for (i, a) in actions.iter().enumerate() {
                if !done[i] {
                    rollouts.actions[i].push(*a);
                }
            }
            let given: Vec<Option<Action>> = actions.iter().copied().map(Some).collect();
            let input = ActionInput::from_actions(c.action_space, &given, dev)?;
            carry.place_for(&given);
            let now = carry.objects_tensor(model);
            out = model.forward(&StepInput {
                frames: &carry.frames,
                text: &tokens,
                text_mask: &mask,
                actions: &input,
                objects: now.as_ref(),
            })?;
            carry.advance(model, &out)?;
            actions = decode_actions(c.action_space, &out.action, choice);
            let bytes = tensor_to_frames(&carry.frames);
            let states = match goal.as_ref() {
                Some(_) if carry.objects.is_some() => {
                    Some((0..n).filter_map(|i| carry.perceived(i)).collect())
                }
                Some(g) => Some(g.readout.read_tensor(&carry.frames)?),
                None => None,
            };
            for i in 0..n {
                if done[i] {
                    continue;
                }
                rollouts.frames[i].push(bytes[i * fl..(i + 1) * fl].to_vec());
                rollouts.objects[i].extend(carry.objects_of(i));
                if let (Some(g), Some(s)) = (goal.as_mut(), states.as_ref())
                    && (g.check)(i, &s[i])
                {
                    rollouts.success_step[i] = Some(step);
                    done[i] = true;
                }
            }
            if done.iter().all(|&d| d) {
                break;
            }
            actions = look.reconsider(text, &carry, choice, &done, actions)?;
        }
        for (i, a) in actions.iter().enumerate() {
            if !done[i] {
                rollouts.actions[i].push(*a);
            }
        }
        Ok(())
    })?;
    Ok(rollouts)
}

/// What look-ahead imagination needs besides the carried frames.
struct Look<'a> {
    model: &'a WorldModel,
    instructions: &'a [&'a str],
    /// Reads frame-predicting heads' frames (the goal check's readout).
    readout: Option<&'a StateReadout>,
}

impl Look<'_> {
    /// With [`ActionChoice::Lookahead`], the look-ahead choice of every rollout not `done`:
    /// each candidate the judge names is imagined from the carried frame
    /// ([`judged_actions`]) and the best-scored one taken; otherwise (and for done rollouts)
    /// `decoded` unchanged.
    fn reconsider(
        &self,
        text: &mut dyn TextSource,
        carry: &Carry,
        choice: &mut ActionChoice,
        done: &[bool],
        decoded: Vec<Action>,
    ) -> Result<Vec<Action>, WorldModelError> {
        let ActionChoice::Lookahead(judge) = choice else {
            return Ok(decoded);
        };
        let n = self.instructions.len();
        let objects: Option<Vec<Vec<f32>>> = carry.objects.as_ref().map(|(o, _)| o.clone());
        let now: Vec<Vec<f32>> = match (&carry.objects, self.readout) {
            (Some(_), _) => (0..n).filter_map(|i| carry.perceived(i)).collect(),
            (None, Some(r)) => r.read_tensor(&carry.frames)?,
            (None, None) => {
                return Err(WorldModelError::BadInput(
                    "look-ahead imagination with a frame-predicting head needs the goal \
                     check's readout"
                        .into(),
                ));
            }
        };
        let kind = match &carry.objects {
            Some((_, canvas)) => canvas.kind(),
            None => self.model.config().env,
        };
        let frames = tensor_to_frames(&carry.frames);
        judged_actions(
            self.model,
            text,
            self.readout,
            &LookaheadStart {
                env: kind,
                instructions: self.instructions,
                frames: &frames,
                objects: objects.as_deref(),
                now: &now,
            },
            &mut **judge,
            done,
            decoded,
        )
    }
}

/// Per rollout the tracked objects of each predicted frame (the object-state head; empty
/// otherwise), as [`super::objects`] lays them out.
pub type PredictedObjects = Vec<Vec<Vec<f32>>>;

/// Per rollout its predicted frames, u8 [H, W, 3] each.
pub type PredictedFrames = Vec<Vec<Vec<u8>>>;

/// Rolls the model out with given actions (whole-rollout evaluation): from `initial` frames
/// (u8 [N, H, W, 3]), step k feeds the predicted frame s_{kh} and the real keyframe action
/// `actions[i][k]`, for as many steps as rollout `i` has actions. Returns per rollout the
/// predicted frames s_h, s_2h, ... (one per action), and with the object-state head the
/// tracked objects of each of them (empty lists for the other heads). `canvas` as in
/// [`imagine`].
pub fn rollout_with_actions(
    model: &WorldModel,
    text: &mut dyn TextSource,
    instructions: &[&str],
    initial: &[u8],
    actions: &[Vec<Action>],
    canvas: Option<&mut StateCanvas>,
) -> Result<(PredictedFrames, PredictedObjects), WorldModelError> {
    let c = model.config();
    let n = instructions.len();
    let fl = (c.image_size * c.image_size * 3) as usize;
    if n == 0 || initial.len() != n * fl || actions.len() != n {
        return Err(WorldModelError::BadInput(format!(
            "{n} instructions need {} initial frame bytes and {n} action lists, got {} bytes \
             and {} lists",
            n * fl,
            initial.len(),
            actions.len()
        )));
    }
    let dev = model.device();
    let (tokens, mask) = text.tokens(instructions)?;
    let (tokens, mask) = (tokens.to_device(dev), mask.to_device(dev));
    let steps = actions.iter().map(Vec::len).max().unwrap_or(0);
    let mut out = vec![Vec::new(); n];
    let mut objects = vec![Vec::new(); n];
    let mut carry = Carry::new(model, initial, n, canvas)?;
    tch::no_grad(|| -> Result<(), WorldModelError> {
        for k in 0..steps {
            // Rollouts that ran out of actions repeat their last one; their frames are dropped.
            let given: Vec<Option<Action>> = actions
                .iter()
                .map(|a| a.get(k).or(a.last()).copied())
                .collect();
            let input = ActionInput::from_actions(c.action_space, &given, dev)?;
            carry.place_for(&given);
            let now = carry.objects_tensor(model);
            let step = model.forward(&StepInput {
                frames: &carry.frames,
                text: &tokens,
                text_mask: &mask,
                actions: &input,
                objects: now.as_ref(),
            })?;
            carry.advance(model, &step)?;
            let bytes = tensor_to_frames(&carry.frames);
            for (i, a) in actions.iter().enumerate() {
                if k < a.len() {
                    out[i].push(bytes[i * fl..(i + 1) * fl].to_vec());
                    if let Some((o, _)) = &carry.objects {
                        objects[i].push(o[i].clone());
                    }
                }
            }
        }
        Ok(())
    })?;
    Ok((out, objects))
}
