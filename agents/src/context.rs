//! What every command receives: the parsed global flags, the loaded configuration, the torch
//! device and whether progress bars are shown.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

use crate::cli::{DeviceArg, GlobalArgs};
use crate::config::Config;
use crate::error::CliError;

pub struct Context {
    pub seed: u64,
    /// Name of the preset the configuration came from.
    pub preset: String,
    pub config: Config,
    pub device: tch::Device,
    pub json: bool,
    show_progress: bool,
}

impl Context {
    /// `env`: the simulator the command runs on, when it names one (its `[metaworld.*]`
    /// overrides apply).
    pub fn new(global: &GlobalArgs, env: Option<vlgor_sim::EnvKind>) -> Result<Context, CliError> {
        let mut config = Config::load(&global.preset, global.config.as_deref())?;
        if let Some(env) = env {
            config = config.for_env(env)?;
        }
        if let Some(n) = global.threads {
            if n == 0 {
                return Err(CliError::Input("--threads must be at least 1".into()));
            }
            tch::set_num_threads(n as i32);
            // Ignore the error of a second initialisation (tests call this more than once).
            let _ = rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build_global();
        }
        let device = match global.device {
            DeviceArg::Cpu => tch::Device::Cpu,
            DeviceArg::Auto => tch::Device::cuda_if_available(),
            DeviceArg::Cuda => {
                if !tch::Cuda::is_available() {
                    return Err(CliError::Input(
                        "--device cuda: libtorch sees no CUDA GPU here; use --device auto or cpu"
                            .into(),
                    ));
                }
                tch::Device::Cuda(0)
            }
        };
        tracing::info!(?device, preset = %global.preset, seed = global.seed, "vlgor starting");
        Ok(Context {
            seed: global.seed,
            preset: global.preset.clone(),
            config,
            device,
            json: global.json,
            show_progress: !global.json && !global.quiet && std::io::stderr().is_terminal(),
        })
    }

    /// The quick preset on the CPU, one thread, quiet (unit tests).
    #[cfg(test)]
    pub fn quick_for_tests(env: Option<vlgor_sim::EnvKind>) -> Context {
        Context::new(
            &GlobalArgs {
                seed: 0,
                device: DeviceArg::Cpu,
                threads: Some(1),
                preset: "quick".into(),
                config: None,
                json: true,
                verbose: 0,
                quiet: true,
            },
            env,
        )
        .expect("the quick preset loads")
    }

    /// The same context with another seed (the pipeline's per-seed runs).
    pub fn with_seed(&self, seed: u64) -> Context {
        Context {
            seed,
            preset: self.preset.clone(),
            config: self.config.clone(),
            device: self.device,
            json: self.json,
            show_progress: self.show_progress,
        }
    }

    /// The same device and output flags with another configuration, seed and preset name
    /// (a planned pipeline directory's stored settings).
    pub fn with_settings(&self, config: Config, seed: u64, preset: &str) -> Context {
        Context {
            seed,
            preset: preset.to_string(),
            config,
            device: self.device,
            json: self.json,
            show_progress: self.show_progress,
        }
    }

    /// The renderer settings of the configuration.
    pub fn render_config(&self) -> vlgor_render::RenderConfig {
        let r = &self.config.render;
        vlgor_render::RenderConfig {
            width: r.width,
            height: r.height,
            supersample: r.supersample,
        }
    }

    /// A progress bar over `len` items, hidden when not a TTY, with --json or with -q.
    pub fn progress(&self, len: u64, message: &str) -> ProgressBar {
        let bar = ProgressBar::new(len);
        if !self.show_progress {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({per_sec}, eta {eta})")
                .expect("valid progress template")
                .progress_chars("=> "),
        );
        bar.set_message(message.to_string());
        bar
    }

    /// Prints `value` as the last stdout line when --json is set, adding the torch device
    /// and the preset so logged results say where they came from.
    pub fn emit_json(&self, value: &serde_json::Value) {
        if self.json {
            let mut value = value.clone();
            if let Some(map) = value.as_object_mut() {
                map.insert(
                    "device".into(),
                    format!("{:?}", self.device).to_lowercase().into(),
                );
                map.insert("preset".into(), self.preset.clone().into());
            }
            println!("{value}");
        }
    }
}
