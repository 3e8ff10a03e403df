//! What a policy observes: the observation kind and the network input's size.

use serde::{Deserialize, Serialize};

/// What the policy observes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObsKind {
    /// The low-dimensional observation vector (CLEVR: 10 ball x/y; Meta-World: 39-d).
    State,
    /// Rendered RGB frames through the paper's conv encoder.
    Image,
}

impl ObsKind {
    pub const ALL: [ObsKind; 2] = [ObsKind::State, ObsKind::Image];

    /// The serde name: `state` or `image`.
    pub fn name(self) -> &'static str {
        match self {
            ObsKind::State => "state",
            ObsKind::Image => "image",
        }
    }
}

impl std::fmt::Display for ObsKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ObsKind {
    type Err = crate::RlError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ObsKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| crate::RlError::Input(format!("unknown obs '{s}'; valid: state, image")))
    }
}

/// The observation input of a network, with its size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ObsSpec {
    /// Vectors of `dim` floats.
    State { dim: usize },
    /// `u8` RGB frames `[height, width, 3]`.
    Image { height: usize, width: usize },
}

impl ObsSpec {
    pub fn kind(&self) -> ObsKind {
        match self {
            ObsSpec::State { .. } => ObsKind::State,
            ObsSpec::Image { .. } => ObsKind::Image,
        }
    }

    /// Values per observation (`dim`, or `height·width·3` bytes).
    pub fn len(&self) -> usize {
        match *self {
            ObsSpec::State { dim } => dim,
            ObsSpec::Image { height, width } => height * width * 3,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
