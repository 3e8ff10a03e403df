//! Goal truth tables, rewards, templates, the seeded split and counterfactual generators.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;
use vlgor_sim::clevr::goal::{Relation, SUCCESS_REWARD};
use vlgor_sim::clevr::tasks::{all_moves, all_relations};
use vlgor_sim::clevr::templates::{
    move_rephrase, move_training, relation_rephrase, relation_training,
};
use vlgor_sim::clevr::text::{instruction, render};
use vlgor_sim::clevr::{
    ClevrGoal, Direction, counterfactual, sample_instruction, split, task_table,
};
use vlgor_sim::language::CounterfactualKind;
use vlgor_sim::{GoalSpec, Level};

const FAR: [[f32; 2]; 3] = [[-0.45, -0.15], [0.45, -0.15], [-0.45, 0.55]];

/// Reference (blue, 1) at (0, 0.2); source (red, 0) at `offset` from it.
fn scene(offset: [f32; 2]) -> [[f32; 2]; 5] {
    [
        [offset[0], 0.2 + offset[1]],
        [0.0, 0.2],
        FAR[0],
        FAR[1],
        FAR[2],
    ]
}

#[test]
fn relation_truth_table() {
    for (i, d) in Direction::ALL.iter().enumerate() {
        let v = d.vector();
        for (dist, inside) in [(0.3, true), (0.385, true), (0.395, false), (0.5, false)] {
            let b = scene([v[0] * dist, v[1] * dist]);
            for (j, asked) in Direction::ALL.iter().enumerate() {
                let g = ClevrGoal::relation(0, 1, *asked);
                let want = inside && i == j;
                assert_eq!(
                    g.is_success(&b, &b),
                    want,
                    "red at {dist} {d:?} of blue, asked {asked:?}"
                );
            }
        }
    }
    // Sector edges (KALM): 45 deg off +x is "behind" (+y), -45 deg is "right".
    let r = |d| Relation {
        source: 0,
        reference: 1,
        direction: d,
    };
    let diag = scene([0.2, 0.2]);
    assert!(r(Direction::Behind).holds(&diag) && !r(Direction::Right).holds(&diag));
    let diag = scene([0.2, -0.2 + 1e-4]);
    assert!(r(Direction::Right).holds(&diag));
    // Front is -y: closer to the camera.
    assert!(r(Direction::Front).holds(&scene([0.0, -0.3])));
}

#[test]
fn move_order_sort_truth_tables() {
    let start = scene([-0.4, 0.0]);
    let moved = |dx: f32, dy: f32| {
        let mut b = start;
        b[0] = [b[0][0] + dx, b[0][1] + dy];
        b
    };
    let g = ClevrGoal::Move {
        ball: 0,
        direction: Direction::Right,
    };
    // Step level: the named ball moves at least 0.15 m along the direction in the push.
    assert!(g.is_success(&moved(0.25, 0.0), &start));
    assert!(g.is_success(&moved(0.151, 0.0), &start));
    assert!(!g.is_success(&moved(0.149, 0.0), &start));
    // A diagonal push of 0.215 m projects 0.152 m on the cardinal: it counts.
    assert!(g.is_success(&moved(0.152, 0.152), &start));
    assert!(!g.is_success(&moved(0.10, 0.25), &start));
    assert!(!g.is_success(&moved(-0.25, 0.0), &start));

    let row = [
        [-0.44, 0.1],
        [-0.22, 0.2],
        [0.0, 0.1],
        [0.22, 0.2],
        [0.44, 0.1],
    ];
    assert!(ClevrGoal::Order.is_success(&row, &row));
    let mut swapped = row;
    swapped.swap(1, 3);
    assert!(!ClevrGoal::Order.is_success(&swapped, &swapped));
    let ring = [[0.3, 0.2], [0.0, 0.5], [0.0, 0.2], [-0.3, 0.2], [0.0, -0.1]];
    assert!(ClevrGoal::Sort.is_success(&ring, &ring));
    let mut loose = ring;
    loose[4] = [0.0, -0.13];
    assert!(!ClevrGoal::Sort.is_success(&loose, &loose));
}

#[test]
fn rewards_shape_by_distance_and_pay_100_on_success() {
    let g = ClevrGoal::relation(0, 1, Direction::Left);
    let (far, near, done) = (scene([-0.7, 0.0]), scene([-0.5, 0.0]), scene([-0.3, 0.0]));
    assert!((g.reward(&far, &near, &far) - 2.0).abs() < 1e-4);
    assert!(g.reward(&near, &far, &far) < 0.0);
    assert_eq!(g.reward(&near, &done, &far), SUCCESS_REWARD);
    let two = ClevrGoal::Relations {
        relations: vec![
            Relation {
                source: 0,
                reference: 1,
                direction: Direction::Left,
            },
            Relation {
                source: 2,
                reference: 1,
                direction: Direction::Right,
            },
        ],
    };
    assert_eq!(two.reward(&far, &done, &far), 10.0);
}

