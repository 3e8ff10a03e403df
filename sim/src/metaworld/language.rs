//! Meta-World instructions ⟨t, m, b⟩ with their goal specs: training templates, a disjoint
//! rephrasing set, counterfactual targets (the goal of the behavior moved: "to the left of the
//! goal", "halfway"), counterfactual behaviors (a checkable path: straight line, slowly, gripper
//! open/closed, raise first) and hard compositions (both, or two goals in sequence).
//! Text is generated from the goal spec, never parsed back.

use rand::{Rng, RngCore};

use super::goal::{MetaWorldGoal, PathConstraint, Stage};
use super::task::Task;
use crate::language::{
    CounterfactualKind, GoalSpec, Instruction, InstructionParts, Level, TaskRow,
};

/// Background templates `t` used for training text.
const SEEN_TEMPLATES: [&str; 5] = [
    "{behavior} {target}{modifier}",
    "please {behavior} {target}{modifier}",
    "{behavior} {target}{modifier} now",
    "can you {behavior} {target}{modifier}?",
    "your task: {behavior} {target}{modifier}",
];

/// Paraphrase templates never used in training text.
const REPHRASE_TEMPLATES: [&str; 5] = [
    "I need you to {behavior} {target}{modifier}",
    "go ahead and {behavior} {target}{modifier}",
    "{behavior} {target}{modifier}, if you would",
    "the job is to {behavior} {target}{modifier}",
    "try to {behavior} {target}{modifier}",
];

/// (training verbs, rephrase-only verbs, targets) of a task.
fn words(task: Task) -> ([&'static str; 4], [&'static str; 2], [&'static str; 4]) {
    match task {
        Task::Reach => (
            [
                "move the gripper to",
                "reach",
                "bring the gripper to",
                "move the hand to",
            ],
            ["steer the end effector to", "position the claw at"],
            [
                "the goal",
                "the target position",
                "the red marker",
                "the goal point",
            ],
        ),
        Task::Push => (
            [
                "push the puck to",
                "slide the puck to",
                "push the red puck to",
                "shove the puck toward",
            ],
            ["nudge the disc over to", "move the puck along the table to"],
            [
                "the goal",
                "the target",
                "the green marker",
                "the goal position",
            ],
        ),
        Task::PickPlace => (
            [
                "pick up the puck and place it at",
                "grasp the puck and put it at",
                "lift the puck to",
                "pick the puck and move it to",
            ],
            [
                "grab the disc and set it at",
                "take the puck and carry it to",
            ],
            [
                "the goal",
                "the target position",
                "the green marker",
                "the goal point",
            ],
        ),
        Task::ButtonPress => (
            ["press", "push", "push in", "hit"],
            ["depress", "jab"],
            [
                "the button",
                "the red button",
                "the button on the box",
                "the yellow box's button",
            ],
        ),
        Task::DoorUnlock => (
            [
                "unlock",
                "turn the lock of",
                "open the lock on",
                "flip the latch of",
            ],
            ["release the lock on", "disengage the latch of"],
            [
                "the door",
                "the wooden door",
                "the door lock",
                "the locked door",
            ],
        ),
        Task::DoorOpen => (
            ["open", "pull open", "swing open", "open up"],
            ["pull back", "swing out"],
            [
                "the door",
                "the wooden door",
                "the door by its handle",
                "the cabinet door",
            ],
        ),
        Task::WindowOpen => (
            ["open", "slide open", "slide", "push open"],
            ["shift open", "draw open"],
            [
                "the window",
                "the sliding window",
                "the window sash",
                "the glass window",
            ],
        ),
        Task::FaucetOpen => (
            ["turn on", "open", "rotate", "twist open"],
            ["switch on", "crank open"],
            [
                "the faucet",
                "the tap",
                "the faucet handle",
                "the water tap",
            ],
        ),
        Task::CoffeePush => (
            [
                "push the mug to",
                "slide the cup to",
                "move the mug under",
                "push the coffee cup to",
            ],
            ["shove the mug beneath", "nudge the cup toward"],
            [
                "the coffee machine",
                "the machine's spout",
                "the spot under the machine",
                "the coffee maker",
            ],
        ),
        Task::CoffeeButtonPress => (
            ["press", "push", "hit", "push in"],
            ["depress", "tap"],
            [
                "the coffee machine button",
                "the button on the coffee machine",
                "the machine's button",
                "the coffee maker's button",
            ],
        ),
    }
}

/// Counterfactual targets of a task: (phrase prefix for the target, stage).
fn target_edits(task: Task) -> Vec<(&'static str, Stage)> {
    let off = |o: [f32; 3]| Stage::TaskGoal { offset: o };
    match task {
        Task::Reach | Task::PickPlace => vec![
            ("a point 10 cm to the left of ", off([-0.1, 0.0, 0.0])),
            ("a point 10 cm to the right of ", off([0.1, 0.0, 0.0])),
            ("a point 8 cm closer than ", off([0.0, -0.08, 0.0])),
            ("a point 10 cm above ", off([0.0, 0.0, 0.1])),
        ],
        Task::Push | Task::CoffeePush => vec![
            ("a point 10 cm to the left of ", off([-0.1, 0.0, 0.0])),
            ("a point 10 cm to the right of ", off([0.1, 0.0, 0.0])),
        ],
        _ => vec![("", Stage::Partial { fraction: 0.5 })],
    }
}

/// Counterfactual behaviors of a task: (modifier words, constraint, extra first stage).
fn behavior_edits(task: Task) -> Vec<(&'static str, Option<PathConstraint>, Option<Stage>)> {
    let mut v = vec![
        (
            " slowly",
            Some(PathConstraint::Slow { max_step: 0.006 }),
            None,
        ),
        (
            " after first raising the gripper high",
            None,
            Some(Stage::HandAbove { z: 0.3 }),
        ),
    ];
    if task == Task::Reach || task.has_free_object() {
        v.push((
            " along a straight-line trajectory",
            Some(PathConstraint::StraightLine { max_dev: 0.04 }),
            None,
        ));
    }
    if matches!(
        task,
        Task::Reach | Task::ButtonPress | Task::CoffeeButtonPress
    ) {
        v.push((
            " with the gripper kept open",
            Some(PathConstraint::GripperOpen),
            None,
        ));
    }
    if !matches!(task, Task::Push | Task::PickPlace | Task::CoffeePush) {
        v.push((
            " with the gripper closed",
            Some(PathConstraint::GripperClosed),
            None,
        ));
    }
    v
}

fn pick<'a, T>(rng: &mut dyn RngCore, v: &'a [T]) -> &'a T {
    &v[rng.random_range(0..v.len())]
}

