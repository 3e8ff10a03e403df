//! Measurements at CPU scale, printed to stderr (`cargo bench -p vlgor-vlm --bench world_model`;
//! `BENCH_THREADS`, `BENCH_EPISODES` and the other `BENCH_*` variables below size them):
//! parameter counts, training samples/s on rendered CLEVR rollouts, imagined frames/s,
//! one-step PSNR/SSIM on held-out rollouts, readout error, per-step timing.
//! `vlgor bench vlm` measures the training and imagination throughput of a preset.

use std::time::Instant;

use tch::Device;
use vlgor_render::{RenderConfig, Renderer};
use vlgor_sim::EnvKind;
use vlgor_vlm::SentenceEncoder;
use vlgor_vlm::metrics::{psnr, ssim, to_unit};
use vlgor_vlm::perception::{
    LabelledStates, ReadoutKind, ReadoutOptions, StateReadout, render_labelled, train_readout_fresh,
};
use vlgor_vlm::world_model::{
    CachedText, RolloutPlan, SampleBatch, SampleProvider, Stage, StepInput, TrainOptions,
    WorldModel, WorldModelConfig, imagine, render_rollout_samples, train,
};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn cpu_quick_world_model_throughput() {
    tch::set_num_threads(env_usize("BENCH_THREADS", 2) as i32);
    for (name, env) in [("clevr", EnvKind::Clevr), ("metaworld", EnvKind::MetaWorld)] {
        for preset in ["cpu_quick", "paper"] {
            let m = WorldModel::new(WorldModelConfig::preset(preset, env).unwrap(), Device::Cpu)
                .unwrap();
            eprintln!(
                "{name} {preset}: total {} params, backbone {}, heads {}, lora {}",
                m.parameter_count(""),
                m.parameter_count("backbone"),
                m.parameter_count("heads"),
                m.parameter_count("lora")
            );
        }
    }
    let mut renderer = Renderer::new(RenderConfig {
        width: 64,
        height: 64,
        supersample: 2,
    })
    .unwrap();
    let t = Instant::now();
    let plan = RolloutPlan {
        env: EnvKind::Clevr,
        episodes: env_usize("BENCH_EPISODES", 8),
        steps: 20,
        horizon_steps: 1,
        noise: 1.0,
        seed: 1,
    };
    let mut data = render_rollout_samples(&mut renderer, &plan).unwrap();
    let held = render_rollout_samples(
        &mut renderer,
        &RolloutPlan {
            episodes: 8,
            seed: 2,
            ..plan
        },
    )
    .unwrap();
    eprintln!(
        "rendered {} train / {} held-out samples in {:.1} s",
        data.len(),
        held.len(),
        t.elapsed().as_secs_f64()
    );
    let encoder = SentenceEncoder::from_env(Device::Cpu).unwrap();
    let mut text = CachedText::new(encoder);
    tch::manual_seed(0);
    let mut model =
        WorldModel::new(WorldModelConfig::cpu_quick(EnvKind::Clevr), Device::Cpu).unwrap();
    let copy_frame = |d: &SampleBatch| {
        let mut s = 0.0;
        let mut n = 0;
        for i in 0..d.len() {
            if d.has_target_frame[i] {
                let fl = 64 * 64 * 3;
                s += psnr(
                    &to_unit(&d.frames[i * fl..(i + 1) * fl]),
                    &to_unit(&d.target_frames[i * fl..(i + 1) * fl]),
                    1.0,
                )
                .unwrap();
                n += 1;
            }
        }
        s / n as f64
    };
    eprintln!(
        "copy-last-frame PSNR on held-out: {:.2} dB",
        copy_frame(&held)
    );
    let epochs = env_usize("BENCH_EPOCHS", 2);
    let r = train(
        &mut model,
        &mut text,
        &mut data,
        &TrainOptions {
            epochs,
            batch_size: 16,
            learning_rate: 5e-4,
            ..Default::default()
        },
    )
    .unwrap();
    eprintln!(
        "base stage: {} samples in {:.1} s = {:.1} samples/s, trainable {} / {}, losses {:?}",
        r.samples_seen,
        r.seconds,
        r.samples_per_second,
        r.trainable_parameters,
        r.total_parameters,
        r.epoch_losses
    );
    let r = train(
        &mut model,
        &mut text,
        &mut data,
        &TrainOptions {
            stage: Stage::Lora,
            epochs: 1,
            batch_size: 16,
            learning_rate: 1e-3,
            ..Default::default()
        },
    )
    .unwrap();
    eprintln!(
        "lora stage: {:.1} samples/s, trainable {} / {}, losses {:?}",
        r.samples_per_second, r.trainable_parameters, r.total_parameters, r.epoch_losses
    );
    // One-step prediction quality on held-out samples.
    let idx: Vec<usize> = (0..held.len())
        .filter(|&i| held.has_target_frame[i])
        .collect();
    let mut held_p = held.clone();
    let b = held_p.batch(&idx).unwrap();
    let texts: Vec<&str> = b.instructions.iter().map(String::as_str).collect();
    let (tok, mask) = vlgor_vlm::world_model::TextSource::tokens(&mut text, &texts).unwrap();
    let frames =
        vlgor_vlm::world_model::train::frames_to_tensor(&b.frames, b.len(), 64, Device::Cpu);
    let acts = vlgor_vlm::world_model::ActionInput::from_actions(
        model.config().action_space,
        &b.actions,
        Device::Cpu,
    )
    .unwrap();
    let out = tch::no_grad(|| {
        model
            .forward(&StepInput {
                frames: &frames,
                text: &tok,
                text_mask: &mask,
                actions: &acts,
                objects: None,
            })
            .unwrap()
    });
    let pred = vlgor_vlm::world_model::train::tensor_to_frames(&out.frames);
    let fl = 64 * 64 * 3;
    let (mut p, mut s) = (0.0, 0.0);
    for i in 0..b.len() {
        let (x, y) = (
            to_unit(&pred[i * fl..(i + 1) * fl]),
            to_unit(&b.target_frames[i * fl..(i + 1) * fl]),
        );
        p += psnr(&x, &y, 1.0).unwrap();
        s += ssim(&x, &y, 64, 64, 3, 1.0).unwrap();
    }
    eprintln!(
        "held-out one-step PSNR {:.2} dB, SSIM {:.4}",
        p / b.len() as f64,
        s / b.len() as f64
    );
    // Imagination throughput.
    model.merge_lora();
    let n = 16;
    let fl = 64 * 64 * 3;
    let firsts: Vec<usize> = (0..held.len())
        .filter(|&i| !held.has_target_frame[i])
        .take(n)
        .collect();
    let mut init = Vec::new();
    let mut ins = Vec::new();
    for &i in &firsts {
        init.extend_from_slice(&held.frames[i * fl..(i + 1) * fl]);
        ins.push(held.instructions[i].as_str());
    }
    let t = Instant::now();
    let steps = 10;
    let r = imagine(&model, &mut text, &ins, &init, steps, None, None).unwrap();
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "imagined {} rollouts x {steps} steps in {secs:.2} s = {:.1} frames/s",
        r.frames.len(),
        (r.frames.len() * steps) as f64 / secs
    );
}

