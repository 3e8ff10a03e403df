//! Rewards and success of imagined rollouts: the environment's own goal functions applied to
//! states read out of imagined frames (perceived states: CLEVR the five balls' (x, y), Meta-World
//! hand xyz, gripper opening, object xyz).

use rand::Rng;
use vlgor_sim::clevr::NUM_BALLS;
use vlgor_sim::clevr::expert::goal_cost;
use vlgor_sim::clevr::goal::SUCCESS_REWARD;
use vlgor_sim::clevr::physics::{BALL_Z, DIRECTIONS};
use vlgor_sim::dataset::ActionSpace;
use vlgor_sim::metaworld::reward::{self as mw, EpisodeContext, Perceived};
use vlgor_sim::metaworld::{ObjectJoint, Task};
use vlgor_sim::spec::Simulators;
use vlgor_sim::validate::ValidatorConfig;
use vlgor_sim::validate::checks::check_snapshot;
use vlgor_sim::validate::replay::Snapshot;
use vlgor_sim::{Action, Env, EnvKind, GoalSpec, Instruction};

use crate::error::CliError;

/// The candidate actions look-ahead imagines for `instruction`: CLEVR the eight pushes of each
/// ball the goal names (all 40 if it names none); continuous actions `continuous` uniform draws
/// (the online advisor's; imagination draws [`candidates_around`] the action head's proposal).
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

/// Spread (standard deviation per coordinate, in action units) of the look-ahead's continuous
/// candidates around the action head's proposal: a quarter of the [-1, 1] range's half-width, so
/// the candidates stay in the neighbourhood of what the model would do.
pub const PROPOSAL_SPREAD: f64 = 0.25;

/// The continuous look-ahead candidates of imagination: the action head's `proposed` action
/// first, then `n - 1` draws of it plus N(0, [`PROPOSAL_SPREAD`]²) noise per coordinate,
/// clamped to [-1, 1]. Uniform candidates ([`candidate_actions`]) reach the goal as often but
/// fill the imagined data with actions no expert takes (the gripper half-open, every
/// coordinate spread over [-1, 1]), and behaviour cloning on them unlearns the real data's.
pub fn candidates_around(proposed: Action, n: usize, rng: &mut dyn rand::RngCore) -> Vec<Action> {
    let Action::Continuous(centre) = proposed else {
        return vec![proposed];
    };
    let mut out = vec![proposed];
    for _ in 1..n {
        let mut a = centre;
        for v in a.iter_mut() {
            let noise = PROPOSAL_SPREAD * vlgor_vlm::world_model::sampling::standard_normal(rng);
            *v = (*v + noise as f32).clamp(-1.0, 1.0);
        }
        out.push(Action::Continuous(a));
    }
    out
}

/// Look-ahead score taken off a candidate whose imagined state the validator's per-state checks
/// reject, so a plausible candidate always ranks above an implausible one and implausible
/// candidates still rank among themselves by their progress.
pub const IMPLAUSIBLE_PENALTY: f32 = 1000.0;

/// Whether the validator's per-state checks (interpenetration, out of the workspace; see
/// `vlgor_sim::validate::checks::check_snapshot`) pass on perceived state `p`, with every ball
/// at rest on the table as the imagined rollout's validation rebuilds it. CLEVR only: a
/// Meta-World perceived state needs a simulator to rebuild and is always plausible here.
pub fn state_plausible(env: EnvKind, p: &[f32], cfg: &ValidatorConfig) -> bool {
    match env {
        EnvKind::Clevr => {
            let balls = balls(p).map(|[x, y]| [x, y, BALL_Z]);
            check_snapshot(0, &Snapshot::Clevr { balls }, cfg).is_empty()
        }
        EnvKind::MetaWorld => true,
    }
}

/// An instruction's goal, judged on perceived states.
#[derive(Clone, Debug)]
pub struct PerceivedGoal {
    goal: GoalSpec,
    /// Perceived state at the rollout's start (directional CLEVR goals measure from it).
    start: Vec<f32>,
    /// Meta-World: the task, its episode constants (goal point, initial object and hand) and
    /// how its object point maps to the joint.
    metaworld: Option<(Task, EpisodeContext, ObjectJoint)>,
}

