//! Physics validation: hand-built transitions for each reason, a valid expert rollout left
//! unflagged, the fault injector's round trip, verdicts under both filter policies, and
//! perceived states rebuilt from readouts.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use vlgor_sim::clevr::ClevrEnv;
use vlgor_sim::clevr::physics::{TABLE_Z, WorldState};
use vlgor_sim::metaworld::{MetaWorldEnv, Task};
use vlgor_sim::validate::checks::check_rollout;
use vlgor_sim::validate::inject::{Fault, FaultTarget, InjectError, inject};
use vlgor_sim::validate::{
    Filter, Reason, Replayer, ValidatorConfig, VerdictKind, Violation, perceive,
    perceived_to_state, verdict,
};
use vlgor_sim::{Action, Env, EnvKind, EnvSpec, GoalSpec, Level};

/// One expert rollout: (goal, states, actions).
struct Rollout {
    goal: GoalSpec,
    states: Vec<Vec<f32>>,
    actions: Vec<Action>,
}

fn expert_rollout(env: &mut dyn Env, seed: u64, noise: f32, max_steps: usize) -> Rollout {
    held_rollout(env, seed, noise, max_steps, 1)
}

/// An expert rollout whose actions are each held for `hold` env steps; keyframes every `hold`.
fn held_rollout(
    env: &mut dyn Env,
    seed: u64,
    noise: f32,
    max_steps: usize,
    hold: usize,
) -> Rollout {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let instruction =
        EnvSpec::of_goal(&env.instruction().goal).sample_instruction(Level::Seen, &mut rng);
    env.reset(seed, &instruction).unwrap();
    let mut states = vec![env.state()];
    let mut actions = vec![];
    'episode: for _ in 0..max_steps.min(env.horizon()) / hold {
        let a = env.expert_action(noise, &mut rng);
        let mut success = false;
        for _ in 0..hold {
            let out = env.step(&a).unwrap();
            success |= out.success;
            if out.timeout && hold > 1 {
                break 'episode;
            }
        }
        actions.push(a);
        states.push(env.state());
        if success || env.steps() >= env.horizon() {
            break;
        }
    }
    Rollout {
        goal: instruction.goal,
        states,
        actions,
    }
}

fn clevr_rollout(seed: u64) -> Rollout {
    expert_rollout(&mut ClevrEnv::new(), seed, 0.1, 50)
}

fn check(r: &Rollout, rp: &mut Replayer, h: usize) -> Vec<Violation> {
    let cfg = ValidatorConfig::for_env(vlgor_sim::validate::perceive::env_of(&r.goal));
    check_rollout(rp, &r.goal, &r.states, &r.actions, h, &cfg).unwrap()
}

fn set_ball_xy(state: &mut [f32], ball: usize, x: f32, y: f32) {
    state[ball * 13] = x;
    state[ball * 13 + 1] = y;
}

fn ball_xy(state: &[f32], ball: usize) -> (f32, f32) {
    (state[ball * 13], state[ball * 13 + 1])
}

#[test]
fn a_real_clevr_rollout_is_valid() {
    let mut rp = Replayer::new();
    for seed in 0..5 {
        let r = clevr_rollout(seed);
        assert!(!r.actions.is_empty());
        let v = check(&r, &mut rp, 1);
        assert!(v.is_empty(), "seed {seed}: {v:?}");
        assert_eq!(verdict(v, Filter::Drop).kind, VerdictKind::Valid);
    }
}

#[test]
fn a_real_metaworld_rollout_is_valid() {
    let mut rp = Replayer::new();
    for task in [Task::PickPlace, Task::DoorOpen] {
        let r = expert_rollout(&mut MetaWorldEnv::new(task), 3, 0.1, 120);
        let v = check(&r, &mut rp, 1);
        assert!(v.is_empty(), "{task}: {v:?}");
    }
}

