//! `vlgor view`: the debugging window, live (a policy acting in the simulator) or replaying
//! stored rollouts, with a split mode that shows a second rollout (e.g. imagined) beside it.
//! Keys: Space pause, N/→ single step, C camera, S split, R reset, Esc/Q quit.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use vlgor_render::viewer::{self, ViewerOptions, ViewerSource};
use vlgor_render::{Frame, RenderConfig};
use vlgor_sim::dataset::Dataset;
use vlgor_sim::{Env, Level, Scene};

use crate::cli::{PolicyArg, ViewArgs};
use crate::context::Context;
use crate::ecs::Scripted;
use crate::error::CliError;
use crate::policies::LoadedPolicy;
use vlgor_sim::EnvSpec;

pub fn run(ctx: &Context, args: &ViewArgs) -> Result<(), CliError> {
    if args.size < 16 || args.size > 2048 {
        return Err(CliError::Input(format!(
            "--size {}: must be in 16..=2048",
            args.size
        )));
    }
    if !(args.fps > 0.0 && args.fps <= 120.0) {
        return Err(CliError::Input(format!(
            "--fps {}: must be in (0, 120]",
            args.fps
        )));
    }
    let spec = EnvSpec::select(args.env.env, args.task.map(vlgor_sim::TaskChoice::One))?[0];
    let mut source: Box<dyn ViewerSource> = match &args.rollout {
        Some(dir) => Box::new(ReplaySource::open(
            spec,
            dir,
            args.compare.as_deref(),
            args.episode,
        )?),
        None => {
            let actor = match &args.policy {
                PolicyArg::Expert => Actor::Scripted(Scripted::Expert { noise: 0.0 }),
                PolicyArg::Random => Actor::Scripted(Scripted::Random),
                PolicyArg::Trained(path) => {
                    Actor::Learned(Box::new(LearnedActor::load(ctx, spec, path)?))
                }
                PolicyArg::TorchScript(path) => {
                    Actor::Learned(Box::new(LearnedActor::load_torchscript(ctx, spec, path)?))
                }
            };
            Box::new(LiveSource::new(spec, actor, ctx.seed)?)
        }
    };
    if let Some(cam) = &args.camera {
        select_camera(&mut *source, spec, cam)?;
    }
    let options = ViewerOptions {
        render: RenderConfig {
            width: args.size,
            height: args.size,
            supersample: 2,
        },
        fps: args.fps,
        max_frames: args.max_frames,
        ..ViewerOptions::default()
    };
    let report = viewer::run(&mut *source, options).map_err(|e| match e {
        vlgor_render::RenderError::Viewer(msg) => CliError::Input(msg),
        other => CliError::Other(other.into()),
    })?;
    tracing::info!(?report, "viewer closed");
    Ok(())
}

/// Cycles the source's camera until it shows `name`; an unknown name lists the valid ones.
fn select_camera(source: &mut dyn ViewerSource, spec: EnvSpec, name: &str) -> Result<(), CliError> {
    let cameras = spec.make().cameras();
    let k = cameras.iter().position(|c| *c == name).ok_or_else(|| {
        CliError::Input(format!(
            "--camera {name}: valid cameras: {}",
            cameras.join(", ")
        ))
    })?;
    for _ in 0..k {
        source.cycle_camera();
    }
    Ok(())
}

/// What acts in the live view.
enum Actor {
    Scripted(Scripted),
    Learned(Box<LearnedActor>),
}

/// A trained policy (a checkpoint or a TorchScript module) acting on one env: its goal embedding
/// from the frozen encoder, its observation (state vector, or a frame rendered at the policy's
/// size).
struct LearnedActor {
    policy: LoadedPolicy,
    encoder: vlgor_vlm::SentenceEncoder,
    cache: vlgor_vlm::EmbeddingCache,
    renderer: Option<vlgor_render::Renderer>,
}

impl LearnedActor {
    fn load(
        ctx: &Context,
        spec: EnvSpec,
        path: &std::path::Path,
    ) -> Result<LearnedActor, CliError> {
        if !path.exists() {
            return Err(CliError::Input(format!(
                "--policy {}: not `expert`, `random`, or an existing checkpoint, run directory or TorchScript file",
                path.display()
            )));
        }
        let policy = crate::policies::load(ctx, path, Some(spec.kind().name()))?;
        let encoder = vlgor_vlm::SentenceEncoder::from_env(ctx.device)
            .map_err(|e| CliError::Input(e.to_string()))?;
        LearnedActor::new(ctx, LoadedPolicy::Checkpoint(Box::new(policy)), encoder)
    }

