//! Meta-World language: template counts, disjoint rephrasings, counterfactual and hard goals,
//! and goal specs that drive success (scored by their own modified goal / path constraint).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;
use vlgor_sim::language::CounterfactualKind;
use vlgor_sim::metaworld::{
    MetaWorldEnv, MetaWorldGoal, PathConstraint, Stage, Task, counterfactual, sample_instruction,
    seen_surface_forms, task_table,
};
use vlgor_sim::{Env, GoalSpec, Instruction, Level};

fn goal_of(i: &Instruction) -> &MetaWorldGoal {
    match &i.goal {
        GoalSpec::MetaWorld(g) => g,
        other => panic!("not a Meta-World goal: {other:?}"),
    }
}

/// Runs the expert on `instr`; returns the step of first success (None if never).
fn expert_episode(env: &mut MetaWorldEnv, instr: &Instruction, seed: u64) -> Option<usize> {
    env.reset(seed, instr).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for t in 1..=env.horizon() {
        let a = env.expert_action(0.0, &mut rng);
        if env.step(&a).unwrap().success {
            return Some(t);
        }
    }
    None
}

#[test]
fn every_task_has_twenty_training_surface_forms_and_disjoint_rephrasings() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for task in Task::ALL {
        assert!(seen_surface_forms(task) >= 20, "{task}");
        let seen: HashSet<String> = (0..400)
            .map(|_| sample_instruction(task, Level::Seen, &mut rng).text)
            .collect();
        assert!(
            seen.len() >= 20,
            "{task}: only {} distinct seen texts",
            seen.len()
        );
        let seen_templates: HashSet<String> = (0..200)
            .map(|_| {
                sample_instruction(task, Level::Seen, &mut rng)
                    .parts
                    .template
            })
            .collect();
        for _ in 0..200 {
            let r = sample_instruction(task, Level::Rephrase, &mut rng);
            assert!(
                !seen.contains(&r.text),
                "{task}: rephrase '{}' is a training text",
                r.text
            );
            assert!(!seen_templates.contains(&r.parts.template));
            assert_eq!(goal_of(&r), &MetaWorldGoal::plain(task));
        }
    }
}

#[test]
fn counterfactuals_change_exactly_one_part_and_the_goal() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    for task in Task::ALL {
        let base = sample_instruction(task, Level::Seen, &mut rng);
        let t = counterfactual(&base, CounterfactualKind::Target, &mut rng);
        assert_eq!(t.level, Level::Counterfactual);
        assert_ne!(t.parts.target, base.parts.target, "{task}: {}", t.text);
        assert_eq!(t.parts.behavior, base.parts.behavior);
        assert_eq!(t.parts.template, base.parts.template);
        let g = goal_of(&t);
        assert!(g.constraint.is_none());
        assert_ne!(
            g.stages,
            MetaWorldGoal::plain(task).stages,
            "{task}: target unchanged"
        );
        let b = counterfactual(&base, CounterfactualKind::Behavior, &mut rng);
        assert_eq!(b.parts.target, base.parts.target);
        assert_ne!(b.parts.behavior, base.parts.behavior, "{task}: {}", b.text);
        let g = goal_of(&b);
        assert!(
            g.constraint.is_some() || g.stages.len() > 1,
            "{task}: behavior unchanged"
        );
        for _ in 0..20 {
            let h = sample_instruction(task, Level::Hard, &mut rng);
            let g = goal_of(&h);
            let modified_target = g.stages.iter().any(|s| {
                !matches!(s, Stage::TaskGoal { offset } if *offset == [0.0; 3])
                    && !matches!(s, Stage::HandAbove { .. })
            });
            assert!(
                g.stages.len() > 1 || (g.constraint.is_some() && modified_target),
                "{task}: '{}' {g:?}",
                h.text
            );
        }
    }
    assert_eq!(task_table().len(), 40);
}

