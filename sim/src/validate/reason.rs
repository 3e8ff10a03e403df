//! Why a rollout is implausible: the [`Reason`]s and the [`Violation`] record every check
//! returns. Depends on nothing else in `validate`.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::SimError;

/// Why a transition or frame is physically implausible.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Two balls overlap, or an object is inside the table or the gripper's fingers (m of
    /// penetration).
    Interpenetration,
    /// An object or the hand is beyond the walls / the workspace box (m beyond).
    OutOfWorkspace,
    /// An object moved farther between consecutive states than its plausible speed allows (m).
    Teleport,
    /// Simulating a_k from s_k does not reach s_{k+1} (largest object position error, m).
    DynamicsReplay,
    /// The frame is not what the state looks like (dB of PSNR below the threshold).
    FrameConsistency,
    /// Replaying a transition made the physics engine diverge (the state is far outside
    /// anything it can simulate); magnitude 0.
    Diverged,
    /// An object hovers above the table with nothing holding it up: no ball under it, not
    /// between the gripper's pads (m above its resting height beyond the tolerance's
    /// reference, i.e. the height above rest).
    Floating,
    /// A transition's reward, success or terminal label differs from what the goal gives on
    /// its states (magnitude: the reward error, or 1 for a wrong flag).
    Label,
}

impl Reason {
    pub const ALL: [Reason; 8] = [
        Reason::Interpenetration,
        Reason::OutOfWorkspace,
        Reason::Teleport,
        Reason::DynamicsReplay,
        Reason::FrameConsistency,
        Reason::Diverged,
        Reason::Floating,
        Reason::Label,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Reason::Interpenetration => "interpenetration",
            Reason::OutOfWorkspace => "out_of_workspace",
            Reason::Teleport => "teleport",
            Reason::DynamicsReplay => "dynamics_replay",
            Reason::FrameConsistency => "frame_consistency",
            Reason::Diverged => "diverged",
            Reason::Floating => "floating",
            Reason::Label => "label",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Reason {
    type Err = SimError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reason::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| SimError::unknown("reason", s, &Reason::ALL.map(Reason::name)))
    }
}

/// One violation: where, why and by how much.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    /// Transition index k (the transition k → k+1) for transition checks; the state or frame
    /// index for per-state checks (interpenetration, workspace, frame consistency).
    pub step: usize,
    pub reason: Reason,
    /// Size of the violation beyond its tolerance's reference (m, or dB for frames).
    pub magnitude: f32,
    /// What was seen, in words (which ball, which value).
    pub detail: String,
}

impl Violation {
    pub fn new(step: usize, reason: Reason, magnitude: f32, detail: impl Into<String>) -> Self {
        Violation {
            step,
            reason,
            magnitude,
            detail: detail.into(),
        }
    }
}
