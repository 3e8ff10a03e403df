//! Per-rollout verdicts: valid, truncated at the first violating transition, or rejected.

use serde::{Deserialize, Serialize};
use serde_json::json;
use std::fmt;
use std::str::FromStr;

use super::reason::{Reason, Violation};

/// What to do with a rollout that has violations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterPolicy {
    /// Any violation rejects the whole rollout.
    Drop,
    /// Keep the transitions before the first violating one (reject if that is transition 0).
    Truncate,
}

impl FilterPolicy {
    pub const ALL: [FilterPolicy; 2] = [FilterPolicy::Drop, FilterPolicy::Truncate];

    pub fn name(self) -> &'static str {
        match self {
            FilterPolicy::Drop => "drop",
            FilterPolicy::Truncate => "truncate",
        }
    }
}

impl fmt::Display for FilterPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FilterPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FilterPolicy::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                format!("unknown filter policy '{s}'; valid filter policies: drop, truncate")
            })
    }
}

/// The outcome for one rollout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum VerdictKind {
    Valid,
    /// Keep transitions `0..at` (`at` >= 1): transition `at` is the first violating one.
    Truncated {
        at: usize,
    },
    Rejected,
}

/// A rollout's verdict with every violation found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub kind: VerdictKind,
    pub violations: Vec<Violation>,
}

/// The transition a violation condemns: transition checks name it; a bad state j condemns the
/// transition j - 1 that produced it (`None` for a bad initial state).
pub fn violating_transition(v: &Violation) -> Option<usize> {
    match v.reason {
        Reason::Teleport | Reason::DynamicsReplay | Reason::Diverged | Reason::Label => {
            Some(v.step)
        }
        Reason::Interpenetration
        | Reason::OutOfWorkspace
        | Reason::FrameConsistency
        | Reason::Floating => v.step.checked_sub(1),
    }
}

/// The verdict of a rollout with `violations` under `policy`.
pub fn verdict(violations: Vec<Violation>, policy: FilterPolicy) -> Verdict {
    let kind = if violations.is_empty() {
        VerdictKind::Valid
    } else {
        match policy {
            FilterPolicy::Drop => VerdictKind::Rejected,
            FilterPolicy::Truncate => {
                // A bad initial state (None) sorts first and rejects.
                match violations.iter().map(violating_transition).min().flatten() {
                    Some(at) if at > 0 => VerdictKind::Truncated { at },
                    _ => VerdictKind::Rejected,
                }
            }
        }
    };
    Verdict { kind, violations }
}

impl Verdict {
    pub fn is_valid(&self) -> bool {
        self.kind == VerdictKind::Valid
    }

    /// Whether any violation has `reason`.
    pub fn has(&self, reason: Reason) -> bool {
        self.violations.iter().any(|v| v.reason == reason)
    }

    /// `{"verdict": "valid"|"truncated"|"rejected", "truncated_at": k|null, "violations":
    /// [{step, reason, magnitude, detail}]}`, as stored per episode in datasets.
    pub fn to_json(&self) -> serde_json::Value {
        let (name, at) = match self.kind {
            VerdictKind::Valid => ("valid", None),
            VerdictKind::Truncated { at } => ("truncated", Some(at)),
            VerdictKind::Rejected => ("rejected", None),
        };
        json!({
            "verdict": name,
            "truncated_at": at,
            "violations": self.violations,
        })
    }
}
