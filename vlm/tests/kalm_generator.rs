//! The KALM generator on toy sizes: the loss falls on a toy set, generation is deterministic
//! for a seed (greedy and sampled), checkpoints round-trip, the LoRA stage trains only the
//! adapters and the numeric layers.

use tch::{Device, Kind, Tensor};
use vlgor_sim::{Action, EnvKind};
use vlgor_vlm::kalm::{
    KalmConfig, KalmModel, KalmTrainOptions, Sampling, Trajectory, generate, observation_stats,
    train_kalm,
};
use vlgor_vlm::world_model::{Stage, TextSource, WorldModelError};

/// One pseudo-token per word, its embedding seeded by the word.
struct WordText;

impl TextSource for WordText {
    fn tokens(&mut self, texts: &[&str]) -> Result<(Tensor, Tensor), WorldModelError> {
        let t = texts
            .iter()
            .map(|s| s.split_whitespace().count())
            .max()
            .unwrap_or(1)
            .max(1) as i64;
        let emb = Tensor::zeros([texts.len() as i64, t, 8], (Kind::Float, Device::Cpu));
        let mask = Tensor::zeros([texts.len() as i64, t], (Kind::Float, Device::Cpu));
        for (i, s) in texts.iter().enumerate() {
            for (j, w) in s.split_whitespace().enumerate() {
                let v: Vec<f32> = (0..8)
                    .map(|k| ((w.len() * 7 + k * 3 + w.as_bytes()[0] as usize) % 11) as f32 / 11.0)
                    .collect();
                emb.get(i as i64)
                    .get(j as i64)
                    .copy_(&Tensor::from_slice(&v));
                let _ = mask.get(i as i64).get(j as i64).fill_(1.0);
            }
        }
        Ok((emb, mask))
    }
}

fn tiny(env: EnvKind) -> KalmConfig {
    KalmConfig {
        width: 32,
        layers: 2,
        heads: 2,
        mlp_ratio: 2,
        text_dim: 8,
        max_text_tokens: 8,
        max_steps: 4,
        lora_rank: 4,
        lora_alpha: 8.0,
        ..KalmConfig::preset("cpu_quick", env).unwrap()
    }
}

/// CLEVR-shaped toy trajectories: push k of ball k moves ball k by 0.2 m along +x.
fn toy_set() -> Vec<Trajectory> {
    (0..12)
        .map(|e| {
            let ball = e % 5;
            let mut o: Vec<f32> = (0..10)
                .map(|i| (i as f32 * 0.07 + e as f32 * 0.01) - 0.3)
                .collect();
            let mut observations = vec![o.clone()];
            let mut actions = Vec::new();
            for _ in 0..3 {
                o[2 * ball] += 0.2;
                observations.push(o.clone());
                actions.push(Action::Discrete(ball as u32 * 8));
            }
            Trajectory {
                instruction: format!("push ball {ball} right"),
                observations,
                actions,
            }
        })
        .collect()
}

fn opts(stage: Stage, epochs: usize) -> KalmTrainOptions {
    KalmTrainOptions {
        stage,
        epochs,
        batch_size: 4,
        learning_rate: 3e-3,
        seed: 1,
        checkpoint_dir: None,
        first_epoch: 0,
    }
}

fn trained(epochs: usize) -> (KalmModel, Vec<[f64; 3]>) {
    tch::manual_seed(0);
    let set = toy_set();
    let mut m = KalmModel::new(tiny(EnvKind::Clevr), Device::Cpu).unwrap();
    let (mean, std) = observation_stats(&set);
    m.set_observation_stats(&mean, &std).unwrap();
    let r = train_kalm(
        &mut m,
        &mut WordText,
        &set,
        &opts(Stage::Base, epochs),
        &mut |_| {},
    )
    .unwrap();
    (m, r.epoch_losses)
}

#[test]
fn loss_falls_on_a_toy_set() {
    let (_, losses) = trained(30);
    let (first, last) = (losses[0], *losses.last().unwrap());
    assert!(
        last[0] < 0.5 * first[0] && last[1] < first[1] && last[2] < first[2],
        "total / obs / action losses {first:?} -> {last:?}"
    );
}

#[test]
fn generation_is_deterministic_for_a_seed() {
    let (m, _) = trained(5);
    let set = toy_set();
    let texts: Vec<&str> = set.iter().map(|t| t.instruction.as_str()).collect();
    let initial: Vec<Vec<f32>> = set.iter().map(|t| t.observations[0].clone()).collect();
    let run = |s: Sampling| generate(&m, &mut WordText, &texts, &initial, 3, s, None).unwrap();
    let greedy = Sampling::default();
    let a = run(greedy);
    assert_eq!(a, run(greedy));
    assert_eq!(a.actions[0].len(), 3);
    assert_eq!(a.observations[0].len(), 4);
    assert_eq!(
        a.observations[0][0], initial[0],
        "o_0 is the real observation"
    );
    let hot = |seed| Sampling {
        temperature: 5.0,
        seed,
    };
    assert_eq!(run(hot(7)), run(hot(7)));
    assert_ne!(
        run(hot(7)).actions,
        run(hot(8)).actions,
        "the seed drives sampling"
    );
}

