//! A policy trained outside vlgor, saved as TorchScript (`torch.jit.script(p).save(...)`), acting
//! through libtorch's JIT in the same batched loop as a checkpoint.
//!
//! The contract ([`ScriptContract`]): `forward(obs, goal)` with `obs` either states `[N, D]` f32
//! (the simulator's raw observation vector, `Env::observation`) or frames `[N, 3, H, W]` u8
//! (RGB, rendered at the configured size), and `goal` the frozen MiniLM embedding of the
//! instruction `[N, 384]` f32; it returns logits `[N, n]` (discrete actions: the argmax is
//! taken) or actions `[N, dim]` (continuous: clamped to [-1, 1]). Which observation a module
//! takes is found at load time by probing: one forward on a state batch, then (if that fails) one
//! on a frame batch; the first that returns a finite output of the right shape decides.

use std::path::{Path, PathBuf};
use tch::{CModule, Device, Kind, Tensor};
use vlgor_sim::Action;
use vlgor_sim::dataset::ActionSpace;

use crate::RlError;
use crate::observation::{ObsKind, ObsSpec};
use crate::policy::{PolicyObservations, batch_rows, check_len, decode_actions, wrong_form};

/// Rows of the probe batches (more than one, so a module that drops the batch axis is caught).
const PROBE_ROWS: i64 = 2;

/// What a TorchScript policy is fed and must return, for one environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScriptContract {
    /// Width of the state vector `D` (CLEVR 10, Meta-World 39).
    pub state_dim: usize,
    /// Frame `(height, width)` of image observations (the configured render size).
    pub frame: (usize, usize),
    /// Width of the goal embedding (all-MiniLM-L6-v2: 384).
    pub goal_dim: usize,
    /// Logits over `n` actions, or `dim` continuous values.
    pub action_space: ActionSpace,
}

impl ScriptContract {
    /// The output shape expected for `n` rows, in words.
    fn expected_output(&self, n: &str) -> String {
        match self.action_space {
            ActionSpace::Discrete { n: a } => format!("[{n}, {a}] logits"),
            ActionSpace::Continuous { dim } => format!("[{n}, {dim}] actions"),
        }
    }

    fn output_width(&self) -> i64 {
        match self.action_space {
            ActionSpace::Discrete { n } => n as i64,
            ActionSpace::Continuous { dim } => dim as i64,
        }
    }
}

/// A TorchScript module acting as a policy.
pub struct ScriptPolicy {
    module: CModule,
    path: PathBuf,
    obs: ObsSpec,
    contract: ScriptContract,
    device: Device,
}

impl std::fmt::Debug for ScriptPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptPolicy")
            .field("path", &self.path)
            .field("obs", &self.obs)
            .finish_non_exhaustive()
    }
}

/// The gist of a libtorch error: its C++ backtrace dropped; for an error raised inside a
/// TorchScript module, the raising line (`RuntimeError: …`) of the interpreter's traceback.
fn first_line(e: &tch::TchError) -> String {
    let text = e.to_string();
    let text = text.split("Exception raised from").next().unwrap_or("");
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let raised = lines
        .iter()
        .rev()
        .find(|l| l.split(':').next().is_some_and(|k| k.ends_with("Error")));
    let line = raised.or(lines.first()).copied();
    let line = line.unwrap_or("unknown libtorch error");
    line.trim_start_matches("Internal torch error: ")
        .to_string()
}

impl ScriptPolicy {
    /// Loads the module at `path` onto `device` and probes which observation it takes. Errors
    /// (never panics) name the file: not TorchScript, a forward that takes neither input form,
    /// an output of the wrong shape, or a non-finite output.
    ///
    /// Turns off libtorch's graph-executor optimisation on this thread, so a module runs the
    /// operations it was scripted with (an exported vlgor checkpoint reproduces its evaluation).
    pub fn load(path: &Path, device: Device, contract: ScriptContract) -> Result<Self, RlError> {
        if !path.is_file() {
            return Err(RlError::checkpoint(path, "no such TorchScript file"));
        }
        tch::jit::f_set_graph_executor_optimize(false)?;
        let mut module = CModule::load_on_device(path, device).map_err(|e| {
            RlError::checkpoint(
                path,
                format!(
                    "not a TorchScript module (save one with torch.jit.script(policy).save(PATH)): {}",
                    first_line(&e)
                ),
            )
        })?;
        module.f_set_eval()?;
        let mut policy = ScriptPolicy {
            module,
            path: path.to_path_buf(),
            obs: ObsSpec::State {
                dim: contract.state_dim,
            },
            contract,
            device,
        };
        let (h, w) = contract.frame;
        let candidates = [
            ObsSpec::State {
                dim: contract.state_dim,
            },
            ObsSpec::Image {
                height: h,
                width: w,
            },
        ];
        let mut refusals: Vec<(ObsSpec, String)> = Vec::new();
        for obs in candidates {
            policy.obs = obs;
            match policy.probe() {
                Ok(()) => return Ok(policy),
                Err(why) => refusals.push((obs, why)),
            }
        }
        let refusals: Vec<String> = match refusals.as_slice() {
            [(_, a), (_, b)] if a == b => vec![format!("with either input form: {a}")],
            all => all
                .iter()
                .map(|(obs, why)| format!("{}: {why}", describe_input(*obs)))
                .collect(),
        };
        Err(RlError::checkpoint(
            path,
            format!(
                "forward(obs, goal [N, {}] f32) must return {} for one of the input forms; {}",
                contract.goal_dim,
                contract.expected_output("N"),
                refusals.join("; ")
            ),
        ))
    }