#[test]
fn hand_built_clevr_violations_name_their_reason() {
    let r = clevr_rollout(11);
    let mut rp = Replayer::new();
    let cfg = ValidatorConfig::for_env(EnvKind::Clevr);
    let s0 = r.states[0].clone();
    let a = Action::Discrete(0); // push ball 0 to the right
    let s1 = rp.replay(&r.goal, &s0, &a, 1).unwrap();
    let reasons = |states: &[Vec<f32>]| -> Vec<Reason> {
        let mut v: Vec<Reason> =
            check_rollout(&mut Replayer::new(), &r.goal, states, &[a], 1, &cfg)
                .unwrap()
                .into_iter()
                .map(|v| v.reason)
                .collect();
        v.dedup();
        v
    };
    // The true transition is valid.
    assert!(reasons(&[s0.clone(), s1.clone()]).is_empty());

    // Interpenetration: ball 1 on top of ball 2 in the next state.
    let mut bad = s1.clone();
    let (x, y) = ball_xy(&bad, 2);
    set_ball_xy(&mut bad, 1, x + 0.05, y);
    assert!(reasons(&[s0.clone(), bad]).contains(&Reason::Interpenetration));

    // Through the table.
    let mut bad = s1.clone();
    bad[3 * 13 + 2] = TABLE_Z - 0.05;
    assert!(reasons(&[s0.clone(), bad]).contains(&Reason::Interpenetration));

    // Out of the workspace: ball 4 beyond the right wall.
    let mut bad = s1.clone();
    let (_, y) = ball_xy(&bad, 4);
    set_ball_xy(&mut bad, 4, 0.6 + 0.2, y);
    assert!(reasons(&[s0.clone(), bad]).contains(&Reason::OutOfWorkspace));

    // Teleport: ball 0 jumps 0.7 m in one push.
    let mut far = s0.clone();
    let (x0, y0) = ball_xy(&s0, 0);
    let (tx, ty) = if x0 < 0.0 {
        (x0 + 0.7, y0)
    } else {
        (x0 - 0.7, y0)
    };
    set_ball_xy(&mut far, 0, tx, ty);
    let rs = reasons(&[s0.clone(), far]);
    assert!(rs.contains(&Reason::Teleport), "{rs:?}");

    // Dynamics replay: the state does not change although ball 0 was pushed (frozen) ...
    let moved = {
        let (a0, b0) = ball_xy(&s0, 0);
        let (a1, b1) = ball_xy(&s1, 0);
        ((a1 - a0).powi(2) + (b1 - b0).powi(2)).sqrt()
    };
    if moved > 0.1 {
        let rs = reasons(&[s0.clone(), s0.clone()]);
        assert_eq!(rs, vec![Reason::DynamicsReplay], "frozen state");
    }
    // ... and a ball moves without contact.
    let mut ghost = s1.clone();
    let (gx, gy) = ball_xy(&s1, 3);
    let dy = if gy < 0.2 { 0.25 } else { -0.25 };
    set_ball_xy(&mut ghost, 3, gx, gy + dy);
    let rs = reasons(&[s0.clone(), ghost]);
    assert!(rs.contains(&Reason::DynamicsReplay), "{rs:?}");
}

#[test]
fn hand_built_metaworld_violations_name_their_reason() {
    let mut rp = Replayer::new();
    let cfg = ValidatorConfig::for_true_states(EnvKind::MetaWorld);
    let r = expert_rollout(&mut MetaWorldEnv::new(Task::Push), 5, 0.0, 30);
    let (s0, s1) = (r.states[0].clone(), r.states[1].clone());
    let a = r.actions[0];
    let reasons = |rp: &mut Replayer, s: Vec<f32>| -> Vec<Reason> {
        check_rollout(rp, &r.goal, &[s0.clone(), s], &[a], 1, &cfg)
            .unwrap()
            .into_iter()
            .map(|v| v.reason)
            .collect()
    };
    assert!(reasons(&mut rp, s1.clone()).is_empty());
    // Object (puck) 0.1 m under the table top.
    let mut bad = s1.clone();
    bad[38] = -0.1;
    assert!(reasons(&mut rp, bad).contains(&Reason::Interpenetration));
    // Object beyond the back wall.
    let mut bad = s1.clone();
    bad[37] = 1.2;
    assert!(reasons(&mut rp, bad).contains(&Reason::OutOfWorkspace));
    // The puck slides 0.1 m with the hand far away.
    let mut bad = s1.clone();
    bad[36] += 0.1;
    let rs = reasons(&mut rp, bad);
    assert!(rs.contains(&Reason::DynamicsReplay), "{rs:?}");
    // The hand jumps 0.3 m in one env step.
    let mut bad = s1.clone();
    bad[0] += 0.3;
    let rs = reasons(&mut rp, bad);
    assert!(rs.contains(&Reason::Teleport), "{rs:?}");
}

