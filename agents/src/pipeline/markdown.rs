//! `report.md` and the printed summary table of a pipeline run, drawn from its [`Results`].

use serde::Serialize;
use std::fmt::Write as _;

use super::arms::{KALM_SUFFIX, VARIANT_NAMES};
use super::records::PolicyRecord;
use super::results::{QualityRow, Results, SeedStats};
use super::stages::EVAL_LEVELS;
use crate::evaluation::stats::PairedDiff;
use crate::report::table;

/// A value as compact JSON (how the report has always printed numbers: `0.0`, `null`).
fn js<T: Serialize>(x: &T) -> String {
    serde_json::to_string(x).unwrap_or_default()
}

fn pct(v: Option<&SeedStats>) -> String {
    match v {
        Some(v) if v.mean.is_finite() => {
            format!("{:.1} ± {:.1}", 100.0 * v.mean, 100.0 * v.std)
        }
        _ => "—".into(),
    }
}

/// The Table-2-shaped success table (percent, mean ± std over seeds), with the random and
/// expert reference rows.
pub fn summary_table(r: &Results) -> String {
    let mut rows = Vec::new();
    for name in ["random", "expert"] {
        if let Some(levels) = r.reference.get(name).filter(|m| !m.is_empty()) {
            let mut row = vec!["—".to_string(), name.to_string()];
            row.extend(EVAL_LEVELS.iter().map(|l| pct(levels.get(*l))));
            rows.push(row);
        }
    }
    for (algo, per) in &r.success {
        for name in VARIANT_NAMES {
            let Some(levels) = per.get(name) else {
                continue;
            };
            let mut row = vec![algo.to_uppercase(), name.to_string()];
            row.extend(EVAL_LEVELS.iter().map(|l| pct(levels.get(*l))));
            rows.push(row);
        }
    }
    let mut header = vec!["algo".to_string(), "data".to_string()];
    header.extend(EVAL_LEVELS.iter().map(|l| format!("{l} %")));
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    table(&header, &rows)
}

/// `+12.3 [+8.1, +16.5]` from a paired difference.
fn points(d: Option<&PairedDiff>) -> String {
    match d {
        Some(d) => format!(
            "{:+.1} [{:+.1}, {:+.1}]",
            100.0 * d.mean,
            100.0 * d.lo,
            100.0 * d.hi
        ),
        None => "—".into(),
    }
}

/// The paired-difference table and the levels on which a baseline does not beat random.
fn paired_md(r: &Results) -> String {
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for (algo, per) in &r.paired {
        for (variant, levels) in per {
            let label = if variant == "baseline_vs_random" {
                "baseline − random".to_string()
            } else {
                format!("{variant} − baseline")
            };
            let mut row = vec![algo.to_uppercase(), label];
            row.extend(EVAL_LEVELS.iter().map(|l| points(levels.get(*l))));
            rows.push(row);
            if variant == "baseline_vs_random" {
                for l in EVAL_LEVELS {
                    if let Some(d) = levels.get(l).filter(|d| d.lo <= 0.0) {
                        notes.push(format!(
                            "- **{} baseline does not beat a random policy on {l}** (paired 95% interval {} points): this level cannot show a gain over the baseline that random data would not also give.",
                            algo.to_uppercase(),
                            points(Some(d))
                        ));
                    }
                }
            }
        }
    }
    let mut header = vec!["algo".to_string(), "difference".to_string()];
    header.extend(EVAL_LEVELS.iter().map(|l| format!("{l} (points)")));
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut md = format!("```\n{}\n```\n", table(&header, &rows));
    if !notes.is_empty() {
        md.push('\n');
        md.push_str(&notes.join("\n"));
        md.push('\n');
    }
    md
}

/// The success-within-10-steps table (the levels that report it), rows in the order of the
/// success table; empty when no level reports it.
fn within_10_md(r: &Results) -> String {
    let levels: Vec<&str> = EVAL_LEVELS
        .iter()
        .copied()
        .filter(|l| r.within_10.values().any(|m| m.contains_key(*l)))
        .collect();
    if levels.is_empty() {
        return String::new();
    }
    // (algo column, data column, key in `within_10`), in the success table's order.
    let mut keys: Vec<(String, &str, String)> = ["random", "expert"]
        .into_iter()
        .map(|n| ("—".to_string(), n, n.to_string()))
        .collect();
    for algo in r.success.keys() {
        for name in VARIANT_NAMES {
            keys.push((algo.to_uppercase(), name, format!("{algo} {name}")));
        }
    }
    let mut rows = Vec::new();
    for (algo, name, key) in keys {
        if let Some(per) = r.within_10.get(&key) {
            let mut row = vec![algo, name.to_string()];
            row.extend(levels.iter().map(|l| pct(per.get(*l))));
            rows.push(row);
        }
    }
    let mut header = vec!["algo".to_string(), "data".to_string()];
    header.extend(levels.iter().map(|l| format!("{l} %")));
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    format!(
        "\n## Success within 10 steps\n\nThe multi-step levels' episodes counted as successes only when the goal holds within 10 steps (CLEVR: pushes; KALM's shorter budget, under which a random policy meets far fewer relational goals than within 50), mean ± std over seeds.\n\n```\n{}\n```\n",
        table(&header, &rows)
    )
}

