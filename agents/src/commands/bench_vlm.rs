//! `vlgor bench vlm`: world-model training samples/s (base and LoRA stages, batch of the preset)
//! and imagined frames/s (batched autoregressive imagination), on rendered rollouts, for every
//! visual head the simulator supports.

use serde_json::{Value, json};
use std::time::Instant;
use vlgor_render::Renderer;
use vlgor_sim::{EnvKind, Level};
use vlgor_vlm::SentenceEncoder;
use vlgor_vlm::world_model::{
    CachedText, RolloutPlan, SampleBatch, SampleProvider, Stage, StateCanvas, TextSource,
    TrainOptions, VisualHead, WorldModel, WorldModelConfig, imagine, objects,
    render_rollout_samples, train,
};

use crate::context::Context;
use crate::error::CliError;
use crate::vlm_run::{renderer, vlm_error};
use vlgor_sim::EnvSpec;

/// The heads a simulator's world model can use.
fn heads(env: EnvKind) -> Vec<VisualHead> {
    VisualHead::ALL
        .into_iter()
        .filter(|h| match h {
            VisualHead::Direct => true,
            VisualHead::ObjectState => objects::object_count(env) > 0,
            VisualHead::Transform => false,
        })
        .collect()
}

pub fn run(ctx: &Context, env: EnvKind) -> Result<(), CliError> {
    let v = &ctx.config.vlm;
    let base_cfg = WorldModelConfig::preset(&v.model, env).map_err(vlm_error)?;
    let h = base_cfg.horizon_steps;
    let mut r = renderer(ctx, base_cfg.image_size)?;
    let plan = RolloutPlan {
        env,
        episodes: 96,
        steps: 8 * h,
        horizon_steps: h,
        noise: 0.5,
        seed: ctx.seed,
    };
    let mut samples = render_rollout_samples(&mut r, &plan).map_err(vlm_error)?;
    let encoder =
        SentenceEncoder::from_env(ctx.device).map_err(|e| CliError::Input(e.to_string()))?;
    let mut text = CachedText::new(encoder);
    let heads = heads(env);
    let bar = ctx.progress(heads.len() as u64, "bench vlm");
    let mut per_head = serde_json::Map::new();
    for head in heads {
        let cfg = WorldModelConfig {
            action_loss_weight: v.action_loss_weight,
            visual_head: head,
            ..base_cfg.clone()
        };
        let figures = bench_head(ctx, cfg, &mut samples, &mut text, &mut r)?;
        if !ctx.json {
            println!(
                "{head}: {} parameters; train base {:.1} / LoRA {:.1} samples/s ({} samples, \
                 batch {}); imagine {:.1} frames/s (batch {})",
                figures["parameters"],
                figures["train_base_samples_per_sec"]
                    .as_f64()
                    .unwrap_or(0.0),
                figures["train_samples_per_sec"].as_f64().unwrap_or(0.0),
                samples.len(),
                v.batch_size,
                figures["imagine_frames_per_sec"].as_f64().unwrap_or(0.0),
                v.imagine_batch
            );
        }
        per_head.insert(head.to_string(), figures);
        bar.inc(1);
    }
    bar.finish_and_clear();
    if !ctx.json {
        println!(
            "world model {} ({}x{} frames) on {env}, {:?}, {} torch threads",
            v.model,
            base_cfg.image_size,
            base_cfg.image_size,
            ctx.device,
            tch::get_num_threads()
        );
    }
    // The top-level figures are those of the configured (or the simulator's default) head.
    let main = per_head
        .get(v.visual_head_for(env).name())
        .or_else(|| per_head.get(VisualHead::Direct.name()))
        .cloned()
        .unwrap_or(Value::Null);
    ctx.emit_json(&json!({
        "train_samples_per_sec": main["train_samples_per_sec"],
        "train_base_samples_per_sec": main["train_base_samples_per_sec"],
        "imagine_frames_per_sec": main["imagine_frames_per_sec"],
        "parameters": main["parameters"],
        "heads": per_head,
        "env": env.to_string(),
        "threads": tch::get_num_threads(),
    }));
    Ok(())
}

/// One timed epoch of each training stage and one batch of imagination with a fresh model of
/// `cfg`.
fn bench_head(
    ctx: &Context,
    cfg: WorldModelConfig,
    samples: &mut SampleBatch,
    text: &mut dyn TextSource,
    r: &mut Renderer,
) -> Result<Value, CliError> {
    let v = &ctx.config.vlm;
    tch::manual_seed(ctx.seed as i64);
    let mut model = WorldModel::new(cfg.clone(), ctx.device).map_err(vlm_error)?;
    // Warm-up (allocator, text cache), then one timed epoch per stage.
    let mut warm = samples
        .batch(&(0..v.batch_size.min(samples.len())).collect::<Vec<_>>())
        .map_err(vlm_error)?;
    let opts = TrainOptions {
        stage: Stage::Base,
        epochs: 1,
        batch_size: v.batch_size,
        learning_rate: v.base_lr,
        seed: ctx.seed,
        checkpoint_dir: None,
        first_epoch: 0,
        frame_change_weight: v.frame_change_weight,
    };
    train(&mut model, text, &mut warm, &opts).map_err(vlm_error)?;
    let base = train(&mut model, text, samples, &opts).map_err(vlm_error)?;
    let lora_opts = TrainOptions {
        stage: Stage::Lora,
        learning_rate: v.lora_lr,
        ..opts
    };
    let lora = train(&mut model, text, samples, &lora_opts).map_err(vlm_error)?;
    model.merge_lora();
    // Imagination from fresh seeded start states of the simulator.
    let n = v.imagine_batch;
    let spec = EnvSpec::first_of(cfg.env);
    let mut env = spec.make();
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(ctx.seed);
    let mut states = Vec::with_capacity(n);
    let mut initial = Vec::new();
    let mut texts = Vec::with_capacity(n);
    let mut goals = Vec::with_capacity(n);
    for i in 0..n {
        let ins = spec.sample_instruction(Level::Seen, &mut rng);
        env.reset(ctx.seed.wrapping_add(i as u64), &ins)?;
        let state = env.state();
        let camera = env.cameras()[0];
        initial.extend(
            vlgor_render::render_states(&mut *env, &state, state.len(), camera, r)
                .map_err(|e| CliError::Other(e.into()))?,
        );
        states.push(state);
        goals.push(ins.goal.clone());
        texts.push(ins.text);
    }
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let mut canvas = StateCanvas::new(r, states, goals).map_err(vlm_error)?;
    let t = Instant::now();
    let out = imagine(
        &model,
        text,
        &texts,
        &initial,
        v.imagine_horizon,
        None,
        Some(&mut canvas),
    )
    .map_err(vlm_error)?;
    let secs = t.elapsed().as_secs_f64();
    let frames: usize = out.frames.iter().map(|f| f.len() - 1).sum();
    Ok(json!({
        "train_samples_per_sec": lora.samples_per_second,
        "train_base_samples_per_sec": base.samples_per_second,
        "imagine_frames_per_sec": frames as f64 / secs.max(1e-9),
        "parameters": model.parameter_count(""),
    }))
}