    /// One forward on a fixed probe batch of the current observation form.
    fn probe(&self) -> Result<(), String> {
        let n = PROBE_ROWS as usize;
        let obs = match self.obs {
            ObsSpec::State { dim } => {
                Tensor::from_slice(&vec![0.1f32; n * dim]).view([PROBE_ROWS, dim as i64])
            }
            ObsSpec::Image { height, width } => Tensor::from_slice(&vec![
                128u8;
                n * height * width * 3
            ])
            .view([PROBE_ROWS, 3, height as i64, width as i64]),
        };
        // A unit vector, as the sentence encoder's embeddings are.
        let g = self.contract.goal_dim;
        let goal =
            Tensor::from_slice(&vec![1.0 / (g as f32).sqrt(); n * g]).view([PROBE_ROWS, g as i64]);
        self.forward(&obs, &goal).map(|_| ())
    }

    /// The module's output for `obs` and `goals` (any device), checked: shape `[B, width]`,
    /// finite; returned as f32 on the CPU.
    fn forward(&self, obs: &Tensor, goals: &Tensor) -> Result<Tensor, String> {
        let b = goals.size().first().copied().unwrap_or(0);
        let torch = |e: tch::TchError| first_line(&e);
        let inputs = [
            obs.f_to_device(self.device).map_err(torch)?,
            goals
                .f_to_device(self.device)
                .and_then(|g| g.f_to_kind(Kind::Float))
                .map_err(torch)?,
        ];
        let out = tch::no_grad(|| self.module.forward_ts(&inputs)).map_err(|e| {
            let msg = first_line(&e);
            if msg.contains("argument") {
                format!("forward must take (obs, goal): {msg}")
            } else {
                msg
            }
        })?;
        let size = out.size();
        let width = self.contract.output_width();
        if size != [b, width] {
            return Err(format!(
                "output shape {size:?}, expected {}",
                self.contract.expected_output(&b.to_string())
            ));
        }
        let out = out
            .f_to_device(Device::Cpu)
            .and_then(|t| t.f_to_kind(Kind::Float))
            .and_then(|t| t.f_contiguous())
            .map_err(torch)?;
        let values = out
            .f_view([-1])
            .and_then(|v| Vec::<f32>::try_from(&v))
            .map_err(torch)?;
        if let Some(v) = values.iter().find(|v| !v.is_finite()) {
            return Err(format!("output holds a non-finite value ({v})"));
        }
        Ok(out)
    }

    /// The file loaded.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn obs_kind(&self) -> ObsKind {
        self.obs.kind()
    }

    /// Frame `(height, width)` for modules that take frames.
    pub fn frame_shape(&self) -> Option<(usize, usize)> {
        match self.obs {
            ObsSpec::Image { height, width } => Some((height, width)),
            ObsSpec::State { .. } => None,
        }
    }

    pub fn device(&self) -> Device {
        self.device
    }

    /// Greedy actions for `B` episodes, as [`crate::Policy::act_batch`]: `obs` (states
    /// unnormalised; frames `B·H·W·3` bytes, fed as `[B, 3, H, W]`), `goals: [B, goal_dim]`.
    /// Errors name the file and what the module returned.
    pub fn act_batch(
        &self,
        obs: PolicyObservations,
        goals: &Tensor,
    ) -> Result<Vec<Action>, RlError> {
        let b = batch_rows(goals, self.contract.goal_dim)?;
        let x = match (obs, self.obs) {
            (PolicyObservations::States(v), ObsSpec::State { dim }) => {
                check_len(v.len(), b, dim, "state values")?;
                Tensor::from_slice(v).f_view([b, dim as i64])?
            }
            (PolicyObservations::Frames(v), ObsSpec::Image { height, width }) => {
                check_len(v.len(), b, height * width * 3, "frame bytes")?;
                Tensor::from_slice(v)
                    .f_view([b, height as i64, width as i64, 3])?
                    .f_permute([0, 3, 1, 2])?
                    .f_contiguous()?
            }
            (_, spec) => return Err(wrong_form(&self.path.display().to_string(), spec)),
        };
        let out = self
            .forward(&x, goals)
            .map_err(|why| RlError::checkpoint(&self.path, why))?;
        let greedy = match self.contract.action_space {
            ActionSpace::Discrete { .. } => out.f_argmax(-1, false)?,
            ActionSpace::Continuous { .. } => out,
        };
        decode_actions(&greedy, self.contract.action_space)
    }
}

/// The probe input of `obs`, in words.
fn describe_input(obs: ObsSpec) -> String {
    match obs {
        ObsSpec::State { dim } => format!("with states [N, {dim}] f32"),
        ObsSpec::Image { height, width } => {
            format!("with frames [N, 3, {height}, {width}] u8")
        }
    }
}
