//! The one place that knows every simulator: which ones an [`EnvKind`] holds (CLEVR one,
//! Meta-World one per task), how to build one for a goal, and its instructions and task table.
//! Adding an environment = a module beside `clevr/` and `metaworld/`, an [`EnvKind`] variant,
//! and one arm in each `match` of this file (the compiler lists them).

use rand::RngCore;
use std::collections::HashMap;

use crate::clevr::{self, ClevrEnv};
use crate::dataset::ActionSpace;
use crate::metaworld::{self, MetaWorldEnv, Task};
use crate::{Env, EnvKind, GoalSpec, Instruction, Level, SimError, TaskRow};

/// One simulator: an environment and, for Meta-World, one task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EnvSpec {
    Clevr,
    MetaWorld(Task),
}

/// `--task`: one Meta-World task or all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskChoice {
    One(Task),
    All,
}

impl TaskChoice {
    pub fn name(self) -> &'static str {
        match self {
            TaskChoice::One(t) => t.name(),
            TaskChoice::All => "all",
        }
    }
}

impl std::str::FromStr for TaskChoice {
    type Err = SimError;
    fn from_str(s: &str) -> Result<Self, SimError> {
        if s == "all" {
            return Ok(TaskChoice::All);
        }
        s.parse().map(TaskChoice::One)
    }
}

impl EnvSpec {
    /// The simulators `task` selects in `kind`: CLEVR has no tasks (its goals come from the
    /// level); Meta-World defaults to `reach`, and `all` is every task.
    pub fn select(kind: EnvKind, task: Option<TaskChoice>) -> Result<Vec<EnvSpec>, SimError> {
        match (kind, task) {
            (EnvKind::Clevr, None) => Ok(vec![EnvSpec::Clevr]),
            (EnvKind::Clevr, Some(t)) => Err(SimError::InvalidChoice(format!(
                "--task {}: CLEVR has no tasks; its goals are chosen by --level",
                t.name()
            ))),
            (EnvKind::MetaWorld, None) => Ok(vec![EnvSpec::MetaWorld(Task::Reach)]),
            (EnvKind::MetaWorld, Some(TaskChoice::One(t))) => Ok(vec![EnvSpec::MetaWorld(t)]),
            (EnvKind::MetaWorld, Some(TaskChoice::All)) => Ok(EnvSpec::all_of(kind)),
        }
    }

    /// Every simulator of `kind` (Meta-World: one per task, in [`Task::ALL`] order).
    pub fn all_of(kind: EnvKind) -> Vec<EnvSpec> {
        match kind {
            EnvKind::Clevr => vec![EnvSpec::Clevr],
            EnvKind::MetaWorld => Task::ALL.iter().map(|t| EnvSpec::MetaWorld(*t)).collect(),
        }
    }

    /// The simulator of episode `i` when episodes cycle through `kind`'s simulators
    /// (Meta-World: task `i % 10` in [`Task::ALL`] order; CLEVR: always CLEVR).
    pub fn cycle(kind: EnvKind, i: usize) -> EnvSpec {
        let all = EnvSpec::all_of(kind);
        all[i % all.len()]
    }

    /// The first simulator of `kind`: the probe for its observation size and cameras.
    pub fn first_of(kind: EnvKind) -> EnvSpec {
        EnvSpec::all_of(kind)[0]
    }

    /// The simulator a goal belongs to (Meta-World goals carry their task).
    pub fn of_goal(goal: &GoalSpec) -> EnvSpec {
        match goal {
            GoalSpec::Clevr(_) => EnvSpec::Clevr,
            GoalSpec::MetaWorld(g) => EnvSpec::MetaWorld(g.task),
        }
    }

    pub fn kind(self) -> EnvKind {
        match self {
            EnvSpec::Clevr => EnvKind::Clevr,
            EnvSpec::MetaWorld(_) => EnvKind::MetaWorld,
        }
    }

    /// A short label: `clevr` or the Meta-World task name.
    pub fn label(self) -> &'static str {
        match self {
            EnvSpec::Clevr => "clevr",
            EnvSpec::MetaWorld(t) => t.name(),
        }
    }

    /// A fresh simulator.
    pub fn make(self) -> Box<dyn Env> {
        match self {
            EnvSpec::Clevr => Box::new(ClevrEnv::new()),
            EnvSpec::MetaWorld(t) => Box::new(MetaWorldEnv::new(t)),
        }
    }

    /// A fresh simulator for `goal` (the one function every command builds simulators with).
    pub fn make_for_goal(goal: &GoalSpec) -> Box<dyn Env> {
        EnvSpec::of_goal(goal).make()
    }

    /// An instruction of `level` for this simulator.
    pub fn sample_instruction(self, level: Level, rng: &mut dyn RngCore) -> Instruction {
        match self {
            EnvSpec::Clevr => clevr::sample_instruction(level, rng),
            EnvSpec::MetaWorld(t) => metaworld::sample_instruction(t, level, rng),
        }
    }
}

