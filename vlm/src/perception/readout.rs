//! [`StateReadout`]: a small CNN that reads object states (metres) from a rendered frame.
//!
//! CLEVR: the five balls' (x, y) (10 values). Meta-World: hand (x, y, z), gripper opening,
//! object point (x, y, z) (7 values, observation entries 0..7). Outputs are regressed in
//! workspace-normalised units [0, 1] (see [`ReadoutKind::bounds`]) and returned in metres.
//! Two coordinate channels (CoordConv) are appended to the RGB input to ease localisation.

use tch::nn::{self, Conv2D, Linear, Module, VarStore};
use tch::{Device, Kind, Tensor};
use vlgor_sim::EnvKind;
use vlgor_sim::clevr::physics::{WALL_X, WALL_Y};

use crate::world_model::WorldModelError;
use crate::world_model::blocks::linear;
use crate::world_model::train::frames_to_tensor;

/// Which state vector a readout produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ReadoutKind {
    Clevr,
    MetaWorld,
}

/// Meta-World workspace bounds used for hand and object positions (m): the union of all tasks'
/// hand bounds.
pub const METAWORLD_LOW: [f32; 3] = [-0.5, 0.40, -0.15];
pub const METAWORLD_HIGH: [f32; 3] = [0.5, 1.0, 0.5];

impl ReadoutKind {
    pub fn for_env(env: EnvKind) -> Self {
        match env {
            EnvKind::Clevr => ReadoutKind::Clevr,
            EnvKind::MetaWorld => ReadoutKind::MetaWorld,
        }
    }

    /// The simulator whose frames this readout reads.
    pub fn env(self) -> EnvKind {
        match self {
            ReadoutKind::Clevr => EnvKind::Clevr,
            ReadoutKind::MetaWorld => EnvKind::MetaWorld,
        }
    }

    /// Values per state.
    pub fn dim(self) -> usize {
        match self {
            ReadoutKind::Clevr => 10,
            ReadoutKind::MetaWorld => 7,
        }
    }

    /// Per-value (low, high) used to normalise to [0, 1]: CLEVR x in the walls' x range, y in the
    /// walls' y range; Meta-World the workspace box, gripper opening in [0, 1].
    pub fn bounds(self) -> Vec<(f32, f32)> {
        match self {
            ReadoutKind::Clevr => (0..10)
                .map(|i| {
                    if i % 2 == 0 {
                        (WALL_X[0], WALL_X[1])
                    } else {
                        (WALL_Y[0], WALL_Y[1])
                    }
                })
                .collect(),
            ReadoutKind::MetaWorld => {
                let p = |i: usize| (METAWORLD_LOW[i], METAWORLD_HIGH[i]);
                vec![p(0), p(1), p(2), (0.0, 1.0), p(0), p(1), p(2)]
            }
        }
    }

    /// Index groups forming positions for the error metric (CLEVR: 5 balls' xy; Meta-World: hand
    /// xyz and object xyz).
    pub fn positions(self) -> Vec<Vec<usize>> {
        match self {
            ReadoutKind::Clevr => (0..5).map(|b| vec![2 * b, 2 * b + 1]).collect(),
            ReadoutKind::MetaWorld => vec![vec![0, 1, 2], vec![4, 5, 6]],
        }
    }
}

/// The readout CNN: 4 stride-2 convolutions (32, 64, 64, 128 channels) + 2 linear layers.
pub struct StateReadout {
    pub(crate) vs: VarStore,
    kind: ReadoutKind,
    image_size: i64,
    convs: Vec<Conv2D>,
    fc1: Linear,
    fc2: Linear,
    low: Tensor,
    span: Tensor,
}

impl StateReadout {
    /// A fresh readout for `image_size`-px frames (a multiple of 16, >= 16).
    pub fn new(
        kind: ReadoutKind,
        image_size: i64,
        device: Device,
    ) -> Result<Self, WorldModelError> {
        if image_size < 16 || image_size % 16 != 0 {
            return Err(WorldModelError::BadInput(format!(
                "readout image_size {image_size} must be a multiple of 16 and >= 16"
            )));
        }
        let vs = VarStore::new(device);
        let root = vs.root();
        let cfg = nn::ConvConfig {
            stride: 2,
            padding: 1,
            ..Default::default()
        };
        let chans = [5, 32, 64, 64, 128];
        let convs = (0..4)
            .map(|i| nn::conv2d(&root / "conv" / i, chans[i], chans[i + 1], 3, cfg))
            .collect();
        let side = image_size / 16;
        let fc1 = linear(&root / "fc1", 128 * side * side, 256);
        let fc2 = linear(&root / "fc2", 256, kind.dim() as i64);
        let b = kind.bounds();
        let low: Vec<f32> = b.iter().map(|x| x.0).collect();
        let span: Vec<f32> = b.iter().map(|x| x.1 - x.0).collect();
        Ok(StateReadout {
            kind,
            image_size,
            convs,
            fc1,
            fc2,
            low: Tensor::from_slice(&low).to_device(device),
            span: Tensor::from_slice(&span).to_device(device),
            vs,
        })
    }

