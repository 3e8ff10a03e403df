//! The typed values of the command line: one parser per domain type of `sim`, `rl` and the
//! validator (env, task, level, algorithm, observation, filter), each listing its values in
//! `--help`, and the command line's own choices (the training stage, the policy to run).
//! The domain types keep their serde names; the parsers accept exactly those names.

use clap::ValueEnum;
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use std::ffi::OsStr;
use std::path::PathBuf;
use std::str::FromStr;
use vlgor_rl::config::{AlgoKind, ObsKind};
use vlgor_sim::metaworld::Task;
use vlgor_sim::validate::Filter;
use vlgor_sim::{EnvKind, Level, TaskChoice};

/// A parser accepting exactly `values` (listed with their help in `--help`), each turned into
/// a `T` by its `FromStr`.
fn named<T, E>(values: Vec<PossibleValue>) -> impl TypedValueParser<Value = T>
where
    T: FromStr<Err = E> + Clone + Send + Sync + 'static,
    E: std::fmt::Display,
{
    PossibleValuesParser::new(values).try_map(|s: String| s.parse::<T>().map_err(|e| e.to_string()))
}

fn value(name: &'static str, help: &'static str) -> PossibleValue {
    PossibleValue::new(name).help(help)
}

/// `--env`.
pub fn env_parser() -> impl TypedValueParser<Value = EnvKind> {
    named(
        EnvKind::ALL
            .iter()
            .map(|e| value(e.name(), e.describe()))
            .collect(),
    )
}

/// `--level`.
pub fn level_parser() -> impl TypedValueParser<Value = Level> {
    named(
        Level::ALL
            .iter()
            .map(|l| PossibleValue::new(l.name()))
            .collect(),
    )
}

/// `--task` naming one Meta-World task.
pub fn task_parser() -> impl TypedValueParser<Value = Task> {
    named(
        Task::ALL
            .iter()
            .map(|t| PossibleValue::new(t.name()))
            .collect(),
    )
}

/// `--task` naming one Meta-World task or `all`.
pub fn task_choice_parser() -> impl TypedValueParser<Value = TaskChoice> {
    let mut values: Vec<PossibleValue> = Task::ALL
        .iter()
        .map(|t| PossibleValue::new(t.name()))
        .collect();
    values.push(value("all", "every task in turn"));
    named(values)
}

/// `--algo`.
pub fn algo_parser() -> impl TypedValueParser<Value = AlgoKind> {
    named(vec![
        value("bc", "behaviour cloning"),
        value(
            "cql",
            "conservative Q-learning (Double-DQN based on discrete actions, SAC based on continuous)",
        ),
        value(
            "td3_plus_bc",
            "TD3+BC: TD3 with a behaviour-cloning term (continuous actions, Meta-World, only)",
        ),
    ])
}

/// `--obs`.
pub fn obs_parser() -> impl TypedValueParser<Value = ObsKind> {
    named(vec![
        value("image", "rendered frames through the paper's conv encoder"),
        value(
            "state",
            "the low-dimensional state vector through an MLP (fast CPU experiments)",
        ),
    ])
}

/// A filter flag accepting `allowed`.
pub fn filter_parser(allowed: &[Filter]) -> impl TypedValueParser<Value = Filter> {
    named(
        allowed
            .iter()
            .map(|f| value(f.name(), f.describe()))
            .collect(),
    )
}

/// `imagine --dynamics`.
pub fn dynamics_parser() -> impl TypedValueParser<Value = crate::imagination::Dynamics> {
    named(
        crate::imagination::Dynamics::ALL
            .iter()
            .map(|d| value(d.name(), d.describe()))
            .collect(),
    )
}

/// `dataset merge --keep`.
pub fn mix_rule_parser() -> impl TypedValueParser<Value = crate::imagination::mix::MixRule> {
    named(
        crate::imagination::mix::MixRule::ALL
            .iter()
            .map(|r| value(r.name(), r.describe()))
            .collect(),
    )
}

/// The world model's training stages, as `train-vlm --stage` names them (serde: the same
/// names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VlmStage {
    /// All weights, on random + expert rollouts rendered from the simulators with a generic
    /// instruction (general visual dynamics). Writes OUT/base/.
    Base,
    /// LoRA adapters in q, k, v, o of every self-attention layer plus the two heads, on --data
    /// (the base model frozen). Writes OUT/lora/ (adapters saved apart).
    Lora,
    /// Full fine-tuning of every non-adapter weight on --data (the comparison to LoRA). Writes
    /// OUT/full/.
    Full,
    /// The state readout CNN on freshly rendered frames with ground-truth states. Writes
    /// OUT/readout/.
    Readout,
}