#[test]
fn templates_are_many_and_rephrasing_is_disjoint_from_training() {
    assert!(relation_training().len() >= 50 && move_training().len() >= 50);
    assert!(relation_rephrase().len() >= 30 && move_rephrase().len() >= 30);
    let train_frames: HashSet<&str> = relation_training()
        .iter()
        .chain(&move_training())
        .map(|t| t.frame)
        .collect();
    for t in relation_rephrase().iter().chain(&move_rephrase()) {
        assert!(
            !train_frames.contains(t.frame),
            "rephrase frame used in training: {}",
            t.frame
        );
    }
    for g in all_relations().iter().chain(&all_moves()) {
        let (train, reph) = match g {
            ClevrGoal::Move { .. } => (move_training(), move_rephrase()),
            _ => (relation_training(), relation_rephrase()),
        };
        let texts: HashSet<String> = train.iter().map(|t| render(t, g).unwrap().0).collect();
        assert_eq!(
            texts.len(),
            train.len(),
            "duplicate training texts for {g:?}"
        );
        for t in &reph {
            assert!(!texts.contains(&render(t, g).unwrap().0));
        }
    }
}

#[test]
fn split_holds_out_unseen_combinations_of_seen_parts() {
    let s = split();
    let rel = |v: &Vec<ClevrGoal>| v.iter().filter_map(|g| g.as_relation()).collect::<Vec<_>>();
    let (train, held) = (rel(&s.training), rel(&s.unseen_relation));
    assert_eq!((train.len(), held.len()), (60, 20));
    assert!(
        rel(&s.counterfactual).is_empty(),
        "counterfactual goals are moves only"
    );
    let moves = |v: &Vec<ClevrGoal>| {
        v.iter()
            .filter_map(|g| match g {
                ClevrGoal::Move { ball, direction } => Some((*ball, *direction)),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let (mtrain, mheld) = (moves(&s.training), moves(&s.counterfactual));
    assert_eq!((mtrain.len(), mheld.len()), (12, 8));
    for g in s.counterfactual.iter().chain(&s.unseen_relation) {
        assert!(!s.training.contains(g), "{g:?} is in both");
    }
    // Every held-out move is one target swap and one behavior swap away from training moves.
    for (b, d) in &mheld {
        assert!(
            mtrain.iter().any(|(tb, td)| tb != b && td == d),
            "target swap of {b} {d:?}"
        );
        assert!(
            mtrain.iter().any(|(tb, td)| tb == b && td != d),
            "behavior swap of {b} {d:?}"
        );
    }
    for h in &held {
        assert!(
            train.iter().any(|t| t.source == h.source),
            "target of {h:?} unseen"
        );
        assert!(
            train
                .iter()
                .any(|t| (t.reference, t.direction) == (h.reference, h.direction))
        );
    }
    for (b, d) in &mheld {
        assert!(mtrain.iter().any(|(tb, _)| tb == b) && mtrain.iter().any(|(_, td)| td == d));
    }
    // Sampled instructions respect the split and the template sets.
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let train_texts: HashSet<String> = s
        .training
        .iter()
        .flat_map(|g| {
            let list = if matches!(g, ClevrGoal::Move { .. }) {
                move_training()
            } else {
                relation_training()
            };
            list.into_iter()
                .map(|t| render(&t, g).unwrap().0)
                .collect::<Vec<_>>()
        })
        .collect();
    for _ in 0..300 {
        let seen = sample_instruction(Level::Seen, &mut rng);
        assert!(train_texts.contains(&seen.text) && seen.level == Level::Seen);
        let reph = sample_instruction(Level::Rephrase, &mut rng);
        let GoalSpec::Clevr(g) = &reph.goal else {
            panic!()
        };
        assert!(s.training.contains(g) && !train_texts.contains(&reph.text));
        let cf = sample_instruction(Level::Counterfactual, &mut rng);
        let GoalSpec::Clevr(g) = &cf.goal else {
            panic!()
        };
        assert!(s.counterfactual.contains(g) && cf.level == Level::Counterfactual);
        let ur = sample_instruction(Level::UnseenRelation, &mut rng);
        let GoalSpec::Clevr(g) = &ur.goal else {
            panic!()
        };
        assert!(s.unseen_relation.contains(g) && train_texts.iter().all(|t| *t != ur.text));
        let hard = sample_instruction(Level::Hard, &mut rng);
        let GoalSpec::Clevr(g) = &hard.goal else {
            panic!()
        };
        assert!(matches!(
            g,
            ClevrGoal::Relations { .. } | ClevrGoal::Order | ClevrGoal::Sort
        ));
    }
    let rows = task_table();
    let count = |l: Level| rows.iter().filter(|r| r.level == l).count();
    assert_eq!(
        [
            count(Level::Seen),
            count(Level::Rephrase),
            count(Level::Counterfactual),
            count(Level::UnseenRelation),
            count(Level::Hard)
        ],
        [72, 72, 8, 20, 4]
    );
}

#[test]
fn step_level_judges_on_hand_built_pushes() {
    use vlgor_sim::clevr::judge::{judge_push, kalm_action_judge};
    let start = scene([-0.4, 0.0]);
    let after = |ball: usize, dx: f32, dy: f32| {
        let mut b = start;
        b[ball] = [b[ball][0] + dx, b[ball][1] + dy];
        b
    };
    // Red (0) asked to move right (+x). Action ball*8 + dir; dir 0 = +x, 4 = (+,+), 6 = (+,-).
    let j = judge_push(0, Direction::Right, 0, &start, &after(0, 0.2, 0.0));
    assert!(j.state && j.kalm_state && j.kalm_action);
    // The right push of the wrong ball: KALM's state judge accepts any ball, ours does not.
    let j = judge_push(0, Direction::Right, 8, &start, &after(1, 0.2, 0.0));
    assert!(!j.state && j.kalm_state && !j.kalm_action);
    // The right ball pushed too short, with a right-pointing diagonal action.
    let j = judge_push(0, Direction::Right, 4, &start, &after(0, 0.1, 0.1));
    assert!(!j.state && !j.kalm_state && j.kalm_action);
    // KALM's action lists: RIGHT = 0, 4, 6; BEHIND (+y) = 1, 4, 5; LEFT = 2, 5, 7; FRONT = 3, 6, 7.
    let accepted =
        |d: Direction| -> Vec<u32> { (0..8).filter(|&a| kalm_action_judge(0, d, a)).collect() };
    assert_eq!(accepted(Direction::Right), vec![0, 4, 6]);
    assert_eq!(accepted(Direction::Behind), vec![1, 4, 5]);
    assert_eq!(accepted(Direction::Left), vec![2, 5, 7]);
    assert_eq!(accepted(Direction::Front), vec![3, 6, 7]);
    assert!(!kalm_action_judge(0, Direction::Right, 8));
}

#[test]
fn counterfactuals_swap_target_or_behavior_and_keep_the_template() {
    // Table 5: "Move the green ball toward the right."
    let t = move_training()[0];
    let orig = instruction(
        ClevrGoal::Move {
            ball: 2,
            direction: Direction::Right,
        },
        &t,
        Level::Seen,
    )
    .unwrap();
    assert_eq!(orig.text, "Move the green ball toward the right.");
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for _ in 0..20 {
        let ct = counterfactual(&orig, CounterfactualKind::Target, &mut rng).unwrap();
        let GoalSpec::Clevr(ClevrGoal::Move { ball, direction }) = ct.goal else {
            panic!()
        };
        assert!(ball != 2 && direction == Direction::Right);
        assert!(ct.text.starts_with("Move the ") && ct.text.ends_with(" ball toward the right."));
        assert_eq!(ct.parts.behavior, orig.parts.behavior);
        let cb = counterfactual(&orig, CounterfactualKind::Behavior, &mut rng).unwrap();
        let GoalSpec::Clevr(ClevrGoal::Move { ball, direction }) = cb.goal else {
            panic!()
        };
        assert!(ball == 2 && direction != Direction::Right);
        assert!(cb.text.starts_with("Move the green ball toward the "));
        assert_eq!(cb.parts.target, orig.parts.target);
    }
    // Relations, rendered with a rephrasing template: template and reference are kept.
    let t = relation_rephrase()[25];
    let orig = instruction(
        ClevrGoal::relation(0, 1, Direction::Front),
        &t,
        Level::Rephrase,
    )
    .unwrap();
    let cb = counterfactual(&orig, CounterfactualKind::Behavior, &mut rng).unwrap();
    let GoalSpec::Clevr(g) = &cb.goal else {
        panic!()
    };
    let r = g.as_relation().unwrap();
    assert!(r.source == 0 && r.reference == 1 && r.direction != Direction::Front);
    assert_eq!(cb.parts.template, orig.parts.template);
    let ct = counterfactual(&orig, CounterfactualKind::Target, &mut rng).unwrap();
    let GoalSpec::Clevr(g) = &ct.goal else {
        panic!()
    };
    let r = g.as_relation().unwrap();
    assert!(r.source != 0 && r.source != 1 && r.reference == 1 && r.direction == Direction::Front);
    // ORDER has nothing to swap: an error, not a panic.
    let mut rng2 = ChaCha8Rng::seed_from_u64(0);
    loop {
        let h = sample_instruction(Level::Hard, &mut rng2);
        if h.goal == GoalSpec::Clevr(ClevrGoal::Order) {
            assert!(counterfactual(&h, CounterfactualKind::Target, &mut rng).is_err());
            break;
        }
    }
}