/// Simulators made on first use, one per [`EnvSpec`] and each built as [`EnvSpec::make`]
/// builds it, for code that visits many states of several simulators (frames re-rendered from
/// stored states, validation replays). A visitor sets the state (or resets) before reading.
#[derive(Default)]
pub struct Simulators {
    clevr: Option<ClevrEnv>,
    metaworld: HashMap<Task, MetaWorldEnv>,
}

impl Simulators {
    pub fn new() -> Simulators {
        Simulators::default()
    }

    /// The simulator of `spec`.
    pub fn get(&mut self, spec: EnvSpec) -> &mut dyn Env {
        match spec {
            EnvSpec::Clevr => self.clevr(),
            EnvSpec::MetaWorld(t) => self.metaworld(t),
        }
    }

    /// The simulator `goal` belongs to.
    pub fn for_goal(&mut self, goal: &GoalSpec) -> &mut dyn Env {
        self.get(EnvSpec::of_goal(goal))
    }

    /// CLEVR's simulator, for code reading CLEVR's own geometry.
    pub fn clevr(&mut self) -> &mut ClevrEnv {
        self.clevr.get_or_insert_with(ClevrEnv::new)
    }

    /// Meta-World's simulator of `task`, for code reading Meta-World's own geometry.
    pub fn metaworld(&mut self, task: Task) -> &mut MetaWorldEnv {
        self.metaworld
            .entry(task)
            .or_insert_with(|| MetaWorldEnv::new(task))
    }
}

/// The action space datasets of `kind` record.
pub fn action_space(kind: EnvKind) -> ActionSpace {
    match kind {
        EnvKind::Clevr => ActionSpace::Discrete {
            n: clevr::NUM_ACTIONS,
        },
        EnvKind::MetaWorld => ActionSpace::Continuous { dim: 4 },
    }
}

/// Every goal of every level of `kind`, with an example instruction.
pub fn task_table(kind: EnvKind) -> Vec<TaskRow> {
    match kind {
        EnvKind::Clevr => clevr::task_table(),
        EnvKind::MetaWorld => metaworld::task_table(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// Every env kind has simulators, instructions on each of its levels, a task table, an
    /// action space matching its simulators, and names that round-trip. A new [`EnvKind`]
    /// variant fails to compile until each `match` here has its arm, and fails this test until
    /// `EnvKind::ALL` lists it with working simulators.
    #[test]
    fn every_env_kind_has_every_touch_point() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        for kind in EnvKind::ALL {
            assert_eq!(kind.name().parse::<EnvKind>().unwrap(), kind);
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                kind.name(),
                "serde name of {kind}"
            );
            let specs = EnvSpec::all_of(kind);
            assert!(!specs.is_empty(), "{kind}: no simulators");
            assert_eq!(EnvSpec::first_of(kind), specs[0]);
            for (i, &spec) in specs.iter().enumerate() {
                assert_eq!(EnvSpec::cycle(kind, i + specs.len()), spec);
            }
            assert!(!task_table(kind).is_empty(), "{kind}: no task table");
            for spec in specs {
                assert_eq!(spec.kind(), kind);
                assert_eq!(Simulators::new().get(spec).kind(), kind);
                let mut env = spec.make();
                assert!(!env.cameras().is_empty(), "{}: no camera", spec.label());
                for &level in Level::of_env(kind) {
                    let inst = spec.sample_instruction(level, &mut rng);
                    assert_eq!(EnvSpec::of_goal(&inst.goal), spec, "{}", inst.text);
                    env.reset(1, &inst).unwrap();
                }
                let a = match action_space(kind) {
                    ActionSpace::Discrete { .. } => crate::Action::Discrete(0),
                    ActionSpace::Continuous { .. } => crate::Action::Continuous([0.0; 4]),
                };
                env.step(&a).unwrap();
            }
        }
        assert!(EnvSpec::select(EnvKind::Clevr, Some(TaskChoice::All)).is_err());
        assert_eq!(
            EnvSpec::select(EnvKind::MetaWorld, Some(TaskChoice::All))
                .unwrap()
                .len(),
            Task::ALL.len()
        );
    }
}