fn q(v: &QualityRow) -> String {
    format!("{:.2} dB / {:.4} / {:.4}", v.psnr, v.ssim, v.med)
}

pub fn report_md(r: &Results) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# VLGOR pipeline report — {} ({} preset)\n",
        r.env.name(),
        r.preset
    );
    let _ = writeln!(
        md,
        "Policy seeds {}; every success figure is the closed-loop success rate averaged over (up to) the last {} checkpoints, mean ± std over seeds, {} episodes per level and seed{}. {} The oracle arm trains on real data plus scripted-expert rollouts for the unseen levels' instructions (other start states than the evaluation's): the upper bound of any imagination.\n",
        js(&r.seeds),
        r.eval_checkpoints,
        r.eval_episodes,
        match r.env {
            vlgor_sim::EnvKind::Clevr => "",
            vlgor_sim::EnvKind::MetaWorld =>
                " and task (a level's figure is the mean over the tasks)",
        },
        match r.env {
            vlgor_sim::EnvKind::Clevr =>
                "Levels follow KALM's protocol: rephrase, unseen-relation and hard run up to 50 pushes and stop at success; counterfactual (\"move ball X toward D\", held-out combinations) is judged on the first push.",
            vlgor_sim::EnvKind::MetaWorld =>
                "Every episode runs to the task's own success test or its horizon: rephrase is a training goal in held-out paraphrase templates; counterfactual moves the goal of the behavior (\"to the left of the target position\", \"halfway\") or constrains its path (\"along a straight-line trajectory\", \"with the gripper closed\"), the paper's Table 6 prompts; hard composes a target change with a behavior change, or two goals in sequence.",
        }
    );
    let _ = writeln!(
        md,
        "## Policy success (Table 2)\n\n```\n{}\n```\n",
        summary_table(r)
    );
    let _ = writeln!(
        md,
        "## Paired differences\n\nPercentage points with 95% intervals from paired comparisons over identical episodes ({} per level and seed; same start state and instruction per episode index): every arm against its algorithm's baseline, each baseline against the random policy.\n\n{}",
        r.eval_episodes,
        paired_md(r)
    );
    let _ = write!(
        md,
        "{}",
        super::per_task::per_task_md(&r.per_task, &EVAL_LEVELS)
    );
    for (algo, per) in &r.success {
        if let Some(unvalidated) = per.get("unvalidated") {
            for level in EVAL_LEVELS {
                if let Some(vlgor) = per.get("vlgor").and_then(|m| m.get(level)) {
                    let _ = writeln!(
                        md,
                        "- {} {level}: validated {} vs unvalidated {}",
                        algo.to_uppercase(),
                        pct(Some(vlgor)),
                        pct(unvalidated.get(level))
                    );
                }
            }
        }
    }
    md.push_str(&within_10_md(r));
    let v = &r.vlm;
    let _ = writeln!(
        md,
        "\n## World model (Table 1)\n\nPSNR / SSIM / MED on held-out real rollouts; MED compares the read-out main object with its true position, normalised by the workspace. {} parameters; readout error {:.4} m.\n",
        v.parameters, v.readout_error_m
    );
    let mut rows = vec![
        vec![
            "LoRA (main)".into(),
            q(&v.one_step),
            q(&v.rollout),
            format!("{:.1}%", 100.0 * v.goal_rate),
        ],
        vec![
            "copy input frame".into(),
            q(&v.copy_baseline.one_step),
            q(&v.copy_baseline.rollout),
            "—".into(),
        ],
    ];
    for (s, e) in [("base", &v.stages.base), ("full", &v.stages.full)] {
        rows.push(vec![
            format!("{s} only"),
            q(&(&e.one_step).into()),
            q(&(&e.rollout).into()),
            format!("{:.1}%", 100.0 * e.goal_rate),
        ]);
    }
    if let Some(d) = &v.stages.lora.drawn_truth {
        rows.push(vec![
            "true states drawn".into(),
            "—".into(),
            q(&d.into()),
            "—".into(),
        ]);
    }
    for row in &v.sweep {
        let e = &row.eval;
        rows.push(vec![
            format!("LoRA, {} samples", row.samples),
            q(&(&e.one_step).into()),
            q(&(&e.rollout).into()),
            format!("{:.1}%", 100.0 * e.goal_rate),
        ]);
    }
    let _ = writeln!(
        md,
        "```\n{}\n```\n",
        table(
            &[
                "model",
                "one step (PSNR/SSIM/MED)",
                "whole rollout (PSNR/SSIM/MED)",
                "goal rate"
            ],
            &rows
        )
    );
    md.push_str(&state_error_md(&v.stages.lora));
    let val = &r.validator;
    let _ = writeln!(
        md,
        "## Physics validation\n\n- false alarms on real held-out rollouts: {}\n- injected-fault recall (right reason): {}\n- imagined rollouts passing whole: {}; truncated: {}; rejected: {}\n",
        js(&val.real_false_alarm_rate),
        js(&val.injected_recall),
        js(&val.pass_share),
        js(&val.truncated_share),
        js(&val.rejected_share)
    );
    let rows: Vec<Vec<String>> = val
        .per_fault
        .iter()
        .map(|(fault, x)| {
            vec![
                fault.clone(),
                x.injected.to_string(),
                format!("{:.3}", x.recall.unwrap_or(f64::NAN)),
            ]
        })
        .collect();
    let _ = writeln!(
        md,
        "```\n{}\n```\n",
        table(
            &["injected fault", "rollouts", "recall (right reason)"],
            &rows
        )
    );
    let rows: Vec<Vec<String>> = r
        .imagined
        .iter()
        .map(|(set, x)| {
            let reasons: Vec<String> = x
                .by_reason
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            vec![
                set.clone(),
                x.rollouts.to_string(),
                x.goal_reached.to_string(),
                x.valid.to_string(),
                x.truncated.to_string(),
                x.rejected.to_string(),
                reasons.join(", "),
            ]
        })
        .collect();
    let _ = writeln!(
        md,
        "Imagined rollouts (goal reached: the read-out states satisfy the instruction):\n\n```\n{}\n```\n",
        table(
            &[
                "set",
                "rollouts",
                "goal reached",
                "valid",
                "truncated",
                "rejected",
                "rollouts flagged per reason"
            ],
            &rows
        )
    );
    let _ = write!(md, "{}", verify_md(r));
    let _ = write!(md, "{}", plausibility_md(r));
    let rows: Vec<Vec<String>> = r
        .mixes
        .iter()
        .map(|(mix, x)| {
            vec![
                mix.clone(),
                match (x.validated, x.verified) {
                    (true, true) => "yes, goal reached",
                    (true, false) => "yes",
                    (false, _) => "no",
                }
                .into(),
                x.episodes_in.to_string(),
                x.episodes_out.to_string(),
                x.transitions_out.to_string(),
            ]
        })
        .collect();
    let _ = writeln!(
        md,
        "Training mixes:\n\n```\n{}\n```\n",
        table(
            &[
                "mix",
                "validated",
                "rollouts in",
                "rollouts kept",
                "transitions"
            ],
            &rows
        )
    );
    for (run, res) in &r.policies {
        if let PolicyRecord::Skipped(s) = res {
            let _ = writeln!(md, "- skipped {run}: {}", s.skipped);
        }
    }
    let rows: Vec<Vec<String>> = r
        .timings
        .stages
        .iter()
        .map(|(k, v)| vec![k.clone(), format!("{v:.0}")])
        .collect();
    let _ = writeln!(
        md,
        "\n## Timings\n\n```\n{}\n```\n\nTotal: {:.1} min.\n",
        table(&["stage", "seconds"], &rows),
        r.timings.total / 60.0
    );
    let _ = writeln!(
        md,
        "## Plots\n\n![success per level](plots/success_per_level.png)\n\n![success vs epoch](plots/success_vs_epoch.png)\n\n![real vs imagined](plots/real_vs_imagined.png)\n"
    );
    let _ = writeln!(
        md,
        "The paper preset (`--preset paper`: 128×128 world model, 15,000 LoRA samples, 5,400 / 6,400 / 1,680 imagined rollouts, image policies) needs a GPU for the world-model and policy stages."
    );
    md
}

