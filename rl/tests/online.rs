//! Online learners on tiny deterministic goal tasks: double DQN solves a goal-conditioned
//! corridor, SAC's losses fall on a goal-conditioned continuous bandit, the BC term pulls toward
//! advised actions and is inert at weight zero, and the replay buffer round-trips a checkpoint.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::Path;
use tch::{Device, Kind, Tensor};
use vlgor_rl::network::EncoderConfig;
use vlgor_rl::online::{Dqn, DqnConfig, OnlineAgent, ReplayBuffer, Sac, SacConfig, Transition};
use vlgor_rl::{GoalTable, NetworkConfig, ObsSpec};
use vlgor_sim::Action;
use vlgor_sim::dataset::ActionSpace;

/// torch's random generator is global: tests that seed it and build or train networks hold
/// this lock, so tests running in parallel threads cannot draw from each other's stream.
static TORCH_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn torch_rng() -> std::sync::MutexGuard<'static, ()> {
    TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner())
}

const NET: NetworkConfig = NetworkConfig {
    text_hidden: 32,
    feature_dim: 32,
    joint_dim: 32,
};

fn one_hot(i: usize, n: usize) -> Vec<f32> {
    (0..n).map(|k| (k == i) as u8 as f32).collect()
}

/// Goals "go to 0" (row 0) and "go to 2" (row 1) as one-hot embeddings.
fn goals() -> GoalTable {
    let mut t = GoalTable::new(4);
    t.insert("go to 0", &one_hot(0, 4)).unwrap();
    t.insert("go to 2", &one_hot(1, 4)).unwrap();
    t
}

/// A corridor of 3 cells (one-hot states); actions left, right, stay; reward 1 and terminal on
/// reaching the goal's cell. Every (goal, start, action) transition once, with `advice`.
fn corridor(advice: Option<Action>) -> ReplayBuffer {
    let mut b = ReplayBuffer::new(ActionSpace::Discrete { n: 3 }, 3, 1000);
    for (row, target) in [(0usize, 0i64), (1, 2)] {
        for p in 0..3i64 {
            if p == target {
                continue;
            }
            for a in 0..3u32 {
                let next = (p + [-1, 1, 0][a as usize]).clamp(0, 2);
                let reward = (next == target) as u8 as f32;
                b.push(&Transition {
                    obs: &one_hot(p as usize, 3),
                    next_obs: &one_hot(next as usize, 3),
                    goal: row,
                    action: Action::Discrete(a),
                    reward,
                    terminal: reward > 0.0,
                    advice,
                })
                .unwrap();
            }
        }
    }
    b
}

fn dqn() -> Dqn {
    tch::manual_seed(0);
    let enc = EncoderConfig::new(ObsSpec::State { dim: 3 }, 4, &NET);
    let config = DqnConfig {
        lr: 1e-3,
        gamma: 0.9,
        target_update_interval: 20,
    };
    Dqn::new(enc, 3, config, Device::Cpu)
}

/// Greedy actions at cells 1 and 2 for "go to 0" and at cells 0 and 1 for "go to 2".
fn greedy_corridor(agent: &dyn OnlineAgent, table: &GoalTable) -> Vec<i64> {
    let cells = [1usize, 2, 0, 1];
    let obs: Vec<f32> = cells.iter().flat_map(|&c| one_hot(c, 3)).collect();
    let goals = table
        .tensor(&["go to 0", "go to 0", "go to 2", "go to 2"], Device::Cpu)
        .unwrap();
    let a = agent.greedy(&Tensor::from_slice(&obs).view([4, 3]), &goals);
    Vec::<i64>::try_from(a).unwrap()
}

