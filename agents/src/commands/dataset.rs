//! `vlgor dataset info`: what a dataset holds.

use serde_json::json;
use std::collections::BTreeMap;
use vlgor_sim::dataset::Dataset;

use crate::context::Context;
use crate::error::CliError;
use crate::report::table;
use vlgor_sim::EnvSpec;

/// Totals of one (task, level) group.
#[derive(Default)]
struct Group {
    episodes: usize,
    transitions: usize,
    successes: usize,
}

pub fn info(ctx: &Context, dir: &std::path::Path) -> Result<(), CliError> {
    let data = Dataset::open(dir, None).map_err(|e| CliError::Input(e.to_string()))?;
    let mut groups: BTreeMap<(String, String), Group> = BTreeMap::new();
    for e in &data.episodes {
        let task = EnvSpec::of_goal(&e.instruction.goal).label().to_string();
        let g = groups
            .entry((task, e.instruction.level.to_string()))
            .or_default();
        g.episodes += 1;
        g.transitions += e.length;
        let succ = &data.success[e.first_transition..e.first_transition + e.length];
        g.successes += succ.iter().any(|&s| s != 0) as usize;
    }
    let bytes: u64 = data.manifest.shards.iter().map(|s| s.bytes).sum::<u64>()
        + std::fs::metadata(dir.join("manifest.json"))
            .map(|m| m.len())
            .unwrap_or(0);
    let m = &data.manifest;
    let n_eps = data.episodes.len().max(1) as f64;
    let successes: usize = groups.values().map(|g| g.successes).sum();
    if !ctx.json {
        println!(
            "{}: {} dataset, env {}, {} episodes, {} transitions, {} shards, {:.2} MiB on disk",
            dir.display(),
            serde_json::to_value(m.origin)
                .map_err(anyhow::Error::from)?
                .as_str()
                .unwrap_or("?"),
            m.env,
            data.episodes.len(),
            data.transitions(),
            m.shards.len(),
            bytes as f64 / (1024.0 * 1024.0)
        );
        println!(
            "mean episode length {:.2} steps, success rate {:.1}%, frames {}",
            data.transitions() as f64 / n_eps,
            100.0 * successes as f64 / n_eps,
            if m.frames.is_some() {
                "stored"
            } else {
                "re-rendered from states"
            }
        );
        let rows: Vec<Vec<String>> = groups
            .iter()
            .map(|((task, level), g)| {
                vec![
                    task.clone(),
                    level.clone(),
                    g.episodes.to_string(),
                    format!("{:.2}", g.transitions as f64 / g.episodes as f64),
                    format!("{:.1}%", 100.0 * g.successes as f64 / g.episodes as f64),
                ]
            })
            .collect();
        println!(
            "{}",
            table(
                &["task", "level", "episodes", "mean length", "success"],
                &rows
            )
        );
    }
    let per_group: Vec<_> = groups
        .iter()
        .map(|((task, level), g)| {
            json!({"task": task, "level": level, "episodes": g.episodes,
            "transitions": g.transitions, "successes": g.successes})
        })
        .collect();
    // Per episode, in dataset order: the sum of its rewards (f32 sums, as stored).
    let episode_returns: Vec<f32> = data
        .episodes
        .iter()
        .map(|e| {
            data.rewards[e.first_transition..e.first_transition + e.length]
                .iter()
                .sum()
        })
        .collect();
    ctx.emit_json(
        &json!({"env": m.env, "origin": m.origin, "episodes": data.episodes.len(),
        "transitions": data.transitions(), "mean_length": data.transitions() as f64 / n_eps,
        "success_rate": successes as f64 / n_eps, "bytes": bytes, "groups": per_group,
        "episode_returns": episode_returns}),
    );
    Ok(())
}

/// `vlgor dataset merge SRC... --out DIR`: every episode of the sources, whole, in one dataset.
pub fn merge(
    ctx: &Context,
    sources: &[std::path::PathBuf],
    out: &std::path::Path,
    keep: crate::imagination::mix::MixRule,
    filter: vlgor_sim::validate::Filter,
) -> Result<(), CliError> {
    if out
        .join(vlgor_sim::dataset::manifest::MANIFEST_FILE)
        .exists()
    {
        return Err(CliError::Input(format!(
            "{} already holds a dataset; merge into a new directory",
            out.display()
        )));
    }
    let mut env = None;
    for src in sources {
        let m = vlgor_sim::dataset::Dataset::open(src, None)
            .map_err(|e| CliError::Input(e.to_string()))?
            .manifest;
        match &env {
            None => env = Some(m.env.clone()),
            Some(e) if *e != m.env => {
                return Err(CliError::Input(format!(
                    "{}: a {} dataset cannot merge with {e} ones",
                    src.display(),
                    m.env
                )));
            }
            Some(_) => {}
        }
    }
    let refs: Vec<&std::path::Path> = sources.iter().map(|p| p.as_path()).collect();
    let s = crate::imagination::mix::mix(ctx, &refs, out, filter, keep)?;
    if !ctx.json {
        println!(
            "{} episodes, {} transitions -> {}",
            s.episodes_out,
            s.transitions_out,
            out.display()
        );
    }
    ctx.emit_json(&serde_json::json!({"dir": out, "episodes": s.episodes_out,
                                      "transitions": s.transitions_out}));
    Ok(())
}
