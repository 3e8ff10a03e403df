//! Checkpoints and policies: save → load gives identical outputs, a resumed run reproduces the
//! uninterrupted one bit for bit, act_batch shapes and errors, the image network's sizes.

mod common;

use std::path::Path;
use tch::{Device, Kind, Tensor};
use vlgor_rl::bc::ContinuousBcLoss;
use vlgor_rl::checkpoint::{self, CheckpointMeta};
use vlgor_rl::config::{AlgoKind, ObsSpec, RUN_FORMAT_VERSION, RlConfig, RunConfig};
use vlgor_rl::network::{EncoderConfig, GoalConditionedEncoder, NetworkConfig};
use vlgor_rl::{
    InMemoryFrames, ObservationSource, Policy, PolicyObservations, RlError, Trainer, TrainingData,
};
use vlgor_sim::Action;
use vlgor_sim::dataset::{ActionSpace, Dataset};

fn trainer<'a>(
    data: &'a Dataset,
    goals: &'a vlgor_rl::GoalTable,
    algo: AlgoKind,
    rl: RlConfig,
    run: &Path,
    resume: bool,
) -> Trainer<'a> {
    let td = TrainingData {
        real: data,
        imagined: None,
        observations: ObservationSource::State,
        goals,
    };
    Trainer::new(
        run,
        &data.manifest.env,
        algo,
        rl,
        td,
        42,
        Device::Cpu,
        resume,
    )
    .unwrap()
}

