//! Imagination: batched rollouts, shapes, the goal check stopping a rollout, determinism.

mod support;

use support::tiny_sizes;
use tch::{Device, Kind, Tensor};
use vlgor_sim::{Action, EnvKind};
use vlgor_vlm::perception::{ReadoutKind, StateReadout};
use vlgor_vlm::world_model::{
    CachedText, GoalCheck, TextSource, WorldModel, WorldModelError, imagine,
};

/// Word-count tokens, each a fixed function of the word (no global RNG).
struct WordText;

impl TextSource for WordText {
    fn tokens(&mut self, texts: &[&str]) -> Result<(Tensor, Tensor), WorldModelError> {
        let t = texts
            .iter()
            .map(|s| s.split_whitespace().count())
            .max()
            .unwrap_or(1)
            .max(1);
        let mut emb = vec![0f32; texts.len() * t * 16];
        let mut mask = vec![0f32; texts.len() * t];
        for (i, s) in texts.iter().enumerate() {
            for (j, w) in s.split_whitespace().enumerate() {
                mask[i * t + j] = 1.0;
                for (k, b) in w.bytes().enumerate().take(16) {
                    emb[(i * t + j) * 16 + k] = f32::from(b) / 128.0 - 0.5;
                }
            }
        }
        let n = texts.len() as i64;
        Ok((
            Tensor::from_slice(&emb).view([n, t as i64, 16]),
            Tensor::from_slice(&mask).view([n, t as i64]),
        ))
    }
}

fn model(env: EnvKind) -> WorldModel {
    tch::manual_seed(11);
    let c = tiny_sizes(env);
    let m = WorldModel::new(c, Device::Cpu).unwrap();
    // Make the frame head non-trivial so imagined frames change.
    tch::no_grad(|| {
        for (k, t) in m.var_store().variables() {
            if k.starts_with("heads.frame") {
                t.shallow_clone().copy_(&(t.randn_like() * 0.05));
            }
        }
    });
    m
}

#[test]
fn rollouts_have_one_action_per_frame_and_stop_at_the_goal() {
    one_thread();
    let m = model(EnvKind::Clevr);
    let initial: Vec<u8> = (0..3 * 16 * 16 * 3).map(|i| (i * 37 % 256) as u8).collect();
    let ins = [
        "push the red ball left",
        "move blue right",
        "put green behind cyan",
    ];
    let mut text = CachedText::new(WordText);
    let r = imagine(&m, &mut text, &ins, &initial, 4, None, None).unwrap();
    for i in 0..3 {
        assert_eq!(r.frames[i].len(), 5);
        assert_eq!(r.actions[i].len(), 5);
        assert_eq!(r.frames[i][0], initial[i * 768..(i + 1) * 768]);
        assert!(
            r.actions[i]
                .iter()
                .all(|a| matches!(a, Action::Discrete(k) if *k < 40))
        );
        assert!(r.success_step[i].is_none());
    }
    assert_ne!(r.frames[0][1], r.frames[0][0]);
    assert_eq!(text.len(), 3);
    // Deterministic.
    let again = imagine(&m, &mut text, &ins, &initial, 4, None, None).unwrap();
    assert_eq!(again.frames, r.frames);
    // Goal check: rollout 1 succeeds at the second model step, the others never.
    let readout = StateReadout::new(ReadoutKind::Clevr, 16, Device::Cpu).unwrap();
    let mut calls = [0usize; 3];
    let mut check = |i: usize, s: &[f32]| {
        assert_eq!(s.len(), 10);
        calls[i] += 1;
        i == 1 && calls[i] == 2
    };
    let r = imagine(
        &m,
        &mut text,
        &ins,
        &initial,
        4,
        Some(GoalCheck {
            readout: &readout,
            check: &mut check,
        }),
        None,
    )
    .unwrap();
    assert_eq!(r.success_step, vec![None, Some(2), None]);
    assert_eq!(r.frames[1].len(), 3);
    assert_eq!(r.actions[1].len(), 2);
    assert_eq!(r.frames[0].len(), 5);
}

#[test]
fn metaworld_actions_are_clamped_vectors() {
    one_thread();
    let m = model(EnvKind::MetaWorld);
    let initial = vec![128u8; 2 * 16 * 16 * 3];
    let r = imagine(
        &m,
        &mut WordText,
        &["reach the goal", "open the door"],
        &initial,
        2,
        None,
        None,
    )
    .unwrap();
    for a in r.actions.iter().flatten() {
        match a {
            Action::Continuous(v) => assert!(v.iter().all(|x| x.abs() <= 1.0)),
            other => panic!("expected a continuous action, got {other:?}"),
        }
    }
    let bad = imagine(&m, &mut WordText, &["one"], &initial, 2, None, None).unwrap_err();
    assert!(bad.to_string().contains("initial frame bytes"), "{bad}");
    let _ = Tensor::zeros([1], (Kind::Float, Device::Cpu));
}

/// Every test runs with one intra-op thread (set before any computation): bit-exact comparisons
/// then cannot see a thread-count change made by a concurrent test, and on a busy shared machine
/// one thread is several times faster than two.
fn one_thread() {
    tch::set_num_threads(1);
}

#[test]
fn rollouts_with_given_actions_follow_the_actions_and_feed_frames_back() {
    one_thread();
    let m = model(EnvKind::Clevr);
    let fl = 16 * 16 * 3;
    let initial: Vec<u8> = (0..2 * fl).map(|i| (i * 7 % 251) as u8).collect();
    let texts = ["push the red ball", "move blue left"];
    let acts = vec![
        vec![
            Action::Discrete(3),
            Action::Discrete(9),
            Action::Discrete(1),
        ],
        vec![Action::Discrete(17)],
    ];
    let out = vlgor_vlm::world_model::rollout_with_actions(
        &m,
        &mut WordText,
        &texts,
        &initial,
        &acts,
        None,
    )
    .unwrap()
    .0;
    assert_eq!(out[0].len(), 3);
    assert_eq!(out[1].len(), 1);
    assert!(out.iter().flatten().all(|f| f.len() == fl));
    // Step 2 of rollout 0 equals a one-step rollout from step 1's predicted frame (up to the u8
    // quantisation of that frame: the rollout feeds the unquantised prediction back).
    let from_step1 = vlgor_vlm::world_model::rollout_with_actions(
        &m,
        &mut WordText,
        &texts[..1],
        &out[0][0],
        &[vec![Action::Discrete(9)]],
        None,
    )
    .unwrap()
    .0;
    let max_diff = from_step1[0][0]
        .iter()
        .zip(&out[0][1])
        .map(|(a, b)| a.abs_diff(*b))
        .max()
        .unwrap();
    assert!(max_diff <= 3, "step 2 differs by {max_diff} levels");
    // Another action gives another frame.
    let other = vlgor_vlm::world_model::rollout_with_actions(
        &m,
        &mut WordText,
        &texts[..1],
        &initial[..fl],
        &[vec![Action::Discrete(30)]],
        None,
    )
    .unwrap()
    .0;
    assert_ne!(other[0][0], out[0][0]);
    // Mismatched inputs are errors.
    assert!(
        vlgor_vlm::world_model::rollout_with_actions(
            &m,
            &mut WordText,
            &texts,
            &initial,
            &acts[..1],
            None,
        )
        .is_err()
    );
}
