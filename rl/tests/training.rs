//! Training: losses fall, CQL is conservative, NaN/inf stops training with the step named.

mod common;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};
use vlgor_rl::algo::Algorithm;
use vlgor_rl::batch::{BatchBuilder, observation_stats};
use vlgor_rl::bc::ContinuousBcLoss;
use vlgor_rl::config::{AlgoKind, ObsSpec, RlConfig};
use vlgor_rl::continuous_cql::ContinuousCql;
use vlgor_rl::discrete_cql::DiscreteCql;
use vlgor_rl::network::EncoderConfig;
use vlgor_rl::{ObservationSource, RlError, Trainer, TrainingData};
use vlgor_sim::dataset::Dataset;

/// Mean of `key` over the first and the last `n` log lines.
fn first_last(run_dir: &std::path::Path, key: &str, n: usize) -> (f64, f64) {
    let text = std::fs::read_to_string(run_dir.join("train_log.jsonl")).unwrap();
    let v: Vec<f64> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()[key]
                .as_f64()
                .unwrap()
        })
        .collect();
    assert!(v.len() >= 2 * n, "{} log lines", v.len());
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    (mean(&v[..n]), mean(&v[v.len() - n..]))
}

fn train(
    data: &Dataset,
    algo: AlgoKind,
    rl: RlConfig,
    run: &std::path::Path,
) -> Result<vlgor_rl::TrainOutcome, RlError> {
    let goals = common::goal_table(&[data], 16);
    let td = TrainingData {
        real: data,
        imagined: None,
        observations: ObservationSource::State,
        goals: &goals,
    };
    let env = data.manifest.env.clone();
    Trainer::new(run, &env, algo, rl, td, 7, Device::Cpu, false)?.train(&mut |_| {})
}