impl VlmStage {
    /// The stage's directory name under the run directory.
    pub fn name(self) -> &'static str {
        match self {
            VlmStage::Base => "base",
            VlmStage::Lora => "lora",
            VlmStage::Full => "full",
            VlmStage::Readout => "readout",
        }
    }
}

/// `--policy`: a scripted policy, trained checkpoints or a TorchScript module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyArg {
    Expert,
    Random,
    /// A checkpoint file or a run directory (its last `eval.checkpoints` checkpoints).
    Trained(PathBuf),
    /// A policy trained in PyTorch, saved with `torch.jit.save` (any existing file that is not
    /// a checkpoint's `.safetensors` or `.json`).
    TorchScript(PathBuf),
}

impl PolicyArg {
    /// A path as a policy: an existing file other than a checkpoint's `.safetensors` / `.json`
    /// is a TorchScript module; anything else is a checkpoint or run directory.
    pub fn of_path(path: PathBuf) -> PolicyArg {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if path.is_file() && !matches!(ext, "safetensors" | "json") {
            PolicyArg::TorchScript(path)
        } else {
            PolicyArg::Trained(path)
        }
    }
}

/// `--policy`: `expert`, `random` or a path (listed as such in `--help`): a checkpoint, a run
/// directory or a TorchScript file.
pub fn policy_parser() -> PolicyParser {
    PolicyParser
}

#[derive(Clone, Copy, Debug)]
pub struct PolicyParser;

impl TypedValueParser for PolicyParser {
    type Value = PolicyArg;

    fn parse_ref(
        &self,
        _cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<PolicyArg, clap::Error> {
        Ok(match value.to_str() {
            Some("expert") => PolicyArg::Expert,
            Some("random") => PolicyArg::Random,
            _ => PolicyArg::of_path(PathBuf::from(value)),
        })
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            [
                value(
                    "expert",
                    "the scripted expert (noise from the preset's eval.noise)",
                ),
                value("random", "uniformly random pushes / actions"),
                value(
                    "PATH",
                    "a checkpoint file, or a run directory (its last eval.checkpoints checkpoints, averaged; 5 by default)",
                ),
                value(
                    "MODULE.pt",
                    "a policy trained in PyTorch, saved with torch.jit.script(policy).save(PATH): forward(obs, goal) with obs states [N, D] f32 or frames [N, 3, H, W] u8 (the render size), goal the MiniLM embedding [N, 384] f32; returns logits [N, 40] (CLEVR) or actions [N, 4] (Meta-World); see README, Policies trained in PyTorch",
                ),
            ]
            .into_iter(),
        ))
    }
}

/// `imagine --instructions`: the named sets (listed in `--help`) or a file; the name is parsed
/// by `InstructionSet::parse`, which reports bad names and unreadable files.
pub fn instruction_sets() -> InstructionSets {
    InstructionSets
}

#[derive(Clone, Copy, Debug)]
pub struct InstructionSets;

impl TypedValueParser for InstructionSets {
    type Value = String;

    fn parse_ref(
        &self,
        _cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<String, clap::Error> {
        Ok(value.to_string_lossy().into_owned())
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        let levels = Level::ALL
            .iter()
            .map(|l| value(l.name(), "fresh instructions of this level"));
        let rest = [
            value(
                "counterfactual-target",
                "the source episode's instruction with its target replaced",
            ),
            value(
                "counterfactual-behavior",
                "the source episode's instruction with its behavior replaced",
            ),
            value(
                "aimed-LEVEL-target",
                "target swaps aimed at LEVEL (rephrase, counterfactual, unseen-relation)",
            ),
            value(
                "aimed-LEVEL-behavior",
                "behavior swaps aimed at LEVEL (rephrase, counterfactual, unseen-relation)",
            ),
            value("FILE.jsonl", "one instruction object per line"),
        ];
        Some(Box::new(levels.chain(rest)))
    }
}

/// `--preset`: the presets compiled into the binary.
pub fn preset_names() -> PossibleValuesParser {
    PossibleValuesParser::new(crate::config::PRESETS.iter().map(|(name, _)| *name))
}

/// A number in [0, 1] (clap value parser).
pub fn unit_fraction(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
        Ok(x) => Err(format!("{x} is not in [0, 1]")),
        Err(e) => Err(e.to_string()),
    }
}
