//! Training on every transition (the final push is a frame-only sample with its action loss
//! masked) and the object-state visual head: it trains, and imagination with it draws the
//! predicted state deterministically; one-step look-ahead gives one outcome per candidate. On
//! Meta-World the head tracks the seven perceived values, and its canvas redraws real start
//! states of several tasks from them, each with its own task's simulator (how it moves
//! them: `world_model_motion.rs`).

mod support;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::Device;
use vlgor_render::Renderer;
use vlgor_sim::clevr::ClevrEnv;
use vlgor_sim::validate::perceive;
use vlgor_sim::{Action, Env, EnvKind, EnvSpec, GoalSpec, Level};
use vlgor_vlm::world_model::losses::batch_losses;
use vlgor_vlm::world_model::objects::read_objects;
use vlgor_vlm::world_model::{
    Candidates, RolloutPlan, SampleProvider, StateCanvas, TrainOptions, VisualHead, WorldModel,
    WorldModelConfig, imagine, predict_outcomes, render_rollout_samples, train,
};

use support::{OneToken, assert_object_loss_falls, metaworld_tiny, renderer_px, tiny_for};

fn tiny(head: VisualHead) -> WorldModelConfig {
    tiny_for(EnvKind::Clevr, head)
}

fn renderer() -> Renderer {
    renderer_px(16)
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

/// Fresh CLEVR start states, their 16-px frames and their instructions' goals.
fn starts(n: usize, r: &mut Renderer) -> (Vec<Vec<f32>>, Vec<u8>, Vec<GoalSpec>) {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut env = ClevrEnv::new();
    let mut states = Vec::new();
    let mut scenes = Vec::new();
    let mut goals = Vec::new();
    for i in 0..n {
        let ins = vlgor_sim::clevr::sample_instruction(Level::Seen, &mut rng);
        env.reset(100 + i as u64, &ins).unwrap();
        states.push(env.state());
        scenes.push(env.scene("default").unwrap());
        goals.push(ins.goal);
    }
    let frames = r.render_batch(&scenes).unwrap().pixels;
    (states, frames, goals)
}

#[test]
fn object_state_head_trains_and_imagines_deterministically() {
    tch::set_num_threads(1);
    tch::manual_seed(2);
    let mut m = WorldModel::new(tiny(VisualHead::ObjectState), Device::Cpu).unwrap();
    assert_eq!(m.config().objects, 6);
    let mut r = renderer();
    let mut data = render_rollout_samples(&mut r, &plan(4, 3)).unwrap();
    assert_object_loss_falls(&mut m, &mut data, 80, 8, 0.3);

    // Imagination: objects start at the real state's, frames are drawn from the moved objects.
    let (states, initial, goals) = starts(3, &mut r);
    let texts = ["a", "b", "c"];
    let run = |r: &mut Renderer| {
        let mut canvas = StateCanvas::new(r, states.clone(), goals.clone()).unwrap();
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
    let a = run(&mut r);
    let b = run(&mut r);
    assert_eq!(a.frames, b.frames);
    assert_eq!(a.objects, b.objects);
    assert_eq!(a.actions, b.actions);
    for (i, s) in states.iter().enumerate() {
        assert_eq!(a.objects[i].len(), 4);
        assert_eq!(
            a.objects[i][0],
            read_objects(EnvKind::Clevr, s, &[]).unwrap()
        );
        assert_ne!(a.objects[i][1], a.objects[i][0], "rollout {i} did not move");
    }
    let mut canvas = StateCanvas::new(&mut r, states.clone(), goals).unwrap();
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

/// A 16-px grey frame with a red disc of radius 3 px centred at (`cx`, 8).
fn disc(cx: f32) -> Vec<u8> {
    let mut f = vec![128u8; 16 * 16 * 3];
    for y in 0..16 {
        for x in 0..16 {
            let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - 8.0);
            if dx * dx + dy * dy <= 9.0 {
                f[(y * 16 + x) * 3..(y * 16 + x) * 3 + 3].copy_from_slice(&[230, 20, 20]);
            }
        }
    }
    f
}

/// The red pixels' mean x (px) of a u8 [16, 16, 3] frame.
fn red_centroid(f: &[u8]) -> f32 {
    let (mut sum, mut n) = (0f32, 0f32);
    for (i, p) in f.chunks(3).enumerate() {
        if p[0] > 180 && p[1] < 90 {
            sum += (i % 16) as f32 + 0.5;
            n += 1.0;
        }
    }
    sum / n.max(1.0)
}

#[test]
fn transformation_head_moves_a_ball_by_a_known_shift() {
    tch::set_num_threads(1);
    tch::manual_seed(3);
    let mut m = WorldModel::new(tiny(VisualHead::Transform), Device::Cpu).unwrap();
    let (from, to) = (disc(6.0), disc(9.0));
    let mut data = vlgor_vlm::world_model::SampleBatch::default();
    for _ in 0..4 {
        data.frames.extend_from_slice(&from);
        data.target_frames.extend_from_slice(&to);
        data.instructions.push("push the red ball right".into());
        data.actions.push(Some(Action::Discrete(0)));
        data.has_target_frame.push(true);
        data.target_actions.push(None);
    }
    let report = train(
        &mut m,
        &mut OneToken,
        &mut data,
        &TrainOptions {
            epochs: 150,
            batch_size: 4,
            learning_rate: 3e-3,
            ..Default::default()
        },
    )
    .unwrap();
    let (first, last) = (report.epoch_losses[0][1], report.epoch_losses[149][1]);
    assert!(last < 0.1 * first, "frame loss {first} -> {last}");
    let pred = vlgor_vlm::world_model::rollout_with_actions(
        &m,
        &mut OneToken,
        &["push the red ball right"],
        &from,
        &[vec![Action::Discrete(0)]],
        None,
    )
    .unwrap()
    .0;
    let moved = red_centroid(&pred[0][0]) - red_centroid(&from);
    assert!(
        (moved - 3.0).abs() < 0.75,
        "the ball moved {moved} px, not 3"
    );
}

/// One-step look-ahead ([`predict_outcomes`]): one perceived state per (start frame,
/// candidate), the same whichever other candidates share the batch, and a clear error where a
/// head cannot produce outcomes.
#[test]
fn lookahead_gives_one_outcome_per_candidate_independent_of_the_batch() {
    tch::set_num_threads(1);
    tch::manual_seed(4);
    let mut m = WorldModel::new(tiny(VisualHead::ObjectState), Device::Cpu).unwrap();
    let mut r = renderer();
    let mut data = render_rollout_samples(
        &mut r,
        &RolloutPlan {
            env: EnvKind::Clevr,
            episodes: 4,
            steps: 3,
            horizon_steps: 1,
            noise: 0.5,
            seed: 1,
        },
    )
    .unwrap();
    train(
        &mut m,
        &mut OneToken,
        &mut data,
        &TrainOptions {
            epochs: 10,
            batch_size: 8,
            learning_rate: 3e-3,
            ..Default::default()
        },
    )
    .unwrap();

    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut env = ClevrEnv::new();
    let (mut objects, mut scenes) = (Vec::new(), Vec::new());
    for i in 0..2 {
        let ins = vlgor_sim::clevr::sample_instruction(Level::Seen, &mut rng);
        env.reset(50 + i, &ins).unwrap();
        objects.push(read_objects(EnvKind::Clevr, &env.state(), &[]).unwrap());
        scenes.push(env.scene("default").unwrap());
    }
    let frames = r.render_batch(&scenes).unwrap().pixels;
    let texts = ["a", "b"];
    let all: Vec<Vec<Action>> = vec![
        (0..40).map(Action::Discrete).collect(),
        vec![Action::Discrete(3), Action::Discrete(17)],
    ];
    let outcomes = |actions: &[Vec<Action>]| {
        predict_outcomes(
            &m,
            &mut OneToken,
            &Candidates {
                env: EnvKind::Clevr,
                instructions: &texts,
                frames: &frames,
                objects: Some(&objects),
                actions,
            },
            None,
        )
        .unwrap()
    };
    let batched = outcomes(&all);
    assert_eq!(batched[0].len(), 40);
    assert_eq!(batched[1].len(), 2);
    assert!(
        batched.iter().flatten().all(|s| s.len() == 10),
        "ten ball coordinates"
    );
    // Pushes of different balls imagine different outcomes.
    assert_ne!(batched[0][0], batched[0][39]);
    // The same candidate alone gives the same outcome (up to float reassociation).
    let alone = outcomes(&[vec![Action::Discrete(17)], vec![Action::Discrete(17)]]);
    for (a, b) in alone[1][0].iter().zip(&batched[1][1]) {
        assert!(
            (a - b).abs() < 1e-4,
            "{:?} vs {:?}",
            alone[1][0],
            batched[1][1]
        );
    }
    for (a, b) in alone[0][0].iter().zip(&batched[0][17]) {
        assert!(
            (a - b).abs() < 1e-4,
            "{:?} vs {:?}",
            alone[0][0],
            batched[0][17]
        );
    }

    // A frame-predicting head needs a readout; the object head needs the tracked objects.
    let direct = WorldModel::new(tiny(VisualHead::Direct), Device::Cpu).unwrap();
    for (model, objects, expected) in [
        (&direct, Some(&objects[..]), "readout"),
        (&m, None, "tracked objects"),
    ] {
        let e = predict_outcomes(
            model,
            &mut OneToken,
            &Candidates {
                env: EnvKind::Clevr,
                instructions: &texts,
                frames: &frames,
                objects,
                actions: &all,
            },
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains(expected), "{e}");
    }
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
    let cfg = metaworld_tiny();
    assert_eq!((cfg.objects, cfg.object_dim), (7, 1));
    let mut m = WorldModel::new(cfg, Device::Cpu).unwrap();
    let mut r = renderer_px(32);

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
    assert_object_loss_falls(&mut m, &mut data, 60, 4, 0.5);

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
    for (objects, seen) in a.objects.iter().zip(&observed) {
        assert_eq!(objects.len(), 3);
        assert_eq!(&objects[0], seen);
        assert!(
            (0.0..=1.0).contains(&objects[2][3]),
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