#[test]
fn goal_check_stops_a_rollout() {
    let (m, _) = trained(2);
    let set = toy_set();
    let texts = [set[0].instruction.as_str(), set[1].instruction.as_str()];
    let initial = [
        set[0].observations[0].clone(),
        set[1].observations[0].clone(),
    ];
    let mut stop_first = |i: usize, _: &[f32]| i == 0;
    let r = generate(
        &m,
        &mut WordText,
        &texts,
        &initial,
        4,
        Sampling::default(),
        Some(&mut stop_first),
    )
    .unwrap();
    assert_eq!(r.success_step, vec![Some(1), None]);
    assert_eq!((r.actions[0].len(), r.actions[1].len()), (1, 4));
}

#[test]
fn checkpoint_round_trips_and_lora_trains_its_part() {
    let (mut m, _) = trained(2);
    let dir = tempfile::tempdir().unwrap();
    m.save(dir.path()).unwrap();
    let loaded = KalmModel::load(dir.path(), Device::Cpu).unwrap();
    let set = toy_set();
    let texts = [set[3].instruction.as_str()];
    let initial = [set[3].observations[0].clone()];
    let g = |m: &KalmModel| {
        generate(
            m,
            &mut WordText,
            &texts,
            &initial,
            2,
            Sampling::default(),
            None,
        )
        .unwrap()
    };
    assert_eq!(g(&m), g(&loaded));

    let names = |m: &mut KalmModel, stage| -> Vec<String> {
        m.set_stage(stage).into_iter().map(|(n, _)| n).collect()
    };
    let lora = names(&mut m, Stage::Lora);
    assert!(
        lora.iter()
            .all(|n| n.starts_with("lora") || n.starts_with("io")),
        "{lora:?}"
    );
    assert!(lora.iter().any(|n| n.starts_with("lora")));
    let base = names(&mut m, Stage::Base);
    assert!(
        base.iter()
            .all(|n| !n.starts_with("lora") && !n.starts_with("stats"))
    );
    let snapshot = |m: &KalmModel, prefix: &str| -> Vec<(String, Tensor)> {
        let mut v: Vec<(String, Tensor)> = m
            .var_store()
            .variables()
            .into_iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, t)| (k, t.detach().copy()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    let (bb, adapters) = (snapshot(&m, "backbone"), snapshot(&m, "lora"));
    train_kalm(
        &mut m,
        &mut WordText,
        &set,
        &opts(Stage::Lora, 1),
        &mut |_| {},
    )
    .unwrap();
    let same = |a: &[(String, Tensor)], b: &[(String, Tensor)]| {
        a.iter().zip(b).all(|((_, x), (_, y))| x.equal(y))
    };
    assert!(
        same(&bb, &snapshot(&m, "backbone")),
        "the LoRA stage froze the transformer"
    );
    assert!(
        !same(&adapters, &snapshot(&m, "lora")),
        "the LoRA stage moved the adapters"
    );

    // A corrupted tensor file is refused with its name.
    let w = dir.path().join("weights.safetensors");
    let mut bytes = std::fs::read(&w).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xFF;
    std::fs::write(&w, bytes).unwrap();
    let e = KalmModel::load(dir.path(), Device::Cpu)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("weights.safetensors"), "{e}");
}

#[test]
fn metaworld_actions_are_continuous_and_clamped() {
    tch::manual_seed(0);
    let m = KalmModel::new(tiny(EnvKind::MetaWorld), Device::Cpu).unwrap();
    let initial = vec![vec![0.1f32; 39]];
    let r = generate(
        &m,
        &mut WordText,
        &["open the door"],
        &initial,
        2,
        Sampling {
            temperature: 3.0,
            seed: 2,
        },
        None,
    )
    .unwrap();
    for a in &r.actions[0] {
        match a {
            Action::Continuous(v) => assert!(v.iter().all(|x| (-1.0..=1.0).contains(x)), "{v:?}"),
            other => panic!("expected a continuous action, got {other:?}"),
        }
    }
    assert_eq!(r.observations[0][1].len(), 39);
}

/// A generator's checkpoint records its simulator; one of an earlier release (no `env` in its
/// config) loads with the simulator of its action space, and a wrong env is refused.
#[test]
fn checkpoints_record_their_env_and_old_ones_load_with_the_env_of_their_actions() {
    for env in [EnvKind::Clevr, EnvKind::MetaWorld] {
        tch::manual_seed(0);
        let mut m = KalmModel::new(tiny(env), Device::Cpu).unwrap();
        let dir = tempfile::tempdir().unwrap();
        m.save(dir.path()).unwrap();
        let path = dir.path().join("config.json");
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v["config"]["env"], env.name());
        let fields = v["config"].as_object_mut().unwrap();
        fields.remove("env");
        std::fs::write(&path, v.to_string()).unwrap();
        let old = KalmModel::load(dir.path(), Device::Cpu).unwrap();
        assert_eq!(old.config().env, env, "an old {env} checkpoint");
    }
    let e = KalmModel::new(
        KalmConfig {
            env: EnvKind::MetaWorld,
            ..tiny(EnvKind::Clevr)
        },
        Device::Cpu,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("metaworld"), "{e}");
}
