//! The object-state head on Meta-World: it tracks the seven perceived values, trains on keyframe
//! samples and lowers its loss, its canvas redraws real start states of several tasks from their
//! perceived values (each with its own task's simulator), and imagination with it is
//! deterministic.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};
use vlgor_render::{RenderConfig, Renderer};
use vlgor_sim::validate::perceive;
use vlgor_sim::{EnvKind, EnvSpec, Level};
use vlgor_vlm::world_model::{
    RolloutPlan, StateCanvas, TextSource, TrainOptions, VisualHead, WorldModel, WorldModelConfig,
    WorldModelError, imagine, render_rollout_samples, train,
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

fn tiny() -> WorldModelConfig {
    WorldModelConfig {
        image_size: 32,
        patch_size: 8,
        width: 32,
        layers: 2,
        heads: 2,
        mlp_ratio: 2,
        text_dim: 16,
        max_text_tokens: 8,
        visual_head: VisualHead::ObjectState,
        ..WorldModelConfig::cpu_quick(EnvKind::MetaWorld)
    }
}

fn renderer() -> Renderer {
    Renderer::new(RenderConfig {
        width: 32,
        height: 32,
        supersample: 1,
    })
    .unwrap()
}

/// Mean absolute difference of two u8 frames, in grey levels.
fn mean_abs(a: &[u8], b: &[u8]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - *y as f64).abs())
        .sum::<f64>()
        / a.len() as f64
}

#[test]
fn metaworld_object_state_head_tracks_trains_draws_and_imagines() {
    tch::set_num_threads(1);
    tch::manual_seed(3);
    let cfg = tiny();
    assert_eq!((cfg.objects, cfg.object_dim), (7, 1));
    let mut m = WorldModel::new(cfg, Device::Cpu).unwrap();
    let mut r = renderer();

    // Training on expert keyframes lowers the object loss.
    let plan = RolloutPlan {
        env: EnvKind::MetaWorld,
        episodes: 3,
        steps: 30,
        horizon_steps: 10,
        noise: 0.0,
        seed: 4,
    };
    let mut data = render_rollout_samples(&mut r, &plan).unwrap();
    let report = train(
        &mut m,
        &mut OneToken,
        &mut data,
        &TrainOptions {
            epochs: 60,
            batch_size: 4,
            learning_rate: 3e-3,
            ..Default::default()
        },
    )
    .unwrap();
    let (first, last) = (report.epoch_losses[0][1], report.epoch_losses[59][1]);
    eprintln!("object loss {first} -> {last}");
    assert!(last < 0.5 * first, "object loss {first} -> {last}");

    // Start states of three different tasks on one canvas.
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (mut states, mut goals, mut scenes, mut observed) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..3 {
        let spec = EnvSpec::cycle(EnvKind::MetaWorld, 3 * i);
        let ins = spec.sample_instruction(Level::Seen, &mut rng);
        let mut env = spec.make();
        env.reset(20 + i as u64, &ins).unwrap();
        states.push(env.state());
        goals.push(ins.goal.clone());
        scenes.push(env.scene(env.cameras()[0]).unwrap());
        observed.push(perceive(EnvKind::MetaWorld, &env.observation()));
    }
    let real = r.render_batch(&scenes).unwrap().pixels;
    let fl = 32 * 32 * 3;
    let frame = |f: &[u8], i: usize| f[i * fl..(i + 1) * fl].to_vec();
    let mut canvas = StateCanvas::new(&mut r, states.clone(), goals.clone()).unwrap();
    let start = canvas.initial_objects().unwrap();
    assert_eq!(
        start, observed,
        "the tracked objects are the perceived state"
    );
    let drawn = canvas.draw(&start).unwrap();
    for i in 0..3 {
        let same = mean_abs(&frame(&drawn, i), &frame(&real, i));
        let other = mean_abs(&frame(&drawn, i), &frame(&real, (i + 1) % 3));
        eprintln!("task {i}: redrawn vs real {same:.3}, vs another task {other:.3}");
        assert!(same < 0.1, "rollout {i} redrawn {same} grey levels off");
        assert!(
            same < other,
            "rollout {i} was drawn with another task's simulator"
        );
    }

    // Imagination: objects start at the perceived state and are deterministic.
    let texts = ["a", "b", "c"];
    let mut run = || {
        let mut canvas = StateCanvas::new(&mut r, states.clone(), goals.clone()).unwrap();
        imagine(&m, &mut OneToken, &texts, &real, 2, None, Some(&mut canvas)).unwrap()
    };
    let a = run();
    let b = run();
    assert_eq!(a.frames, b.frames);
    assert_eq!(a.objects, b.objects);
    for i in 0..3 {
        assert_eq!(a.objects[i].len(), 3);
        assert_eq!(a.objects[i][0], observed[i]);
        assert!(
            (0.0..=1.0).contains(&a.objects[i][2][3]),
            "gripper opening settles in [0, 1]"
        );
    }
    // A canvas needs one goal per state, all of one simulator.
    let Err(e) = StateCanvas::new(&mut r, states, goals[..2].to_vec()) else {
        panic!("a canvas with 3 states and 2 goals was accepted");
    };
    assert!(
        e.to_string()
            .contains("one metaworld goal per initial state"),
        "{e}"
    );
}
