//! Meta-World physics core: hand tracking and its step response, gripper timing, joint limits,
//! determinism, exact save/restore, observation layout and input errors.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use vlgor_sim::metaworld::{MetaWorldEnv, STATE_LEN, Task};
use vlgor_sim::{Action, Env, SimError};

fn act(a: [f32; 4]) -> Action {
    Action::Continuous(a)
}

/// The original's hand displacement (mm) over steps 1-10 holding a = +1 in x.
const ORIGINAL_MM: [f32; 10] = [1.0, 3.7, 8.0, 13.9, 20.8, 28.7, 37.1, 45.9, 55.0, 64.3];

#[test]
fn hand_step_response_matches_the_original() {
    let mut env = MetaWorldEnv::new(Task::Reach);
    let x0 = env.perceived().hand[0];
    let t0 = env.hand_target()[0];
    println!("step  ours(mm)  original(mm)");
    for (i, want) in ORIGINAL_MM.iter().enumerate() {
        env.step(&act([1.0, 0.0, 0.0, -1.0])).unwrap();
        let got = (env.perceived().hand[0] - x0) * 1000.0;
        println!("{:4}  {got:8.1}  {want:8.1}", i + 1);
        assert!(
            (got - want).abs() < 1.0,
            "step {}: {got} mm vs {want} mm",
            i + 1
        );
        let target = env.hand_target()[0] - t0;
        assert!(
            (target - 0.01 * (i + 1) as f32).abs() < 1e-5,
            "target moved {target}"
        );
    }
}

#[test]
fn hand_converges_to_its_target_and_respects_bounds() {
    let mut env = MetaWorldEnv::new(Task::Push);
    for _ in 0..5 {
        env.step(&act([0.0, 1.0, -0.5, -1.0])).unwrap();
    }
    for _ in 0..80 {
        env.step(&act([0.0, 0.0, 0.0, -1.0])).unwrap();
    }
    let (h, t) = (env.perceived().hand, env.hand_target());
    assert!(
        (h[0] - t[0]).abs() < 1e-3 && (h[1] - t[1]).abs() < 1e-3,
        "{h:?} vs {t:?}"
    );
    assert!(
        (t[2] - h[2] - 0.005).abs() < 1e-3,
        "gravity sag {}",
        t[2] - h[2]
    );
    for _ in 0..200 {
        env.step(&act([-1.0, -1.0, -1.0, -1.0])).unwrap();
    }
    let t = env.hand_target();
    assert_eq!(t, [-0.5, 0.4, 0.05], "target clipped to the task bounds");
}

#[test]
fn gripper_closes_in_about_fourteen_steps_and_reopens() {
    let mut env = MetaWorldEnv::new(Task::Reach);
    assert!(env.perceived().gripper > 0.99);
    let mut closed_at = None;
    for t in 1..=40 {
        env.step(&act([0.0, 0.0, 0.0, 1.0])).unwrap();
        if closed_at.is_none() && env.perceived().gripper < 0.31 {
            closed_at = Some(t);
        }
    }
    let c = closed_at.expect("gripper closes");
    println!("closed (opening < 0.31) after {c} steps");
    assert!((12..=17).contains(&c), "closed after {c} steps");
    let closed = env.perceived().gripper;
    assert!((0.28..0.33).contains(&closed), "closed opening {closed}");
    let mut open_at = None;
    for t in 1..=40 {
        env.step(&act([0.0, 0.0, 0.0, -1.0])).unwrap();
        if open_at.is_none() && env.perceived().gripper > 0.99 {
            open_at = Some(t);
        }
    }
    let o = open_at.expect("gripper opens");
    println!("open (opening > 0.99) after {o} steps");
    assert!((11..=17).contains(&o), "opened after {o} steps");
}

/// (task, joint range) of the articulated tasks.
const JOINTS: [(Task, [f32; 2]); 6] = [
    (Task::ButtonPress, [0.0, 0.09]),
    (Task::CoffeeButtonPress, [0.0, 0.03]),
    (Task::DoorUnlock, [0.0, std::f32::consts::FRAC_PI_2]),
    (Task::DoorOpen, [-2.0, 0.0]),
    (Task::WindowOpen, [0.0, 0.2]),
    (Task::FaucetOpen, [-1.57, 1.57]),
];

#[test]
fn joint_limits_hold_under_random_and_expert_actions() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for (task, [lo, hi]) in JOINTS {
        let mut env = MetaWorldEnv::new(task);
        let instr = env.instruction().clone();
        let tol = if hi - lo < 0.5 { 0.01 } else { 0.06 };
        for ep in 0..3 {
            env.reset(ep, &instr).unwrap();
            for t in 0..300 {
                let a = if t < 150 {
                    env.expert_action(0.3, &mut rng)
                } else {
                    env.random_action(&mut rng)
                };
                env.step(&a).unwrap();
                let q = env.perceived().joint;
                assert!(
                    q >= lo - tol && q <= hi + tol,
                    "{task} episode {ep} step {t}: q {q} outside [{lo}, {hi}]"
                );
            }
        }
    }
}

