//! CLEVR goals and their pure success and reward tests on ball positions.
//!
//! Convention (KALM's, and the camera's): the default camera stands on the -y side of the
//! table looking along +y, so **left = -x, right = +x, front = -y (closer to the camera),
//! behind = +y (farther from the camera)**. Language, success tests and rendering all use it.
//!
//! Every test here works on plain ball centres `[[x, y]; 5]` (metres, ball index = colour
//! index), so states read out of imagined frames can be scored the same way as the simulator.

use serde::{Deserialize, Serialize};

use super::physics::NUM_BALLS;

/// Colour names by ball index.
pub const COLOR_NAMES: [&str; NUM_BALLS] = ["red", "blue", "green", "purple", "cyan"];

/// KALM's success distance: three radii (0.39 m), plus its 1e-3 tolerance.
pub const RELATION_MAX_DISTANCE: f32 = 0.39 + 1e-3;
/// ORDER: each consecutive pair (by colour index) within 30 deg of +x.
pub const ORDER_MAX_ANGLE: f32 = std::f32::consts::FRAC_PI_6;
/// SORT: every other ball within this distance (m) of the centre ball (2.5 radii).
pub const SORT_RADIUS: f32 = 0.13 * 2.5;
/// SORT gathers around the green ball, as in KALM.
pub const SORT_CENTRE: usize = 2;
/// Reward on the successful step (it replaces the shaping term, as in KALM).
pub const SUCCESS_REWARD: f32 = 100.0;
/// Scale of the distance shaping (per metre) and reward per completed sub-goal.
pub const SHAPING_SCALE: f32 = 10.0;

/// A relation or motion direction on the table (see the module docs for the convention).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Left,
    Right,
    Front,
    Behind,
}

impl Direction {
    pub const ALL: [Direction; 4] = [
        Direction::Left,
        Direction::Right,
        Direction::Front,
        Direction::Behind,
    ];

    /// Unit vector on the table plane.
    pub fn vector(self) -> [f32; 2] {
        match self {
            Direction::Left => [-1.0, 0.0],
            Direction::Right => [1.0, 0.0],
            Direction::Front => [0.0, -1.0],
            Direction::Behind => [0.0, 1.0],
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Direction::Left => "left",
            Direction::Right => "right",
            Direction::Front => "front",
            Direction::Behind => "behind",
        }
    }

    pub fn opposite(self) -> Direction {
        match self {
            Direction::Left => Direction::Right,
            Direction::Right => Direction::Left,
            Direction::Front => Direction::Behind,
            Direction::Behind => Direction::Front,
        }
    }

    /// KALM's 90 deg sector of the angle of (source - reference), degrees in [0, 360):
    /// behind [45, 135), left [135, 225), front [225, 315), right [315, 360) u [0, 45).
    fn in_sector(self, angle_deg: f64) -> bool {
        match self {
            Direction::Behind => (45.0..135.0).contains(&angle_deg),
            Direction::Left => (135.0..225.0).contains(&angle_deg),
            Direction::Front => (225.0..315.0).contains(&angle_deg),
            Direction::Right => !(45.0..315.0).contains(&angle_deg),
        }
    }
}

/// "Ball `source` is `direction` of ball `reference`".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Relation {
    pub source: usize,
    pub reference: usize,
    pub direction: Direction,
}

impl Relation {
    /// Centre distance between source and reference (m): KALM's shaping distance.
    pub fn distance(&self, balls: &[[f32; 2]; NUM_BALLS]) -> f32 {
        dist(balls[self.source], balls[self.reference])
    }

    /// KALM's test: the angle of (source - reference) lies in the direction's sector AND the
    /// centres are closer than [`RELATION_MAX_DISTANCE`].
    pub fn holds(&self, balls: &[[f32; 2]; NUM_BALLS]) -> bool {
        let (s, r) = (balls[self.source], balls[self.reference]);
        // KALM zeroes components below 1e-3 and computes the angle with arccos.
        let z = |v: f32| if v.abs() >= 1e-3 { v as f64 } else { 0.0 };
        let (dx, dy) = (z(s[0] - r[0]), z(s[1] - r[1]));
        let cos = dx / ((dx * dx + dy * dy).sqrt() + 1e-6);
        let mut angle = cos.clamp(-1.0, 1.0).acos().to_degrees();
        if dy < 0.0 {
            angle = 360.0 - angle;
        }
        self.direction.in_sector(angle) && self.distance(balls) < RELATION_MAX_DISTANCE
    }

