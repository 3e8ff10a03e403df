//! Run configuration: a named preset (embedded from `assets/presets/`) overlaid with an optional
//! user TOML file. Unknown keys, wrong types and out-of-range values are errors that name the
//! file, the key and what is allowed.

use serde::{Deserialize, Serialize};
use std::path::Path;

use crate::config_kalm::KalmSection;
use crate::config_varl::VarlSection;
use crate::config_vlm::{PipelineSection, VlmSection};
use crate::error::CliError;
use vlgor_sim::EnvKind;

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
    /// The VARL comparison (`vlgor varl`); absent in configs of earlier releases.
    #[serde(default)]
    pub varl: VarlSection,
    /// Values that replace the ones above when a command runs on one simulator: tables
    /// `[<env>.<section>]` (`[metaworld.eval]`, ...) with the keys of `[<section>]`, applied by
    /// [`Config::for_env`], so a preset sizes its Meta-World experiment apart from CLEVR's.
    /// Never stored: a run directory keeps the configuration they were applied to.
    #[serde(skip)]
    pub per_env: Vec<(EnvKind, toml::Table)>,
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
            // Check the user's keys on their own first so errors point at the user's file;
            // a per-env table's keys are those of the sections it overrides.
            let mut valid = merged.clone();
            let mut sections = merged.clone();
            for env in EnvKind::ALL {
                sections.remove(env.name());
            }
            for env in EnvKind::ALL {
                valid.insert(env.name().into(), toml::Value::Table(sections.clone()));
            }
            check_keys(&user_table, &valid, "", path)?;
            // A key the user sets in a section wins over the preset's per-env value for it
            // (the user's own `[<env>.*]` tables still apply on top).
            for env in EnvKind::ALL {
                if let Some(toml::Value::Table(overlay)) = merged.get_mut(env.name()) {
                    unset_keys_of(overlay, &user_table);
                }
            }
            merge(&mut merged, user_table);
            origin = format!("{} (over preset '{name}')", path.display());
        }
        let per_env: Vec<(EnvKind, toml::Table)> = EnvKind::ALL
            .into_iter()
            .filter_map(|env| match merged.remove(env.name()) {
                Some(toml::Value::Table(t)) => Some(Ok((env, t))),
                Some(other) => Some(Err(CliError::Input(format!(
                    "config {origin}: key '{env}' must be a table of sections, found {}",
                    other.type_str()
                )))),
                None => None,
            })
            .collect::<Result<_, _>>()?;
        let mut config: Config = toml::Value::Table(merged)
            .try_into()
            .map_err(|e| CliError::Input(format!("config {origin}: {e}")))?;
        config.validate(&origin)?;
        config.per_env = per_env;
        // Each simulator's tables must make a valid configuration too.
        for env in EnvKind::ALL {
            config
                .for_env(env)
                .map_err(|e| CliError::Input(format!("config {origin}, [{env}.*]: {e}")))?;
        }
        Ok(config)
    }

    /// The configuration with every optional key replaced by the value it stands for
    /// (`vlm.imagine_horizon_hard` absent = `vlm.imagine_horizon`), so configs that mean the
    /// same compare equal.
    pub fn resolved(mut self) -> Config {
        self.vlm.imagine_horizon_hard = Some(self.vlm.hard_horizon());
        self
    }

    /// The configuration a command on `env` runs with: the `[<env>.*]` tables merged over the
    /// sections they name. The result carries no per-env tables.
    pub fn for_env(&self, env: EnvKind) -> Result<Config, CliError> {
        let mut base = self.clone();
        let per_env = std::mem::take(&mut base.per_env);
        let mut config = match per_env.into_iter().find(|(e, _)| *e == env) {
            None => base,
            Some((_, overlay)) => Self::overlaid(base, overlay, env)?,
        };
        // Held-out relational goals exist only where the env has the level (CLEVR); a count
        // set in the shared [pipeline] section means nothing elsewhere and imagines nothing.
        if !vlgor_sim::Level::of_env(env).contains(&vlgor_sim::Level::UnseenRelation) {
            config.pipeline.unseen_relation = 0;
        }
        Ok(config)
    }

    /// `base` with one env's `[<env>.*]` tables merged over it, validated.
    fn overlaid(base: Config, overlay: toml::Table, env: EnvKind) -> Result<Config, CliError> {
        let mut table = toml::Table::try_from(&base)
            .map_err(|e| CliError::Other(anyhow::anyhow!("config as TOML: {e}")))?;
        merge(&mut table, overlay);
        let config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e| CliError::Input(e.to_string()))?;
        config.validate(&format!("for {env}"))?;
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
            .and(self.varl.validate())
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

/// Removes from a preset's per-env `overlay` every `[section] key` that `user` sets.
fn unset_keys_of(overlay: &mut toml::Table, user: &toml::Table) {
    for (section, keys) in user {
        if let (Some(toml::Value::Table(o)), toml::Value::Table(u)) =
            (overlay.get_mut(section), keys)
        {
            o.retain(|k, _| !u.contains_key(k));
        }
    }
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
    fn metaworld_overlay_applies_only_to_metaworld() {
        let f = write("[eval]\nepisodes = 7\n[metaworld.eval]\nepisodes = 3\n");
        let c = Config::load("quick", Some(f.path())).unwrap();
        let clevr = c.for_env(EnvKind::Clevr).unwrap();
        let mw = c.for_env(EnvKind::MetaWorld).unwrap();
        assert_eq!((clevr.eval.episodes, mw.eval.episodes), (7, 3));
        assert!(clevr.per_env.is_empty() && mw.per_env.is_empty());
        assert_eq!(mw.render.width, clevr.render.width);
        // An overlay's key must be one of its section's keys, and its values valid.
        let f = write("[metaworld.eval]\nepisodez = 3\n");
        let e = Config::load("quick", Some(f.path()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("metaworld.eval.episodez"), "{e}");
        let f = write("[metaworld.eval]\nnoise = 3.0\n");
        let e = Config::load("quick", Some(f.path()))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("[metaworld.*]") && e.contains("eval.noise"),
            "{e}"
        );
        // The user's own value beats the preset's Meta-World value for the same key.
        let f = write("[collect]\nepisodes = 40\n");
        let c = Config::load("quick", Some(f.path())).unwrap();
        let preset = Config::load("quick", None).unwrap();
        let mw = |c: &Config| c.for_env(EnvKind::MetaWorld).unwrap();
        assert_eq!(mw(&c).collect.episodes, 40);
        assert_ne!(mw(&preset).collect.episodes, preset.collect.episodes);
        assert_eq!(mw(&c).eval.episodes, mw(&preset).eval.episodes);
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
