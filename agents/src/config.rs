//! Run configuration: a named preset (embedded from `assets/presets/`) overlaid with an optional
//! user TOML file. Unknown keys, wrong types and out-of-range values are errors that name the
//! file, the key and what is allowed.

use serde::{Deserialize, Serialize};
use std::path::Path;

use crate::config_kalm::KalmSection;
use crate::config_vlm::{PipelineSection, VlmSection};
use crate::error::CliError;

/// Presets compiled into the binary: (name, TOML text).
pub const PRESETS: &[(&str, &str)] = &[
    ("quick", include_str!("../../assets/presets/quick.toml")),
    ("paper", include_str!("../../assets/presets/paper.toml")),
];

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub render: RenderSection,
    pub eval: EvalSection,
    pub collect: CollectSection,
    /// Offline RL hyper-parameters (see `vlgor_rl::RlConfig`).
    pub rl: vlgor_rl::RlConfig,
    /// World model and state readout.
    pub vlm: VlmSection,
    /// The end-to-end experiment.
    pub pipeline: PipelineSection,
    /// The KALM baseline's generator (absent in configs stored by earlier releases: the quick
    /// preset's values).
    #[serde(default)]
    pub kalm: KalmSection,
    /// Online RL with the action advisor (see `vlgor_rl::online::OnlineConfig`); absent in
    /// configs of earlier releases, which take its defaults (the quick preset's values).
    #[serde(default)]
    pub online: vlgor_rl::online::OnlineConfig,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenderSection {
    /// Frame width (pixels).
    pub width: u32,
    /// Frame height (pixels).
    pub height: u32,
    /// Supersampling factor for anti-aliasing.
    pub supersample: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalSection {
    /// Episodes per level and seed.
    pub episodes: usize,
    /// ε for the expert policy during evaluation.
    pub noise: f32,
    /// A run directory is evaluated at its last this many checkpoints (one episode's score is
    /// their mean).
    #[serde(default = "five")]
    pub checkpoints: usize,
}

fn five() -> usize {
    5
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectSection {
    /// Rollout–instruction pairs to collect.
    pub episodes: usize,
    /// ε of the ε-noisy expert.
    pub noise: f32,
    /// Episodes per shard file (the unit of resumption).
    pub episodes_per_shard: usize,
}

impl Config {
    /// Loads preset `name`, then overlays `user` (a TOML file) when given.
    pub fn load(name: &str, user: Option<&Path>) -> Result<Config, CliError> {
        let text = PRESETS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
            .ok_or_else(|| {
                CliError::Input(format!(
                    "unknown preset '{name}'; valid presets: {}",
                    PRESETS
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
        let mut merged: toml::Table = toml::from_str(text)
            .map_err(|e| CliError::Input(format!("embedded preset '{name}' is invalid: {e}")))?;
        let mut origin = format!("preset '{name}'");
        if let Some(path) = user {
            let user_text = std::fs::read_to_string(path).map_err(|e| {
                CliError::Input(format!("cannot read config file {}: {e}", path.display()))
            })?;
            let mut user_table: toml::Table = toml::from_str(&user_text).map_err(|e| {
                CliError::Input(format!(
                    "config file {} is not valid TOML: {e}",
                    path.display()
                ))
            })?;
            rename_old_keys(&mut user_table);
            // Check the user's keys on their own first so errors point at the user's file.
            check_keys(&user_table, &merged, "", path)?;
            merge(&mut merged, user_table);
            origin = format!("{} (over preset '{name}')", path.display());
        }
        let config: Config = toml::Value::Table(merged)
            .try_into()
            .map_err(|e| CliError::Input(format!("config {origin}: {e}")))?;
        config.validate(&origin)?;
        Ok(config)
    }

    fn validate(&self, origin: &str) -> Result<(), CliError> {
        let bad = |key: &str, allowed: &str| {
            Err(CliError::Input(format!(
                "config {origin}: key '{key}' must be {allowed}"
            )))
        };
        if !(16..=4096).contains(&self.render.width) {
            return bad("render.width", "an integer in 16..=4096");
        }
        if !(16..=4096).contains(&self.render.height) {
            return bad("render.height", "an integer in 16..=4096");
        }
        if !(1..=4).contains(&self.render.supersample) {
            return bad("render.supersample", "1, 2, 3 or 4");
        }
        if self.eval.episodes == 0 {
            return bad("eval.episodes", "at least 1");
        }
        if self.eval.checkpoints == 0 {
            return bad("eval.checkpoints", "at least 1");
        }
        for (key, v) in [
            ("eval.noise", self.eval.noise),
            ("collect.noise", self.collect.noise),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return bad(key, "a number in [0, 1]");
            }
        }
        if self.collect.episodes == 0 {
            return bad("collect.episodes", "at least 1");
        }
        if !(1..=100_000).contains(&self.collect.episodes_per_shard) {
            return bad("collect.episodes_per_shard", "an integer in 1..=100000");
        }
        self.rl
            .validate()
            .and(self.online.validate())
            .map_err(|e| CliError::Input(format!("config {origin}: {e}")))?;
        if let Err((key, allowed)) = self
            .vlm
            .validate()
            .and(self.pipeline.validate())
            .and(self.kalm.validate())
        {
            return bad(&key, allowed);
        }
        Ok(())
    }
}

/// Earlier names of keys, still read: `[pipeline] counterfactual_target` and
/// `counterfactual_behavior` were the imagined counts now named per level.
const OLD_KEYS: [(&str, &str, &str); 2] = [
    ("pipeline", "counterfactual_target", "rephrase"),
    ("pipeline", "counterfactual_behavior", "counterfactual"),
];

fn rename_old_keys(user: &mut toml::Table) {
    for (section, old, new) in OLD_KEYS {
        if let Some(toml::Value::Table(t)) = user.get_mut(section)
            && !t.contains_key(new)
            && let Some(v) = t.remove(old)
        {
            t.insert(new.to_string(), v);
        }
    }
}

/// Rejects keys of `user` that the preset does not have, naming the file and listing valid keys.
fn check_keys(
    user: &toml::Table,
    preset: &toml::Table,
    prefix: &str,
    path: &Path,
) -> Result<(), CliError> {
    for (key, value) in user {
        let full = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match preset.get(key) {
            None => {
                let valid: Vec<String> = preset
                    .keys()
                    .map(|k| {
                        if prefix.is_empty() {
                            k.clone()
                        } else {
                            format!("{prefix}.{k}")
                        }
                    })
                    .collect();
                return Err(CliError::Input(format!(
                    "config file {}: unknown key '{full}'; valid keys here: {}",
                    path.display(),
                    valid.join(", ")
                )));
            }
            Some(toml::Value::Table(p)) => match value {
                toml::Value::Table(u) => check_keys(u, p, &full, path)?,
                other => {
                    return Err(CliError::Input(format!(
                        "config file {}: key '{full}' must be a table, found {}",
                        path.display(),
                        other.type_str()
                    )));
                }
            },
            Some(_) => {}
        }
    }
    Ok(())
}

fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn presets_load() {
        for (name, _) in PRESETS {
            Config::load(name, None).unwrap();
        }
    }

    #[test]
    fn unknown_preset_lists_valid_ones() {
        let e = Config::load("fast", None).unwrap_err().to_string();
        assert!(e.contains("quick") && e.contains("paper"), "{e}");
    }

    #[test]
    fn override_applies() {
        let f = write("[eval]\nepisodes = 7\n");
        let c = Config::load("quick", Some(f.path())).unwrap();
        assert_eq!(c.eval.episodes, 7);
        assert_eq!(c.render.width, 128);
    }

    #[test]
    fn unknown_key_names_file_and_key() {
        let f = write("[eval]\nepisodez = 7\n");
        let e = Config::load("quick", Some(f.path()))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("eval.episodez") && e.contains("eval.episodes"),
            "{e}"
        );
        assert!(e.contains(&f.path().display().to_string()), "{e}");
    }

    #[test]
    fn wrong_type_and_range_are_reported() {
        let f = write("[render]\nwidth = \"big\"\n");
        let e = Config::load("quick", Some(f.path()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("width"), "{e}");
        let f = write("[eval]\nnoise = 2.0\n");
        let e = Config::load("quick", Some(f.path()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("eval.noise") && e.contains("[0, 1]"), "{e}");
    }

    #[test]
    fn malformed_toml_names_file() {
        let f = write("[eval\nepisodes = 7\n");
        let e = Config::load("quick", Some(f.path()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not valid TOML"), "{e}");
    }
}
