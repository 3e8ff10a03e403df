//! Meta-World diagnostics:
//! * `cargo run --release -p vlgor-sim --example metaworld_trace -- trace TASK [SEED [GOAL_JSON]]`
//!   prints the expert's trace of one episode (every 5th step and the successful one);
//! * `cargo run --release -p vlgor-sim --example metaworld_trace -- scene TASK OUT.json [STEPS
//!   [CAMERA]]` writes the scene after `STEPS` (30) expert steps from `CAMERA` (`corner4`).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use vlgor_sim::metaworld::{MetaWorldEnv, Task};
use vlgor_sim::{Action, Env};

const USAGE: &str =
    "usage: metaworld_trace trace TASK [SEED [GOAL_JSON]] | scene TASK OUT.json [STEPS [CAMERA]]";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let task = |i: usize| -> Task {
        args.get(i)
            .unwrap_or_else(|| fail(USAGE))
            .parse()
            .unwrap_or_else(|e| fail(&format!("{e}")))
    };
    match args.first().map(String::as_str) {
        Some("trace") => trace_expert(task(1), args.get(2), args.get(3)),
        Some("scene") => dump_scene(
            task(1),
            args.get(2).unwrap_or_else(|| fail(USAGE)),
            args.get(3),
            args.get(4),
        ),
        _ => fail(USAGE),
    }
}

fn fail(message: &str) -> ! {
    eprintln!("{message}");
    std::process::exit(2)
}

fn trace_expert(task: Task, seed: Option<&String>, goal: Option<&String>) {
    let mut env = MetaWorldEnv::new(task);
    let mut instr = env.instruction().clone();
    if let Some(json) = goal {
        instr.goal = vlgor_sim::GoalSpec::MetaWorld(
            serde_json::from_str(json).unwrap_or_else(|e| fail(&format!("GOAL_JSON: {e}"))),
        );
    }
    let seed: u64 = seed.and_then(|s| s.parse().ok()).unwrap_or(1000);
    env.reset(seed, &instr)
        .unwrap_or_else(|e| fail(&format!("{e}")));
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for t in 1..=500 {
        let a = env.expert_action(0.0, &mut rng);
        let o = env.step(&a).unwrap_or_else(|e| fail(&format!("{e}")));
        if t % 5 == 0 || o.success {
            let p = env.perceived();
            let Action::Continuous(a) = a else {
                unreachable!("Meta-World actions are continuous")
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

fn dump_scene(task: Task, out: &str, steps: Option<&String>, camera: Option<&String>) {
    let mut env = MetaWorldEnv::new(task);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let steps: usize = steps.and_then(|s| s.parse().ok()).unwrap_or(30);
    for _ in 0..steps {
        let a = env.expert_action(0.0, &mut rng);
        env.step(&a).unwrap_or_else(|e| fail(&format!("{e}")));
    }
    let camera = camera.map_or("corner4", String::as_str);
    let scene = env.scene(camera).unwrap_or_else(|e| fail(&format!("{e}")));
    std::fs::write(
        out,
        serde_json::to_string(&scene).expect("scenes serialise"),
    )
    .unwrap_or_else(|e| fail(&format!("{out}: {e}")));
}