#[test]
fn double_dqn_solves_a_goal_conditioned_corridor_and_its_td_loss_falls() {
    let _rng = torch_rng();
    let table = goals();
    let buffer = corridor(None);
    let mut agent = dqn();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut td = Vec::new();
    for _ in 0..300 {
        let b = buffer.sample(&mut rng, 32, &table, Device::Cpu);
        let losses = agent.update(&b, 0.0).unwrap();
        td.push(losses.iter().find(|(n, _)| *n == "td_loss").unwrap().1);
    }
    let early: f64 = td[..50].iter().sum::<f64>() / 50.0;
    let late: f64 = td[td.len() - 50..].iter().sum::<f64>() / 50.0;
    assert!(late < 0.2 * early, "TD loss {early} -> {late}");
    // Left (0) toward cell 0, right (1) toward cell 2: the goal decides the direction.
    assert_eq!(greedy_corridor(&agent, &table), vec![0, 0, 1, 1]);
    assert_eq!(agent.updates(), 300);
}

#[test]
fn bc_term_pulls_toward_advised_actions_and_is_inert_at_weight_zero() {
    let _rng = torch_rng();
    let table = goals();
    let advised = corridor(Some(Action::Discrete(2)));
    let plain = corridor(None);
    let sample =
        |b: &ReplayBuffer| b.sample(&mut ChaCha8Rng::seed_from_u64(7), 16, &table, Device::Cpu);
    // Weight zero: advice in the batch changes nothing, bit for bit.
    let (mut a, mut b) = (dqn(), dqn());
    for _ in 0..5 {
        a.update(&sample(&advised), 0.0).unwrap();
        b.update(&sample(&plain), 0.0).unwrap();
    }
    let q = |d: &Dqn| {
        let obs = Tensor::from_slice(&one_hot(1, 3)).view([1, 3]);
        d.q_values(&obs, &table.tensor(&["go to 2"], Device::Cpu).unwrap())
    };
    assert!(q(&a).equal(&q(&b)), "weight 0 must ignore the advice");
    // A strong BC weight with no reward signal makes the advised action (stay) greedy.
    let mut no_reward = ReplayBuffer::new(ActionSpace::Discrete { n: 3 }, 3, 100);
    for p in 0..3 {
        for row in 0..2 {
            no_reward
                .push(&Transition {
                    obs: &one_hot(p, 3),
                    next_obs: &one_hot(p, 3),
                    goal: row,
                    action: Action::Discrete(0),
                    reward: 0.0,
                    terminal: true,
                    advice: Some(Action::Discrete(2)),
                })
                .unwrap();
        }
    }
    let mut c = dqn();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for _ in 0..200 {
        let batch = no_reward.sample(&mut rng, 16, &table, Device::Cpu);
        c.update(&batch, 1.0).unwrap();
    }
    assert_eq!(greedy_corridor(&c, &table), vec![2, 2, 2, 2]);
}

