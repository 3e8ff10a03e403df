//! `results.json` and `report.md` of a pipeline run, and the validator statistics stage.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::stages::{EVAL_LEVELS, variants};
use super::{Layout, StageRecord};
use crate::context::Context;
use crate::error::CliError;
use crate::report::{mean_std, table};
use crate::vlm_run::write_json;

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

/// Success per algorithm, variant and level: mean ± std over seeds (fractions).
fn success(ctx: &Context, policies: &Value) -> Value {
    let p = &ctx.config.pipeline;
    let mut out = serde_json::Map::new();
    for algo in &p.algos {
        let mut per_variant = serde_json::Map::new();
        for v in variants(algo, p.unvalidated_ablation) {
            let mut levels = serde_json::Map::new();
            for level in EVAL_LEVELS {
                let xs: Vec<f64> = p
                    .seeds
                    .iter()
                    .filter_map(|s| policies.get(format!("{algo}-{}-s{s}", v.name)))
                    .map(|r| f(&r["success"][level]))
                    .filter(|x| x.is_finite())
                    .collect();
                if xs.is_empty() {
                    continue;
                }
                let (m, s) = mean_std(&xs);
                levels.insert(level.into(), json!({"mean": m, "std": s, "per_seed": xs}));
            }
            if !levels.is_empty() {
                per_variant.insert(v.name.into(), Value::Object(levels));
            }
        }
        out.insert(algo.clone(), Value::Object(per_variant));
    }
    Value::Object(out)
}

fn quality(e: &Value) -> Value {
    json!({"psnr": e["psnr"], "ssim": e["ssim"], "med": e["med"]})
}

/// Builds `results.json` and `report.md` from the stage records.
pub fn write(
    ctx: &Context,
    l: &Layout,
    rec: &BTreeMap<String, StageRecord>,
) -> Result<Value, CliError> {
    let s = |k: &str| rec.get(k).map(|r| r.summary.clone()).unwrap_or(Value::Null);
    let evals = s("vlm_eval");
    let lora = &evals["lora"];
    let imagine = s("imagine");
    let (mut rollouts, mut valid, mut truncated, mut rejected) = (0.0, 0.0, 0.0, 0.0);
    for (_, set) in imagine.as_object().into_iter().flatten() {
        rollouts += f(&set["rollouts"]);
        valid += f(&set["valid"]);
        truncated += f(&set["truncated"]);
        rejected += f(&set["rejected"]);
    }
    let validator = s("validator");
    let timings: serde_json::Map<String, Value> = rec
        .iter()
        .map(|(k, r)| (k.clone(), json!(r.seconds)))
        .collect();
    let total: f64 = rec.values().map(|r| r.seconds).sum();
    let results = json!({
        "env": l.env.name(),
        "preset": ctx.preset,
        "seeds": ctx.config.pipeline.seeds,
        "seed": ctx.seed,
        "versions": {
            "vlgor": env!("CARGO_PKG_VERSION"),
            "torch": vlgor_vlm::torch_version().unwrap_or_else(|| "unknown".into()),
            "rapier3d": "0.36", "wgpu": "30", "bevy_ecs": "0.20",
        },
        "config": {"vlm": ctx.config.vlm, "pipeline": ctx.config.pipeline, "rl": ctx.config.rl,
                   "collect": ctx.config.collect, "eval": ctx.config.eval},
        "vlm": {
            "one_step": quality(&lora["one_step"]),
            "rollout": quality(&lora["rollout"]),
            "goal_rate": lora["goal_rate"],
            "copy_baseline": {"one_step": quality(&lora["copy_one_step"]),
                              "rollout": quality(&lora["copy_rollout"])},
            "stages": evals,
            "sweep": s("vlm_sweep")["rows"],
            "parameters": s("vlm_base")["parameters"],
            "readout_error_m": s("readout")["heldout_error_m"],
            "train": {"base": s("vlm_base")["train"], "lora": s("vlm_lora")["train"],
                      "full": s("vlm_full")["train"]},
        },
        "success": success(ctx, &s("policies")),
        "validator": {
            "real_false_alarm_rate": validator["real_false_alarm_rate"],
            "injected_recall": validator["injected_recall"],
            "per_fault": validator["per_fault"],
            "pass_share": if rollouts > 0.0 { json!(valid / rollouts) } else { Value::Null },
            "truncated_share": if rollouts > 0.0 { json!(truncated / rollouts) } else { Value::Null },
            "rejected_share": if rollouts > 0.0 { json!(rejected / rollouts) } else { Value::Null },
        },
        "imagined": imagine,
        "mixes": s("mix"),
        "policies": s("policies"),
        "timings": {"stages": timings, "total": total},
    });
    write_json(&l.out.join("results.json"), &results)?;
    let md = report_md(&results);
    vlgor_sim::dataset::write_atomic(&l.out.join("report.md"), md.as_bytes())
        .map_err(|e| CliError::Other(e.into()))?;
    Ok(results)
}