fn pick_str(rng: &mut dyn RngCore, v: &[&'static str]) -> &'static str {
    v[rng.random_range(0..v.len())]
}

/// Renders ⟨t, m, b⟩ + modifier into an instruction.
fn render(
    template: &str,
    target: String,
    behavior: &str,
    modifier: &str,
    goal: MetaWorldGoal,
    level: Level,
) -> Instruction {
    let text = template
        .replace("{behavior}", behavior)
        .replace("{target}", &target)
        .replace("{modifier}", modifier);
    Instruction {
        text,
        parts: InstructionParts {
            template: template.to_string(),
            target,
            behavior: format!("{behavior}{modifier}"),
        },
        goal: GoalSpec::MetaWorld(goal),
        level,
    }
}

/// Words for a partial-travel target (articulated tasks).
fn partial_target(target: &str, fraction: f32) -> String {
    if (fraction - 0.5).abs() < 1e-3 {
        format!("{target} halfway")
    } else {
        format!("{target} {:.0} percent of the way", fraction * 100.0)
    }
}

fn apply_target(task: Task, base_target: &str, rng: &mut dyn RngCore) -> (String, Stage) {
    let (prefix, stage) = *pick(rng, &target_edits(task));
    let words = match stage {
        Stage::Partial { fraction } => partial_target(base_target, fraction),
        _ => format!("{prefix}{base_target}"),
    };
    (words, stage)
}

/// Samples an instruction for `task` at `level`.
pub fn sample_instruction(task: Task, level: Level, rng: &mut dyn RngCore) -> Instruction {
    let (verbs, re_verbs, targets) = words(task);
    let target = *pick(rng, &targets);
    match level {
        Level::Seen => render(
            pick_str(rng, &SEEN_TEMPLATES),
            target.into(),
            pick_str(rng, &verbs),
            "",
            MetaWorldGoal::plain(task),
            level,
        ),
        Level::Rephrase => {
            let verb = if rng.random_bool(0.5) {
                *pick(rng, &re_verbs)
            } else {
                *pick(rng, &verbs)
            };
            render(
                pick_str(rng, &REPHRASE_TEMPLATES),
                target.into(),
                verb,
                "",
                MetaWorldGoal::plain(task),
                level,
            )
        }
        // Meta-World has no relational goals: `Level::of_env` leaves `UnseenRelation` out, and
        // commands refuse it before sampling; a direct caller gets counterfactual goals.
        Level::Counterfactual | Level::UnseenRelation => {
            let base = render(
                pick_str(rng, &SEEN_TEMPLATES),
                target.into(),
                pick_str(rng, &verbs),
                "",
                MetaWorldGoal::plain(task),
                Level::Seen,
            );
            let kind = if rng.random_bool(0.5) {
                CounterfactualKind::Target
            } else {
                CounterfactualKind::Behavior
            };
            counterfactual(&base, kind, rng)
        }
        Level::Hard => {
            let template = *pick(rng, &SEEN_TEMPLATES);
            let verb = *pick(rng, &verbs);
            if rng.random_bool(0.5) {
                // A target change combined with a behavior change.
                let (t_words, stage) = apply_target(task, target, rng);
                let (modifier, constraint, first) = *pick(rng, &behavior_edits(task));
                let mut stages = vec![stage];
                if let Some(f) = first {
                    stages.insert(0, f);
                }
                let goal = MetaWorldGoal {
                    task,
                    stages,
                    constraint,
                };
                render(template, t_words, verb, modifier, goal, level)
            } else if matches!(task, Task::Reach | Task::Push | Task::PickPlace)
                && rng.random_bool(0.5)
            {
                // Two goals in sequence: a moved goal first, then the task's own goal.
                let (t_words, first) = apply_target(task, target, rng);
                let goal = MetaWorldGoal {
                    task,
                    stages: vec![first, Stage::TaskGoal { offset: [0.0; 3] }],
                    constraint: None,
                };
                let modifier = format!(" first, then to {target}");
                render(template, t_words, verb, &modifier, goal, level)
            } else {
                // Two goals in sequence: the task, then the hand back to its start.
                let goal = MetaWorldGoal {
                    task,
                    stages: vec![
                        Stage::TaskGoal { offset: [0.0; 3] },
                        Stage::HandAt {
                            offset: [0.0, 0.0, 0.0],
                        },
                    ],
                    constraint: None,
                };
                render(
                    template,
                    target.into(),
                    verb,
                    ", then return the gripper to where it started",
                    goal,
                    level,
                )
            }
        }
    }
}

/// A counterfactual of `instr` (a Meta-World instruction) replacing one part: `Target` moves the
/// goal of the behavior (offset or partial travel), `Behavior` changes the path. Non-Meta-World
/// instructions are returned unchanged.
pub fn counterfactual(
    instr: &Instruction,
    kind: CounterfactualKind,
    rng: &mut dyn RngCore,
) -> Instruction {
    let GoalSpec::MetaWorld(goal) = &instr.goal else {
        return instr.clone();
    };
    let task = goal.task;
    let (verbs, _, targets) = words(task);
    // Recover the plain verb/target words when the parts carry them; else draw fresh ones.
    let verb = verbs
        .iter()
        .copied()
        .filter(|v| instr.parts.behavior.starts_with(v))
        .max_by_key(|v| v.len())
        .unwrap_or_else(|| *pick(rng, &verbs));
    let target = targets
        .iter()
        .copied()
        .filter(|t| instr.parts.target.contains(t))
        .max_by_key(|t| t.len())
        .unwrap_or_else(|| *pick(rng, &targets));
    let template = instr.parts.template.as_str();
    match kind {
        CounterfactualKind::Target => {
            let (t_words, stage) = apply_target(task, target, rng);
            let goal = MetaWorldGoal {
                task,
                stages: vec![stage],
                constraint: None,
            };
            render(template, t_words, verb, "", goal, Level::Counterfactual)
        }
        CounterfactualKind::Behavior => {
            let (modifier, constraint, first) = *pick(rng, &behavior_edits(task));
            let mut stages = vec![Stage::TaskGoal { offset: [0.0; 3] }];
            if let Some(f) = first {
                stages.insert(0, f);
            }
            let goal = MetaWorldGoal {
                task,
                stages,
                constraint,
            };
            render(
                template,
                target.into(),
                verb,
                modifier,
                goal,
                Level::Counterfactual,
            )
        }
    }
}

/// One row per task and level for `vlgor tasks` (example drawn with a fixed seed).
pub fn task_table() -> Vec<TaskRow> {
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let mut rows = Vec::new();
    for task in Task::ALL {
        for &level in Level::of_env(crate::EnvKind::MetaWorld) {
            let i = sample_instruction(task, level, &mut rng);
            rows.push(TaskRow {
                level,
                goal: task.goal_words().to_string(),
                example: i.text,
            });
        }
    }
    rows
}

/// Number of distinct training surface forms of a task (templates × verbs × targets).
pub fn seen_surface_forms(task: Task) -> usize {
    let (v, _, t) = words(task);
    SEEN_TEMPLATES.len() * v.len() * t.len()
}
