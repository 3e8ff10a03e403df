//! Pure success predicates and shaped rewards on hand-placed perceived states.

use vlgor_sim::Env;
use vlgor_sim::metaworld::reward::{Sigmoid, hamacher, reward, success, tolerance};
use vlgor_sim::metaworld::{EpisodeContext, MetaWorldEnv, Perceived, Task};

fn ctx(goal: [f32; 3], object_init: [f32; 3], hand_init: [f32; 3]) -> EpisodeContext {
    EpisodeContext {
        goal,
        object_init,
        hand_init,
    }
}

fn at(hand: [f32; 3], object: [f32; 3], joint: f32) -> Perceived {
    Perceived {
        hand,
        gripper: 1.0,
        object,
        joint,
    }
}

#[test]
fn shaping_helpers_follow_reward_utils() {
    assert_eq!(tolerance(0.02, 0.0, 0.05, 0.3, Sigmoid::LongTail), 1.0);
    assert!((tolerance(0.35, 0.0, 0.05, 0.3, Sigmoid::LongTail) - 0.1).abs() < 1e-6);
    assert!((tolerance(0.35, 0.0, 0.05, 0.3, Sigmoid::Gaussian) - 0.1).abs() < 1e-5);
    assert_eq!(tolerance(0.06, 0.0, 0.05, 0.0, Sigmoid::LongTail), 0.0);
    assert_eq!(hamacher(1.0, 1.0), 1.0);
    assert_eq!(hamacher(0.0, 0.0), 0.0);
    assert!((hamacher(0.5, 0.5) - 1.0 / 3.0).abs() < 1e-6);
}

#[test]
fn success_predicates_on_hand_placed_states() {
    let hi = [0.0, 0.6, 0.2];
    let g = [0.0, 0.85, 0.2];
    let c = ctx(g, [0.0, 0.65, 0.02], hi);
    // reach: the TCP (0.045 m below the hand) within 0.05 of the goal.
    assert!(success(
        Task::Reach,
        &c,
        &at([0.0, 0.85, 0.245], [0.0; 3], 0.0)
    ));
    assert!(success(
        Task::Reach,
        &c,
        &at([0.0, 0.85, 0.29], [0.0; 3], 0.0)
    ));
    assert!(!success(
        Task::Reach,
        &c,
        &at([0.0, 0.85, 0.3], [0.0; 3], 0.0)
    ));
    // push 0.05, pick-place and coffee-push 0.07 on the object.
    for (task, r) in [
        (Task::Push, 0.05),
        (Task::PickPlace, 0.07),
        (Task::CoffeePush, 0.07),
    ] {
        let inside = [g[0] + r - 0.001, g[1], g[2]];
        let outside = [g[0] + r + 0.001, g[1], g[2]];
        assert!(success(task, &c, &at(hi, inside, 0.0)), "{task}");
        assert!(!success(task, &c, &at(hi, outside, 0.0)), "{task}");
    }
    // Articulated tasks: joint travel thresholds.
    let cases = [
        (Task::ButtonPress, 0.074, 0.06),
        (Task::CoffeeButtonPress, 0.011, 0.009),
        (Task::DoorUnlock, 0.3, 0.5),
        (Task::DoorOpen, -1.4, -1.3),
        (Task::WindowOpen, 0.195, 0.18),
    ];
    for (task, yes, no) in cases {
        assert!(success(task, &c, &at(hi, [0.0; 3], yes)), "{task} at {yes}");
        assert!(!success(task, &c, &at(hi, [0.0; 3], no)), "{task} at {no}");
    }
    // faucet-open: the handle tip within 0.07 of the goal.
    assert!(success(
        Task::FaucetOpen,
        &c,
        &at(hi, [g[0], g[1] - 0.069, g[2]], 1.2)
    ));
    assert!(!success(
        Task::FaucetOpen,
        &c,
        &at(hi, [g[0], g[1] - 0.071, g[2]], 1.1)
    ));
}

#[test]
fn rewards_are_bounded_and_shaped() {
    let hi = [0.0, 0.6, 0.2];
    let c = ctx([0.0, 0.85, 0.2], [0.0, 0.65, 0.02], hi);
    let far = reward(Task::Reach, &c, &at(hi, [0.0; 3], 0.0));
    let near = reward(Task::Reach, &c, &at([0.0, 0.8, 0.25], [0.0; 3], 0.0));
    let done = reward(Task::Reach, &c, &at([0.0, 0.85, 0.245], [0.0; 3], 0.0));
    assert!(
        far < near && near < done && done == 10.0,
        "{far} {near} {done}"
    );
    assert_eq!(reward(Task::Push, &c, &at(hi, [0.0, 0.85, 0.2], 0.0)), 10.0);
    for task in Task::ALL {
        let mut env = MetaWorldEnv::new(task);
        let instr = env.instruction().clone();
        for seed in 0..5 {
            env.reset(seed, &instr).unwrap();
            let (p, c) = (env.perceived(), env.context());
            assert!(
                !success(task, &c, &p),
                "{task} succeeds at reset (seed {seed})"
            );
            let r = reward(task, &c, &p);
            assert!((0.0..10.0).contains(&r), "{task}: reward {r} at reset");
        }
    }
}

#[test]
fn pure_predicates_agree_with_the_environment_along_expert_rollouts() {
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
    for task in Task::ALL {
        let mut env = MetaWorldEnv::new(task);
        let instr = env.instruction().clone();
        env.reset(17, &instr).unwrap();
        let mut succeeded = false;
        for _ in 0..env.horizon() {
            let a = env.expert_action(0.0, &mut rng);
            let out = env.step(&a).unwrap();
            let (p, c) = (env.perceived(), env.context());
            assert_eq!(out.success, success(task, &c, &p), "{task}");
            assert!((0.0..=10.0).contains(&out.reward));
            assert_eq!(
                out.reward,
                reward(task, &c, &p),
                "{task}: env reward is the pure reward"
            );
            if out.success {
                assert_eq!(out.reward, 10.0);
                succeeded = true;
                break;
            }
        }
        assert!(succeeded, "{task}");
    }
}