fn pct(v: &Value) -> String {
    let (m, s) = (f(&v["mean"]), f(&v["std"]));
    if m.is_finite() {
        format!("{:.1} ± {:.1}", 100.0 * m, 100.0 * s)
    } else {
        "—".into()
    }
}

/// The Table-2-shaped success table (percent, mean ± std over seeds).
pub fn summary_table(r: &Value) -> String {
    let mut rows = Vec::new();
    for (algo, per) in r["success"].as_object().into_iter().flatten() {
        for v in variants(algo, true) {
            let (variant, levels) = (v.name, &per[v.name]);
            if !levels.is_object() {
                continue;
            }
            let mut row = vec![algo.to_uppercase(), variant.to_string()];
            row.extend(EVAL_LEVELS.iter().map(|l| pct(&levels[*l])));
            rows.push(row);
        }
    }
    table(
        &["algo", "data", "rephrase %", "counterfactual %", "hard %"],
        &rows,
    )
}

fn q(v: &Value) -> String {
    format!(
        "{:.2} dB / {:.4} / {:.4}",
        f(&v["psnr"]),
        f(&v["ssim"]),
        f(&v["med"])
    )
}

fn report_md(r: &Value) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# VLGOR pipeline report — {} ({} preset)\n",
        r["env"].as_str().unwrap_or(""),
        r["preset"].as_str().unwrap_or("")
    );
    let _ = writeln!(
        md,
        "Policy seeds {}; every success figure is the closed-loop success rate averaged over (up to) the last 5 checkpoints, mean ± std over seeds.\n",
        r["seeds"]
    );
    let _ = writeln!(
        md,
        "## Policy success (Table 2)\n\n```\n{}\n```\n",
        summary_table(r)
    );
    for (algo, per) in r["success"].as_object().into_iter().flatten() {
        for level in EVAL_LEVELS {
            let (b, v) = (&per["baseline"][level], &per["vlgor"][level]);
            if b.is_object() && v.is_object() {
                let _ = writeln!(
                    md,
                    "- {} {level}: VLGOR − baseline = {:+.1} points (baseline {}, VLGOR {})",
                    algo.to_uppercase(),
                    100.0 * (f(&v["mean"]) - f(&b["mean"])),
                    pct(b),
                    pct(v)
                );
            }
        }
        if per["unvalidated"].is_object() {
            for level in EVAL_LEVELS {
                let _ = writeln!(
                    md,
                    "- {} {level}: validated {} vs unvalidated {}",
                    algo.to_uppercase(),
                    pct(&per["vlgor"][level]),
                    pct(&per["unvalidated"][level])
                );
            }
        }
    }
    let v = &r["vlm"];
    let _ = writeln!(
        md,
        "\n## World model (Table 1)\n\nPSNR / SSIM / MED on held-out real rollouts; MED compares the read-out main object with its true position, normalised by the workspace. {} parameters; readout error {:.4} m.\n",
        v["parameters"],
        f(&v["readout_error_m"])
    );
    let mut rows = vec![
        vec![
            "LoRA (main)".into(),
            q(&v["one_step"]),
            q(&v["rollout"]),
            format!("{:.1}%", 100.0 * f(&v["goal_rate"])),
        ],
        vec![
            "copy input frame".into(),
            q(&v["copy_baseline"]["one_step"]),
            q(&v["copy_baseline"]["rollout"]),
            "—".into(),
        ],
    ];
    for s in ["base", "full"] {
        let e = &v["stages"][s];
        rows.push(vec![
            format!("{s} only"),
            q(&e["one_step"]),
            q(&e["rollout"]),
            format!("{:.1}%", 100.0 * f(&e["goal_rate"])),
        ]);
    }
    for row in v["sweep"].as_array().into_iter().flatten() {
        let e = &row["eval"];
        rows.push(vec![
            format!("LoRA, {} samples", row["samples"]),
            q(&e["one_step"]),
            q(&e["rollout"]),
            format!("{:.1}%", 100.0 * f(&e["goal_rate"])),
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
    let val = &r["validator"];
    let _ = writeln!(
        md,
        "## Physics validation\n\n- false alarms on real held-out rollouts: {}\n- injected-fault recall (right reason): {}\n- imagined rollouts passing whole: {}; truncated: {}; rejected: {}\n",
        val["real_false_alarm_rate"],
        val["injected_recall"],
        val["pass_share"],
        val["truncated_share"],
        val["rejected_share"]
    );
    let mut rows = Vec::new();
    for (fault, x) in val["per_fault"].as_object().into_iter().flatten() {
        rows.push(vec![
            fault.clone(),
            x["injected"].to_string(),
            format!("{:.3}", f(&x["recall"])),
        ]);
    }
    let _ = writeln!(
        md,
        "```\n{}\n```\n",
        table(
            &["injected fault", "rollouts", "recall (right reason)"],
            &rows
        )
    );
    let mut rows = Vec::new();
    for (set, x) in r["imagined"].as_object().into_iter().flatten() {
        let reasons: Vec<String> = x["by_reason"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        rows.push(vec![
            set.clone(),
            x["rollouts"].to_string(),
            x["goal_reached"].to_string(),
            x["valid"].to_string(),
            x["truncated"].to_string(),
            x["rejected"].to_string(),
            reasons.join(", "),
        ]);
    }
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
    let mut rows = Vec::new();
    for (mix, x) in r["mixes"].as_object().into_iter().flatten() {
        let validated = if x["validated"].as_bool() == Some(true) {
            "yes"
        } else {
            "no"
        };
        rows.push(vec![
            mix.clone(),
            validated.into(),
            x["episodes_in"].to_string(),
            x["episodes_out"].to_string(),
            x["transitions_out"].to_string(),
        ]);
    }
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
    for (run, res) in r["policies"].as_object().into_iter().flatten() {
        if let Some(why) = res["skipped"].as_str() {
            let _ = writeln!(md, "- skipped {run}: {why}");
        }
    }
    let rows: Vec<Vec<String>> = r["timings"]["stages"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| vec![k.clone(), format!("{:.0}", f(v))])
        .collect();
    let _ = writeln!(
        md,
        "\n## Timings\n\n```\n{}\n```\n\nTotal: {:.1} min.\n",
        table(&["stage", "seconds"], &rows),
        f(&r["timings"]["total"]) / 60.0
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

/// False alarms of the physics validator on real held-out rollouts and its recall on injected
/// faults (each kind injected into every held-out rollout).
pub fn validator_stage(ctx: &Context, l: &Layout) -> Result<Value, CliError> {
    crate::commands::check::validator_statistics(ctx, &l.heldout())
}