    pub fn kind(&self) -> ReadoutKind {
        self.kind
    }

    pub fn image_size(&self) -> i64 {
        self.image_size
    }

    pub fn device(&self) -> Device {
        self.vs.device()
    }

    pub fn parameter_count(&self) -> i64 {
        self.vs
            .trainable_variables()
            .iter()
            .map(|t| t.numel() as i64)
            .sum()
    }

    /// Normalised prediction [B, dim] for frames f32 [B, 3, H, W] in [0, 1].
    pub fn forward_normalised(&self, frames: &Tensor) -> Tensor {
        let (b, h, w) = (frames.size()[0], frames.size()[2], frames.size()[3]);
        let opts = (Kind::Float, frames.device());
        let ys = Tensor::linspace(-1.0, 1.0, h, opts)
            .view([1, 1, h, 1])
            .expand([b, 1, h, w], false);
        let xs = Tensor::linspace(-1.0, 1.0, w, opts)
            .view([1, 1, 1, w])
            .expand([b, 1, h, w], false);
        let mut x = Tensor::cat(&[frames * 2.0 - 1.0, xs, ys], 1);
        for c in &self.convs {
            x = c.forward(&x).relu();
        }
        x.flatten(1, -1).apply(&self.fc1).relu().apply(&self.fc2)
    }

    /// Metres to normalised units.
    pub fn normalise(&self, states: &Tensor) -> Tensor {
        (states - &self.low) / &self.span
    }

    /// States in metres for frames f32 [B, 3, H, W] in [0, 1], one Vec per frame.
    pub fn read_tensor(&self, frames: &Tensor) -> Result<Vec<Vec<f32>>, WorldModelError> {
        let s = frames.size();
        if s.len() != 4 || s[1] != 3 || s[2] != self.image_size || s[3] != self.image_size {
            return Err(WorldModelError::BadInput(format!(
                "readout frames have shape {s:?}; expected [B, 3, {0}, {0}]",
                self.image_size
            )));
        }
        let out = tch::no_grad(|| self.forward_normalised(frames) * &self.span + &self.low);
        let flat = Vec::<f32>::try_from(out.to_device(Device::Cpu).flatten(0, -1))?;
        Ok(flat.chunks(self.kind.dim()).map(<[f32]>::to_vec).collect())
    }

    /// States in metres for u8 frames [N, H, W, 3].
    pub fn read(&self, pixels: &[u8], n: usize) -> Result<Vec<Vec<f32>>, WorldModelError> {
        let fl = (self.image_size * self.image_size * 3) as usize;
        if pixels.len() != n * fl {
            return Err(WorldModelError::BadInput(format!(
                "{} bytes are not {n} frames of {s}x{s}x3",
                pixels.len(),
                s = self.image_size
            )));
        }
        self.read_tensor(&frames_to_tensor(pixels, n, self.image_size, self.device()))
    }

    /// Mean Euclidean position error (m) over frames and position groups
    /// ([`ReadoutKind::positions`]).
    pub fn position_error(
        &self,
        pixels: &[u8],
        states: &[Vec<f32>],
    ) -> Result<f64, WorldModelError> {
        let pred = self.read(pixels, states.len())?;
        Ok(position_error(self.kind, &pred, states))
    }

    /// Saves the weights (safetensors) atomically; returns the file's sha256.
    pub fn save(&self, path: &std::path::Path) -> Result<String, WorldModelError> {
        let mut named: Vec<(String, tch::Tensor)> = self.vs.variables().into_iter().collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        crate::tensor_io::write_tensors_atomic(path, &named)
            .map_err(|e| WorldModelError::Write(e.to_string()))
    }

    /// Loads weights written by [`StateReadout::save`] into a readout of the same kind and size
    /// (every tensor present, shapes checked); unverified.
    pub fn load(&mut self, path: &std::path::Path) -> Result<(), WorldModelError> {
        crate::tensor_io::read_into(path, &self.vs.variables()).map_err(WorldModelError::BadInput)
    }

    /// [`StateReadout::load`] after checking the file's sha256 against `expected` (`None`: an
    /// earlier release's readout, loaded unverified with a warning).
    pub fn load_verified(
        &mut self,
        path: &std::path::Path,
        expected: Option<&str>,
    ) -> Result<(), WorldModelError> {
        crate::tensor_io::verify_sha256(path, expected).map_err(WorldModelError::BadInput)?;
        self.load(path)
    }
}

/// Mean Euclidean position error (m) between predicted and true states.
pub fn position_error(kind: ReadoutKind, pred: &[Vec<f32>], truth: &[Vec<f32>]) -> f64 {
    let groups = kind.positions();
    let mut sum = 0f64;
    let mut count = 0usize;
    for (p, t) in pred.iter().zip(truth) {
        for g in &groups {
            let d2: f64 = g.iter().map(|&i| f64::from(p[i] - t[i]).powi(2)).sum();
            sum += d2.sqrt();
            count += 1;
        }
    }
    sum / count.max(1) as f64
}
