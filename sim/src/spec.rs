//! [`EnvSpec`]: a simulator by name (an environment and, for Meta-World, one task), the one
//! place that builds environments and samples their instructions for every front end (the
//! `vlgor` commands and the Python bindings).

use rand::RngCore;

use crate::clevr::{self, ClevrEnv};
use crate::metaworld::{self, MetaWorldEnv, Task};
use crate::{Env, EnvKind, GoalSpec, Instruction, Level, SimError, TaskRow};

/// What an evaluation or collection runs on: an environment and, for Meta-World, one task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnvSpec {
    Clevr,
    MetaWorld(Task),
}

impl EnvSpec {
    /// Parses `--env` and `--task`; Meta-World defaults to `reach`. `--task all` is handled by
    /// [`EnvSpec::parse_many`].
    pub fn parse(env: &str, task: Option<&str>) -> Result<EnvSpec, SimError> {
        let kind: EnvKind = env.parse()?;
        match kind {
            EnvKind::Clevr => {
                if let Some(t) = task {
                    return Err(SimError::InvalidArgument(format!(
                        "--task {t}: CLEVR has no tasks; its goals are chosen by --level"
                    )));
                }
                Ok(EnvSpec::Clevr)
            }
            EnvKind::MetaWorld => Ok(EnvSpec::MetaWorld(task.unwrap_or("reach").parse()?)),
        }
    }

    /// Like [`EnvSpec::parse`], but `--task all` expands to every Meta-World task.
    pub fn parse_many(env: &str, task: Option<&str>) -> Result<Vec<EnvSpec>, SimError> {
        if task == Some("all") {
            let kind: EnvKind = env.parse()?;
            if kind != EnvKind::MetaWorld {
                return Err(SimError::InvalidArgument(
                    "--task all applies to --env metaworld only".into(),
                ));
            }
            return Ok(Task::ALL.iter().map(|t| EnvSpec::MetaWorld(*t)).collect());
        }
        Ok(vec![EnvSpec::parse(env, task)?])
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

    pub fn make(self) -> Box<dyn Env> {
        match self {
            EnvSpec::Clevr => Box::new(ClevrEnv::new()),
            EnvSpec::MetaWorld(t) => Box::new(MetaWorldEnv::new(t)),
        }
    }

    pub fn sample_instruction(self, level: Level, rng: &mut dyn RngCore) -> Instruction {
        match self {
            EnvSpec::Clevr => clevr::sample_instruction(level, rng),
            EnvSpec::MetaWorld(t) => metaworld::sample_instruction(t, level, rng),
        }
    }
}

/// Every goal of every level, with an example instruction.
pub fn task_table(kind: EnvKind) -> Vec<TaskRow> {
    match kind {
        EnvKind::Clevr => clevr::task_table(),
        EnvKind::MetaWorld => metaworld::task_table(),
    }
}