    /// A TorchScript module probed against `spec`'s contract.
    fn load_torchscript(
        ctx: &Context,
        spec: EnvSpec,
        path: &std::path::Path,
    ) -> Result<LearnedActor, CliError> {
        let encoder = vlgor_vlm::SentenceEncoder::from_env(ctx.device)
            .map_err(|e| CliError::Input(e.to_string()))?;
        let policy = crate::policies::load_torchscript(ctx, path, spec, encoder.dim() as usize)?;
        LearnedActor::new(ctx, LoadedPolicy::TorchScript(policy), encoder)
    }

    fn new(
        ctx: &Context,
        policy: LoadedPolicy,
        encoder: vlgor_vlm::SentenceEncoder,
    ) -> Result<LearnedActor, CliError> {
        let renderer = crate::policies::renderer_for(ctx, policy.frame_shape())?;
        Ok(LearnedActor {
            policy,
            encoder,
            cache: Default::default(),
            renderer,
        })
    }

    fn act(&mut self, env: &dyn Env) -> Result<vlgor_sim::Action, String> {
        let goals = self
            .cache
            .get_or_embed(&self.encoder, &[env.instruction().text.as_str()])
            .map_err(|e| e.to_string())?;
        let actions = match &mut self.renderer {
            None => self.policy.act_batch(
                vlgor_rl::PolicyObservations::States(&env.observation()),
                &goals,
            ),
            Some(renderer) => {
                let scene = env.scene(env.cameras()[0]).map_err(|e| e.to_string())?;
                let frame = renderer.render(&scene).map_err(|e| e.to_string())?;
                self.policy
                    .act_batch(vlgor_rl::PolicyObservations::Frames(&frame.pixels), &goals)
            }
        };
        actions
            .map_err(|e| e.to_string())?
            .pop()
            .ok_or_else(|| "policy returned no action".into())
    }
}

/// A policy acting in the simulator; a finished episode restarts with the next seed.
struct LiveSource {
    spec: EnvSpec,
    env: Box<dyn Env>,
    actor: Actor,
    rng: ChaCha8Rng,
    seed: u64,
    episode: u64,
    camera: usize,
    done: bool,
}

impl LiveSource {
    fn new(spec: EnvSpec, actor: Actor, seed: u64) -> Result<LiveSource, CliError> {
        let mut s = LiveSource {
            spec,
            env: spec.make(),
            actor,
            rng: ChaCha8Rng::seed_from_u64(seed),
            seed,
            episode: 0,
            camera: 0,
            done: false,
        };
        s.start_episode()?;
        Ok(s)
    }

    fn start_episode(&mut self) -> Result<(), CliError> {
        let ep_seed = crate::ecs::episode_seed(self.seed, Level::Seen, self.episode as usize);
        let instruction = self
            .spec
            .sample_instruction(Level::Seen, &mut ChaCha8Rng::seed_from_u64(ep_seed));
        tracing::info!(episode = self.episode, instruction = %instruction.text, "new episode");
        self.env.reset(ep_seed, &instruction)?;
        self.done = false;
        Ok(())
    }
}

impl ViewerSource for LiveSource {
    fn title(&self) -> String {
        format!(
            "vlgor — {} — step {} — \"{}\"",
            self.spec.label(),
            self.env.steps(),
            self.env.instruction().text
        )
    }

    /// Current camera, and (for split mode) the next camera of the same state.
    fn frame_scenes(&mut self) -> Vec<Scene> {
        let cams = self.env.cameras();
        [
            cams[self.camera % cams.len()],
            cams[(self.camera + 1) % cams.len()],
        ]
        .iter()
        .filter_map(|c| self.env.scene(c).ok())
        .collect()
    }

    fn step(&mut self) {
        if self.done {
            self.episode += 1;
            if let Err(e) = self.start_episode() {
                tracing::error!("reset failed: {e}");
            }
            return;
        }
        let action = match &mut self.actor {
            Actor::Scripted(Scripted::Expert { noise }) => {
                self.env.expert_action(*noise, &mut self.rng)
            }
            Actor::Scripted(_) => self.env.random_action(&mut self.rng),
            Actor::Learned(actor) => match actor.act(&*self.env) {
                Ok(a) => a,
                Err(e) => {
                    tracing::error!("policy failed: {e}");
                    self.done = true;
                    return;
                }
            },
        };
        match self.env.step(&action) {
            Ok(out) => {
                self.done = out.success
                    || out.terminal
                    || out.timeout
                    || self.env.steps() >= self.env.horizon()
            }
            Err(e) => {
                tracing::error!("step failed: {e}");
                self.done = true;
            }
        }
    }