/// The generate-and-verify yield per imagined set (empty when the run has no such arm).
fn verify_md(r: &Results) -> String {
    let rows: Vec<Vec<String>> = r
        .imagined
        .iter()
        .filter(|(_, x)| x.candidates_per_start > 1 || x.temperature > 0.0)
        .map(|(set, x)| {
            vec![
                set.clone(),
                x.starts.to_string(),
                x.candidates_per_start.to_string(),
                format!("{}", x.temperature),
                x.verified.to_string(),
                x.verified_starts.to_string(),
                format!(
                    "{:.1}%",
                    100.0 * x.verified as f64 / (x.rollouts.max(1)) as f64
                ),
            ]
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    format!(
        "Generate and verify: each start state imagined by several candidates with sampled actions; a candidate is verified when the physics filter keeps it and its imagined states reach the instruction's goal by the environment's own success test (the action itself is never read). BC trains on the verified rollouts{}.\n\n```\n{}\n```\n\n",
        if r.mixes.contains_key("vlgor_verified_all") {
            "; CQL also on the validated ones that missed, with their rewards"
        } else {
            ""
        },
        table(
            &[
                "set",
                "starts",
                "candidates",
                "temperature",
                "verified",
                "starts verified",
                "yield"
            ],
            &rows
        )
    )
}

/// KALM against the world model on the same prompts and start states (sets `X` and `X-kalm`):
/// per reason the shares of rollouts / of transitions the validator flags, the share of
/// transitions flagged by any reason, the goal rate on the generated states and the position
/// error against rapier replaying the generated actions (empty without the KALM arm).
fn plausibility_md(r: &Results) -> String {
    use vlgor_sim::validate::Reason;
    const REASONS: [Reason; 4] = [
        Reason::Interpenetration,
        Reason::Teleport,
        Reason::DynamicsReplay,
        Reason::OutOfWorkspace,
    ];
    let share = |n: usize, of: usize| format!("{:.1}%", 100.0 * n as f64 / of.max(1) as f64);
    let mut rows = Vec::new();
    for (set, kalm) in &r.imagined {
        let Some(base) = set.strip_suffix(KALM_SUFFIX) else {
            continue;
        };
        let Some(wm) = r.imagined.get(base) else {
            continue;
        };
        for (generator, x) in [("world model", wm), ("KALM", kalm)] {
            let p = &x.plausibility;
            let mut row = vec![
                generator.to_string(),
                base.to_string(),
                format!("{} / {}", x.rollouts, x.imagined_transitions),
            ];
            for reason in REASONS {
                let reason = reason.to_string();
                let n = x.by_reason.get(&reason).copied().unwrap_or(0);
                let t = p.transitions_by_reason.get(&reason).copied().unwrap_or(0);
                row.push(format!(
                    "{} / {}",
                    share(n, x.rollouts),
                    share(t, x.imagined_transitions)
                ));
            }
            row.push(share(p.flagged_transitions, x.imagined_transitions));
            row.push(share(x.goal_reached, x.rollouts));
            row.push(format!(
                "{:.3} / {:.3}",
                p.mean_position_error_m, p.mean_max_position_error_m
            ));
            rows.push(row);
        }
    }
    if rows.is_empty() {
        return String::new();
    }
    format!(
        "Physical plausibility, KALM against the world model: the same prompts from the same start states; shares of rollouts / of transitions flagged per reason (a bad state condemns the transition into it), transitions flagged by any reason, the goal rate on the generated states, and the object position error against rapier replaying each generated action from the generated state (mean over objects / worst object, m). The frame-consistency check does not apply to KALM (its frames are renders of its states).\n\n```\n{}\n```\n\n",
        table(
            &[
                "generator",
                "set",
                "rollouts / transitions",
                "interpenetration",
                "teleport",
                "dynamics replay",
                "out of workspace",
                "any reason",
                "goal reached",
                "position error (m)"
            ],
            &rows
        )
    )
}

/// The object-state head's predicted states against the true ones (Meta-World), and what the
/// "true states drawn" row of Table 1 means; empty when the evaluation has neither.
fn state_error_md(e: &crate::vlm_eval::VlmEvalReport) -> String {
    let mut md = String::new();
    if let Some(d) = &e.drawn_truth {
        let _ = writeln!(
            md,
            "\"true states drawn\": the held-out rollouts' true states drawn the way the object-state head draws its predictions: its frames cannot score better than this; its MED ({:.4}) is the readout's own error on those frames.\n",
            d.med
        );
    }
    if let Some(s) = &e.state_error {
        let names = [
            "hand x", "hand y", "hand z", "gripper", "object x", "object y", "object z",
        ];
        let cells: Vec<String> = names
            .iter()
            .zip(s.predicted.iter().zip(&s.copy))
            .map(|(n, (p, c))| format!("{n} {p:.4} ({c:.4})"))
            .collect();
        let _ = writeln!(
            md,
            "Predicted states without the readout (whole rollouts, {} keyframes; the head draws its frames from them, so its readout is exact by construction): MED {:.4}, the start state held {:.4}; mean absolute error per value, m (start state held): {}.\n",
            s.n,
            s.med,
            s.copy_med,
            cells.join(", ")
        );
    }
    md
}
