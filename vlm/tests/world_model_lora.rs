//! World model + LoRA: identity at init, merge equivalence, which parameters train, save/load,
//! overfitting a tiny set.

mod support;

use support::tiny_sizes;
use tch::{Device, Kind, Tensor};
use vlgor_sim::{Action, EnvKind};
use vlgor_vlm::world_model::{
    ActionInput, SampleBatch, Stage, StepInput, TextSource, TrainOptions, WorldModel,
    WorldModelConfig, WorldModelError, train,
};

/// Deterministic pseudo-embeddings: a seeded random [T, dim] per text, T = word count.
struct HashedText {
    dim: i64,
}

impl TextSource for HashedText {
    fn tokens(&mut self, texts: &[&str]) -> Result<(Tensor, Tensor), WorldModelError> {
        let t_max = texts
            .iter()
            .map(|t| t.split_whitespace().count())
            .max()
            .unwrap_or(1)
            .max(1) as i64;
        let emb = Tensor::zeros(
            [texts.len() as i64, t_max, self.dim],
            (Kind::Float, Device::Cpu),
        );
        let mask = Tensor::zeros([texts.len() as i64, t_max], (Kind::Float, Device::Cpu));
        for (i, t) in texts.iter().enumerate() {
            for (j, w) in t.split_whitespace().enumerate() {
                let seed = w
                    .bytes()
                    .fold(7i64, |h, b| h.wrapping_mul(31).wrapping_add(b as i64));
                tch::manual_seed(seed);
                let g = Tensor::randn([self.dim], (Kind::Float, Device::Cpu));
                emb.get(i as i64).get(j as i64).copy_(&g);
                let _ = mask.get(i as i64).get(j as i64).fill_(1.0);
            }
        }
        Ok((emb, mask))
    }
}

fn tiny(env: EnvKind, mot: bool) -> WorldModelConfig {
    WorldModelConfig {
        mixture_of_transformers: mot,
        lora_rank: 4,
        lora_alpha: 8.0,
        ..tiny_sizes(env)
    }
}

fn inputs(b: i64, c: &WorldModelConfig) -> (Tensor, Tensor, Tensor, ActionInput) {
    let frames = Tensor::rand(
        [b, 3, c.image_size, c.image_size],
        (Kind::Float, Device::Cpu),
    );
    let text = Tensor::randn([b, 5, c.text_dim], (Kind::Float, Device::Cpu));
    let mask = Tensor::ones([b, 5], (Kind::Float, Device::Cpu));
    let _ = mask.get(0).narrow(0, 3, 2).fill_(0.0);
    let acts: Vec<Option<Action>> = (0..b)
        .map(|i| (i > 0).then_some(Action::Discrete(i as u32 * 3)))
        .collect();
    let actions = ActionInput::from_actions(c.action_space, &acts, Device::Cpu).unwrap();
    (frames, text, mask, actions)
}

fn run(m: &WorldModel, x: &(Tensor, Tensor, Tensor, ActionInput)) -> (Tensor, Tensor) {
    let out = tch::no_grad(|| {
        m.forward(&StepInput {
            frames: &x.0,
            text: &x.1,
            text_mask: &x.2,
            actions: &x.3,
            objects: None,
        })
        .unwrap()
    });
    (out.frames, out.action)
}