#[test]
fn sac_losses_fall_and_its_greedy_action_approaches_the_goal_target() {
    let _rng = torch_rng();
    // Continuous bandit: reward −‖a − target(goal)‖², one step.
    let table = goals();
    let target = |row: usize| {
        if row == 0 {
            [0.5f32, -0.5, 0.0, 0.0]
        } else {
            [-0.5, 0.5, 0.0, 0.0]
        }
    };
    let mut buffer = ReplayBuffer::new(ActionSpace::Continuous { dim: 4 }, 2, 4096);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for i in 0..2048 {
        let row = i % 2;
        let mut a = [0f32; 4];
        for v in &mut a {
            *v = rand::Rng::random_range(&mut rng, -1.0..1.0);
        }
        let t = target(row);
        let reward = -a
            .iter()
            .zip(&t)
            .map(|(x, y)| (x - y) * (x - y))
            .sum::<f32>();
        buffer
            .push(&Transition {
                obs: &[0.0, 0.0],
                next_obs: &[0.0, 0.0],
                goal: row,
                action: Action::Continuous(a),
                reward,
                terminal: true,
                advice: None,
            })
            .unwrap();
    }
    tch::manual_seed(0);
    let enc = EncoderConfig::new(ObsSpec::State { dim: 2 }, 4, &NET);
    let config = SacConfig {
        lr: 1e-3,
        gamma: 0.9,
        tau: 0.01,
        initial_temperature: 0.01,
        temperature_lr: 1e-3,
    };
    let mut sac = Sac::new(enc, 4, config, Device::Cpu);
    let distance = |s: &Sac| {
        let goals = table.tensor(&["go to 0", "go to 2"], Device::Cpu).unwrap();
        let a = s.greedy(&Tensor::zeros([2, 2], (Kind::Float, Device::Cpu)), &goals);
        let t = Tensor::from_slice(&[target(0), target(1)].concat()).view([2, 4]);
        (a - t).square().sum(Kind::Float).double_value(&[])
    };
    let before = distance(&sac);
    let mut critic = Vec::new();
    for _ in 0..250 {
        let b = buffer.sample(&mut rng, 32, &table, Device::Cpu);
        let losses = sac.update(&b, 0.0).unwrap();
        critic.push(losses[0].1);
    }
    let early: f64 = critic[..40].iter().sum::<f64>() / 40.0;
    let late: f64 = critic[critic.len() - 40..].iter().sum::<f64>() / 40.0;
    assert!(late < 0.5 * early, "critic loss {early} -> {late}");
    let after = distance(&sac);
    assert!(
        after < 0.5 * before,
        "distance to the target {before} -> {after}"
    );
}

#[test]
fn replay_buffer_overwrites_the_oldest_and_round_trips_a_checkpoint() {
    let table = goals();
    let mut b = ReplayBuffer::new(ActionSpace::Discrete { n: 3 }, 3, 4);
    for i in 0..6u32 {
        b.push(&Transition {
            obs: &one_hot((i % 3) as usize, 3),
            next_obs: &one_hot(0, 3),
            goal: (i % 2) as usize,
            action: Action::Discrete(i % 3),
            reward: i as f32,
            terminal: false,
            advice: (i % 2 == 0).then_some(Action::Discrete(1)),
        })
        .unwrap();
    }
    assert_eq!((b.len(), b.head()), (4, 2));
    let rewards: Vec<f32> = Vec::try_from(&b.tensors()[4].1).unwrap();
    assert_eq!(
        rewards,
        vec![4.0, 5.0, 2.0, 3.0],
        "rows 0 and 1 overwritten"
    );
    let saved: std::collections::HashMap<String, Tensor> = b.tensors().into_iter().collect();
    let mut c = ReplayBuffer::new(ActionSpace::Discrete { n: 3 }, 3, 4);
    c.load(&saved, b.len(), b.head(), Path::new("t.safetensors"))
        .unwrap();
    let s1 = b.sample(&mut ChaCha8Rng::seed_from_u64(5), 8, &table, Device::Cpu);
    let s2 = c.sample(&mut ChaCha8Rng::seed_from_u64(5), 8, &table, Device::Cpu);
    for (x, y) in [
        (&s1.obs, &s2.obs),
        (&s1.rewards, &s2.rewards),
        (&s1.advised, &s2.advised),
    ] {
        assert!(x.equal(y));
    }
    assert!(s1.actions.equal(&s2.actions) && s1.advice.equal(&s2.advice));
    // A wrong action kind is refused with a message, not a panic.
    let e = b
        .push(&Transition {
            obs: &one_hot(0, 3),
            next_obs: &one_hot(0, 3),
            goal: 0,
            action: Action::Continuous([0.0; 4]),
            reward: 0.0,
            terminal: false,
            advice: None,
        })
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not fit"), "{e}");
    // A checkpoint whose sizes do not fit is refused.
    let mut small = ReplayBuffer::new(ActionSpace::Discrete { n: 3 }, 3, 2);
    assert!(
        small
            .load(&saved, 4, 2, Path::new("t.safetensors"))
            .is_err()
    );
}
