//! Prints an expert trace for the task named by `MW_TRACE` (diagnostic; passes when unset).
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use vlgor_sim::metaworld::{MetaWorldEnv, Task};
use vlgor_sim::{Action, Env};

#[test]
fn trace_expert() {
    let Ok(name) = std::env::var("MW_TRACE") else { return };
    let task: Task = name.parse().unwrap();
    let mut env = MetaWorldEnv::new(task);
    let instr = env.instruction().clone();
    let seed: u64 = std::env::var("MW_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1000);
    env.reset(seed, &instr).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for t in 1..=300 {
        let a = env.expert_action(0.0, &mut rng);
        let o = env.step(&a).unwrap();
        if t % 5 == 0 || o.success {
            let p = env.perceived();
            let Action::Continuous(a) = a else { unreachable!() };
            println!("{t:3} a {:5.2?} hand {:6.3?} grip {:.2} obj {:6.3?} q {:.3} r {:.2} goal {:5.3?} s {}", a, p.hand, p.gripper, p.object, p.joint, o.reward, env.goal_point(), o.success);
        }
        if o.success { break; }
    }
}