fn run(env: &mut MetaWorldEnv, seed: u64, steps: usize) -> Vec<Vec<f32>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..steps)
        .map(|_| {
            let a = env.expert_action(0.5, &mut rng);
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
    for task in [Task::PickPlace, Task::DoorOpen, Task::CoffeePush] {
        let mut a = MetaWorldEnv::new(task);
        let mut b = MetaWorldEnv::new(task);
        let instr = a.instruction().clone();
        a.reset(42, &instr).unwrap();
        b.reset(42, &instr).unwrap();
        let (sa, sb) = (run(&mut a, 9, 120), run(&mut b, 9, 120));
        for (i, (x, y)) in sa.iter().zip(&sb).enumerate() {
            assert_eq!(bits(x), bits(y), "{task}: states differ at step {i}");
        }
    }
}

#[test]
fn set_state_then_step_equals_continuing() {
    for task in Task::ALL {
        let mut env = MetaWorldEnv::new(task);
        let instr = env.instruction().clone();
        env.reset(7, &instr).unwrap();
        run(&mut env, 1, 60);
        let saved = env.state();
        assert_eq!(saved.len(), STATE_LEN);
        let obs = env.observation();
        let cont = run(&mut env, 2, 40);
        // A fresh instance on another episode layout, restored from the saved state.
        let mut other = MetaWorldEnv::new(task);
        other.reset(99, &instr).unwrap();
        run(&mut other, 5, 10);
        other.set_state(&saved).unwrap();
        assert_eq!(
            bits(&other.observation()),
            bits(&obs),
            "{task}: observation after restore"
        );
        let again = run(&mut other, 2, 40);
        for (i, (x, y)) in cont.iter().zip(&again).enumerate() {
            assert_eq!(bits(x), bits(y), "{task}: restored run differs at step {i}");
        }
        assert_eq!(other.steps(), 100);
    }
}

#[test]
fn observation_has_the_original_layout() {
    let mut env = MetaWorldEnv::new(Task::PickPlace);
    let o0 = env.observation();
    assert_eq!(o0.len(), 39);
    assert_eq!(
        o0[..18],
        o0[18..36],
        "previous frame equals current at reset"
    );
    let p = env.perceived();
    assert_eq!(o0[..3], p.hand);
    assert_eq!(o0[3], p.gripper);
    assert_eq!(o0[4..7], p.object);
    let q = &o0[7..11];
    assert!(
        (q[0] - 1.0).abs() < 1e-4,
        "quaternion (w, x, y, z) of an upright puck: {q:?}"
    );
    assert!(o0[11..18].iter().all(|v| *v == 0.0));
    assert_eq!(o0[36..], env.goal_point());
    env.step(&act([1.0, 0.0, 0.0, 0.0])).unwrap();
    let o1 = env.observation();
    assert_eq!(
        o1[18..36],
        o0[..18],
        "previous frame is the last current frame"
    );
}

#[test]
fn bad_inputs_are_errors_that_name_the_problem() {
    let err = "reech".parse::<Task>().unwrap_err().to_string();
    assert!(
        err.contains("reech") && err.contains("pick-place") && err.contains("coffee-button-press"),
        "{err}"
    );
    assert_eq!("door-open-v3".parse::<Task>().unwrap(), Task::DoorOpen);
    let mut env = MetaWorldEnv::new(Task::Reach);
    assert!(matches!(
        env.step(&Action::Discrete(3)),
        Err(SimError::InvalidAction(_))
    ));
    assert!(matches!(
        env.step(&act([f32::NAN, 0.0, 0.0, 0.0])),
        Err(SimError::InvalidAction(_))
    ));
    assert!(matches!(
        env.set_state(&[0.0; 3]),
        Err(SimError::InvalidState(_))
    ));
    let mut s = env.state();
    s[0] = f32::INFINITY;
    assert!(matches!(env.set_state(&s), Err(SimError::InvalidState(_))));
    let other = MetaWorldEnv::new(Task::Push).instruction().clone();
    assert!(matches!(
        env.reset(0, &other),
        Err(SimError::GoalMismatch(_))
    ));
    let e = env.scene("fisheye").unwrap_err().to_string();
    assert!(e.contains("corner4"), "{e}");
}

#[test]
fn actions_are_clipped_and_random_actions_stay_in_range() {
    let mut env = MetaWorldEnv::new(Task::Reach);
    let t0 = env.hand_target();
    env.step(&act([5.0, 0.0, 0.0, 0.0])).unwrap();
    assert!((env.hand_target()[0] - t0[0] - 0.01).abs() < 1e-6);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    for _ in 0..100 {
        let Action::Continuous(a) = env.random_action(&mut rng) else {
            panic!()
        };
        assert!(a.iter().all(|v| (-1.0..=1.0).contains(v)));
    }
    let _ = rng.random::<u8>();
}
