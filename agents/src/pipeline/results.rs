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

/// Success of record `key` (`{algo}-{variant}` or a reference name) per level: mean ± std
/// over the policy seeds (fractions); levels without a record are left out.
fn levels_over_seeds(ctx: &Context, records: &Value, key: &str) -> serde_json::Map<String, Value> {
    let mut levels = serde_json::Map::new();
    for level in EVAL_LEVELS {
        let xs: Vec<f64> = ctx
            .config
            .pipeline
            .seeds
            .iter()
            .filter_map(|s| records.get(format!("{key}-s{s}")))
            .map(|r| f(&r["success"][level]))
            .filter(|x| x.is_finite())
            .collect();
        if !xs.is_empty() {
            let (m, sd) = mean_std(&xs);
            levels.insert(level.into(), json!({"mean": m, "std": sd, "per_seed": xs}));
        }
    }
    levels
}

/// Success per algorithm, variant and level: mean ± std over seeds (fractions).
fn success(ctx: &Context, policies: &Value) -> Value {
    let p = &ctx.config.pipeline;
    let mut out = serde_json::Map::new();
    for algo in &p.algos {
        let mut per_variant = serde_json::Map::new();
        for v in variants(algo, p.unvalidated_ablation) {
            let levels = levels_over_seeds(ctx, policies, &format!("{algo}-{}", v.name));
            if !levels.is_empty() {
                per_variant.insert(v.name.into(), Value::Object(levels));
            }
        }
        out.insert(algo.clone(), Value::Object(per_variant));
    }
    Value::Object(out)
}

/// Per-episode scores of record `key` (`{algo}-{variant}` or a reference name) at `level`,
/// seed after seed; `None` when a seed's record is missing.
fn episodes_of(ctx: &Context, records: &Value, key: &str, level: &str) -> Option<Vec<f64>> {
    let mut out = Vec::new();
    for s in &ctx.config.pipeline.seeds {
        let v = records.get(format!("{key}-s{s}"))?["episodes"][level].as_array()?;
        out.extend(v.iter().filter_map(Value::as_f64));
    }
    (!out.is_empty()).then_some(out)
}

/// Reference rows (random, expert) per level: mean ± std over the policy seeds.
fn reference_rows(ctx: &Context, refs: &Value) -> Value {
    let out: serde_json::Map<String, Value> = ["random", "expert"]
        .into_iter()
        .map(|name| {
            (
                name.to_string(),
                Value::Object(levels_over_seeds(ctx, refs, name)),
            )
        })
        .collect();
    Value::Object(out)
}

/// Paired differences over identical episodes (all seeds pooled): every variant against its
/// algorithm's baseline, and each baseline against the random policy.
fn paired_rows(ctx: &Context, policies: &Value, refs: &Value) -> Value {
    use crate::evaluation::stats::paired;
    let p = &ctx.config.pipeline;
    let mut out = serde_json::Map::new();
    for algo in &p.algos {
        let mut per_variant = serde_json::Map::new();
        let base = format!("{algo}-baseline");
        for v in variants(algo, p.unvalidated_ablation) {
            let mut levels = serde_json::Map::new();
            for level in EVAL_LEVELS {
                let (a, b) = if v.name == "baseline" {
                    (
                        episodes_of(ctx, policies, &base, level),
                        episodes_of(ctx, refs, "random", level),
                    )
                } else {
                    (
                        episodes_of(ctx, policies, &format!("{algo}-{}", v.name), level),
                        episodes_of(ctx, policies, &base, level),
                    )
                };
                if let Some(d) = a.zip(b).and_then(|(a, b)| paired(&a, &b)) {
                    levels.insert(level.into(), json!(d));
                }
            }
            let key = if v.name == "baseline" {
                "baseline_vs_random".to_string()
            } else {
                v.name.to_string()
            };
            per_variant.insert(key, Value::Object(levels));
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
        "reference": reference_rows(ctx, &s("references")),
        "paired": paired_rows(ctx, &s("policies"), &s("references")),
        "oracle_data": s("oracle"),
        "eval_episodes": ctx.config.eval.episodes,
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

/// The Table-2-shaped success table (percent, mean ± std over seeds), with the random and
/// expert reference rows.
pub fn summary_table(r: &Value) -> String {
    let mut rows = Vec::new();
    for name in ["random", "expert"] {
        let levels = &r["reference"][name];
        if levels.as_object().is_some_and(|m| !m.is_empty()) {
            let mut row = vec!["—".to_string(), name.to_string()];
            row.extend(EVAL_LEVELS.iter().map(|l| pct(&levels[*l])));
            rows.push(row);
        }
    }
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
    let mut header = vec!["algo".to_string(), "data".to_string()];
    header.extend(EVAL_LEVELS.iter().map(|l| format!("{l} %")));
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    table(&header, &rows)
}

/// `+12.3 [+8.1, +16.5]` from a serialized paired difference.
fn points(d: &Value) -> String {
    if d.is_object() {
        format!(
            "{:+.1} [{:+.1}, {:+.1}]",
            100.0 * f(&d["mean"]),
            100.0 * f(&d["lo"]),
            100.0 * f(&d["hi"])
        )
    } else {
        "—".into()
    }
}

/// The paired-difference table and the levels on which a baseline does not beat random.
fn paired_md(r: &Value) -> String {
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for (algo, per) in r["paired"].as_object().into_iter().flatten() {
        for (variant, levels) in per.as_object().into_iter().flatten() {
            let label = if variant == "baseline_vs_random" {
                "baseline − random".to_string()
            } else {
                format!("{variant} − baseline")
            };
            let mut row = vec![algo.to_uppercase(), label];
            row.extend(EVAL_LEVELS.iter().map(|l| points(&levels[*l])));
            rows.push(row);
            if variant == "baseline_vs_random" {
                for l in EVAL_LEVELS {
                    let d = &levels[l];
                    if d.is_object() && f(&d["lo"]) <= 0.0 {
                        notes.push(format!(
                            "- **{} baseline does not beat a random policy on {l}** (paired 95% interval {} points): this level cannot show a gain over the baseline that random data would not also give.",
                            algo.to_uppercase(),
                            points(d)
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
        "Policy seeds {}; every success figure is the closed-loop success rate averaged over (up to) the last 5 checkpoints, mean ± std over seeds, {} episodes per level and seed. Levels follow KALM's protocol: rephrase, unseen-relation and hard run up to 50 pushes and stop at success; counterfactual (\"move ball X toward D\", held-out combinations) is judged on the first push. The oracle arm trains on real data plus scripted-expert rollouts for the unseen levels' instructions (other start states than the evaluation's): the upper bound of any imagination.\n",
        r["seeds"], r["eval_episodes"]
    );
    let _ = writeln!(
        md,
        "## Policy success (Table 2)\n\n```\n{}\n```\n",
        summary_table(r)
    );
    let _ = writeln!(
        md,
        "## Paired differences\n\nPercentage points with 95% intervals from paired comparisons over identical episodes ({} per level and seed; same start state and instruction per episode index): every arm against its algorithm's baseline, each baseline against the random policy.\n\n{}",
        r["eval_episodes"],
        paired_md(r)
    );
    for (algo, per) in r["success"].as_object().into_iter().flatten() {
        if per["unvalidated"].is_object() {
            for level in EVAL_LEVELS {
                if per["vlgor"][level].is_object() {
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
