//! Diagnostics (ignored by default): an expert trace of one task, and a scene dumped as JSON.
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use vlgor_sim::metaworld::{MetaWorldEnv, Task};
use vlgor_sim::{Action, Env};

#[test]
#[ignore = "diagnostic: MW_TRACE=<task> [MW_SEED, MW_GOAL json]"]
fn trace_expert() {
    let Ok(name) = std::env::var("MW_TRACE") else {
        return;
    };
    let task: Task = name.parse().unwrap();
    let mut env = MetaWorldEnv::new(task);
    let mut instr = env.instruction().clone();
    if let Ok(json) = std::env::var("MW_GOAL") {
        instr.goal = vlgor_sim::GoalSpec::MetaWorld(serde_json::from_str(&json).unwrap());
    }
    let seed: u64 = std::env::var("MW_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    env.reset(seed, &instr).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for t in 1..=500 {
        let a = env.expert_action(0.0, &mut rng);
        let o = env.step(&a).unwrap();
        if t % 5 == 0 || o.success {
            let p = env.perceived();
            let Action::Continuous(a) = a else {
                unreachable!()
            };
            println!(
                "{t:3} st {} a {:5.2?} hand {:6.3?} grip {:.2} obj {:6.3?} q {:.3} r {:.2} goal {:5.3?} s {}",
                env.stage(),
                a,
                p.hand,
                p.gripper,
                p.object,
                p.joint,
                o.reward,
                env.goal_point(),
                o.success
            );
        }
        if o.success {
            break;
        }
    }
}

/// Writes the scene of `MW_SCENE_TASK` after 30 expert steps to `MW_SCENE_OUT` (diagnostic).
#[test]
#[ignore = "diagnostic: MW_SCENE_TASK, MW_SCENE_OUT [MW_SCENE_STEPS, MW_SCENE_CAM]"]
fn dump_scene() {
    let (Ok(name), Ok(out)) = (
        std::env::var("MW_SCENE_TASK"),
        std::env::var("MW_SCENE_OUT"),
    ) else {
        return;
    };
    let task: Task = name.parse().unwrap();
    let mut env = MetaWorldEnv::new(task);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let steps: usize = std::env::var("MW_SCENE_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    for _ in 0..steps {
        let a = env.expert_action(0.0, &mut rng);
        env.step(&a).unwrap();
    }
    let cam = std::env::var("MW_SCENE_CAM").unwrap_or_else(|_| "corner4".into());
    std::fs::write(
        out,
        serde_json::to_string(&env.scene(&cam).unwrap()).unwrap(),
    )
    .unwrap();
}