/// Every tensor of a checkpoint file, by name.
fn tensors(path: &Path) -> Vec<(String, Tensor)> {
    let mut v = Tensor::read_safetensors(path).unwrap();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn assert_resume_matches(data: &Dataset, algo: AlgoKind, rl: RlConfig, root: &Path) {
    let goals = common::goal_table(&[data], 16);
    let straight = root.join("straight");
    let out = trainer(data, &goals, algo, rl.clone(), &straight, false)
        .train(&mut |_| {})
        .unwrap();
    assert_eq!(out.epochs_done, 4);

    let resumed = root.join("resumed");
    let mut first = trainer(data, &goals, algo, rl.clone(), &resumed, false);
    first.stop_after(2);
    let half = first.train(&mut |_| {}).unwrap();
    assert_eq!((half.epochs_done, half.steps_done), (2, 20));
    // A fresh (non-resume) run refuses a directory with checkpoints.
    let td = TrainingData {
        real: data,
        imagined: None,
        observations: ObservationSource::State,
        goals: &goals,
    };
    let refused = Trainer::new(
        &resumed,
        &data.manifest.env,
        algo,
        rl.clone(),
        td,
        42,
        Device::Cpu,
        false,
    );
    assert!(matches!(refused, Err(RlError::Input(m)) if m.contains("--resume")));
    let mut steps_seen = vec![];
    let rl_again = rl.clone();
    let rest = trainer(data, &goals, algo, rl, &resumed, true)
        .train(&mut |p| steps_seen.push(p.step))
        .unwrap();
    assert_eq!(rest.resumed_after, Some(2));
    assert_eq!(steps_seen.first(), Some(&21));
    assert_eq!(rest.steps_done, 40);

    let (a, b) = (tensors(&out.checkpoint), tensors(&rest.checkpoint));
    assert_eq!(a.len(), b.len());
    for ((na, ta), (nb, tb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        assert!(
            ta.equal(tb),
            "{algo}: tensor {na} differs between the resumed and the uninterrupted run"
        );
    }
    // Resuming a finished run trains nothing and reports the checkpoint's losses.
    let mut calls = 0;
    let again = trainer(data, &goals, algo, rl_again, &resumed, true)
        .train(&mut |_| calls += 1)
        .unwrap();
    assert_eq!(
        (calls, again.steps_done, again.resumed_after),
        (0, 40, Some(4))
    );
    assert!(!again.last_losses.is_empty() && again.checkpoint == rest.checkpoint);
    let log = |d: &Path| std::fs::read_to_string(d.join("train_log.jsonl")).unwrap();
    assert_eq!(
        log(&straight),
        log(&resumed),
        "{algo}: training logs differ"
    );
}

#[test]
fn resume_reproduces_uninterrupted_discrete_runs() {
    let _torch = common::init();
    let dir = tempfile::tempdir().unwrap();
    let data = common::clevr_dataset(&dir.path().join("data"), 10, 8, 0.2, 1);
    assert_resume_matches(
        &data,
        AlgoKind::Cql,
        common::tiny_rl(),
        &dir.path().join("cql"),
    );
    assert_resume_matches(
        &data,
        AlgoKind::Bc,
        common::tiny_rl(),
        &dir.path().join("bc"),
    );
}

#[test]
fn resume_reproduces_uninterrupted_continuous_cql() {
    let _torch = common::init();
    let dir = tempfile::tempdir().unwrap();
    let data = common::continuous_dataset(&dir.path().join("data"), 6, 12, 2);
    assert_resume_matches(&data, AlgoKind::Cql, common::tiny_rl(), dir.path());
}

#[test]
fn resume_reproduces_uninterrupted_td3_plus_bc() {
    let _torch = common::init();
    let dir = tempfile::tempdir().unwrap();
    let data = common::continuous_dataset(&dir.path().join("data"), 6, 13, 2);
    // The actor steps every third update, so the resume (after update 20) lands mid-phase.
    let mut rl = common::tiny_rl();
    rl.td3_plus_bc.update_actor_interval = 3;
    assert_resume_matches(&data, AlgoKind::Td3PlusBc, rl, dir.path());
}

fn run_config(algo: AlgoKind, obs: ObsSpec, action_space: ActionSpace, rl: RlConfig) -> RunConfig {
    let dim = match obs {
        ObsSpec::State { dim } => dim,
        ObsSpec::Image { .. } => 0,
    };
    // A run the loader's consistency checks accept: the env fits the action space and
    // total_steps = steps_per_epoch × epochs.
    let env = match action_space {
        ActionSpace::Discrete { .. } => "clevr",
        ActionSpace::Continuous { .. } => "metaworld",
    };
    let total_steps = rl.training.epochs as u64;
    RunConfig {
        format_version: RUN_FORMAT_VERSION,
        env: env.into(),
        algo,
        obs,
        action_space,
        goal_dim: 16,
        rl,
        seed: 1,
        steps_per_epoch: 1,
        total_steps,
        obs_mean: vec![0.5; dim],
        obs_std: vec![2.0; dim],
        data: vec![],
    }
}

#[test]
fn save_then_load_gives_identical_outputs() {
    let _torch = common::init();
    let dir = tempfile::tempdir().unwrap();
    let mut rl = common::tiny_rl();
    rl.bc.loss = ContinuousBcLoss::Gaussian;
    for (algo, space) in [
        (AlgoKind::Bc, ActionSpace::Continuous { dim: 4 }),
        (AlgoKind::Cql, ActionSpace::Continuous { dim: 4 }),
        (AlgoKind::Td3PlusBc, ActionSpace::Continuous { dim: 4 }),
        (AlgoKind::Bc, ActionSpace::Discrete { n: 40 }),
        (AlgoKind::Cql, ActionSpace::Discrete { n: 40 }),
    ] {
        let run = run_config(algo, ObsSpec::State { dim: 6 }, space, rl.clone());
        tch::manual_seed(9);
        let trained = run.create_algorithm(Device::Cpu).unwrap();
        let run_dir = dir.path().join(format!("{algo}-{space:?}"));
        let meta = CheckpointMeta {
            run: run.clone(),
            epoch: 1,
            step: 0,
            losses: Default::default(),
            format_version: None,
            tensors_sha256: None,
        };
        let file = checkpoint::save(&run_dir, &meta, trained.as_ref()).unwrap();
        tch::manual_seed(1234); // a different initialisation, overwritten by the load
        let policy = Policy::load(&run_dir, Device::Cpu).unwrap();
        assert_eq!(policy.checkpoint(), (file.as_path(), 1));

        let raw: Vec<f32> = (0..8 * 6)
            .map(|i| ((i * 37 % 19) as f32) / 7.0 - 1.0)
            .collect();
        let goals = Tensor::randn([8, 16], (Kind::Float, Device::Cpu));
        let acts = policy
            .act_batch(PolicyObservations::States(&raw), &goals)
            .unwrap();
        // The same normalisation the policy applies, then the trained network directly.
        let norm: Vec<f32> = raw.iter().map(|x| (x - 0.5) / 2.0).collect();
        let direct = trained.act(&Tensor::from_slice(&norm).view([8, 6]), &goals);
        match space {
            ActionSpace::Discrete { .. } => {
                let want: Vec<i64> = Vec::try_from(&direct).unwrap();
                let got: Vec<i64> = acts
                    .iter()
                    .map(|a| match a {
                        Action::Discrete(k) => *k as i64,
                        _ => panic!(),
                    })
                    .collect();
                assert_eq!(got, want, "{algo}");
            }
            ActionSpace::Continuous { .. } => {
                let want: Vec<f32> = Vec::try_from(direct.view([-1])).unwrap();
                let got: Vec<f32> = acts
                    .iter()
                    .flat_map(|a| match a {
                        Action::Continuous(v) => v.to_vec(),
                        _ => panic!(),
                    })
                    .collect();
                assert_eq!(got, want, "{algo}: outputs differ after save → load");
            }
        }
        // Loading by file and by its JSON gives the same policy.
        let by_json = Policy::load(&file.with_extension("json"), Device::Cpu).unwrap();
        assert_eq!(
            by_json
                .act_batch(PolicyObservations::States(&raw), &goals)
                .unwrap(),
            acts
        );
    }
}

#[test]
fn act_batch_checks_shapes() {
    let _torch = common::init();
    let dir = tempfile::tempdir().unwrap();
    let run = run_config(
        AlgoKind::Bc,
        ObsSpec::State { dim: 10 },
        ActionSpace::Discrete { n: 40 },
        common::tiny_rl(),
    );
    let trained = run.create_algorithm(Device::Cpu).unwrap();
    let meta = CheckpointMeta {
        run,
        epoch: 3,
        step: 30,
        losses: Default::default(),
        format_version: None,
        tensors_sha256: None,
    };
    checkpoint::save(dir.path(), &meta, trained.as_ref()).unwrap();
    let policy = Policy::load(dir.path(), Device::Cpu).unwrap();
    for b in [1usize, 5, 64] {
        let obs = vec![0.1f32; b * 10];
        let acts = policy
            .act_batch(
                PolicyObservations::States(&obs),
                &Tensor::zeros([b as i64, 16], (Kind::Float, Device::Cpu)),
            )
            .unwrap();
        assert_eq!(acts.len(), b);
        assert!(
            acts.iter()
                .all(|a| matches!(a, Action::Discrete(k) if *k < 40))
        );
    }
    let goals = Tensor::zeros([2, 16], (Kind::Float, Device::Cpu));
    let err = policy
        .act_batch(PolicyObservations::States(&[0.0; 19]), &goals)
        .unwrap_err();
    assert!(err.to_string().contains("expected 20"), "{err}");
    let err = policy
        .act_batch(
            PolicyObservations::States(&[0.0; 20]),
            &Tensor::zeros([2, 8], (Kind::Float, Device::Cpu)),
        )
        .unwrap_err();
    assert!(err.to_string().contains("[B, 16]"), "{err}");
    let err = policy
        .act_batch(PolicyObservations::Frames(&[0; 12]), &goals)
        .unwrap_err();
    assert!(matches!(err, RlError::Input(_)), "{err}");
    assert!(Policy::load(&dir.path().join("nope"), Device::Cpu).is_err());
    let empty = tempfile::tempdir().unwrap();
    let err = Policy::load(empty.path(), Device::Cpu).unwrap_err();
    assert!(err.to_string().contains("no checkpoint"), "{err}");
}

#[test]
fn image_encoder_sizes_and_image_policy() {
    let _torch = common::init();
    let rl = common::tiny_rl();
    let vs = tch::nn::VarStore::new(Device::Cpu);
    for side in [128usize, 64] {
        let enc = GoalConditionedEncoder::new(
            &(vs.root() / format!("e{side}")),
            &EncoderConfig::new(
                ObsSpec::Image {
                    height: side,
                    width: side,
                },
                16,
                &NetworkConfig {
                    joint_dim: 512,
                    ..rl.network
                },
            ),
        );
        let frames = Tensor::randint(
            256,
            [3, side as i64, side as i64, 3],
            (Kind::Uint8, Device::Cpu),
        );
        let joint = enc.forward(&frames, &Tensor::zeros([3, 16], (Kind::Float, Device::Cpu)));
        assert_eq!(joint.size(), [3, 512]);
        assert!(joint.min().double_value(&[]) >= 0.0, "ReLU after fusion");
    }
    // Train an image BC policy for one epoch on in-memory 64x64 frames, then act.
    let dir = tempfile::tempdir().unwrap();
    let data = common::clevr_dataset(&dir.path().join("data"), 4, 5, 0.2, 3);
    let rows = data.observations.len() / data.manifest.obs_dim;
    let real: Vec<u8> = (0..rows * 64 * 64 * 3)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    let frames = InMemoryFrames {
        height: 64,
        width: 64,
        real,
        imagined: vec![],
    };
    let goals = common::goal_table(&[&data], 16);
    let td = TrainingData {
        real: &data,
        imagined: None,
        observations: ObservationSource::Frames(&frames),
        goals: &goals,
    };
    let mut rl = rl;
    rl.training.epochs = 1;
    rl.training.steps_per_epoch = 2;
    rl.training.batch_size = 8;
    Trainer::new(
        &dir.path().join("run"),
        "clevr",
        AlgoKind::Bc,
        rl,
        td,
        1,
        Device::Cpu,
        false,
    )
    .unwrap()
    .train(&mut |_| {})
    .unwrap();
    let policy = Policy::load(&dir.path().join("run"), Device::Cpu).unwrap();
    assert_eq!(policy.frame_shape(), Some((64, 64)));
    let acts = policy
        .act_batch(
            PolicyObservations::Frames(&frames.real[..2 * 64 * 64 * 3]),
            &goals
                .tensor(
                    &[data.episodes[0].instruction.text.as_str(); 2],
                    Device::Cpu,
                )
                .unwrap(),
        )
        .unwrap();
    assert_eq!(acts.len(), 2);
}

/// The `[rl]` preset section as the presets write it (every key, paper values).
const RL_SECTION: &str = r#"
epochs = 50
batch_size = 128
steps_per_epoch = 0
lr = 3e-4
lr_min = 1e-6
ratio = 0.5
gamma = 0.99
reward_scale = 1.0
cql_alpha = 1.0
target_update = "soft"
target_update_interval = 8000
tau = 0.005
conservative_weight = 5.0
n_action_samples = 10
initial_temperature = 1.0
temperature_lr = 1e-4
bc_loss = "deterministic"
text_hidden = 512
feature_dim = 256
joint_dim = 512
log_every = 10
"#;

#[test]
fn rl_section_parses_and_validates() {
    let rl: RlConfig = toml::from_str(RL_SECTION).unwrap();
    assert_eq!(rl, RlConfig::default());
    rl.validate().unwrap();
    let partial: RlConfig = toml::from_str("epochs = 3\nbc_loss = \"gaussian\"").unwrap();
    assert_eq!(
        (
            partial.training.epochs,
            partial.bc.loss,
            partial.training.batch_size
        ),
        (3, ContinuousBcLoss::Gaussian, 128)
    );
    let unknown = toml::from_str::<RlConfig>("epoch = 3")
        .unwrap_err()
        .to_string();
    assert!(unknown.contains("epoch"), "{unknown}");
    let mut bad = RlConfig::default();
    bad.training.ratio = 1.5;
    let bad = bad.validate().unwrap_err().to_string();
    assert!(bad.contains("rl.ratio"), "{bad}");
}