fn cpu_readout_error() {
    tch::set_num_threads(env_usize("BENCH_THREADS", 2) as i32);
    let size = env_usize("READOUT_SIZE", 64) as u32;
    let mut renderer = Renderer::new(RenderConfig {
        width: size,
        height: size,
        supersample: 2,
    })
    .unwrap();
    let kind = match std::env::var("READOUT_ENV").as_deref() {
        Ok("metaworld") => ReadoutKind::MetaWorld,
        _ => ReadoutKind::Clevr,
    };
    tch::manual_seed(0);
    let mut readout = StateReadout::new(kind, size as i64, Device::Cpu).unwrap();
    let opts = ReadoutOptions {
        epochs: env_usize("READOUT_EPOCHS", 20),
        batch_size: 32,
        learning_rate: 1e-3,
        seed: 0,
    };
    let per_epoch = env_usize("READOUT_N", 2000);
    let t = Instant::now();
    let steps = env_usize(
        "READOUT_STEPS",
        if kind == ReadoutKind::Clevr { 5 } else { 150 },
    );
    let states = LabelledStates::near_reset(steps);
    let r = train_readout_fresh(&mut readout, &mut renderer, per_epoch, states, &opts).unwrap();
    eprintln!(
        "fresh-data training incl. rendering: {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let test_set = render_labelled(kind, &mut renderer, 300, 1_000_000, states).unwrap();
    let err = readout
        .position_error(&test_set.pixels, &test_set.states)
        .unwrap();
    eprintln!(
        "{kind:?} readout ({} params): train {:.1} s, train error {:.4} m, held-out error {:.4} m, last loss {:.2e}",
        readout.parameter_count(),
        r.seconds,
        r.train_error_m,
        err,
        r.epoch_losses.last().unwrap()
    );
}

fn cpu_step_timing() {
    use tch::{Kind, Tensor};
    use vlgor_sim::Action;
    use vlgor_vlm::world_model::ActionInput;
    for threads in [1, 2] {
        tch::set_num_threads(threads);
        for mot in [true, false] {
            tch::manual_seed(0);
            let c = WorldModelConfig {
                mixture_of_transformers: mot,
                ..WorldModelConfig::cpu_quick(EnvKind::Clevr)
            };
            let m = WorldModel::new(c.clone(), Device::Cpu).unwrap();
            let frames = Tensor::rand([16, 3, 64, 64], (Kind::Float, Device::Cpu));
            let text = Tensor::randn([16, 14, 384], (Kind::Float, Device::Cpu));
            let mask = Tensor::ones([16, 14], (Kind::Float, Device::Cpu));
            let acts = ActionInput::from_actions(
                c.action_space,
                &[Some(Action::Discrete(3)); 16],
                Device::Cpu,
            )
            .unwrap();
            let step = || {
                let out = m
                    .forward(&StepInput {
                        frames: &frames,
                        text: &text,
                        text_mask: &mask,
                        actions: &acts,
                        objects: None,
                    })
                    .unwrap();
                (out.frames.square().mean(Kind::Float) + out.action.square().mean(Kind::Float))
                    .backward();
            };
            step();
            let t = Instant::now();
            for _ in 0..3 {
                step();
            }
            let train = t.elapsed().as_secs_f64() / 3.0;
            let t = Instant::now();
            for _ in 0..3 {
                tch::no_grad(|| {
                    m.forward(&StepInput {
                        frames: &frames,
                        text: &text,
                        text_mask: &mask,
                        actions: &acts,
                        objects: None,
                    })
                    .unwrap()
                });
            }
            let fwd = t.elapsed().as_secs_f64() / 3.0;
            eprintln!(
                "threads {threads} mot {mot}: batch 16 train step {train:.3} s, forward {fwd:.3} s"
            );
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument names the measurements to run.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let runs: [(&str, fn()); 3] = [
        ("throughput", cpu_quick_world_model_throughput),
        ("readout", cpu_readout_error),
        ("step", cpu_step_timing),
    ];
    for (name, run) in runs {
        if only.is_empty() || only.iter().any(|o| name.contains(o.as_str())) {
            eprintln!("== {name}");
            run();
        }
    }
}
