//! One-step look-ahead ([`predict_outcomes`]): one perceived state per (start frame,
//! candidate), the same whichever other candidates share the batch, and a clear error where a
//! head cannot produce outcomes.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};
use vlgor_render::{RenderConfig, Renderer};
use vlgor_sim::clevr::ClevrEnv;
use vlgor_sim::{Action, Env, EnvKind, Level};
use vlgor_vlm::world_model::objects::read_objects;
use vlgor_vlm::world_model::{
    Candidates, RolloutPlan, TextSource, TrainOptions, VisualHead, WorldModel, WorldModelConfig,
    WorldModelError, predict_outcomes, render_rollout_samples, train,
};

struct OneToken;

impl TextSource for OneToken {
    fn tokens(&mut self, texts: &[&str]) -> Result<(Tensor, Tensor), WorldModelError> {
        let n = texts.len() as i64;
        Ok((
            Tensor::ones([n, 1, 16], (Kind::Float, Device::Cpu)),
            Tensor::ones([n, 1], (Kind::Float, Device::Cpu)),
        ))
    }
}

fn tiny(head: VisualHead) -> WorldModelConfig {
    WorldModelConfig {
        image_size: 16,
        patch_size: 4,
        width: 32,
        layers: 2,
        heads: 2,
        mlp_ratio: 2,
        text_dim: 16,
        max_text_tokens: 8,
        visual_head: head,
        action_loss_weight: 1.0,
        ..WorldModelConfig::cpu_quick(EnvKind::Clevr)
    }
}

fn renderer() -> Renderer {
    Renderer::new(RenderConfig {
        width: 16,
        height: 16,
        supersample: 1,
    })
    .unwrap()
}

#[test]
fn lookahead_gives_one_outcome_per_candidate_independent_of_the_batch() {
    tch::set_num_threads(1);
    tch::manual_seed(4);
    let mut m = WorldModel::new(tiny(VisualHead::ObjectState), Device::Cpu).unwrap();
    let mut r = renderer();
    let mut data = render_rollout_samples(
        &mut r,
        &RolloutPlan {
            env: EnvKind::Clevr,
            episodes: 4,
            steps: 3,
            horizon_steps: 1,
            noise: 0.5,
            seed: 1,
        },
    )
    .unwrap();
    train(
        &mut m,
        &mut OneToken,
        &mut data,
        &TrainOptions {
            epochs: 10,
            batch_size: 8,
            learning_rate: 3e-3,
            ..Default::default()
        },
    )
    .unwrap();

    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut env = ClevrEnv::new();
    let (mut objects, mut scenes) = (Vec::new(), Vec::new());
    for i in 0..2 {
        let ins = vlgor_sim::clevr::sample_instruction(Level::Seen, &mut rng);
        env.reset(50 + i, &ins).unwrap();
        objects.push(read_objects(EnvKind::Clevr, &env.state()).unwrap());
        scenes.push(env.scene("default").unwrap());
    }
    let frames = r.render_batch(&scenes).unwrap().pixels;
    let texts = ["a", "b"];
    let all: Vec<Vec<Action>> = vec![
        (0..40).map(Action::Discrete).collect(),
        vec![Action::Discrete(3), Action::Discrete(17)],
    ];
    let outcomes = |actions: &[Vec<Action>]| {
        predict_outcomes(
            &m,
            &mut OneToken,
            &Candidates {
                env: EnvKind::Clevr,
                instructions: &texts,
                frames: &frames,
                objects: Some(&objects),
                actions,
            },
            None,
        )
        .unwrap()
    };
    let batched = outcomes(&all);
    assert_eq!(batched[0].len(), 40);
    assert_eq!(batched[1].len(), 2);
    assert!(
        batched.iter().flatten().all(|s| s.len() == 10),
        "ten ball coordinates"
    );
    // Pushes of different balls imagine different outcomes.
    assert_ne!(batched[0][0], batched[0][39]);
    // The same candidate alone gives the same outcome (up to float reassociation).
    let alone = outcomes(&[vec![Action::Discrete(17)], vec![Action::Discrete(17)]]);
    for (a, b) in alone[1][0].iter().zip(&batched[1][1]) {
        assert!(
            (a - b).abs() < 1e-4,
            "{:?} vs {:?}",
            alone[1][0],
            batched[1][1]
        );
    }
    for (a, b) in alone[0][0].iter().zip(&batched[0][17]) {
        assert!(
            (a - b).abs() < 1e-4,
            "{:?} vs {:?}",
            alone[0][0],
            batched[0][17]
        );
    }

    // A frame-predicting head needs a readout; the object head needs the tracked objects.
    let direct = WorldModel::new(tiny(VisualHead::Direct), Device::Cpu).unwrap();
    let e = predict_outcomes(
        &direct,
        &mut OneToken,
        &Candidates {
            env: EnvKind::Clevr,
            instructions: &texts,
            frames: &frames,
            objects: None,
            actions: &all,
        },
        None,
    )
    .unwrap_err();
    assert!(e.to_string().contains("readout"), "{e}");
    let e = predict_outcomes(
        &m,
        &mut OneToken,
        &Candidates {
            env: EnvKind::Clevr,
            instructions: &texts,
            frames: &frames,
            objects: None,
            actions: &all,
        },
        None,
    )
    .unwrap_err();
    assert!(e.to_string().contains("tracked objects"), "{e}");
}
