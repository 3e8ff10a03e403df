//! `vlgor bench vlm`: world-model training samples/s (LoRA stage, batch of the preset) and
//! imagined frames/s (batched autoregressive imagination), on rendered CLEVR rollouts.

use serde_json::json;
use std::time::Instant;
use vlgor_sim::EnvKind;
use vlgor_vlm::SentenceEncoder;
use vlgor_vlm::world_model::{
    CachedText, RolloutPlan, SampleProvider, Stage, TrainOptions, WorldModel, WorldModelConfig,
    imagine, render_rollout_samples, train,
};

use crate::context::Context;
use crate::error::CliError;
use crate::vlm_run::{renderer, vlm_error};

pub fn run(ctx: &Context, env: EnvKind) -> Result<(), CliError> {
    let v = &ctx.config.vlm;
    tch::manual_seed(ctx.seed as i64);
    let mut cfg = WorldModelConfig::preset(&v.model, env).map_err(vlm_error)?;
    cfg.action_loss_weight = v.action_loss_weight;
    let h = cfg.horizon_steps;
    let mut model = WorldModel::new(cfg.clone(), ctx.device).map_err(vlm_error)?;
    let mut r = renderer(ctx, cfg.image_size)?;
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
    let bar = ctx.progress(3, "bench vlm");
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
    train(&mut model, &mut text, &mut warm, &opts).map_err(vlm_error)?;
    let base = train(&mut model, &mut text, &mut samples, &opts).map_err(vlm_error)?;
    bar.inc(1);
    let lora = train(
        &mut model,
        &mut text,
        &mut samples,
        &TrainOptions {
            stage: Stage::Lora,
            learning_rate: v.lora_lr,
            ..opts.clone()
        },
    )
    .map_err(vlm_error)?;
    bar.inc(1);
    model.merge_lora();
    let n = v.imagine_batch;
    let fl = (cfg.image_size * cfg.image_size * 3) as usize;
    let initial: Vec<u8> = (0..n)
        .flat_map(|i| {
            samples.frames[(i % samples.len()) * fl..(i % samples.len() + 1) * fl].to_vec()
        })
        .collect();
    let texts: Vec<&str> = (0..n)
        .map(|i| samples.instructions[i % samples.len()].as_str())
        .collect();
    let t = Instant::now();
    let out =
        imagine(&model, &mut text, &texts, &initial, v.imagine_horizon, None).map_err(vlm_error)?;
    let secs = t.elapsed().as_secs_f64();
    let frames: usize = out.frames.iter().map(|f| f.len() - 1).sum();
    bar.finish_and_clear();
    let imagine_fps = frames as f64 / secs.max(1e-9);
    if !ctx.json {
        println!(
            "world model {} ({} parameters, {}x{} frames) on {env}, {:?}, {} torch threads",
            v.model,
            model.parameter_count(""),
            cfg.image_size,
            cfg.image_size,
            ctx.device,
            tch::get_num_threads()
        );
        println!(
            "train: base stage {:.1} samples/s, LoRA stage {:.1} samples/s ({} samples, batch {})",
            base.samples_per_second,
            lora.samples_per_second,
            samples.len(),
            v.batch_size
        );
        println!("imagine: {imagine_fps:.1} frames/s ({frames} frames, batch {n})");
    }
    ctx.emit_json(&json!({
        "train_samples_per_sec": lora.samples_per_second,
        "train_base_samples_per_sec": base.samples_per_second,
        "imagine_frames_per_sec": imagine_fps,
        "parameters": model.parameter_count(""),
        "env": env.to_string(),
        "threads": tch::get_num_threads(),
    }));
    Ok(())
}
