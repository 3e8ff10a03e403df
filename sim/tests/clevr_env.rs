//! ClevrEnv: action semantics, collisions, reward sign, determinism, bit-exact save/restore,
//! errors and cameras.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use vlgor_sim::clevr::physics::{DIRECTIONS, WorldState, push};
use vlgor_sim::clevr::templates::relation_training;
use vlgor_sim::clevr::text::instruction;
use vlgor_sim::clevr::{ClevrEnv, ClevrGoal, Direction, sample_instruction};
use vlgor_sim::{Action, Env, Level};

/// Ball `ball` at the table centre, the others in the corners.
fn centred(ball: usize) -> WorldState {
    let mut corners = vec![[-0.45, -0.15], [0.45, -0.15], [-0.45, 0.55], [0.45, 0.55]].into_iter();
    let xy = std::array::from_fn(|i| {
        if i == ball {
            [0.0, 0.2]
        } else {
            corners.next().unwrap()
        }
    });
    WorldState::resting(&xy)
}

#[test]
fn pushing_ball_b_in_direction_d_moves_it_along_d() {
    for ball in 0..5 {
        for (dir, d) in DIRECTIONS.iter().enumerate() {
            let mut s = centred(ball);
            push(&mut s, ball, dir).unwrap();
            let p = s.balls[ball].xy();
            let (dx, dy) = (p[0], p[1] - 0.2);
            let len = (dx * dx + dy * dy).sqrt();
            let n = (d[0] * d[0] + d[1] * d[1]).sqrt();
            let cos = (dx * d[0] + dy * d[1]) / (len * n);
            assert!(
                len > 0.12 && cos > 0.98,
                "ball {ball} dir {dir}: moved ({dx}, {dy})"
            );
        }
    }
}

#[test]
fn pushed_ball_knocks_on_a_ball_in_its_way() {
    let mut s = WorldState::resting(&[
        [-0.2, 0.2],
        [0.1, 0.2],
        [-0.45, -0.15],
        [0.45, 0.55],
        [-0.45, 0.55],
    ]);
    push(&mut s, 0, 0).unwrap();
    let blue = s.balls[1].xy();
    assert!(blue[0] - 0.1 > 0.03, "blue was not knocked on: {blue:?}");
}

fn relation_instruction(goal: ClevrGoal) -> vlgor_sim::Instruction {
    instruction(goal, &relation_training()[0], Level::Seen).unwrap()
}

#[test]
fn reward_sign_follows_distance() {
    let mut env = ClevrEnv::new();
    let instr = relation_instruction(ClevrGoal::relation(0, 1, Direction::Left));
    env.reset(1, &instr).unwrap();
    let xy = [
        [-0.4, 0.2],
        [0.4, 0.2],
        [-0.45, -0.15],
        [0.45, 0.55],
        [-0.45, 0.55],
    ];
    let mut state = Vec::new();
    WorldState::resting(&xy).write(&mut state);
    state.extend(xy.iter().flatten());
    state.push(0.0);
    env.set_state(&state).unwrap();
    let toward = env.step(&Action::Discrete(0)).unwrap(); // red pushed right, toward blue
    assert!(toward.reward > 0.5 && !toward.success, "{toward:?}");
    env.set_state(&state).unwrap();
    let away = env.step(&Action::Discrete(3)).unwrap(); // red pushed to the front: farther
    assert!(away.reward < 0.0, "{away:?}");
}

fn rollout(seed: u64, steps: usize) -> Vec<Vec<f32>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let instr = sample_instruction(Level::Seen, &mut rng);
    let mut env = ClevrEnv::new();
    env.reset(seed, &instr).unwrap();
    (0..steps)
        .map(|_| {
            let a = env.random_action(&mut rng);
            env.step(&a).unwrap();
            env.state()
        })
        .collect()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn same_seed_and_actions_give_bit_identical_states() {
    let a = rollout(42, 12);
    let b = rollout(42, 12);
    assert!(a.iter().zip(&b).all(|(x, y)| bits(x) == bits(y)));
    let c = rollout(43, 12);
    assert_ne!(bits(&a[11]), bits(&c[11]));
}

