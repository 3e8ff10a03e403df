//! The machine-checkable Meta-World goal behind an instruction: the task, a sequence of stages
//! (the task's goal, possibly moved by a counterfactual target; partial joint travel; hand
//! poses) and an optional path constraint (counterfactual behavior). Success = every stage
//! reached in order, with the constraint never violated.

use serde::{Deserialize, Serialize};

use super::reward::{self, EpisodeContext, Perceived, dist, travel_fraction};
use super::task::Task;

/// One thing to achieve; stages are achieved in order.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum Stage {
    /// The task's own success with its goal point moved by `offset` (m; non-zero only for
    /// position-goal tasks: reach, push, pick-place, coffee-push).
    TaskGoal { offset: [f32; 3] },
    /// Articulated tasks: the fraction of the joint's full travel within 0.1 of `fraction`
    /// (e.g. 0.5 = "halfway").
    Partial { fraction: f32 },
    /// The TCP within 0.05 m of the initial TCP moved by `offset` (m).
    HandAt { offset: [f32; 3] },
    /// The hand body at or above `z` (m).
    HandAbove { z: f32 },
}

/// A checkable constraint on the whole path (counterfactual behavior).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "constraint", rename_all = "snake_case")]
pub enum PathConstraint {
    /// Reach: the TCP stays within `max_dev` m of the segment from its start to the goal.
    /// Object tasks: the object's xy path stays within `max_dev` of its start-goal segment.
    StraightLine { max_dev: f32 },
    /// The hand moves at most `max_step` m per step.
    Slow { max_step: f32 },
    /// The gripper opening stays above 0.8 throughout.
    GripperOpen,
    /// The gripper opening is below 0.6 from step 20 on.
    GripperClosed,
}

/// A Meta-World goal: a task, stages in order, and an optional path constraint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetaWorldGoal {
    pub task: Task,
    pub stages: Vec<Stage>,
    pub constraint: Option<PathConstraint>,
}

impl MetaWorldGoal {
    /// Checks what a goal read from a file must satisfy: at least one stage, finite numbers;
    /// the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.stages.is_empty() {
            return Err("field `stages` is empty".into());
        }
        let finite = |field: String, v: &[f32]| {
            if v.iter().all(|x| x.is_finite()) {
                Ok(())
            } else {
                Err(format!("field `{field}` is not finite"))
            }
        };
        for (k, s) in self.stages.iter().enumerate() {
            match s {
                Stage::TaskGoal { offset } | Stage::HandAt { offset } => {
                    finite(format!("stages[{k}].offset"), offset)?
                }
                Stage::Partial { fraction } => {
                    finite(format!("stages[{k}].fraction"), &[*fraction])?
                }
                Stage::HandAbove { z } => finite(format!("stages[{k}].z"), &[*z])?,
            }
        }
        match self.constraint {
            Some(PathConstraint::StraightLine { max_dev }) => {
                finite("constraint.max_dev".into(), &[max_dev])
            }
            Some(PathConstraint::Slow { max_step }) => {
                finite("constraint.max_step".into(), &[max_step])
            }
            _ => Ok(()),
        }
    }

    /// The plain task goal (one unmodified stage, no constraint).
    pub fn plain(task: Task) -> Self {
        MetaWorldGoal {
            task,
            stages: vec![Stage::TaskGoal { offset: [0.0; 3] }],
            constraint: None,
        }
    }

    /// The goal point the observation reports while pursuing stage `stage`: the task goal
    /// moved by that stage's offset (or by the next task-goal stage's offset).
    pub fn goal_point(&self, task_goal: [f32; 3], stage: usize) -> [f32; 3] {
        let off = self.stages[stage.min(self.stages.len().saturating_sub(1))..]
            .iter()
            .chain(self.stages.iter())
            .find_map(|s| match s {
                Stage::TaskGoal { offset } => Some(*offset),
                _ => None,
            })
            .unwrap_or([0.0; 3]);
        [
            task_goal[0] + off[0],
            task_goal[1] + off[1],
            task_goal[2] + off[2],
        ]
    }
}

/// Whether `stage` holds for `p` (`ctx.goal` is the unmodified task goal).
pub fn stage_done(task: Task, stage: &Stage, ctx: &EpisodeContext, p: &Perceived) -> bool {
    match *stage {
        Stage::TaskGoal { offset } => {
            let mut c = *ctx;
            for (g, o) in c.goal.iter_mut().zip(offset) {
                *g += o;
            }
            reward::success(task, &c, p)
        }
        Stage::Partial { fraction } => (travel_fraction(task, p.joint) - fraction).abs() <= 0.1,
        Stage::HandAt { offset } => {
            let t = [
                ctx.hand_init[0] + offset[0],
                ctx.hand_init[1] + offset[1],
                ctx.hand_init[2] + offset[2],
            ];
            dist(p.hand, t) <= 0.05
        }
        Stage::HandAbove { z } => p.hand[2] >= z,
    }
}

/// Whether the step from `prev` to `p` (at episode step `step`) keeps `constraint`;
/// `start` is the TCP (reach) or object point at reset and `goal` the stage's goal point.
pub fn constraint_holds(
    task: Task,
    constraint: &PathConstraint,
    start: [f32; 3],
    goal: [f32; 3],
    prev: &Perceived,
    p: &Perceived,
    step: usize,
) -> bool {
    match *constraint {
        PathConstraint::StraightLine { max_dev } => {
            if task == Task::Reach {
                segment_distance(p.tcp(), start, goal) <= max_dev
            } else if task.has_free_object() {
                let flat = |a: [f32; 3]| [a[0], a[1], 0.0];
                segment_distance(flat(p.object), flat(start), flat(goal)) <= max_dev
            } else {
                true
            }
        }
        PathConstraint::Slow { max_step } => dist(prev.hand, p.hand) <= max_step,
        PathConstraint::GripperOpen => p.gripper > 0.8,
        PathConstraint::GripperClosed => step < 20 || p.gripper < 0.6,
    }
}

/// Distance from `p` to the segment `a`-`b` (m).
pub fn segment_distance(p: [f32; 3], a: [f32; 3], b: [f32; 3]) -> f32 {
    let ab = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
    let ap = [p[0] - a[0], p[1] - a[1], p[2] - a[2]];
    let len2 = ab[0] * ab[0] + ab[1] * ab[1] + ab[2] * ab[2];
    let t = if len2 > 0.0 {
        ((ap[0] * ab[0] + ap[1] * ab[1] + ap[2] * ab[2]) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    dist(p, [a[0] + t * ab[0], a[1] + t * ab[1], a[2] + t * ab[2]])
}