/// CLEVR ball centres `[[x, y]; 5]` of a perceived state or state observation (missing values 0).
pub(crate) fn balls(p: &[f32]) -> [[f32; 2]; NUM_BALLS] {
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
                Some((g.task, env.context(), env.object_joint()))
            }
        };
        Ok(PerceivedGoal {
            goal: instruction.goal.clone(),
            start: start.to_vec(),
            metaworld,
        })
    }

    /// Meta-World's perceived state; the joint position is the one whose observed point is
    /// nearest the object point (the readout does not see joints), in the joint's own units and
    /// sign (a hinge's angle, a slide's travel).
    fn metaworld(joint: &ObjectJoint, p: &[f32]) -> Perceived {
        let object = triple(p, 4);
        Perceived {
            hand: triple(p, 0),
            gripper: p[3],
            object,
            joint: joint.at_point(object),
        }
    }

    /// Whether the goal holds in perceived state `p`.
    pub fn success(&self, p: &[f32]) -> bool {
        match (&self.goal, &self.metaworld) {
            (GoalSpec::Clevr(g), _) => g.is_success(&balls(p), &balls(&self.start)),
            (GoalSpec::MetaWorld(_), Some((task, ctx, joint))) if p.len() >= 7 => {
                mw::success(*task, ctx, &Self::metaworld(joint, p))
            }
            _ => false,
        }
    }

    /// Look-ahead score of the transition `now` → `next` (higher is better): CLEVR the fall of
    /// the goal's distance ([`goal_cost`], the scripted planner's measure on ball centres, m),
    /// [`SUCCESS_REWARD`] when the goal holds at `next`; Meta-World the environment's reward.
    /// The reward of a hard composition only counts completed relations, so a push that brings
    /// the balls closer without completing one scores 0 there; the distance ranks it.
    pub fn progress(&self, now: &[f32], next: &[f32]) -> f32 {
        match &self.goal {
            GoalSpec::Clevr(g) => {
                let start = balls(&self.start);
                if g.is_success(&balls(next), &start) {
                    return SUCCESS_REWARD;
                }
                goal_cost(g, &balls(now), &start) - goal_cost(g, &balls(next), &start)
            }
            GoalSpec::MetaWorld(_) => self.reward(now, next),
        }
    }

    /// Reward of the transition `prev` → `next`, as the environment computes it.
    pub fn reward(&self, prev: &[f32], next: &[f32]) -> f32 {
        match (&self.goal, &self.metaworld) {
            (GoalSpec::Clevr(g), _) => g.reward(&balls(prev), &balls(next), &balls(&self.start)),
            (GoalSpec::MetaWorld(_), Some((task, ctx, joint))) if next.len() >= 7 => {
                mw::reward(*task, ctx, &Self::metaworld(joint, next))
            }
            _ => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use vlgor_sim::{EnvSpec, Level};

    #[test]
    fn progress_ranks_pushes_toward_a_composition_that_its_reward_does_not() {
        use vlgor_sim::clevr::{ClevrGoal, Direction, Relation};
        let r = |source, reference, direction| Relation {
            source,
            reference,
            direction,
        };
        let goal = ClevrGoal::Relations {
            relations: vec![r(0, 1, Direction::Left), r(2, 3, Direction::Behind)],
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut ins = EnvSpec::Clevr.sample_instruction(Level::Hard, &mut rng);
        ins.goal = GoalSpec::Clevr(goal);
        // Red 0.6 m right of blue; green and purple far apart.
        let now = [0.3, 0.0, -0.3, 0.0, 0.0, -0.4, 0.0, 0.4, 0.5, 0.5];
        let goal = PerceivedGoal::new(&ins, 0, &now).unwrap();
        let mut closer = now;
        closer[0] = 0.0; // red halfway to its place left of blue
        assert_eq!(goal.reward(&now, &closer), 0.0, "no relation completed");
        assert!(goal.progress(&now, &closer) > 0.2);
        assert!(
            goal.progress(&closer, &now) < -0.2,
            "moving away scores below 0"
        );
        let mut done = closer;
        done[0] = -0.55; // red left of blue
        done[5] = 0.6; // green behind purple
        assert!(goal.success(&done));
        assert_eq!(goal.progress(&closer, &done), SUCCESS_REWARD);
    }

    #[test]
    fn overlapping_or_escaped_balls_are_implausible() {
        let cfg = ValidatorConfig::for_env(EnvKind::Clevr);
        let apart = [0.0, 0.2, 0.35, 0.2, -0.35, 0.2, 0.0, 0.5, 0.0, -0.1];
        assert!(state_plausible(EnvKind::Clevr, &apart, &cfg));
        let mut touching = apart;
        touching[2] = 2.0 * vlgor_sim::clevr::physics::BALL_RADIUS; // red and blue just touch
        assert!(state_plausible(EnvKind::Clevr, &touching, &cfg));
        let mut overlap = apart;
        overlap[2] = 0.1; // blue's centre 0.1 m from red's: 0.16 m inside it
        assert!(!state_plausible(EnvKind::Clevr, &overlap, &cfg));
        let mut outside = apart;
        outside[8] = 5.0; // purple beyond the walls
        assert!(!state_plausible(EnvKind::Clevr, &outside, &cfg));
        assert!(state_plausible(EnvKind::MetaWorld, &[0.0; 7], &cfg));
    }

    #[test]
    fn lookahead_candidates_are_the_pushes_of_the_named_balls_or_uniform_draws() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        for level in [Level::Seen, Level::Counterfactual, Level::Hard] {
            for _ in 0..20 {
                let ins = EnvSpec::Clevr.sample_instruction(level, &mut rng);
                let GoalSpec::Clevr(g) = &ins.goal else {
                    panic!("a CLEVR goal")
                };
                let mut named = g.balls();
                named.sort_unstable();
                named.dedup();
                let c = candidate_actions(&ins, EnvKind::Clevr, 16, &mut rng);
                assert_eq!(c.len(), 8 * named.len(), "{}", ins.text);
                for a in &c {
                    let Action::Discrete(k) = a else {
                        panic!("discrete")
                    };
                    assert!(named.contains(&(*k as usize / 8)), "{k} for {}", ins.text);
                }
            }
        }
        let spec = EnvSpec::MetaWorld(Task::Reach);
        let ins = spec.sample_instruction(Level::Seen, &mut rng);
        let c = candidate_actions(&ins, EnvKind::MetaWorld, 16, &mut rng);
        assert_eq!(c.len(), 16);
        assert!(c.iter().all(|a| matches!(a, Action::Continuous(v)
            if v.iter().all(|x| (-1.0..=1.0).contains(x)))));
        assert_ne!(c[0], c[1]);
    }

    #[test]
    fn continuous_candidates_start_at_the_proposal_and_stay_near_it() {
        let proposed = Action::Continuous([0.5, -0.2, 0.9, -1.0]);
        let draw = |seed| {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            candidates_around(proposed, 400, &mut rng)
        };
        let c = draw(3);
        assert_eq!(c.len(), 400);
        assert_eq!(
            c[0], proposed,
            "the action head's own choice is a candidate"
        );
        assert_eq!(c, draw(3), "the same seed gives the same candidates");
        assert_ne!(c, draw(4));
        let mut spread = [0f64; 4];
        for a in &c[1..] {
            let Action::Continuous(v) = a else {
                panic!("continuous")
            };
            assert!(v.iter().all(|x| (-1.0..=1.0).contains(x)), "{v:?}");
            for k in 0..4 {
                spread[k] += ((v[k] - [0.5, -0.2, 0.9, -1.0][k]) as f64).powi(2);
            }
        }
        // An unclamped coordinate spreads by PROPOSAL_SPREAD; one at the bound by less.
        let sd = |k: usize| (spread[k] / 399.0).sqrt();
        assert!((sd(1) - PROPOSAL_SPREAD).abs() < 0.03, "{}", sd(1));
        assert!(sd(3) < PROPOSAL_SPREAD, "{}", sd(3));
        assert_eq!(
            candidates_around(
                Action::Discrete(7),
                16,
                &mut rand_chacha::ChaCha8Rng::seed_from_u64(0)
            ),
            vec![Action::Discrete(7)]
        );
    }

    #[test]
    fn perceived_success_agrees_with_the_simulator_on_expert_rollouts_of_every_task() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let (mut agree, mut steps) = (0usize, 0usize);
        for task in Task::ALL {
            let spec = EnvSpec::MetaWorld(task);
            let ins = spec.sample_instruction(Level::Seen, &mut rng);
            let mut env = spec.make();
            let seed = 40 + task as u64;
            env.reset(seed, &ins).unwrap();
            let seen = |env: &dyn Env| {
                super::super::records::perceive(EnvKind::MetaWorld, &env.observation())
            };
            let start = seen(&*env);
            let goal = PerceivedGoal::new(&ins, seed, &start).unwrap();
            assert!(!goal.success(&start), "{task}: the goal holds at the reset");
            let mut first_success = None;
            for t in 0..env.horizon() {
                let a = env.expert_action(0.0, &mut rng);
                let out = env.step(&a).unwrap();
                let perceived = goal.success(&seen(&*env));
                steps += 1;
                agree += usize::from(perceived == out.success);
                if out.success {
                    first_success = Some((t, perceived));
                    break;
                }
            }
            let (t, perceived) =
                first_success.unwrap_or_else(|| panic!("{task}: the expert did not succeed"));
            assert!(
                perceived,
                "{task}: success at step {t} not seen in the perceived state"
            );
        }
        assert!(
            agree as f64 >= 0.95 * steps as f64,
            "perceived and simulated success agree on {agree} of {steps} steps"
        );
    }
}