fn randomise_adapters(m: &mut WorldModel) {
    tch::no_grad(|| {
        for l in m.lora_layers_mut() {
            l.lora_b.copy_(&(l.lora_b.randn_like() * 0.1));
        }
    });
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

#[test]
fn fresh_model_predicts_the_input_frame_and_zero_b_adapters_change_nothing() {
    one_thread();
    tch::manual_seed(1);
    let c = tiny(EnvKind::Clevr, true);
    let mut m = WorldModel::new(c.clone(), Device::Cpu).unwrap();
    let x = inputs(3, &c);
    let (f0, a0) = run(&m, &x);
    // Zero-initialised visual head: the predicted change is exactly zero.
    assert_eq!(max_diff(&f0, &x.0), 0.0);
    assert_eq!(a0.size(), vec![3, 40]);
    // Changing A while B = 0 leaves outputs unchanged.
    tch::no_grad(|| {
        for l in m.lora_layers_mut() {
            l.lora_a.copy_(&(l.lora_a.randn_like() * 5.0));
        }
    });
    let (f1, a1) = run(&m, &x);
    assert_eq!(max_diff(&f0, &f1), 0.0);
    assert_eq!(max_diff(&a0, &a1), 0.0);
    // Nonzero B does change them (the adapter is live).
    randomise_adapters(&mut m);
    let (_, a2) = run(&m, &x);
    assert!(max_diff(&a0, &a2) > 1e-4);
}

#[test]
fn merged_and_unmerged_outputs_agree() {
    one_thread();
    for mot in [false, true] {
        tch::manual_seed(2);
        let c = tiny(EnvKind::Clevr, mot);
        let mut m = WorldModel::new(c.clone(), Device::Cpu).unwrap();
        randomise_adapters(&mut m);
        // Non-trivial frame head so frames depend on the transformer.
        tch::no_grad(|| {
            for (k, t) in m.var_store().variables() {
                if k.starts_with("heads.frame") {
                    t.shallow_clone().copy_(&(t.randn_like() * 0.05));
                }
            }
        });
        let x = inputs(4, &c);
        let (f0, a0) = run(&m, &x);
        m.merge_lora();
        assert!(m.is_merged());
        let (f1, a1) = run(&m, &x);
        assert!(
            max_diff(&f0, &f1) < 1e-5,
            "frames differ by {}",
            max_diff(&f0, &f1)
        );
        assert!(
            max_diff(&a0, &a1) < 1e-5,
            "actions differ by {}",
            max_diff(&a0, &a1)
        );
        m.unmerge_lora();
        let (f2, _) = run(&m, &x);
        assert!(max_diff(&f0, &f2) < 1e-5);
    }
}

#[test]
fn lora_stage_gives_gradients_only_to_adapters_and_heads() {
    one_thread();
    tch::manual_seed(3);
    let c = tiny(EnvKind::MetaWorld, true);
    let mut m = WorldModel::new(c.clone(), Device::Cpu).unwrap();
    randomise_adapters(&mut m);
    let trainable = m.set_stage(Stage::Lora);
    assert!(
        trainable
            .iter()
            .all(|(k, _)| k.starts_with("lora.") || k.starts_with("heads."))
    );
    let frames = Tensor::rand([2, 3, 16, 16], (Kind::Float, Device::Cpu));
    let text = Tensor::randn([2, 3, c.text_dim], (Kind::Float, Device::Cpu));
    let mask = Tensor::ones([2, 3], (Kind::Float, Device::Cpu));
    let acts = [None, Some(Action::Continuous([0.5, -0.2, 0.1, 1.0]))];
    let actions = ActionInput::from_actions(c.action_space, &acts, Device::Cpu).unwrap();
    let out = m
        .forward(&StepInput {
            frames: &frames,
            text: &text,
            text_mask: &mask,
            actions: &actions,
            objects: None,
        })
        .unwrap();
    let loss = (out.frames - frames.flip([3])).square().mean(Kind::Float)
        + out.action.square().mean(Kind::Float);
    loss.backward();
    let mut with_grad = 0;
    for (k, t) in m.var_store().variables() {
        let g = t.grad();
        let has = g.defined() && g.abs().sum(Kind::Float).double_value(&[]) > 0.0;
        let allowed = k.starts_with("lora.") || k.starts_with("heads.");
        assert!(!has || allowed, "frozen parameter {k} got a gradient");
        if has {
            with_grad += 1;
        }
        if !allowed {
            assert!(!t.requires_grad(), "{k} requires grad in the LoRA stage");
        }
    }
    assert!(with_grad > 0);
    assert!(
        m.set_stage(Stage::Base)
            .iter()
            .all(|(k, _)| !k.starts_with("lora."))
    );
}

#[test]
fn checkpoint_and_adapter_files_round_trip() {
    one_thread();
    tch::manual_seed(4);
    let c = tiny(EnvKind::Clevr, true);
    let mut m = WorldModel::new(c.clone(), Device::Cpu).unwrap();
    randomise_adapters(&mut m);
    let x = inputs(2, &c);
    let (f0, a0) = run(&m, &x);
    let dir = std::env::temp_dir().join(format!("vlgor_wm_ckpt_{}", std::process::id()));
    m.save(&dir).unwrap();
    let back = WorldModel::load(&dir, Device::Cpu).unwrap();
    // Every variable comes back bit-identical ...
    let (va, vb) = (m.var_store().variables(), back.var_store().variables());
    assert_eq!(va.len(), vb.len());
    for (k, t) in &va {
        assert_eq!(max_diff(t, &vb[k]), 0.0, "{k} differs after the round trip");
    }
    // ... so outputs agree (up to intra-op thread-count reduction order, which other tests in
    // this process may change concurrently).
    let (f1, a1) = run(&back, &x);
    assert!(max_diff(&f0, &f1) < 1e-6);
    assert!(max_diff(&a0, &a1) < 1e-6);
    // Adapters alone: a fresh model with the base weights + the adapter file reproduces outputs.
    let adapters = dir.join("extra_adapters.safetensors");
    m.save_adapters(&adapters).unwrap();
    let mut fresh = WorldModel::load(&dir, Device::Cpu).unwrap();
    tch::no_grad(|| {
        for l in fresh.lora_layers_mut() {
            let _ = l.lora_b.zero_();
        }
    });
    assert!(max_diff(&run(&fresh, &x).1, &a0) > 1e-5);
    fresh.load_adapters(&adapters).unwrap();
    assert_eq!(max_diff(&run(&fresh, &x).1, &a0), 0.0);
    // A file from a different-sized model is rejected with the tensor's name.
    let mut other = WorldModel::new(WorldModelConfig { width: 48, ..c }, Device::Cpu).unwrap();
    let e = other.load_adapters(&adapters).unwrap_err().to_string();
    assert!(e.contains("shape"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn tiny_set(n: usize) -> SampleBatch {
    let mut b = SampleBatch::default();
    let fl = 16 * 16 * 3;
    for i in 0..n {
        let frame: Vec<u8> = (0..fl).map(|k| ((k * 7 + i * 13) % 256) as u8).collect();
        let target: Vec<u8> = (0..fl)
            .map(|k| ((k * 5 + i * 29 + 40) % 256) as u8)
            .collect();
        b.frames.extend(frame);
        b.target_frames.extend(target);
        b.instructions.push(if i % 2 == 0 {
            "push the red ball left".into()
        } else {
            "move blue right".into()
        });
        b.actions
            .push((i % 3 != 0).then_some(Action::Discrete(i as u32)));
        b.has_target_frame.push(i % 3 != 0);
        b.target_actions
            .push(Some(Action::Discrete((i * 7 % 40) as u32)));
    }
    b
}

#[test]
fn base_stage_overfits_a_tiny_set() {
    one_thread();
    tch::manual_seed(5);
    let c = tiny(EnvKind::Clevr, true);
    let mut m = WorldModel::new(c, Device::Cpu).unwrap();
    let mut data = tiny_set(6);
    let mut text = HashedText { dim: 16 };
    let opts = TrainOptions {
        epochs: 250,
        batch_size: 6,
        learning_rate: 2e-3,
        ..Default::default()
    };
    let r = train(&mut m, &mut text, &mut data, &opts).unwrap();
    let first = r.epoch_losses[0];
    let last = *r.epoch_losses.last().unwrap();
    assert!(
        last[1] < 0.05 * first[1],
        "frame loss {} -> {}",
        first[1],
        last[1]
    );
    assert!(last[2] < 0.05, "action loss {} -> {}", first[2], last[2]);
    assert!(r.trainable_parameters < r.total_parameters);
}

#[test]
fn lora_stage_trains_without_touching_the_backbone() {
    one_thread();
    tch::manual_seed(6);
    let c = tiny(EnvKind::Clevr, true);
    let mut m = WorldModel::new(c, Device::Cpu).unwrap();
    let before: Vec<(String, Tensor)> = m
        .var_store()
        .variables()
        .into_iter()
        .map(|(k, t)| (k, t.copy()))
        .collect();
    let mut data = tiny_set(6);
    let mut text = HashedText { dim: 16 };
    let opts = TrainOptions {
        stage: Stage::Lora,
        epochs: 60,
        batch_size: 6,
        learning_rate: 3e-3,
        ..Default::default()
    };
    let r = train(&mut m, &mut text, &mut data, &opts).unwrap();
    assert!(
        r.epoch_losses.last().unwrap()[0] < 0.5 * r.epoch_losses[0][0],
        "{:?}",
        r.epoch_losses
    );
    let now = m.var_store().variables();
    for (k, t) in before {
        let changed = max_diff(&t, &now[&k]) > 0.0;
        if k.starts_with("backbone.") {
            assert!(!changed, "backbone parameter {k} changed");
        }
    }
    assert!(now.keys().any(|k| k.starts_with("lora.")));
}

#[test]
fn bad_inputs_are_errors_naming_the_problem() {
    one_thread();
    let c = tiny(EnvKind::Clevr, false);
    let m = WorldModel::new(c.clone(), Device::Cpu).unwrap();
    let e = ActionInput::from_actions(c.action_space, &[Some(Action::Discrete(40))], Device::Cpu)
        .unwrap_err();
    assert!(e.to_string().contains("action 0"), "{e}");
    let frames = Tensor::rand([1, 3, 8, 8], (Kind::Float, Device::Cpu));
    let x = inputs(1, &c);
    let e = m
        .forward(&StepInput {
            frames: &frames,
            text: &x.1,
            text_mask: &x.2,
            actions: &x.3,
            objects: None,
        })
        .unwrap_err();
    assert!(e.to_string().contains("[B, 3, 16, 16]"), "{e}");
    assert!(
        WorldModelConfig::preset("huge", EnvKind::Clevr)
            .unwrap_err()
            .to_string()
            .contains("cpu_quick")
    );
    let bad = WorldModelConfig { patch_size: 5, ..c };
    assert!(WorldModel::new(bad, Device::Cpu).is_err());
}

/// Every test runs with one intra-op thread (set before any computation): bit-exact comparisons
/// then cannot see a thread-count change made by a concurrent test, and on a busy shared machine
/// one thread is several times faster than two.
fn one_thread() {
    tch::set_num_threads(1);
}

/// Removes the `env` key of a checkpoint's `config.json` (at `pointer`), as every release before
/// configs recorded their simulator wrote it.
fn strip_env(config_json: &std::path::Path, pointer: &str) {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(config_json).unwrap()).unwrap();
    let fields = v.pointer_mut(pointer).unwrap().as_object_mut().unwrap();
    assert!(fields.remove("env").is_some(), "the config records its env");
    std::fs::write(config_json, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

#[test]
fn checkpoints_record_their_env_and_old_ones_load_with_the_env_of_their_actions() {
    one_thread();
    for env in [EnvKind::Clevr, EnvKind::MetaWorld] {
        tch::manual_seed(5);
        let mut m = WorldModel::new(tiny(env, false), Device::Cpu).unwrap();
        let dir = tempfile::tempdir().unwrap();
        m.save(dir.path()).unwrap();
        let config = dir.path().join("config.json");
        let text = std::fs::read_to_string(&config).unwrap();
        assert!(text.contains(&format!("\"env\": \"{env}\"")), "{text}");
        assert_eq!(
            WorldModel::load(dir.path(), Device::Cpu)
                .unwrap()
                .config()
                .env,
            env
        );
        strip_env(&config, "");
        let old = WorldModel::load(dir.path(), Device::Cpu).unwrap();
        assert_eq!(old.config().env, env, "an old {env} checkpoint");
    }
    // A config whose env contradicts its action space is refused with both named.
    let mut m = WorldModel::new(tiny(EnvKind::Clevr, false), Device::Cpu).unwrap();
    let dir = tempfile::tempdir().unwrap();
    m.save(dir.path()).unwrap();
    let config = dir.path().join("config.json");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("\"env\": \"clevr\"", "\"env\": \"metaworld\""),
    )
    .unwrap();
    let e = WorldModel::load(dir.path(), Device::Cpu)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("config.json") && e.contains("metaworld"), "{e}");
}
