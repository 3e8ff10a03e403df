//! Configuration of `vlgor varl` (`[varl]`): the VARL comparison's grid (environments, tasks,
//! seeds, lengths) and its success thresholds. Every run follows `[online]`.

use serde::{Deserialize, Serialize};
use std::str::FromStr;
use vlgor_sim::metaworld::Task;

/// `[varl]`: online RL advised by the world model vs unadvised, over seeds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VarlSection {
    /// Run seeds; every (env, task, advisor) cell runs each.
    pub seeds: Vec<u64>,
    /// Environment steps of each CLEVR run (double DQN, sparse reward).
    pub clevr_steps: u64,
    /// Environment steps of each Meta-World run (SAC, sparse reward).
    pub metaworld_steps: u64,
    /// Meta-World tasks compared (names as `vlgor tasks` lists them).
    pub metaworld_tasks: Vec<String>,
    /// Closed-loop success rate (of `online.eval_episodes` greedy episodes) a run must reach;
    /// its steps-to-threshold is the first evaluation's env steps at or above it.
    pub clevr_threshold: f64,
    pub metaworld_threshold: f64,
    /// Also run the scripted expert as advisor (the mechanism's oracle upper bound).
    pub expert_advisor: bool,
}

impl Default for VarlSection {
    /// The quick preset's values.
    fn default() -> Self {
        VarlSection {
            seeds: vec![0, 1, 2],
            clevr_steps: 20_000,
            metaworld_steps: 12_000,
            metaworld_tasks: vec!["reach".into(), "button-press".into(), "window-open".into()],
            clevr_threshold: 0.4,
            metaworld_threshold: 0.3,
            expert_advisor: true,
        }
    }
}

impl VarlSection {
    /// The Meta-World tasks, parsed.
    pub fn tasks(&self) -> Result<Vec<Task>, (String, &'static str)> {
        self.metaworld_tasks
            .iter()
            .map(|t| {
                Task::from_str(t).map_err(|_| {
                    (
                        "varl.metaworld_tasks".to_string(),
                        "a list of Meta-World task names (see `vlgor tasks --env metaworld`)",
                    )
                })
            })
            .collect()
    }

    /// Checks every key; the error is (key, what is allowed).
    pub fn validate(&self) -> Result<(), (String, &'static str)> {
        let bad = |k: &str, allowed: &'static str| Err((format!("varl.{k}"), allowed));
        if self.seeds.is_empty() {
            return bad("seeds", "a non-empty list of seeds");
        }
        let mut s = self.seeds.clone();
        s.sort_unstable();
        s.dedup();
        if s.len() != self.seeds.len() {
            return bad("seeds", "a list of distinct seeds");
        }
        if self.clevr_steps == 0 || self.metaworld_steps == 0 {
            return bad("clevr_steps / metaworld_steps", "at least 1");
        }
        for (k, v) in [
            ("clevr_threshold", self.clevr_threshold),
            ("metaworld_threshold", self.metaworld_threshold),
        ] {
            if !(v > 0.0 && v <= 1.0) {
                return bad(k, "a success rate in (0, 1]");
            }
        }
        self.tasks().map(|_| ())
    }
}