    pub fn describe(&self) -> String {
        format!(
            "{} {} {}",
            COLOR_NAMES[self.source],
            match self.direction {
                Direction::Left => "left-of",
                Direction::Right => "right-of",
                Direction::Front => "in-front-of",
                Direction::Behind => "behind",
            },
            COLOR_NAMES[self.reference]
        )
    }
}

/// A CLEVR goal, checked on ball positions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ClevrGoal {
    /// Ball `source` ends `direction` of ball `reference` (KALM's sector + distance test).
    Relation {
        source: usize,
        reference: usize,
        direction: Direction,
    },
    /// Ball `ball` moves at least 0.15 m along `direction` (the paper's Table 5 form). A
    /// step-level goal: the episode is one push, judged by [`crate::clevr::judge`] on the
    /// displacement from the episode's start.
    Move { ball: usize, direction: Direction },
    /// Hard level: two or three relations at once (KALM's TAU_2 / TAU_3).
    Relations { relations: Vec<Relation> },
    /// Hard level: red, blue, green, purple, cyan from left to right, each consecutive pair
    /// within 30 deg of +x.
    Order,
    /// Hard level: every other ball within 0.325 m of the green ball.
    Sort,
}

fn dist(a: [f32; 2], b: [f32; 2]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

impl ClevrGoal {
    /// A single relation goal.
    pub fn relation(source: usize, reference: usize, direction: Direction) -> Self {
        ClevrGoal::Relation {
            source,
            reference,
            direction,
        }
    }

    /// The relation of a `Relation` goal.
    pub fn as_relation(&self) -> Option<Relation> {
        match *self {
            ClevrGoal::Relation {
                source,
                reference,
                direction,
            } => Some(Relation {
                source,
                reference,
                direction,
            }),
            _ => None,
        }
    }

    /// Whether the goal holds for ball centres `balls`, given the centres `start` at the
    /// episode's start (only directional goals use `start`).
    pub fn is_success(&self, balls: &[[f32; 2]; NUM_BALLS], start: &[[f32; 2]; NUM_BALLS]) -> bool {
        match self {
            ClevrGoal::Relation { .. } => self.as_relation().is_some_and(|r| r.holds(balls)),
            ClevrGoal::Move { ball, direction } => {
                super::judge::state_judge(*ball, *direction, start, balls)
            }
            ClevrGoal::Relations { relations } => relations.iter().all(|r| r.holds(balls)),
            ClevrGoal::Order => order_pairs(balls) == NUM_BALLS - 1,
            ClevrGoal::Sort => sort_members(balls) == NUM_BALLS - 1,
        }
    }

    /// Reward of the step from `prev` to `next`: [`SUCCESS_REWARD`] if the goal holds at
    /// `next`, otherwise shaping. Relation: KALM's 10 * (previous distance - distance);
    /// Move: 10 * (progress along the asked direction); hard goals: KALM's 10 per sub-goal
    /// completed (negative when one is undone).
    pub fn reward(
        &self,
        prev: &[[f32; 2]; NUM_BALLS],
        next: &[[f32; 2]; NUM_BALLS],
        start: &[[f32; 2]; NUM_BALLS],
    ) -> f32 {
        if self.is_success(next, start) {
            return SUCCESS_REWARD;
        }
        match self {
            ClevrGoal::Relation { .. } => match self.as_relation() {
                Some(r) => SHAPING_SCALE * (r.distance(prev) - r.distance(next)),
                None => 0.0,
            },
            ClevrGoal::Move { ball, direction } => {
                let d = direction.vector();
                let along = |p: [f32; 2]| p[0] * d[0] + p[1] * d[1];
                SHAPING_SCALE * (along(next[*ball]) - along(prev[*ball]))
            }
            _ => SHAPING_SCALE * (self.completed(next) as f32 - self.completed(prev) as f32),
        }
    }

    /// Whether the goal is decided by the episode's first step (directional goals, KALM's
    /// step level).
    pub fn is_step_level(&self) -> bool {
        matches!(self, ClevrGoal::Move { .. })
    }

    /// Number of completed sub-goals (relations holding, ordered pairs, balls gathered);
    /// 0 or 1 for single goals.
    pub fn completed(&self, balls: &[[f32; 2]; NUM_BALLS]) -> usize {
        match self {
            ClevrGoal::Relations { relations } => {
                relations.iter().filter(|r| r.holds(balls)).count()
            }
            ClevrGoal::Order => order_pairs(balls),
            ClevrGoal::Sort => sort_members(balls),
            ClevrGoal::Relation { .. } => {
                self.as_relation().is_some_and(|r| r.holds(balls)) as usize
            }
            ClevrGoal::Move { .. } => 0,
        }
    }

    /// Balls this goal names (targets and references), in order of mention.
    pub fn balls(&self) -> Vec<usize> {
        match self {
            ClevrGoal::Relation {
                source, reference, ..
            } => vec![*source, *reference],
            ClevrGoal::Move { ball, .. } => vec![*ball],
            ClevrGoal::Relations { relations } => relations
                .iter()
                .flat_map(|r| [r.source, r.reference])
                .collect(),
            ClevrGoal::Order | ClevrGoal::Sort => (0..NUM_BALLS).collect(),
        }
    }

    /// Checks every ball index against [`NUM_BALLS`] (and that a relation names two balls and
    /// a composition at least one relation); the error names the field. Goals read from files
    /// must pass this before any test indexes ball positions with them.
    pub fn validate(&self) -> Result<(), String> {
        let ball = |field: &str, i: usize| {
            if i < NUM_BALLS {
                Ok(())
            } else {
                Err(format!(
                    "field `{field}` = {i} is not a ball index (0..{NUM_BALLS})"
                ))
            }
        };
        let relation = |prefix: &str, r: &Relation| {
            ball(&format!("{prefix}source"), r.source)?;
            ball(&format!("{prefix}reference"), r.reference)?;
            if r.source == r.reference {
                return Err(format!(
                    "fields `{prefix}source` and `{prefix}reference` name the same ball {}",
                    r.source
                ));
            }
            Ok(())
        };
        match self {
            ClevrGoal::Relation { .. } => match self.as_relation() {
                Some(r) => relation("", &r),
                None => Ok(()),
            },
            ClevrGoal::Move { ball: b, .. } => ball("ball", *b),
            ClevrGoal::Relations { relations } => {
                if relations.is_empty() {
                    return Err("field `relations` is empty".into());
                }
                relations
                    .iter()
                    .enumerate()
                    .try_for_each(|(k, r)| relation(&format!("relations[{k}]."), r))
            }
            ClevrGoal::Order | ClevrGoal::Sort => Ok(()),
        }
    }

    /// The goal in words, for task tables (e.g. "red left-of blue").
    pub fn describe(&self) -> String {
        match self {
            ClevrGoal::Relation { .. } => {
                self.as_relation().map(|r| r.describe()).unwrap_or_default()
            }
            ClevrGoal::Move { ball, direction } => {
                format!("move {} toward {}", COLOR_NAMES[*ball], direction.name())
            }
            ClevrGoal::Relations { relations } => relations
                .iter()
                .map(|r| r.describe())
                .collect::<Vec<_>>()
                .join(" & "),
            ClevrGoal::Order => "order red..cyan left to right".to_string(),
            ClevrGoal::Sort => "sort: all around green".to_string(),
        }
    }
}

/// Consecutive pairs (by index) whose difference lies within 30 deg of +x.
fn order_pairs(balls: &[[f32; 2]; NUM_BALLS]) -> usize {
    balls
        .windows(2)
        .filter(|w| {
            let (dx, dy) = (w[1][0] - w[0][0], w[1][1] - w[0][1]);
            let len = (dx * dx + dy * dy).sqrt();
            len > 0.0 && dx >= len * ORDER_MAX_ANGLE.cos()
        })
        .count()
}

/// Other balls within [`SORT_RADIUS`] of the green ball.
fn sort_members(balls: &[[f32; 2]; NUM_BALLS]) -> usize {
    (0..NUM_BALLS)
        .filter(|&i| i != SORT_CENTRE && dist(balls[i], balls[SORT_CENTRE]) < SORT_RADIUS)
        .count()
}
