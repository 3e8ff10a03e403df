//! Training on every transition (the final push is a frame-only sample with its action loss
//! masked) and the object-state visual head: it trains, and imagination with it draws the
//! predicted state deterministically.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};
use vlgor_render::{RenderConfig, Renderer};
use vlgor_sim::clevr::ClevrEnv;
use vlgor_sim::{Action, Env, EnvKind, Level};
use vlgor_vlm::world_model::losses::batch_losses;
use vlgor_vlm::world_model::objects::read_objects;
use vlgor_vlm::world_model::{
    RolloutPlan, SampleProvider, StateCanvas, TextSource, TrainOptions, VisualHead, WorldModel,
    WorldModelConfig, WorldModelError, imagine, render_rollout_samples, train,
};

/// Every instruction is the same single token (these tests are about frames and states).
struct OneToken;

impl TextSource for OneToken {
    fn tokens(&mut self, texts: &[&str]) -> Result<(Tensor, Tensor), WorldModelError> {
        let n = texts.len() as i64;
        Ok((
            Tensor::ones([n, 1, 16], (Kind::Float, Device::Cpu)),
            Tensor::ones([n, 1], (Kind::Float, Device::Cpu)),
        ))
    }
}

fn tiny(head: VisualHead) -> WorldModelConfig {
    WorldModelConfig {
        image_size: 16,
        patch_size: 4,
        width: 32,
        layers: 2,
        heads: 2,
        mlp_ratio: 2,
        text_dim: 16,
        max_text_tokens: 8,
        visual_head: head,
        action_loss_weight: 1.0,
        ..WorldModelConfig::cpu_quick(EnvKind::Clevr)
    }
}

fn renderer() -> Renderer {
    Renderer::new(RenderConfig {
        width: 16,
        height: 16,
        supersample: 1,
    })
    .unwrap()
}

fn plan(episodes: usize, steps: usize) -> RolloutPlan {
    RolloutPlan {
        env: EnvKind::Clevr,
        episodes,
        steps,
        horizon_steps: 1,
        noise: 1.0,
        seed: 4,
    }
}

#[test]
fn one_push_episodes_give_a_final_push_sample_without_next_action() {
    tch::set_num_threads(1);
    let mut r = renderer();
    let s = render_rollout_samples(&mut r, &plan(3, 1)).unwrap();
    // Per episode: the first step (action only) and the final push (frame only).
    assert_eq!(s.len(), 6);
    for e in 0..3 {
        let (first, last) = (2 * e, 2 * e + 1);
        assert!(!s.has_target_frame[first] && s.target_actions[first].is_some());
        assert!(s.has_target_frame[last] && s.actions[last].is_some());
        assert_eq!(s.target_actions[last], None);
    }
    // Six tracked objects (x, y) per sample; the push moved something.
    assert_eq!(s.objects.len(), 6 * 12);
    let moved = (0..12)
        .map(|k| (s.target_objects[12 + k] - s.objects[12 + k]).abs())
        .fold(0f32, f32::max);
    assert!(moved > 1e-3, "the final push moved nothing ({moved} m)");
}

#[test]
fn the_action_loss_of_a_final_transition_is_masked() {
    tch::set_num_threads(1);
    tch::manual_seed(1);
    let m = WorldModel::new(tiny(VisualHead::Direct), Device::Cpu).unwrap();
    let mut r = renderer();
    let mut s = render_rollout_samples(&mut r, &plan(1, 1)).unwrap();
    let mut last = s.batch(&[1]).unwrap();
    let masked = batch_losses(&m, &mut OneToken, &last, 0.0).unwrap();
    assert_eq!(masked.action.double_value(&[]), 0.0);
    assert!(masked.frame.double_value(&[]) > 0.0);
    last.target_actions[0] = Some(Action::Discrete(3));
    let unmasked = batch_losses(&m, &mut OneToken, &last, 0.0).unwrap();
    // A fresh model's logits are near uniform over 40 pushes: CE ≈ ln 40.
    let ce = unmasked.action.double_value(&[]);
    assert!((ce - 40f64.ln()).abs() < 0.5, "CE {ce}");
    assert_eq!(
        masked.frame.double_value(&[]),
        unmasked.frame.double_value(&[])
    );
}

/// Fresh CLEVR start states, their 16-px frames and instructions.
fn starts(n: usize, r: &mut Renderer) -> (Vec<Vec<f32>>, Vec<u8>) {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut env = ClevrEnv::new();
    let mut states = Vec::new();
    let mut scenes = Vec::new();
    for i in 0..n {
        let ins = vlgor_sim::clevr::sample_instruction(Level::Seen, &mut rng);
        env.reset(100 + i as u64, &ins).unwrap();
        states.push(env.state());
        scenes.push(env.scene("default").unwrap());
    }
    let frames = r.render_batch(&scenes).unwrap().pixels;
    (states, frames)
}

#[test]
fn object_state_head_trains_and_imagines_deterministically() {
    tch::set_num_threads(1);
    tch::manual_seed(2);
    let mut m = WorldModel::new(tiny(VisualHead::ObjectState), Device::Cpu).unwrap();
    assert_eq!(m.config().objects, 6);
    let mut r = renderer();
    let mut data = render_rollout_samples(&mut r, &plan(4, 3)).unwrap();
    let report = train(
        &mut m,
        &mut OneToken,
        &mut data,
        &TrainOptions {
            epochs: 80,
            batch_size: 8,
            learning_rate: 3e-3,
            ..Default::default()
        },
    )
    .unwrap();
    let (first, last) = (report.epoch_losses[0][1], report.epoch_losses[79][1]);
    eprintln!("object loss {first} -> {last}");
    assert!(last < 0.3 * first, "object loss {first} -> {last}");

    // Imagination: objects start at the real state's, frames are drawn from the moved objects.
    let (states, initial) = starts(3, &mut r);
    let texts = ["a", "b", "c"];
    let mut env = ClevrEnv::new();
    let run = |r: &mut Renderer, env: &mut ClevrEnv| {
        let mut canvas = StateCanvas {
            env,
            renderer: r,
            states: states.clone(),
        };
        imagine(
            &m,
            &mut OneToken,
            &texts,
            &initial,
            3,
            None,
            Some(&mut canvas),
        )
        .unwrap()
    };
    let a = run(&mut r, &mut env);
    let b = run(&mut r, &mut env);
    assert_eq!(a.frames, b.frames);
    assert_eq!(a.objects, b.objects);
    assert_eq!(a.actions, b.actions);
    for (i, s) in states.iter().enumerate() {
        assert_eq!(a.objects[i].len(), 4);
        assert_eq!(a.objects[i][0], read_objects(EnvKind::Clevr, s).unwrap());
        assert_ne!(a.objects[i][1], a.objects[i][0], "rollout {i} did not move");
    }
    let mut canvas = StateCanvas {
        env: &mut env,
        renderer: &mut r,
        states: states.clone(),
    };
    let step1: Vec<Vec<f32>> = a.objects.iter().map(|o| o[1].clone()).collect();
    let drawn = canvas.draw(&step1).unwrap();
    let fl = 16 * 16 * 3;
    for i in 0..3 {
        assert_eq!(a.frames[i][1], drawn[i * fl..(i + 1) * fl]);
    }
    // Without the start states the head cannot draw.
    let e = imagine(&m, &mut OneToken, &texts, &initial, 1, None, None).unwrap_err();
    assert!(e.to_string().contains("initial simulator states"), "{e}");
}