#[test]
fn injected_faults_are_flagged_with_their_reason() {
    let mut rp = Replayer::new();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let cfg = ValidatorConfig::for_env(EnvKind::Clevr);
    for fault in [
        Fault::Overlap,
        Fault::Teleport,
        Fault::WrongBall,
        Fault::ThroughTable,
    ] {
        let (mut hits, mut injected) = (0, 0);
        for seed in 0..30 {
            let mut r = clevr_rollout(100 + seed);
            let target = FaultTarget {
                goal: &r.goal,
                states: &mut r.states,
                actions: &r.actions,
                frames: None,
                labels: None,
                steps_per_action: 1,
            };
            match inject(fault, target, &mut rp, &cfg, &mut rng) {
                Ok(inj) => {
                    injected += 1;
                    assert_eq!(inj.reason, fault.reason());
                    let v =
                        check_rollout(&mut rp, &r.goal, &r.states, &r.actions, 1, &cfg).unwrap();
                    hits += v.iter().any(|v| v.reason == inj.reason) as usize;
                }
                Err(InjectError::NotApplicable { .. }) => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert!(
            injected >= 20,
            "{fault}: only {injected} of 30 rollouts took the fault"
        );
        assert!(
            hits * 100 >= injected * 95,
            "{fault}: {hits}/{injected} flagged"
        );
    }
    // Frozen frames need frames.
    let mut r = clevr_rollout(1);
    let target = FaultTarget {
        goal: &r.goal,
        states: &mut r.states,
        actions: &r.actions,
        frames: None,
        labels: None,
        steps_per_action: 1,
    };
    let e = inject(Fault::FrozenFrame, target, &mut rp, &cfg, &mut rng).unwrap_err();
    assert!(e.to_string().contains("no frames"), "{e}");
}

#[test]
fn injected_metaworld_faults_are_flagged() {
    let mut rp = Replayer::new();
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let cfg = ValidatorConfig::for_true_states(EnvKind::MetaWorld);
    for fault in [
        Fault::Teleport,
        Fault::WrongBall,
        Fault::ThroughTable,
        Fault::Overlap,
    ] {
        for task in [Task::Push, Task::DoorOpen, Task::Reach] {
            let mut r = expert_rollout(&mut MetaWorldEnv::new(task), 21, 0.1, 80);
            let target = FaultTarget {
                goal: &r.goal,
                states: &mut r.states,
                actions: &r.actions,
                frames: None,
                labels: None,
                steps_per_action: 1,
            };
            match inject(fault, target, &mut rp, &cfg, &mut rng) {
                Ok(inj) => {
                    let v =
                        check_rollout(&mut rp, &r.goal, &r.states, &r.actions, 1, &cfg).unwrap();
                    assert!(
                        v.iter().any(|v| v.reason == inj.reason),
                        "{fault} in {task}: {v:?}"
                    );
                }
                Err(InjectError::NotApplicable { why, .. }) => {
                    assert!(fault == Fault::Overlap, "{fault} in {task}: {why}");
                    assert!(why.contains("one object"), "{why}");
                }
                Err(e) => panic!("{e}"),
            }
        }
    }
}

#[test]
fn verdicts_follow_the_policy() {
    let v = |step, reason| Violation::new(step, reason, 1.0, "x");
    assert_eq!(verdict(vec![], Filter::Drop).kind, VerdictKind::Valid);
    let some = vec![v(4, Reason::DynamicsReplay), v(3, Reason::Interpenetration)];
    assert_eq!(
        verdict(some.clone(), Filter::Drop).kind,
        VerdictKind::Rejected
    );
    // State 3 is bad: transition 2 made it, so transitions 0 and 1 are kept.
    let t = verdict(some, Filter::Truncate);
    assert_eq!(t.kind, VerdictKind::Truncated { at: 2 });
    let j = t.to_json();
    assert_eq!(j["verdict"], "truncated");
    assert_eq!(j["truncated_at"], 2);
    assert_eq!(j["violations"][0]["reason"], "dynamics_replay");
    assert!(j["violations"][0]["magnitude"].is_number());
    // A violation in transition 0 or a bad initial state rejects.
    assert_eq!(
        verdict(vec![v(0, Reason::Teleport)], Filter::Truncate).kind,
        VerdictKind::Rejected
    );
    assert_eq!(
        verdict(
            vec![v(0, Reason::OutOfWorkspace), v(5, Reason::Teleport)],
            Filter::Truncate
        )
        .kind,
        VerdictKind::Rejected
    );
    assert_eq!(
        verdict(vec![v(1, Reason::FrameConsistency)], Filter::Truncate).kind,
        VerdictKind::Rejected
    );
    assert_eq!(
        verdict(vec![], Filter::Truncate).to_json()["truncated_at"],
        serde_json::Value::Null
    );
    assert_eq!("truncate".parse::<Filter>().unwrap(), Filter::Truncate);
    let e = "cut".parse::<Filter>().unwrap_err();
    assert!(e.contains("truncate, drop, keep"), "{e}");
    assert_eq!("wrong-ball".parse::<Fault>().unwrap(), Fault::WrongBall);
    assert!(
        "nope"
            .parse::<Fault>()
            .unwrap_err()
            .to_string()
            .contains("through-table")
    );
    let r: Reason = serde_json::from_str("\"out_of_workspace\"").unwrap();
    assert_eq!(r, Reason::OutOfWorkspace);
    assert_eq!(Reason::ALL.len(), 8);
}

#[test]
fn validator_config_rejects_unknown_fields_and_bad_values() {
    let cfg = ValidatorConfig::for_env(EnvKind::Clevr);
    let mut j = serde_json::to_value(&cfg).unwrap();
    j["overlap_tolerance"] = 0.1.into();
    assert!(serde_json::from_value::<ValidatorConfig>(j).is_err());
    let mut bad = cfg.clone();
    bad.replay_tolerance_m = f32::NAN;
    assert!(bad.validate().unwrap_err().contains("replay_tolerance_m"));
    assert!(cfg.validate().is_ok());
}

#[test]
fn perceived_states_rebuild_what_was_seen() {
    let mut rp = Replayer::new();
    let r = clevr_rollout(4);
    let last = r.states.last().unwrap();
    let mut env = ClevrEnv::new();
    env.set_state(last).unwrap();
    let seen = perceive(EnvKind::Clevr, &env.observation());
    let rebuilt = perceived_to_state(&r.goal, &r.states[0], &seen).unwrap();
    assert_eq!(rp.perceived_of_state(&r.goal, &rebuilt).unwrap(), seen);
    let w = WorldState::read(&rebuilt[..WorldState::LEN]).unwrap();
    assert!(w.balls.iter().all(|b| b.linvel == [0.0; 3]));
    // Meta-World: jointed objects land on their joint at the seen point.
    for task in [
        Task::DoorOpen,
        Task::WindowOpen,
        Task::PickPlace,
        Task::FaucetOpen,
    ] {
        let r = expert_rollout(&mut MetaWorldEnv::new(task), 2, 0.0, 150);
        let truth = rp
            .perceived_of_state(&r.goal, r.states.last().unwrap())
            .unwrap();
        let rebuilt = rp
            .perceived_to_state(&r.goal, &r.states[0], &truth)
            .unwrap();
        let back = rp.perceived_of_state(&r.goal, &rebuilt).unwrap();
        for i in [0, 1, 2, 4, 5, 6] {
            assert!(
                (back[i] - truth[i]).abs() < 2e-3,
                "{task} value {i}: {back:?} vs {truth:?}"
            );
        }
        assert!(
            (back[3] - truth[3]).abs() < 0.05,
            "{task} gripper {back:?} vs {truth:?}"
        );
    }
    // Bad input is an error naming the length.
    let e = perceived_to_state(&r.goal, &r.states[0], &[0.0; 3]).unwrap_err();
    assert!(e.to_string().contains("10 finite values"), "{e}");
}

/// Calibration numbers (false alarms on true and noisy perceived states, magnitudes of the
/// real data); run with `cargo test --release -p vlgor-sim --test validate -- --ignored
/// --nocapture`.
#[test]
#[ignore]
fn calibration_report() {
    let mut rp = Replayer::new();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let gauss = |rng: &mut ChaCha8Rng| -> f32 {
        let (u1, u2): (f32, f32) = (rng.random_range(1e-7..1.0), rng.random());
        (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
    };
    for (env_kind, episodes, h) in [
        (EnvKind::Clevr, 500u64, 1usize),
        (EnvKind::MetaWorld, 100, 1),
        (EnvKind::MetaWorld, 100, 10),
    ] {
        let cfg = ValidatorConfig::for_env(env_kind);
        let (mut flagged, mut flagged_noisy, mut n) = (0, 0, 0);
        let mut recall = [(0usize, 0usize); 4];
        let mut by_reason = std::collections::BTreeMap::<String, usize>::new();
        let mut by_reason_noisy = std::collections::BTreeMap::<String, usize>::new();
        for e in 0..episodes {
            let r = match env_kind {
                EnvKind::Clevr => clevr_rollout(10_000 + e),
                EnvKind::MetaWorld => {
                    let task = Task::ALL[e as usize % 10];
                    held_rollout(&mut MetaWorldEnv::new(task), 10_000 + e, 0.1, 500, h)
                }
            };
            n += 1;
            let strict = ValidatorConfig::for_true_states(env_kind);
            let v = check_rollout(&mut rp, &r.goal, &r.states, &r.actions, h, &strict).unwrap();
            if !v.is_empty() {
                flagged += 1;
                for x in &v {
                    *by_reason
                        .entry(format!("{} {}", x.reason, x.detail))
                        .or_default() += 1;
                }
            }
            // Perceived with 1 cm noise per coordinate (0.02 on the gripper opening).
            let noisy: Vec<Vec<f32>> = r
                .states
                .iter()
                .map(|s| {
                    let mut p = rp.perceived_of_state(&r.goal, s).unwrap();
                    for (i, x) in p.iter_mut().enumerate() {
                        let sd = if env_kind == EnvKind::MetaWorld && i == 3 {
                            0.02
                        } else {
                            0.01
                        };
                        *x += sd * gauss(&mut rng);
                    }
                    rp.perceived_to_state(&r.goal, &r.states[0], &p).unwrap()
                })
                .collect();
            for (f, fault) in [
                Fault::Overlap,
                Fault::Teleport,
                Fault::WrongBall,
                Fault::ThroughTable,
            ]
            .into_iter()
            .enumerate()
            {
                let mut faulty = noisy.clone();
                let target = FaultTarget {
                    goal: &r.goal,
                    states: &mut faulty,
                    actions: &r.actions,
                    frames: None,
                    labels: None,
                    steps_per_action: h,
                };
                if let Ok(inj) = inject(fault, target, &mut rp, &cfg, &mut rng) {
                    let v = check_rollout(&mut rp, &r.goal, &faulty, &r.actions, h, &cfg).unwrap();
                    recall[f].0 += 1;
                    recall[f].1 += v.iter().any(|v| v.reason == inj.reason) as usize;
                }
            }
            let v = check_rollout(&mut rp, &r.goal, &noisy, &r.actions, h, &cfg).unwrap();
            if !v.is_empty() {
                flagged_noisy += 1;
                for x in v.iter().take(2) {
                    *by_reason_noisy
                        .entry(format!(
                            "{} {:.2} {} {}",
                            x.reason,
                            x.magnitude,
                            if std::env::var("VALIDATE_DETAIL").is_ok() {
                                x.detail.as_str()
                            } else {
                                x.detail.split(':').next().unwrap_or("")
                            },
                            EnvSpec::of_goal(&r.goal).label()
                        ))
                        .or_default() += 1;
                }
            }
        }
        println!(
            "{env_kind} h={h}: {n} rollouts, true states flagged {flagged} ({:.2}%), perceived+1cm flagged {flagged_noisy} ({:.2}%)",
            100.0 * flagged as f64 / n as f64,
            100.0 * flagged_noisy as f64 / n as f64
        );
        println!(
            "  recall on perceived+1cm (overlap, teleport, wrong-ball, through-table; injected, caught): {recall:?}"
        );
        for (k, c) in by_reason.iter().take(20) {
            println!("  true: {c} x {k}");
        }
        for (k, c) in by_reason_noisy.iter().rev().take(25) {
            println!("  noisy: {c} x {k}");
        }
    }
}
