//! Rewards and success of imagined rollouts: the environment's own goal functions applied to
//! states read out of imagined frames (perceived states: CLEVR the five balls' (x, y), Meta-World
//! hand xyz, gripper opening, object xyz).

use rand::Rng;
use vlgor_sim::clevr::NUM_BALLS;
use vlgor_sim::clevr::physics::DIRECTIONS;
use vlgor_sim::dataset::ActionSpace;
use vlgor_sim::metaworld::Task;
use vlgor_sim::metaworld::reward::{self as mw, EpisodeContext, Perceived};
use vlgor_sim::spec::Simulators;
use vlgor_sim::{Action, Env, EnvKind, GoalSpec, Instruction};

use crate::error::CliError;

/// The candidate actions look-ahead imagines for `instruction`: CLEVR the eight pushes of each
/// ball the goal names (all 40 if it names none); continuous actions `continuous` uniform draws.
pub fn candidate_actions(
    instruction: &Instruction,
    env: EnvKind,
    continuous: usize,
    rng: &mut dyn rand::RngCore,
) -> Vec<Action> {
    let per_ball = DIRECTIONS.len() as u32;
    match (vlgor_sim::spec::action_space(env), &instruction.goal) {
        (ActionSpace::Discrete { .. }, GoalSpec::Clevr(g)) if !g.balls().is_empty() => {
            let mut balls = g.balls();
            balls.sort_unstable();
            balls.dedup();
            balls
                .into_iter()
                .flat_map(|b| (0..per_ball).map(move |d| Action::Discrete(b as u32 * per_ball + d)))
                .collect()
        }
        (ActionSpace::Discrete { n }, _) => (0..n as u32).map(Action::Discrete).collect(),
        (ActionSpace::Continuous { dim }, _) => (0..continuous)
            .map(|_| {
                let mut a = [0f32; 4];
                for v in a.iter_mut().take(dim.min(4)) {
                    *v = rng.random_range(-1.0..=1.0);
                }
                Action::Continuous(a)
            })
            .collect(),
    }
}

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
