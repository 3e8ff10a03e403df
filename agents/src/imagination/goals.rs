//! Rewards and success of imagined rollouts: the environment's own goal functions applied to
//! states read out of imagined frames (perceived states: CLEVR the five balls' (x, y), Meta-World
//! hand xyz, gripper opening, object xyz).

use vlgor_sim::clevr::NUM_BALLS;
use vlgor_sim::metaworld::Task;
use vlgor_sim::metaworld::reward::{self as mw, EpisodeContext, Perceived};
use vlgor_sim::spec::Simulators;
use vlgor_sim::{Env, GoalSpec, Instruction};

use crate::error::CliError;

/// An instruction's goal, judged on perceived states.
#[derive(Clone, Debug)]
pub struct PerceivedGoal {
    goal: GoalSpec,
    /// Perceived state at the rollout's start (directional CLEVR goals measure from it).
    start: Vec<f32>,
    /// Meta-World: the task and its episode constants (goal point, initial object and hand).
    metaworld: Option<(Task, EpisodeContext)>,
}

fn balls(p: &[f32]) -> [[f32; 2]; NUM_BALLS] {
    let mut b = [[0f32; 2]; NUM_BALLS];
    for (i, xy) in b.iter_mut().enumerate() {
        *xy = [
            p.get(2 * i).copied().unwrap_or(0.0),
            p.get(2 * i + 1).copied().unwrap_or(0.0),
        ];
    }
    b
}

fn triple(p: &[f32], at: usize) -> [f32; 3] {
    [p[at], p[at + 1], p[at + 2]]
}

impl PerceivedGoal {
    /// `seed` reproduces the episode's initial layout (Meta-World goal points come from it);
    /// `start` is the perceived state of the first frame.
    pub fn new(instruction: &Instruction, seed: u64, start: &[f32]) -> Result<Self, CliError> {
        let metaworld = match &instruction.goal {
            GoalSpec::Clevr(_) => None,
            GoalSpec::MetaWorld(g) => {
                let mut sims = Simulators::new();
                let env = sims.metaworld(g.task);
                env.reset(seed, instruction)?;
                Some((g.task, env.context()))
            }
        };
        Ok(PerceivedGoal {
            goal: instruction.goal.clone(),
            start: start.to_vec(),
            metaworld,
        })
    }

    /// Meta-World's perceived state; the joint position is approximated by the object point's
    /// travel from its initial point (the readout does not see joints).
    fn metaworld(ctx: &EpisodeContext, p: &[f32]) -> Perceived {
        let object = triple(p, 4);
        Perceived {
            hand: triple(p, 0),
            gripper: p[3],
            object,
            joint: mw::dist(object, ctx.object_init),
        }
    }

    /// Whether the goal holds in perceived state `p`.
    pub fn success(&self, p: &[f32]) -> bool {
        match (&self.goal, &self.metaworld) {
            (GoalSpec::Clevr(g), _) => g.is_success(&balls(p), &balls(&self.start)),
            (GoalSpec::MetaWorld(_), Some((task, ctx))) if p.len() >= 7 => {
                mw::success(*task, ctx, &Self::metaworld(ctx, p))
            }
            _ => false,
        }
    }

    /// Reward of the transition `prev` → `next`, as the environment computes it.
    pub fn reward(&self, prev: &[f32], next: &[f32]) -> f32 {
        match (&self.goal, &self.metaworld) {
            (GoalSpec::Clevr(g), _) => g.reward(&balls(prev), &balls(next), &balls(&self.start)),
            (GoalSpec::MetaWorld(_), Some((task, ctx))) if next.len() >= 7 => {
                mw::reward(*task, ctx, &Self::metaworld(ctx, next))
            }
            _ => 0.0,
        }
    }
}
