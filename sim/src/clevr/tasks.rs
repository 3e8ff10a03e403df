//! The seeded task split and instruction sampling for the four levels.
//!
//! Goals are decomposed as ⟨m, b⟩: for a relation, the manipulation target `m` is the source
//! ball and the behavior `b` is (direction, reference ball); for a directional goal, `m` is the
//! ball and `b` the direction. The split (fixed seed [`SPLIT_SEED`]):
//! * relations: for each of the 20 behaviors one of its 4 possible source balls is held out:
//!   60 training goals, 20 held-out goals (`UnseenRelation`); every held-out goal's ball and
//!   behavior both appear in training, only the combination is new;
//! * directional goals ("move ball X toward D", the paper's counterfactual tasks): 8 of the 20
//!   (ball, direction) combinations are held out, two per direction, at most two per ball:
//!   12 training, 8 counterfactual. Each held-out goal is one target swap (same direction,
//!   another ball) and one behavior swap (same ball, another direction) away from training
//!   goals.
//!
//! Levels (KALM's protocol): `Seen` = training goals with training templates; `Rephrase` =
//! training goals with the disjoint paraphrase templates, up to 50 pushes; `Counterfactual` =
//! held-out directional goals with training templates, judged on the first push;
//! `UnseenRelation` = held-out relations, up to 50 pushes; `Hard` = two or three relations at
//! once, ORDER, SORT, up to 50 pushes.

use rand::seq::SliceRandom;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::OnceLock;

use super::goal::{ClevrGoal, Direction, Relation};
use super::physics::NUM_BALLS;
use super::templates::{self, HARD_FRAMES, ORDER_TEXTS, SORT_TEXTS};
use super::text::{instruction, render_hard};
use crate::{GoalSpec, Instruction, Level, TaskRow};

/// Seed of the training / counterfactual split.
pub const SPLIT_SEED: u64 = 0xC1E7_5EED;

/// The fixed split of single goals.
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    /// Training relation and directional goals (`Seen` and `Rephrase` levels).
    pub training: Vec<ClevrGoal>,
    /// Held-out directional goals (`Counterfactual` level).
    pub counterfactual: Vec<ClevrGoal>,
    /// Held-out relation goals (`UnseenRelation` level).
    pub unseen_relation: Vec<ClevrGoal>,
}

/// Directional goals held out per direction.
pub const HELD_OUT_MOVES_PER_DIRECTION: usize = 2;

/// All 80 relation goals, ordered by (source, reference, direction).
pub fn all_relations() -> Vec<ClevrGoal> {
    let mut v = Vec::with_capacity(80);
    for s in 0..NUM_BALLS {
        for r in (0..NUM_BALLS).filter(|r| *r != s) {
            for d in Direction::ALL {
                v.push(ClevrGoal::relation(s, r, d));
            }
        }
    }
    v
}

/// All 20 directional goals, ordered by (ball, direction).
pub fn all_moves() -> Vec<ClevrGoal> {
    (0..NUM_BALLS)
        .flat_map(|ball| Direction::ALL.map(|direction| ClevrGoal::Move { ball, direction }))
        .collect()
}

fn build_split() -> Split {
    let mut rng = ChaCha8Rng::seed_from_u64(SPLIT_SEED);
    let mut unseen_relation = Vec::new();
    for reference in 0..NUM_BALLS {
        for direction in Direction::ALL {
            let sources: Vec<usize> = (0..NUM_BALLS).filter(|s| *s != reference).collect();
            let source = sources[rng.random_range(0..sources.len())];
            unseen_relation.push(ClevrGoal::relation(source, reference, direction));
        }
    }
    // Balls in a seeded order; direction k holds out the next two balls of that cycle, so
    // every ball keeps at least two training directions and every direction three balls.
    let mut balls: Vec<usize> = (0..NUM_BALLS).collect();
    balls.shuffle(&mut rng);
    let mut counterfactual = Vec::new();
    for (k, direction) in Direction::ALL.into_iter().enumerate() {
        for j in 0..HELD_OUT_MOVES_PER_DIRECTION {
            let ball = balls[(HELD_OUT_MOVES_PER_DIRECTION * k + j) % NUM_BALLS];
            counterfactual.push(ClevrGoal::Move { ball, direction });
        }
    }
    let training = all_relations()
        .into_iter()
        .chain(all_moves())
        .filter(|g| !unseen_relation.contains(g) && !counterfactual.contains(g))
        .collect();
    Split {
        training,
        counterfactual,
        unseen_relation,
    }
}

/// The fixed split (computed once).
pub fn split() -> &'static Split {
    static SPLIT: OnceLock<Split> = OnceLock::new();
    SPLIT.get_or_init(build_split)
}

/// The level of a single goal rendered with a training (`rephrase = false`) or paraphrase
/// template; compositions are `Hard`.
pub fn level_of(goal: &ClevrGoal, rephrase: bool) -> Level {
    match goal {
        ClevrGoal::Relation { .. } | ClevrGoal::Move { .. } => {
            if split().counterfactual.contains(goal) {
                Level::Counterfactual
            } else if split().unseen_relation.contains(goal) {
                Level::UnseenRelation
            } else if rephrase {
                Level::Rephrase
            } else {
                Level::Seen
            }
        }
        _ => Level::Hard,
    }
}

