//! Configuration of the KALM baseline (`[kalm]`): the generator's size, its two training
//! stages and its sampling. Imagination with it uses `[vlm]`'s `imagine_horizon` and
//! `imagine_batch`, as VLGOR's does.

use serde::{Deserialize, Serialize};

/// `[kalm]`: the language-only rollout generator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KalmSection {
    /// Size preset, the world model's widths and depths: `cpu_quick` or `paper`.
    pub model: String,
    /// Longest training window and generation horizon, in keyframe transitions.
    pub max_steps: usize,
    /// Base stage: transitions of the data trained on with the instruction withheld (a generic
    /// one instead), every weight but the adapters.
    pub base_samples: usize,
    pub base_epochs: usize,
    pub base_lr: f64,
    /// LoRA stage: transitions of the data with their instructions (the CLI's `--samples`
    /// default); adapters and the numeric input/output layers train, the transformer is frozen.
    pub lora_samples: usize,
    pub lora_epochs: usize,
    pub lora_lr: f64,
    /// Trajectory windows per update in both stages.
    pub batch_size: usize,
    /// Action sampling in imagination: 0 = greedy (KALM's), else the softmax temperature
    /// (CLEVR) or the Gaussian noise's standard deviation (Meta-World).
    pub temperature: f64,
}

impl Default for KalmSection {
    /// The quick preset's values (a stored config of a release without `[kalm]` reads these).
    fn default() -> Self {
        KalmSection {
            model: "cpu_quick".into(),
            max_steps: 16,
            base_samples: 20_000,
            base_epochs: 2,
            base_lr: 3e-4,
            lora_samples: 10_000,
            lora_epochs: 2,
            lora_lr: 1e-3,
            batch_size: 16,
            temperature: 0.0,
        }
    }
}

impl KalmSection {
    pub fn validate(&self) -> Result<(), (String, &'static str)> {
        let bad = |k: &str, allowed: &'static str| Err((format!("kalm.{k}"), allowed));
        if !["cpu_quick", "paper"].contains(&self.model.as_str()) {
            return bad("model", "\"cpu_quick\" or \"paper\"");
        }
        for (k, v) in [
            ("max_steps", self.max_steps),
            ("base_samples", self.base_samples),
            ("base_epochs", self.base_epochs),
            ("lora_samples", self.lora_samples),
            ("lora_epochs", self.lora_epochs),
            ("batch_size", self.batch_size),
        ] {
            if v == 0 {
                return bad(k, "at least 1");
            }
        }
        if self.max_steps > 4096 {
            return bad("max_steps", "an integer in 1..=4096");
        }
        for (k, v) in [("base_lr", self.base_lr), ("lora_lr", self.lora_lr)] {
            if !(v > 0.0 && v < 1.0) {
                return bad(k, "a number in (0, 1)");
            }
        }
        if !(0.0..=100.0).contains(&self.temperature) {
            return bad("temperature", "a number in [0, 100] (0 = greedy)");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, PRESETS};

    #[test]
    fn presets_carry_kalm_and_bad_values_name_the_key() {
        for (name, _) in PRESETS {
            let c = Config::load(name, None).unwrap();
            assert!(c.kalm.validate().is_ok(), "{name}");
        }
        let quick = Config::load("quick", None).unwrap();
        assert_eq!(quick.kalm, super::KalmSection::default());
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, b"[kalm]\ntemperature = -1.0\n").unwrap();
        let e = Config::load("quick", Some(f.path()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("kalm.temperature"), "{e}");
    }
}
