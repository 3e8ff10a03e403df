//! The counts `vlgor check` prints and reports: per reason, per verdict, and the recall on
//! injected faults.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use vlgor_sim::validate::inject::{Fault, Injected};
use vlgor_sim::validate::{Reason, Verdict, VerdictKind};

use super::{CheckOutcome, CheckPlan};
use crate::report::table;

/// Counts over the verdicts.
pub struct Summary {
    pub rollouts: usize,
    pub flagged: usize,
    /// Per reason: rollouts flagged, violations, magnitudes.
    pub by_reason: BTreeMap<Reason, (usize, usize, Vec<f32>)>,
    pub verdicts: BTreeMap<&'static str, usize>,
    pub injected: usize,
    /// Injected rollouts flagged with the fault's reason.
    pub caught: usize,
}

impl Summary {
    pub fn recall(&self) -> f64 {
        if self.injected == 0 {
            0.0
        } else {
            self.caught as f64 / self.injected as f64
        }
    }

    pub fn by_reason_counts(&self) -> BTreeMap<String, usize> {
        Reason::ALL
            .iter()
            .map(|r| {
                (
                    r.name().to_string(),
                    self.by_reason.get(r).map_or(0, |x| x.0),
                )
            })
            .collect()
    }

    pub fn json(&self) -> Value {
        let reasons: BTreeMap<String, Value> = Reason::ALL
            .iter()
            .map(|r| {
                let (rollouts, violations, mags) =
                    self.by_reason.get(r).cloned().unwrap_or_default();
                (
                    r.name().to_string(),
                    json!({"rollouts": rollouts, "violations": violations,
                           "median_magnitude": median(&mags)}),
                )
            })
            .collect();
        json!({
            "rollouts": self.rollouts,
            "flagged": self.flagged,
            "by_reason": reasons,
            "verdicts": self.verdicts,
            "injected": self.injected,
            "recall": (self.injected > 0).then(|| self.recall()),
        })
    }
}

fn median(xs: &[f32]) -> Option<f32> {
    if xs.is_empty() {
        return None;
    }
    let mut v = xs.to_vec();
    v.sort_by(f32::total_cmp);
    Some(v[v.len() / 2])
}

pub(super) fn summarise(
    verdicts: &[Verdict],
    injected: &[Option<Injected>],
    fault: Option<Fault>,
) -> Summary {
    let mut s = Summary {
        rollouts: verdicts.len(),
        flagged: 0,
        by_reason: BTreeMap::new(),
        verdicts: [("valid", 0), ("truncated", 0), ("rejected", 0)].into(),
        injected: 0,
        caught: 0,
    };
    for (v, inj) in verdicts.iter().zip(injected) {
        s.flagged += !v.violations.is_empty() as usize;
        let name = match v.kind {
            VerdictKind::Valid => "valid",
            VerdictKind::Truncated { .. } => "truncated",
            VerdictKind::Rejected => "rejected",
        };
        *s.verdicts.entry(name).or_default() += 1;
        for r in Reason::ALL {
            let hits: Vec<f32> = v
                .violations
                .iter()
                .filter(|x| x.reason == r)
                .map(|x| x.magnitude)
                .collect();
            if !hits.is_empty() {
                let e = s.by_reason.entry(r).or_default();
                e.0 += 1;
                e.1 += hits.len();
                e.2.extend(hits);
            }
        }
        if let (Some(inj), Some(_)) = (inj, fault) {
            s.injected += 1;
            s.caught += v.has(inj.reason) as usize;
        }
    }
    s
}

pub(super) fn print_summary(plan: &CheckPlan, o: &CheckOutcome) {
    let (s, fault, not_applicable, secs) = (&o.summary, plan.inject, &o.not_injected, o.seconds);
    println!(
        "{}: {} rollouts checked ({}) in {secs:.1} s; {} flagged ({:.2}%); verdicts: {} valid, {} truncated, {} rejected",
        plan.dir.display(),
        s.rollouts,
        o.states_from,
        s.flagged,
        100.0 * s.flagged as f64 / s.rollouts.max(1) as f64,
        s.verdicts["valid"],
        s.verdicts["truncated"],
        s.verdicts["rejected"],
    );
    let rows: Vec<Vec<String>> = Reason::ALL
        .iter()
        .map(|r| {
            let (rollouts, violations, mags) = s.by_reason.get(r).cloned().unwrap_or_default();
            let unit = if *r == Reason::FrameConsistency {
                "dB"
            } else {
                "m"
            };
            vec![
                r.name().to_string(),
                rollouts.to_string(),
                violations.to_string(),
                median(&mags).map_or("-".into(), |m| format!("{m:.3} {unit}")),
            ]
        })
        .collect();
    println!(
        "{}",
        table(
            &[
                "reason",
                "rollouts flagged",
                "violations",
                "median magnitude"
            ],
            &rows
        )
    );
    if let Some(f) = fault {
        println!(
            "injected {f} into {} of {} rollouts; flagged with '{}': {} (recall {:.3})",
            s.injected,
            s.rollouts,
            f.reason(),
            s.caught,
            s.recall()
        );
        for (why, n) in not_applicable {
            println!("  not injected ({n}): {why}");
        }
    }
}