#[test]
fn set_state_then_step_equals_continuing_bit_for_bit() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let instr = sample_instruction(Level::Seen, &mut rng);
    let mut env = ClevrEnv::new();
    env.reset(7, &instr).unwrap();
    let actions: Vec<Action> = (0..14).map(|_| env.random_action(&mut rng)).collect();
    for a in &actions[..6] {
        env.step(a).unwrap();
    }
    let saved = env.state();
    let cont: Vec<(Vec<f32>, f32)> = actions[6..]
        .iter()
        .map(|a| {
            let o = env.step(a).unwrap();
            (env.state(), o.reward)
        })
        .collect();
    let mut other = ClevrEnv::new();
    other.reset(999, &instr).unwrap();
    other.set_state(&saved).unwrap();
    assert_eq!(bits(&other.state()), bits(&saved));
    for (a, (s, r)) in actions[6..].iter().zip(&cont) {
        let o = other.step(a).unwrap();
        assert_eq!(bits(&other.state()), bits(s));
        assert_eq!(o.reward.to_bits(), r.to_bits());
    }
    assert_eq!(other.steps(), 14);
}

#[test]
fn episode_times_out_at_the_horizon_and_bad_inputs_are_errors() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let instr = sample_instruction(Level::Hard, &mut rng);
    let mut env = ClevrEnv::new();
    env.reset(3, &instr).unwrap();
    assert_eq!(env.observation().len(), 10);
    let mut last = None;
    for _ in 0..env.horizon() {
        let o = env
            .step(&Action::Discrete(rng.random_range(0..40)))
            .unwrap();
        if o.success {
            return; // a random walk solved it; nothing more to check
        }
        last = Some(o);
    }
    assert!(last.unwrap().timeout);
    assert!(env.step(&Action::Discrete(40)).is_err());
    assert!(env.step(&Action::Continuous([0.0; 4])).is_err());
    assert!(env.set_state(&[0.0; 3]).is_err());
    let mut bad = env.state();
    bad[0] = f32::NAN;
    assert!(env.set_state(&bad).is_err());
    let err = env.scene("side").unwrap_err().to_string();
    assert!(err.contains("default") && err.contains("topview"), "{err}");
}

fn cross(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

#[test]
fn cameras_agree_with_the_front_behind_convention() {
    let env = ClevrEnv::new();
    assert_eq!(env.cameras()[0], "default");
    let s = env.scene("default").unwrap();
    let c = s.camera;
    let fwd = [
        c.target[0] - c.eye[0],
        c.target[1] - c.eye[1],
        c.target[2] - c.eye[2],
    ];
    // On the -y side looking along +y, 45 deg down: front (-y) is closer to the camera.
    assert!(fwd[1] > 0.0 && (fwd[1] + fwd[2]).abs() < 1e-4 && c.eye[0] == c.target[0]);
    assert!(cross(fwd, c.up)[0] > 0.0, "+x must be image-right");
    assert_eq!(c.fovy_deg, 45.0);
    // table + 5 balls + pusher, walls invisible.
    assert_eq!(s.shapes.len(), 7);
    let t = env.scene("topview").unwrap().camera;
    assert_eq!(t.up, [0.0, 1.0, 0.0]);
    let fwd = [
        t.target[0] - t.eye[0],
        t.target[1] - t.eye[1],
        t.target[2] - t.eye[2],
    ];
    assert!(fwd[0] == 0.0 && fwd[1] == 0.0 && fwd[2] < 0.0);
    assert!(cross(fwd, t.up)[0] > 0.0);
}

#[test]
fn long_random_rollouts_keep_balls_on_the_table_inside_the_walls() {
    use vlgor_sim::clevr::physics::{BALL_Z, REACH_X, REACH_Y};
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let instr = sample_instruction(Level::Seen, &mut rng);
    let mut env = ClevrEnv::new();
    for ep in 0..4 {
        env.reset(ep, &instr).unwrap();
        for _ in 0..100 {
            let a = env.random_action(&mut rng);
            env.step(&a).unwrap();
            for b in env.world().balls {
                let [x, y, z] = b.position;
                let tol = 0.02;
                assert!(x > REACH_X[0] - tol && x < REACH_X[1] + tol, "x {x}");
                assert!(y > REACH_Y[0] - tol && y < REACH_Y[1] + tol, "y {y}");
                assert!((z - BALL_Z).abs() < 0.05, "z {z}");
            }
        }
    }
}