fn single(goal: &ClevrGoal, rephrase: bool, level: Level, pick: usize) -> Instruction {
    let list = match (goal, rephrase) {
        (ClevrGoal::Move { .. }, false) => templates::move_training(),
        (ClevrGoal::Move { .. }, true) => templates::move_rephrase(),
        (_, false) => templates::relation_training(),
        (_, true) => templates::relation_rephrase(),
    };
    let t = list[pick % list.len()];
    instruction(goal.clone(), &t, level).expect("single goals always render")
}

/// A single goal's instruction at `level`: training templates, or the paraphrase templates for
/// [`Level::Rephrase`]; `pick` chooses the template.
pub fn instruction_at(goal: &ClevrGoal, level: Level, pick: usize) -> Instruction {
    single(goal, level == Level::Rephrase, level, pick)
}

/// Draws `n` relations with distinct balls pairs and no cycle (so they can hold together).
fn sample_relations(n: usize, rng: &mut dyn RngCore) -> Vec<Relation> {
    loop {
        let mut rels: Vec<Relation> = Vec::with_capacity(n);
        let mut comp: [usize; NUM_BALLS] = std::array::from_fn(|i| i);
        fn root(c: &mut [usize; NUM_BALLS], mut i: usize) -> usize {
            while c[i] != i {
                i = c[i];
            }
            i
        }
        for _ in 0..n {
            let source = rng.random_range(0..NUM_BALLS);
            let reference = (source + rng.random_range(1..NUM_BALLS)) % NUM_BALLS;
            let direction = Direction::ALL[rng.random_range(0..4)];
            let (a, b) = (root(&mut comp, source), root(&mut comp, reference));
            if a == b {
                break;
            }
            comp[a] = b;
            rels.push(Relation {
                source,
                reference,
                direction,
            });
        }
        if rels.len() == n {
            return rels;
        }
    }
}

/// A hard goal of the given kind: 0 = two relations, 1 = three relations, 2 = ORDER, 3 = SORT.
pub fn hard_goal(kind: usize, rng: &mut dyn RngCore) -> ClevrGoal {
    match kind % 4 {
        0 => ClevrGoal::Relations {
            relations: sample_relations(2, rng),
        },
        1 => ClevrGoal::Relations {
            relations: sample_relations(3, rng),
        },
        2 => ClevrGoal::Order,
        _ => ClevrGoal::Sort,
    }
}

/// An instruction of `level` drawn with `rng` from the fixed split (training level =
/// [`Level::Seen`]): goal uniform over the level's goals, template uniform over its templates.
pub fn sample_instruction(level: Level, rng: &mut dyn RngCore) -> Instruction {
    let s = split();
    match level {
        Level::Seen | Level::Rephrase => {
            let g = &s.training[rng.random_range(0..s.training.len())];
            let pick = rng.random_range(0..usize::MAX);
            single(g, level == Level::Rephrase, level, pick)
        }
        Level::Counterfactual | Level::UnseenRelation => {
            let goals = if level == Level::Counterfactual {
                &s.counterfactual
            } else {
                &s.unseen_relation
            };
            let g = &goals[rng.random_range(0..goals.len())];
            let pick = rng.random_range(0..usize::MAX);
            single(g, false, level, pick)
        }
        Level::Hard => {
            let goal = hard_goal(rng.random_range(0..4), rng);
            let variant =
                rng.random_range(0..HARD_FRAMES.len() * ORDER_TEXTS.len() * SORT_TEXTS.len());
            let (text, parts) = render_hard(&goal, variant).expect("hard goals always render");
            Instruction {
                text,
                parts,
                goal: GoalSpec::Clevr(goal),
                level,
            }
        }
    }
}

/// Every goal of every level with an example instruction. Hard compositions are too many to
/// list: one row per hard kind (two relations, three relations, ORDER, SORT).
pub fn task_table() -> Vec<TaskRow> {
    let s = split();
    let mut rows = Vec::new();
    let row = |level: Level, goal: &ClevrGoal, example: String| TaskRow {
        level,
        goal: goal.describe(),
        example,
    };
    for (i, g) in s.training.iter().enumerate() {
        rows.push(row(Level::Seen, g, single(g, false, Level::Seen, i).text));
    }
    for (i, g) in s.training.iter().enumerate() {
        rows.push(row(
            Level::Rephrase,
            g,
            single(g, true, Level::Rephrase, i).text,
        ));
    }
    for (level, goals) in [
        (Level::Counterfactual, &s.counterfactual),
        (Level::UnseenRelation, &s.unseen_relation),
    ] {
        for (i, g) in goals.iter().enumerate() {
            rows.push(row(level, g, single(g, false, level, i).text));
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(SPLIT_SEED);
    for kind in 0..4 {
        let g = hard_goal(kind, &mut rng);
        let text = render_hard(&g, kind).map(|(t, _)| t).unwrap_or_default();
        let goal = match kind {
            0 => format!("two relations, e.g. {}", g.describe()),
            1 => format!("three relations, e.g. {}", g.describe()),
            _ => g.describe(),
        };
        rows.push(TaskRow {
            level: Level::Hard,
            goal,
            example: text,
        });
    }
    rows
}
