//! The training losses: the visual loss of the model's head (frame MSE for the direct head,
//! object-state MSE for the object-state head) plus the weighted action loss, each masked
//! per sample (no target frame on first-step samples, no next action on final transitions).

use tch::{Device, Kind, Tensor};
use vlgor_sim::Action;

use super::config::{ActionSpace, MOTION_THRESHOLD_M, VisualHead};
use super::error::WorldModelError;
use super::model::{ActionInput, OBJECT_UNIT_M, StepInput, StepOutput, WorldModel};
use super::objects::place_for_action;
use super::text::TextSource;
use super::train::{SampleBatch, frames_to_tensor};

/// The losses of one batch.
pub struct Losses {
    /// Frame MSE (direct head) or object-state MSE in units of [`OBJECT_UNIT_M`]² (object head;
    /// plus the motion gate's cross-entropy where it has one).
    pub frame: Tensor,
    pub action: Tensor,
    pub total: Tensor,
}

/// What a batch is scored against.
pub struct Targets<'a> {
    /// s_{t+h}, f32 [B, 3, H, W].
    pub frames: &'a Tensor,
    /// f32 [B]: 1 where the sample has a target frame.
    pub has_frame: &'a Tensor,
    /// a_{t+h}; `None` masks the sample's action loss.
    pub actions: &'a [Option<Action>],
    /// Tracked objects in s_t and s_{t+h}, f32 [B, K, D] (object-state head only).
    pub objects: Option<(Tensor, Tensor)>,
}

fn masked_mean(per_sample: &Tensor, weight: &Tensor) -> Tensor {
    (per_sample * weight).sum(Kind::Float) / weight.sum(Kind::Float).clamp_min(1.0)
}

/// Mean squared error of the frame (direct head). With `change_weight` λ > 0 the squared error
/// of every pixel that changes between the input and the target frame (channel-summed absolute
/// change > 0.1) counts 1 + λ times: most of a frame is static, and an unweighted MSE is
/// minimised by copying (and blurring) the input.
fn frame_loss(out: &StepOutput, input: &Tensor, t: &Targets, change_weight: f64) -> Tensor {
    let mut err = (&out.frames - t.frames).square();
    if change_weight > 0.0 {
        let changed = (t.frames - input)
            .abs()
            .sum_dim_intlist(&[1i64][..], true, Kind::Float)
            .gt(0.1)
            .to_kind(Kind::Float);
        err *= changed * change_weight + 1.0;
    }
    masked_mean(
        &err.mean_dim(&[1i64, 2, 3][..], false, Kind::Float),
        t.has_frame,
    )
}

/// Object-state loss: the squared error of every object's displacement from s_t to s_{t+h}
/// (samples with a target), in [`OBJECT_UNIT_M`]. The positions in s_t are the model's input,
/// so only the displacement is learned. With the motion gate, the squared error counts only
/// for values that move (more than [`MOTION_THRESHOLD_M`]), and the gate's logits add their
/// binary cross-entropy against "moves" for every value.
fn object_loss(out: &StepOutput, t: &Targets) -> Result<Tensor, WorldModelError> {
    let (pred, (now, next)) = match (&out.objects, &t.objects) {
        (Some(p), Some(o)) => (p, o),
        _ => {
            return Err(WorldModelError::BadInput(
                "the object_state head trains on samples with object states (a dataset or \
                 rollouts with states)"
                    .into(),
            ));
        }
    };
    let od = now.size()[2];
    let change = next - now;
    if let Some(m) = &out.motion {
        let moves = change.abs().gt(MOTION_THRESHOLD_M).to_kind(Kind::Float);
        let moved = ((&m.displacement - &change) / OBJECT_UNIT_M).square() * &moves;
        let gate = m.logits.binary_cross_entropy_with_logits::<Tensor>(
            &moves,
            None,
            None,
            tch::Reduction::None,
        );
        let per = (moved + gate).mean_dim(&[1i64, 2][..], false, Kind::Float);
        return Ok(masked_mean(&per, t.has_frame));
    }
    let moved = ((pred.narrow(2, od, od) - change) / OBJECT_UNIT_M)
        .square()
        .mean_dim(&[1i64, 2][..], false, Kind::Float);
    Ok(masked_mean(&moved, t.has_frame))
}