    fn reset(&mut self) {
        if let Err(e) = self.start_episode() {
            tracing::error!("reset failed: {e}");
        }
    }

    fn cycle_camera(&mut self) {
        self.camera += 1;
    }
}

/// Replays stored rollouts step by step; a second dataset can be shown beside it.
struct ReplaySource {
    data: Dataset,
    compare: Option<Dataset>,
    env: Box<dyn Env>,
    compare_env: Option<Box<dyn Env>>,
    episode: usize,
    step: usize,
    camera: usize,
}

impl ReplaySource {
    fn open(
        spec: EnvSpec,
        dir: &std::path::Path,
        compare: Option<&std::path::Path>,
        episode: usize,
    ) -> Result<ReplaySource, CliError> {
        let load = |d: &std::path::Path| {
            Dataset::open(d, Some(spec.kind().name())).map_err(|e| CliError::Input(e.to_string()))
        };
        let data = load(dir)?;
        if data.manifest.state_dim == 0 {
            return Err(CliError::Input(format!(
                "{}: has no ground-truth states to replay; show it with --compare beside a real dataset",
                dir.display()
            )));
        }
        if episode >= data.episodes.len() {
            return Err(CliError::Input(format!(
                "--episode {episode}: {} holds {} episodes",
                dir.display(),
                data.episodes.len()
            )));
        }
        let compare = compare.map(load).transpose()?;
        let mut s = ReplaySource {
            env: spec.make(),
            compare_env: compare
                .as_ref()
                .filter(|c| c.manifest.state_dim > 0)
                .map(|_| spec.make()),
            data,
            compare,
            episode,
            step: 0,
            camera: 0,
        };
        s.load_episode();
        Ok(s)
    }

    /// Resets the envs to the current episode (its instruction decides the task's objects).
    fn load_episode(&mut self) {
        let meta = &self.data.episodes[self.episode];
        if let Err(e) = self.env.reset(meta.seed, &meta.instruction) {
            tracing::error!("cannot restore episode {}: {e}", meta.index);
        }
        if let (Some(env), Some(c)) = (&mut self.compare_env, &self.compare)
            && let Some(m) = c.episodes.get(self.episode)
            && let Err(e) = env.reset(m.seed, &m.instruction)
        {
            tracing::error!("cannot restore compared episode {}: {e}", m.index);
        }
    }

    fn camera_name(&self) -> &'static str {
        let cams = self.env.cameras();
        cams[self.camera % cams.len()]
    }
}

impl ViewerSource for ReplaySource {
    fn title(&self) -> String {
        let meta = &self.data.episodes[self.episode];
        format!(
            "vlgor replay — episode {} step {}/{} — \"{}\"",
            meta.index, self.step, meta.length, meta.instruction.text
        )
    }

    fn frame_scenes(&mut self) -> Vec<Scene> {
        let camera = self.camera_name();
        let meta = &self.data.episodes[self.episode];
        let mut scenes = vec![];
        if self
            .env
            .set_state(self.data.state(meta.first_row + self.step))
            .is_ok()
            && let Ok(s) = self.env.scene(camera)
        {
            scenes.push(s);
        }
        if let (Some(env), Some(c)) = (&mut self.compare_env, &self.compare)
            && let Some(m) = c.episodes.get(self.episode)
            && env
                .set_state(c.state(m.first_row + self.step.min(m.length)))
                .is_ok()
            && let Ok(s) = env.scene(camera)
        {
            scenes.push(s);
        }
        scenes
    }

    fn imagined_frame(&mut self) -> Option<Frame> {
        let c = self.compare.as_ref()?;
        let spec = c.manifest.frames.as_ref()?;
        let frames = c.frames.as_ref()?;
        let m = c.episodes.get(self.episode)?;
        let n = spec.height * spec.width * 3;
        let row = m.first_row + self.step.min(m.length);
        Some(Frame {
            width: spec.width as u32,
            height: spec.height as u32,
            pixels: frames[row * n..(row + 1) * n].to_vec(),
        })
    }

    fn step(&mut self) {
        self.step += 1;
        if self.step > self.data.episodes[self.episode].length {
            self.step = 0;
            self.episode = (self.episode + 1) % self.data.episodes.len();
            self.load_episode();
        }
    }

    fn reset(&mut self) {
        self.step = 0;
        self.load_episode();
    }

    fn cycle_camera(&mut self) {
        self.camera += 1;
    }
}