#[test]
fn discrete_bc_loss_decreases() {
    let _torch = common::init();
    let dir = tempfile::tempdir().unwrap();
    let data = common::clevr_dataset(&dir.path().join("data"), 24, 12, 0.0, 1);
    let mut rl = common::tiny_rl();
    rl.training.epochs = 12;
    let out = train(&data, AlgoKind::Bc, rl, &dir.path().join("run")).unwrap();
    assert_eq!(out.steps_done, 120);
    let (first, last) = first_last(&dir.path().join("run"), "bc_loss", 5);
    eprintln!("discrete BC loss {first:.3} -> {last:.3}");
    assert!(
        first > 3.0,
        "initial cross-entropy over 40 actions ≈ ln 40, got {first}"
    );
    assert!(last < 0.8 * first, "BC loss {first} -> {last}");
    // The log records step, epoch and a cosine-decayed learning rate.
    let log = std::fs::read_to_string(dir.path().join("run/train_log.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 120);
    assert_eq!(lines[119]["epoch"], 12);
    assert!(lines[0]["lr"].as_f64().unwrap() > lines[119]["lr"].as_f64().unwrap());
}

#[test]
fn continuous_bc_losses_decrease() {
    let _torch = common::init();
    let dir = tempfile::tempdir().unwrap();
    let data = common::continuous_dataset(&dir.path().join("data"), 12, 20, 2);
    for (loss, name) in [
        (ContinuousBcLoss::Deterministic, "det"),
        (ContinuousBcLoss::Gaussian, "gauss"),
    ] {
        let mut rl = common::tiny_rl();
        rl.training.epochs = 6;
        rl.bc.loss = loss;
        let run = dir.path().join(name);
        train(&data, AlgoKind::Bc, rl, &run).unwrap();
        let (first, last) = first_last(&run, "bc_loss", 5);
        eprintln!("{name} BC loss {first:.3} -> {last:.3}");
        assert!(
            last < first - 0.1 * first.abs().max(0.1),
            "{name}: BC loss {first} -> {last}"
        );
    }
}

#[test]
fn cql_runs_on_both_action_spaces() {
    let _torch = common::init();
    let dir = tempfile::tempdir().unwrap();
    let clevr = common::clevr_dataset(&dir.path().join("clevr"), 12, 10, 0.3, 3);
    let out = train(
        &clevr,
        AlgoKind::Cql,
        common::tiny_rl(),
        &dir.path().join("dcql"),
    )
    .unwrap();
    for key in ["loss", "td_loss", "conservative_loss", "q_data"] {
        assert!(
            out.last_losses
                .iter()
                .any(|(k, v)| *k == key && v.is_finite()),
            "{key}: {:?}",
            out.last_losses
        );
    }
    let cont = common::continuous_dataset(&dir.path().join("mw"), 8, 16, 4);
    let out = train(
        &cont,
        AlgoKind::Cql,
        common::tiny_rl(),
        &dir.path().join("ccql"),
    )
    .unwrap();
    for key in [
        "critic_loss",
        "actor_loss",
        "temperature",
        "conservative_loss",
    ] {
        assert!(
            out.last_losses
                .iter()
                .any(|(k, v)| *k == key && v.is_finite()),
            "{key}: {:?}",
            out.last_losses
        );
    }
    // The temperature follows its own optimiser and stays positive.
    let temp = out
        .last_losses
        .iter()
        .find(|(k, _)| *k == "temperature")
        .unwrap()
        .1;
    assert!(temp > 0.0 && temp != 1.0, "temperature {temp}");
}

/// Values of `key` in the training log, from the lines that carry it.
fn logged(run_dir: &std::path::Path, key: &str) -> Vec<f64> {
    std::fs::read_to_string(run_dir.join("train_log.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()[key].as_f64())
        .collect()
}

#[test]
fn td3_plus_bc_clones_the_data_actions_and_refuses_discrete_actions() {
    let _torch = common::init();
    let dir = tempfile::tempdir().unwrap();
    let cont = common::continuous_dataset(&dir.path().join("mw"), 12, 20, 2);
    let mut rl = common::tiny_rl();
    rl.training.epochs = 8;
    rl.training.log_every = 1;
    let run = dir.path().join("td3");
    let out = train(&cont, AlgoKind::Td3PlusBc, rl, &run).unwrap();
    // The actor (and its BC term) steps on every second update.
    let (critic, bc) = (logged(&run, "critic_loss"), logged(&run, "bc_loss"));
    assert_eq!(critic.len() as u64, out.steps_done);
    assert_eq!(bc.len() as u64, out.steps_done / 2);
    assert!(critic.iter().chain(&bc).all(|v| v.is_finite()));
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    let (first, last) = (mean(&bc[..5]), mean(&bc[bc.len() - 5..]));
    eprintln!("TD3+BC BC loss {first:.3} -> {last:.3}");
    assert!(last < 0.8 * first, "BC term {first} -> {last}");
    let lambda = logged(&run, "lambda");
    assert!(
        lambda.iter().all(|l| *l > 0.0 && l.is_finite()),
        "{lambda:?}"
    );

    let clevr = common::clevr_dataset(&dir.path().join("clevr"), 4, 6, 0.0, 1);
    let Err(e) = train(
        &clevr,
        AlgoKind::Td3PlusBc,
        common::tiny_rl(),
        &dir.path().join("d"),
    ) else {
        panic!("discrete actions are refused");
    };
    assert!(
        matches!(&e, RlError::Input(m) if m.contains("continuous")),
        "{e}"
    );
}

/// Trains discrete CQL with conservative weight `alpha` and returns mean over dataset states of
/// Q(s, a_data) − mean over actions never taken in the data of Q(s, a).
fn seen_minus_unseen(data: &Dataset, alpha: f64) -> f64 {
    let goals = common::goal_table(&[data], 16);
    let mut rl = common::tiny_rl();
    rl.discrete_cql.alpha = alpha;
    rl.training.lr = 1e-3;
    let (mean, std) = observation_stats(data);
    let spec = ObsSpec::State {
        dim: data.manifest.obs_dim,
    };
    let builder = BatchBuilder::new(
        data,
        None,
        0.0,
        ObservationSource::State,
        spec,
        &goals,
        &mean,
        &std,
        0.01,
        Device::Cpu,
    )
    .unwrap();
    tch::manual_seed(11);
    let mut cql = DiscreteCql::new(
        EncoderConfig::new(spec, 16, &rl.network),
        40,
        rl.training.lr,
        &rl.td,
        &rl.discrete_cql,
        Device::Cpu,
    );
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for _ in 0..150 {
        let batch = builder.build(&builder.sample(32, &mut rng), true);
        cql.update(&batch, 1.0).unwrap();
    }
    // Actions present anywhere in the data vs actions the data never takes.
    let seen: std::collections::BTreeSet<i64> = match &data.actions {
        vlgor_sim::dataset::ActionColumn::Discrete(a) => a.iter().copied().collect(),
        _ => unreachable!(),
    };
    let unseen: Vec<i64> = (0..40).filter(|a| !seen.contains(a)).collect();
    assert!(
        !unseen.is_empty() && unseen.len() < 40,
        "{} unseen actions",
        unseen.len()
    );
    let batch = builder.build(
        &(0..data.transitions())
            .map(|i| (vlgor_sim::dataset::Source::Real, i))
            .collect::<Vec<_>>(),
        true,
    );
    let q = tch::no_grad(|| cql.q_values(&batch.obs, &batch.goals));
    let q_data = q
        .gather(1, &batch.actions.unsqueeze(1), false)
        .mean(Kind::Float);
    let q_unseen = q
        .index_select(1, &Tensor::from_slice(&unseen))
        .mean(Kind::Float);
    (q_data - q_unseen).double_value(&[])
}

#[test]
fn conservative_term_lowers_unseen_actions() {
    let _torch = common::init();
    let dir = tempfile::tempdir().unwrap();
    // The noiseless expert uses few of the 40 pushes: the rest are out-of-distribution.
    let data = common::clevr_dataset(&dir.path().join("data"), 10, 8, 0.0, 9);
    let plain = seen_minus_unseen(&data, 0.0);
    let conservative = seen_minus_unseen(&data, 2.0);
    eprintln!("Q(seen) − Q(unseen): α = 0 {plain:.3}, α = 2 {conservative:.3}");
    assert!(
        conservative > 0.0,
        "with α = 2 seen actions must score above unseen ones: gap {conservative}"
    );
    assert!(
        conservative > plain + 0.1,
        "α = 2 gap {conservative} vs α = 0 gap {plain}"
    );
}

#[test]
fn continuous_conservative_term_prefers_data_actions() {
    let _torch = common::init();
    let dir = tempfile::tempdir().unwrap();
    let data = common::continuous_dataset(&dir.path().join("data"), 8, 16, 6);
    let goals = common::goal_table(&[&data], 16);
    let (mean, std) = observation_stats(&data);
    let spec = ObsSpec::State { dim: 6 };
    let builder = BatchBuilder::new(
        &data,
        None,
        0.0,
        ObservationSource::State,
        spec,
        &goals,
        &mean,
        &std,
        1.0,
        Device::Cpu,
    )
    .unwrap();
    let gap = |weight: f64| {
        let mut rl = common::tiny_rl();
        rl.continuous_cql.conservative_weight = weight;
        tch::manual_seed(3);
        let mut cql = ContinuousCql::new(
            EncoderConfig::new(spec, 16, &rl.network),
            4,
            rl.training.lr,
            &rl.td,
            &rl.continuous_cql,
            Device::Cpu,
        );
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        for _ in 0..120 {
            cql.update(&builder.build(&builder.sample(32, &mut rng), true), 1.0)
                .unwrap();
        }
        let batch = builder.build(&builder.sample(128, &mut rng), true);
        let random = Tensor::rand([128, 4], (Kind::Float, Device::Cpu)) * 2.0 - 1.0;
        tch::no_grad(|| {
            (cql.q_value(&batch.obs, &batch.goals, &batch.actions)
                - cql.q_value(&batch.obs, &batch.goals, &random))
            .mean(Kind::Float)
            .double_value(&[])
        })
    };
    let (plain, conservative) = (gap(0.0), gap(5.0));
    eprintln!("Q(data) − Q(random): w = 0 {plain:.3}, w = 5 {conservative:.3}");
    assert!(
        conservative > 0.0 && conservative > plain,
        "gap data − random actions: w=5 {conservative}, w=0 {plain}"
    );
}

#[test]
fn nan_in_data_stops_training_naming_the_step() {
    let _torch = common::init();
    let dir = tempfile::tempdir().unwrap();
    let mut data = common::clevr_dataset(&dir.path().join("data"), 6, 6, 0.2, 5);
    data.rewards.iter_mut().for_each(|r| *r = f32::NAN);
    let err = train(
        &data,
        AlgoKind::Cql,
        common::tiny_rl(),
        &dir.path().join("run"),
    )
    .unwrap_err();
    match &err {
        RlError::NonFinite {
            step, epoch, what, ..
        } => {
            assert_eq!((*step, *epoch), (1, 1));
            assert_eq!(what, "loss");
        }
        other => panic!("expected NonFinite, got {other}"),
    }
    assert!(err.to_string().contains("at step 1"), "{err}");
}

#[test]
fn exploding_learning_rate_is_reported() {
    let _torch = common::init();
    let dir = tempfile::tempdir().unwrap();
    let data = common::clevr_dataset(&dir.path().join("data"), 6, 6, 0.2, 5);
    let mut rl = common::tiny_rl();
    rl.training.lr = 1e30;
    rl.training.lr_min = 1e29;
    rl.training.epochs = 3;
    let err = train(&data, AlgoKind::Cql, rl, &dir.path().join("run")).unwrap_err();
    let RlError::NonFinite { step, .. } = err else {
        panic!("expected NonFinite, got {err}")
    };
    assert!(
        step >= 2,
        "the first update reads finite initial losses; got step {step}"
    );
}

#[test]
fn imagined_data_is_mixed_at_the_ratio() {
    let _torch = common::init();
    let dir = tempfile::tempdir().unwrap();
    let real = common::clevr_dataset(&dir.path().join("real"), 6, 6, 0.2, 1);
    let imagined = common::clevr_dataset(&dir.path().join("imagined"), 5, 6, 0.5, 2);
    let goals = common::goal_table(&[&real, &imagined], 16);
    let (mean, std) = observation_stats(&real);
    let spec = ObsSpec::State {
        dim: real.manifest.obs_dim,
    };
    let builder = BatchBuilder::new(
        &real,
        Some(&imagined),
        0.25,
        ObservationSource::State,
        spec,
        &goals,
        &mean,
        &std,
        1.0,
        Device::Cpu,
    )
    .unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let items = builder.sample(32, &mut rng);
    let n_imagined = items
        .iter()
        .filter(|(s, _)| *s == vlgor_sim::dataset::Source::Imagined)
        .count();
    assert_eq!(n_imagined, 8);
    assert!(items.iter().all(|(s, i)| *i
        < if *s == vlgor_sim::dataset::Source::Real {
            real.transitions()
        } else {
            imagined.transitions()
        }));
    // A whole run on the mix; the run config records both directories.
    let td = TrainingData {
        real: &real,
        imagined: Some(&imagined),
        observations: ObservationSource::State,
        goals: &goals,
    };
    let mut rl = common::tiny_rl();
    rl.training.ratio = 0.5;
    rl.training.epochs = 1;
    let mut trainer = Trainer::new(
        &dir.path().join("run"),
        "clevr",
        AlgoKind::Cql,
        rl,
        td,
        3,
        Device::Cpu,
        false,
    )
    .unwrap();
    assert_eq!(trainer.run_config().data.len(), 2);
    trainer.train(&mut |_| {}).unwrap();
    // An imagined dataset of another environment is refused, naming it.
    let other = common::continuous_dataset(&dir.path().join("mw"), 2, 4, 1);
    let goals = common::goal_table(&[&real, &other], 16);
    let td = TrainingData {
        real: &real,
        imagined: Some(&other),
        observations: ObservationSource::State,
        goals: &goals,
    };
    let err = Trainer::new(
        &dir.path().join("run2"),
        "clevr",
        AlgoKind::Bc,
        common::tiny_rl(),
        td,
        3,
        Device::Cpu,
        false,
    )
    .err()
    .unwrap();
    assert!(
        err.to_string().contains("does not match the real data"),
        "{err}"
    );
}
