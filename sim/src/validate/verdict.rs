//! Per-rollout verdicts: valid, truncated at the first violating transition, or rejected.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use super::reason::{Reason, Violation};

/// What happens to rollouts the physics check flags: the one filter rule of the validator (the
/// verdict it decides) and of every consumer of stored verdicts (imagination, training mixes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Filter {
    /// Keep the transitions before the first violating one (reject if that is transition 0).
    Truncate,
    /// Any violation rejects the whole rollout.
    Drop,
    /// Store every rollout whole with its verdict, flagged or not (the unvalidated ablation);
    /// the verdict itself is decided as under [`Filter::Truncate`].
    Keep,
}

impl Filter {
    pub const ALL: [Filter; 3] = [Filter::Truncate, Filter::Drop, Filter::Keep];

    pub fn name(self) -> &'static str {
        match self {
            Filter::Truncate => "truncate",
            Filter::Drop => "drop",
            Filter::Keep => "keep",
        }
    }

    /// One line of help per filter (for `--help`).
    pub fn describe(self) -> &'static str {
        match self {
            Filter::Truncate => "keep the valid prefix, up to the first violating transition",
            Filter::Drop => "discard every flagged rollout",
            Filter::Keep => "store every rollout whole with its verdict (no filtering)",
        }
    }

    /// Transitions of a stored rollout of `length` transitions that pass this filter (`None`:
    /// the rollout is left out). `verdict` is the one stored with the episode; a missing
    /// verdict means the rollout was never checked: [`Filter::Keep`] admits it whole, the
    /// physics filters ([`Filter::Truncate`], [`Filter::Drop`]) leave it out.
    pub fn kept_transitions(self, verdict: Option<&Verdict>, length: usize) -> Option<usize> {
        match (self, verdict.map(|v| v.kind)) {
            (Filter::Keep, _) => Some(length),
            (_, None) => None,
            (_, Some(VerdictKind::Valid)) => Some(length),
            (Filter::Truncate, Some(VerdictKind::Truncated { at })) => {
                (at > 0).then_some(at.min(length))
            }
            (_, Some(_)) => None,
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Filter {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Filter::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| format!("unknown filter '{s}'; valid filters: truncate, drop, keep"))
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

/// A rollout's verdict with every violation found. Serialized as datasets store it per
/// episode: `{"verdict": "valid"|"truncated"|"rejected", "truncated_at": k|null, "violations":
/// [{step, reason, magnitude, detail}]}`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "StoredVerdict")]
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

/// The verdict of a rollout with `violations` under `filter` ([`Filter::Keep`] decides as
/// [`Filter::Truncate`]).
pub fn verdict(violations: Vec<Violation>, filter: Filter) -> Verdict {
    let kind = if violations.is_empty() {
        VerdictKind::Valid
    } else {
        match filter {
            Filter::Drop => VerdictKind::Rejected,
            Filter::Truncate | Filter::Keep => {
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

    /// The stored JSON form (see [`Verdict`]).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a verdict serializes")
    }
}

impl Serialize for Verdict {
    /// Through a JSON value, so keys come out sorted, as datasets have always stored them
    /// (shards written again are byte-identical).
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serde_json::to_value(StoredVerdict::from(self.clone()))
            .map_err(serde::ser::Error::custom)?
            .serialize(s)
    }
}

/// The verdict's stored form (field names as in datasets of every release).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct StoredVerdict {
    verdict: StoredKind,
    truncated_at: Option<usize>,
    violations: Vec<Violation>,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum StoredKind {
    Valid,
    Truncated,
    Rejected,
}

impl From<Verdict> for StoredVerdict {
    fn from(v: Verdict) -> Self {
        let (verdict, truncated_at) = match v.kind {
            VerdictKind::Valid => (StoredKind::Valid, None),
            VerdictKind::Truncated { at } => (StoredKind::Truncated, Some(at)),
            VerdictKind::Rejected => (StoredKind::Rejected, None),
        };
        StoredVerdict {
            verdict,
            truncated_at,
            violations: v.violations,
        }
    }
}

impl TryFrom<StoredVerdict> for Verdict {
    type Error = String;
    fn try_from(s: StoredVerdict) -> Result<Self, String> {
        let kind = match (s.verdict, s.truncated_at) {
            (StoredKind::Valid, _) => VerdictKind::Valid,
            (StoredKind::Rejected, _) => VerdictKind::Rejected,
            (StoredKind::Truncated, Some(at)) if at > 0 => VerdictKind::Truncated { at },
            (StoredKind::Truncated, at) => {
                return Err(format!(
                    "verdict 'truncated' needs truncated_at >= 1, found {at:?}"
                ));
            }
        };
        Ok(Verdict {
            kind,
            violations: s.violations,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Verdicts exactly as the earlier release wrote them into shard headers.
    const STORED: [&str; 3] = [
        r#"{"truncated_at":null,"verdict":"valid","violations":[]}"#,
        r#"{"truncated_at":2,"verdict":"truncated","violations":[{"detail":"ball 4 moved","magnitude":0.5653311610221863,"reason":"teleport","step":2}]}"#,
        r#"{"truncated_at":null,"verdict":"rejected","violations":[{"detail":"x","magnitude":1.0,"reason":"interpenetration","step":0}]}"#,
    ];

    #[test]
    fn stored_verdicts_load_and_serialize_to_the_same_bytes() {
        let kinds = [
            VerdictKind::Valid,
            VerdictKind::Truncated { at: 2 },
            VerdictKind::Rejected,
        ];
        for (text, kind) in STORED.iter().zip(kinds) {
            let v: Verdict = serde_json::from_str(text).unwrap();
            assert_eq!(v.kind, kind);
            assert_eq!(serde_json::to_string(&v).unwrap(), *text);
        }
        let bad = r#"{"truncated_at":0,"verdict":"truncated","violations":[]}"#;
        let e = serde_json::from_str::<Verdict>(bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("truncated_at >= 1"), "{e}");
    }

    #[test]
    fn the_filter_rule_on_stored_verdicts() {
        let v = |kind| Verdict {
            kind,
            violations: vec![],
        };
        let (valid, cut, rejected) = (
            v(VerdictKind::Valid),
            v(VerdictKind::Truncated { at: 3 }),
            v(VerdictKind::Rejected),
        );
        use Filter::*;
        assert_eq!(Truncate.kept_transitions(Some(&valid), 8), Some(8));
        assert_eq!(Truncate.kept_transitions(Some(&cut), 8), Some(3));
        assert_eq!(Truncate.kept_transitions(Some(&cut), 2), Some(2));
        assert_eq!(Truncate.kept_transitions(Some(&rejected), 8), None);
        assert_eq!(Drop.kept_transitions(Some(&valid), 8), Some(8));
        assert_eq!(Drop.kept_transitions(Some(&cut), 8), None);
        assert_eq!(Keep.kept_transitions(Some(&rejected), 8), Some(8));
        // Never checked: only the filter that does not filter admits it.
        assert_eq!(Truncate.kept_transitions(None, 8), None);
        assert_eq!(Drop.kept_transitions(None, 8), None);
        assert_eq!(Keep.kept_transitions(None, 8), Some(8));
        for f in Filter::ALL {
            assert_eq!(f.name().parse::<Filter>(), Ok(f));
            let json = serde_json::to_value(f).unwrap();
            assert_eq!(json, f.name());
        }
    }
}