#[test]
fn a_counterfactual_target_is_scored_by_its_own_goal() {
    let mut env = MetaWorldEnv::new(Task::Reach);
    let plain = env.instruction().clone();
    let mut left = plain.clone();
    left.goal = GoalSpec::MetaWorld(MetaWorldGoal {
        task: Task::Reach,
        stages: vec![Stage::TaskGoal {
            offset: [-0.1, 0.0, 0.0],
        }],
        constraint: None,
    });
    left.text = "move the gripper to a point 10 cm to the left of the goal".into();
    expert_episode(&mut env, &plain, 5).expect("plain reach succeeds");
    let plain_goal = env.goal_point();
    let steps = expert_episode(&mut env, &left, 5).expect("expert reaches the moved goal");
    let p = env.perceived();
    let tcp = p.tcp();
    let d_plain = ((tcp[0] - plain_goal[0]).powi(2)
        + (tcp[1] - plain_goal[1]).powi(2)
        + (tcp[2] - plain_goal[2]).powi(2))
    .sqrt();
    assert!(
        d_plain > 0.05,
        "success at step {steps} was at the moved goal, {d_plain} m from the original"
    );
    assert!(
        (env.goal_point()[0] - plain_goal[0] + 0.1).abs() < 1e-5,
        "observation reports the moved goal"
    );
    // Driving the hand to the original goal does not satisfy the moved one.
    env.reset(5, &left).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut any = false;
    let mut plain_env = MetaWorldEnv::new(Task::Reach);
    plain_env.reset(5, &plain).unwrap();
    for _ in 0..150 {
        let a = plain_env.expert_action(0.0, &mut rng);
        plain_env.step(&a).unwrap();
        any |= env.step(&a).unwrap().success;
    }
    assert!(
        !any,
        "reaching the original goal must not count for the counterfactual target"
    );
}

#[test]
fn path_constraints_are_checked() {
    let mut env = MetaWorldEnv::new(Task::Reach);
    let mut instr = env.instruction().clone();
    instr.goal = GoalSpec::MetaWorld(MetaWorldGoal {
        task: Task::Reach,
        stages: vec![Stage::TaskGoal { offset: [0.0; 3] }],
        constraint: Some(PathConstraint::Slow { max_step: 0.006 }),
    });
    let slow = expert_episode(&mut env, &instr, 3).expect("the expert respects 'slowly'");
    let fast = expert_episode(
        &mut MetaWorldEnv::new(Task::Reach),
        &MetaWorldEnv::new(Task::Reach).instruction().clone(),
        3,
    )
    .unwrap();
    assert!(slow > fast, "slow {slow} vs fast {fast}");
    // Full-speed random motion violates 'slowly' and can then never succeed.
    env.reset(3, &instr).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for _ in 0..30 {
        env.step(&vlgor_sim::Action::Continuous([1.0, 1.0, 0.0, 0.0]))
            .unwrap();
    }
    assert!(env.violated());
    for _ in 0..300 {
        let a = env.expert_action(0.0, &mut rng);
        assert!(!env.step(&a).unwrap().success);
    }
}

#[test]
fn experts_solve_counterfactual_and_hard_instructions() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut report = Vec::new();
    for task in Task::ALL {
        let mut env = MetaWorldEnv::new(task);
        let (mut ok, mut n) = (0, 0);
        for level in [Level::Counterfactual, Level::Hard] {
            let per: u64 = std::env::var("MW_CF_N")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(4);
            for k in 0..per {
                let instr = sample_instruction(task, level, &mut rng);
                n += 1;
                if expert_episode(&mut env, &instr, 200 + k).is_some() {
                    ok += 1;
                } else {
                    println!("{task} failed: {} {:?}", instr.text, goal_of(&instr));
                }
            }
        }
        report.push((task, ok, n));
    }
    for (task, ok, n) in &report {
        println!("{:<20} {ok}/{n}", task.name());
    }
    let total: usize = report.iter().map(|r| r.1).sum();
    let all: usize = report.iter().map(|r| r.2).sum();
    assert!(
        total * 10 >= all * 8,
        "experts solve {total}/{all} counterfactual/hard instructions"
    );
}