/// Action cross-entropy (discrete) or MSE (continuous), averaged over samples with a next action.
fn action_loss(
    space: ActionSpace,
    logits: &Tensor,
    targets: &[Option<Action>],
    dev: Device,
) -> Result<Tensor, WorldModelError> {
    let present: Vec<f32> = targets.iter().map(|a| a.is_some() as u8 as f32).collect();
    let present = Tensor::from_slice(&present).to_device(dev);
    let per = match space {
        ActionSpace::Discrete { .. } => {
            let ids: Vec<i64> = targets
                .iter()
                .map(|a| match a {
                    Some(Action::Discrete(k)) => Ok(*k as i64),
                    None => Ok(0),
                    Some(o) => Err(WorldModelError::BadInput(format!(
                        "target action {o:?} is not discrete"
                    ))),
                })
                .collect::<Result<_, _>>()?;
            let ids = Tensor::from_slice(&ids).to_device(dev).unsqueeze(1);
            -logits
                .log_softmax(-1, Kind::Float)
                .gather(1, &ids, false)
                .squeeze_dim(1)
        }
        ActionSpace::Continuous { dim } => {
            let mut v = Vec::with_capacity(targets.len() * dim);
            for a in targets {
                match a {
                    Some(Action::Continuous(x)) => v.extend_from_slice(&x[..dim]),
                    None => v.extend(std::iter::repeat_n(0.0, dim)),
                    Some(o) => {
                        return Err(WorldModelError::BadInput(format!(
                            "target action {o:?} is not continuous"
                        )));
                    }
                }
            }
            let t = Tensor::from_slice(&v)
                .to_device(dev)
                .view([targets.len() as i64, dim as i64]);
            (logits - t)
                .square()
                .mean_dim(&[1i64][..], false, Kind::Float)
        }
    };
    Ok(masked_mean(&per, &present))
}

/// The losses of the model's output `out` for inputs `input` against `t`.
pub fn losses(
    model: &WorldModel,
    out: &StepOutput,
    input: &Tensor,
    t: &Targets,
    change_weight: f64,
) -> Result<Losses, WorldModelError> {
    let c = model.config();
    let frame = match c.visual_head {
        VisualHead::ObjectState => object_loss(out, t)?,
        _ => frame_loss(out, input, t, change_weight),
    };
    let action = action_loss(c.action_space, &out.action, t.actions, model.device())?;
    let total = &frame + &action * c.action_loss_weight;
    Ok(Losses {
        frame,
        action,
        total,
    })
}

/// Runs the model on a sample batch and returns its losses.
pub fn batch_losses(
    model: &WorldModel,
    text: &mut dyn TextSource,
    batch: &SampleBatch,
    change_weight: f64,
) -> Result<Losses, WorldModelError> {
    let c = model.config();
    batch.validate(c.image_size)?;
    let dev = model.device();
    let n = batch.len();
    let frames = frames_to_tensor(&batch.frames, n, c.image_size, dev);
    let targets = frames_to_tensor(&batch.target_frames, n, c.image_size, dev);
    let has: Vec<f32> = batch
        .has_target_frame
        .iter()
        .map(|&b| b as u8 as f32)
        .collect();
    let has = Tensor::from_slice(&has).to_device(dev);
    let objects = if c.visual_head == VisualHead::ObjectState {
        let (k, od) = (c.objects, c.object_dim);
        let per = (od * k) as usize;
        if batch.objects.len() != n * per {
            return Err(WorldModelError::BadInput(format!(
                "the object_state head needs {k} object positions per sample; the batch has {} \
                 floats for {n} samples",
                batch.objects.len()
            )));
        }
        let shape = [n as i64, k, od];
        let mut now = batch.objects.clone();
        for (o, a) in now.chunks_exact_mut(per).zip(&batch.actions) {
            place_for_action(o, *a);
        }
        Some((
            Tensor::from_slice(&now).to_device(dev).view(shape),
            Tensor::from_slice(&batch.target_objects)
                .to_device(dev)
                .view(shape),
        ))
    } else {
        None
    };
    let texts: Vec<&str> = batch.instructions.iter().map(String::as_str).collect();
    let (tokens, mask) = text.tokens(&texts)?;
    let actions = ActionInput::from_actions(c.action_space, &batch.actions, dev)?;
    let out = model.forward(&StepInput {
        frames: &frames,
        text: &tokens.to_device(dev),
        text_mask: &mask.to_device(dev),
        actions: &actions,
        objects: objects.as_ref().map(|(now, _)| now),
    })?;
    let t = Targets {
        frames: &targets,
        has_frame: &has,
        actions: &batch.target_actions,
        objects,
    };
    losses(model, &out, &frames, &t, change_weight)
}
