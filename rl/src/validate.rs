//! Checks of a [`RunConfig`] read from a file, before any network is built from it: every size
//! in range, the observation statistics as long as the observation, the action space the
//! environment's. Errors name the field.

use vlgor_sim::dataset::ActionSpace;

use crate::config::{ObsSpec, RunConfig};

/// Largest width, embedding or observation size accepted from a file (a larger one is a
/// corrupt file, not a network this project builds).
const MAX_WIDTH: usize = 1 << 13;
/// Frame sides the conv encoder accepts from a file (36 is its smallest input).
const FRAME_SIDES: std::ops::RangeInclusive<usize> = 36..=512;
/// `Action::Continuous` holds at most this many values.
const MAX_ACTION_DIM: usize = 4;

/// Checks `run` (the `run` field of a checkpoint JSON); the error names the field.
pub fn check_run(run: &RunConfig) -> Result<(), String> {
    let field = |name: &str, what: String| Err(format!("field `run.{name}` {what}"));
    match (run.env.as_str(), run.action_space) {
        ("clevr", ActionSpace::Discrete { n }) if (2..=MAX_WIDTH).contains(&n) => {}
        ("metaworld", ActionSpace::Continuous { dim }) if (1..=MAX_ACTION_DIM).contains(&dim) => {}
        ("clevr" | "metaworld", space) => {
            return field(
                "action_space",
                format!("{space:?} does not fit env '{}'", run.env),
            );
        }
        (env, _) => return field("env", format!("'{env}' is not clevr or metaworld")),
    }
    run.algo
        .check_action_space(run.action_space)
        .map_err(|e| format!("field `run.algo`: {e}"))?;
    run.rl
        .validate()
        .map_err(|e| format!("field `run.rl`: {e}"))?;
    for (name, v) in [
        ("rl.text_hidden", run.rl.network.text_hidden),
        ("rl.feature_dim", run.rl.network.feature_dim),
        ("rl.joint_dim", run.rl.network.joint_dim),
        ("goal_dim", run.goal_dim),
    ] {
        if !(1..=MAX_WIDTH).contains(&v) {
            return field(name, format!("= {v} is outside 1..={MAX_WIDTH}"));
        }
    }
    match run.obs {
        ObsSpec::State { dim } => {
            if !(1..=MAX_WIDTH).contains(&dim) {
                return field("obs.dim", format!("= {dim} is outside 1..={MAX_WIDTH}"));
            }
            for (name, v) in [("obs_mean", &run.obs_mean), ("obs_std", &run.obs_std)] {
                if v.len() != dim {
                    return field(name, format!("has {} values, obs.dim is {dim}", v.len()));
                }
                if v.iter().any(|x| !x.is_finite()) {
                    return field(name, "holds a non-finite value".into());
                }
            }
            if run.obs_std.iter().any(|&s| s <= 0.0) {
                return field("obs_std", "holds a value <= 0".into());
            }
        }
        ObsSpec::Image { height, width } => {
            if !FRAME_SIDES.contains(&height) || !FRAME_SIDES.contains(&width) {
                return field(
                    "obs",
                    format!("frames of {width}x{height} are outside {FRAME_SIDES:?} px a side"),
                );
            }
        }
    }
    if run.steps_per_epoch == 0 {
        return field("steps_per_epoch", "must be at least 1".into());
    }
    if run
        .steps_per_epoch
        .checked_mul(run.rl.training.epochs as u64)
        != Some(run.total_steps)
    {
        return field(
            "total_steps",
            format!(
                "= {} is not steps_per_epoch ({}) x rl.epochs ({})",
                run.total_steps, run.steps_per_epoch, run.rl.training.epochs
            ),
        );
    }
    Ok(())
}
