//! Helpers shared by the world-model head tests: a one-token text source, tiny configs, a
//! small renderer, a loss-falls check and the true and predicted object changes.

#![allow(dead_code)]

use tch::{Device, Kind, Tensor};
use vlgor_render::{RenderConfig, Renderer};
use vlgor_sim::EnvKind;
use vlgor_vlm::world_model::train::frames_to_tensor;
use vlgor_vlm::world_model::{
    ActionInput, SampleBatch, SampleProvider, StepInput, TextSource, TrainOptions, VisualHead,
    WorldModel, WorldModelConfig, WorldModelError, train,
};

/// Every instruction is the same single token (these tests are about frames and states).
pub struct OneToken;

impl TextSource for OneToken {
    fn tokens(&mut self, texts: &[&str]) -> Result<(Tensor, Tensor), WorldModelError> {
        let n = texts.len() as i64;
        Ok((
            Tensor::ones([n, 1, 16], (Kind::Float, Device::Cpu)),
            Tensor::ones([n, 1], (Kind::Float, Device::Cpu)),
        ))
    }
}

/// The sizes of a tiny world model for `env`: 16-px frames in 4-px patches, width 32, two
/// layers of two heads, 16-d single-token text; everything else the CPU preset's.
pub fn tiny_sizes(env: EnvKind) -> WorldModelConfig {
    WorldModelConfig {
        image_size: 16,
        patch_size: 4,
        width: 32,
        layers: 2,
        heads: 2,
        mlp_ratio: 2,
        text_dim: 16,
        max_text_tokens: 8,
        ..WorldModelConfig::cpu_quick(env)
    }
}

/// [`tiny_sizes`] with `head` and the action loss weighted like the frame loss.
pub fn tiny_for(env: EnvKind, head: VisualHead) -> WorldModelConfig {
    WorldModelConfig {
        visual_head: head,
        action_loss_weight: 1.0,
        ..tiny_sizes(env)
    }
}

pub fn renderer_px(px: u32) -> Renderer {
    Renderer::new(RenderConfig {
        width: px,
        height: px,
        supersample: 1,
    })
    .unwrap()
}

/// Trains `m` on `data` (learning rate 3e-3) and asserts that the last epoch's object loss is
/// below `factor` times the first's.
pub fn assert_object_loss_falls(
    m: &mut WorldModel,
    data: &mut dyn SampleProvider,
    epochs: usize,
    batch_size: usize,
    factor: f64,
) {
    let opts = TrainOptions {
        epochs,
        batch_size,
        learning_rate: 3e-3,
        ..Default::default()
    };
    let report = train(m, &mut OneToken, data, &opts).unwrap();
    let (first, last) = (
        report.epoch_losses[0][1],
        report.epoch_losses[epochs - 1][1],
    );
    eprintln!("object loss {first} -> {last}");
    assert!(last < factor * first, "object loss {first} -> {last}");
}

/// [`tiny_for`] Meta-World with the object-state head, on 32-px frames.
pub fn metaworld_tiny() -> WorldModelConfig {
    WorldModelConfig {
        image_size: 32,
        patch_size: 8,
        ..tiny_for(EnvKind::MetaWorld, VisualHead::ObjectState)
    }
}

/// Per target sample of `data` and tracked value: the true change to s_{t+h} and the model's
/// predicted one (what imagination adds), m.
pub fn changes_and_predictions(m: &WorldModel, data: &mut SampleBatch) -> (Vec<f32>, Vec<f32>) {
    let idx: Vec<usize> = (0..data.len())
        .filter(|&i| data.has_target_frame[i])
        .collect();
    let b = data.batch(&idx).unwrap();
    let (n, c) = (b.len(), m.config());
    let frames = frames_to_tensor(&b.frames, n, c.image_size, Device::Cpu);
    let texts = vec!["a"; n];
    let (tokens, mask) = OneToken.tokens(&texts).unwrap();
    let actions = ActionInput::from_actions(c.action_space, &b.actions, Device::Cpu).unwrap();
    let now = Tensor::from_slice(&b.objects).view([n as i64, c.objects, c.object_dim]);
    let out = m
        .forward(&StepInput {
            frames: &frames,
            text: &tokens,
            text_mask: &mask,
            actions: &actions,
            objects: Some(&now),
        })
        .unwrap();
    let od = c.object_dim;
    let pred = Vec::<f32>::try_from(out.objects.unwrap().narrow(2, od, od).flatten(0, -1)).unwrap();
    let truth = b
        .target_objects
        .iter()
        .zip(&b.objects)
        .map(|(t, s)| t - s)
        .collect();
    (truth, pred)
}
