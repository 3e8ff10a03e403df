//! Success per task (Meta-World users read results per task): for every arm and the reference
//! rows, each task's success at each level, mean ± std over the policy seeds.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::arms::{VARIANT_NAMES, variants};
use super::records::PolicySummary;
use super::results::{SeedStats, per_seed};
use crate::context::Context;
use crate::report::{mean_std, table};

/// Row (`algo variant`, or `random` / `expert`) → level → task → success over seeds.
pub type PerTask = BTreeMap<String, BTreeMap<String, BTreeMap<String, SeedStats>>>;

/// Each task's success at each level for record `key`, over the policy seeds; empty where the
/// records carry no per-task split (one task).
fn over_seeds(
    ctx: &Context,
    records: &BTreeMap<String, PolicySummary>,
    key: &str,
) -> BTreeMap<String, BTreeMap<String, SeedStats>> {
    let seeds = per_seed(ctx, records, key);
    let mut out: BTreeMap<String, BTreeMap<String, SeedStats>> = BTreeMap::new();
    let Some(first) = seeds.first() else {
        return out;
    };
    for (level, tasks) in &first.per_task {
        for task in tasks.keys() {
            let xs: Vec<f64> = seeds
                .iter()
                .filter_map(|r| r.per_task.get(level)?.get(task).copied())
                .collect();
            let (mean, std) = mean_std(&xs);
            out.entry(level.clone()).or_default().insert(
                task.clone(),
                SeedStats {
                    mean,
                    std,
                    per_seed: xs,
                },
            );
        }
    }
    out
}

/// The per-task table of every trained arm and both reference rows.
pub fn per_task(
    ctx: &Context,
    policies: &BTreeMap<String, PolicySummary>,
    refs: &BTreeMap<String, PolicySummary>,
) -> PerTask {
    let p = &ctx.config.pipeline;
    let mut out = PerTask::new();
    for name in ["random", "expert"] {
        let t = over_seeds(ctx, refs, name);
        if !t.is_empty() {
            out.insert(name.to_string(), t);
        }
    }
    for algo in &p.algos {
        for v in variants(*algo, p) {
            let t = over_seeds(ctx, policies, &format!("{algo}-{}", v.name));
            if !t.is_empty() {
                out.insert(format!("{algo} {}", v.name), t);
            }
        }
    }
    out
}

/// Report order of a per-task row: the reference rows first, then by algorithm and variant.
fn row_order(row: &str) -> (usize, String, usize) {
    match row {
        "random" => (0, String::new(), 0),
        "expert" => (1, String::new(), 0),
        _ => {
            let (algo, variant) = row.split_once(' ').unwrap_or((row, ""));
            let v = VARIANT_NAMES
                .iter()
                .position(|n| *n == variant)
                .unwrap_or(VARIANT_NAMES.len());
            (2, algo.to_string(), v)
        }
    }
}

/// One table per level: a row per arm, a column per task (percent, mean over seeds).
pub fn per_task_md(rows: &PerTask, levels: &[&str]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let mut names: Vec<&String> = rows.keys().collect();
    names.sort_by_key(|n| row_order(n));
    let mut md = String::from(
        "## Success per task\n\nPercent, mean over the policy seeds, on the same episodes as the tables above.\n",
    );
    for level in levels {
        let tasks: Vec<String> = rows
            .values()
            .find_map(|r| r.get(*level))
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default();
        if tasks.is_empty() {
            continue;
        }
        let mut header = vec!["arm".to_string()];
        header.extend(tasks.iter().cloned());
        let body: Vec<Vec<String>> = names
            .iter()
            .filter_map(|n| {
                let cells = rows[*n].get(*level)?;
                let mut row = vec![n.to_string()];
                row.extend(tasks.iter().map(|t| match cells.get(t) {
                    Some(s) if s.mean.is_finite() => format!("{:.0}", 100.0 * s.mean),
                    _ => "—".into(),
                }));
                Some(row)
            })
            .collect();
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        let _ = writeln!(md, "\n### {level}\n\n```\n{}\n```", table(&header, &body));
    }
    md.push('\n');
    md
}
