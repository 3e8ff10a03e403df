//! Which instruction each imagined rollout pursues: a level's instructions, the counterfactual
//! target / behavior of the source episode's instruction, or a user file.

use rand::RngCore;
use std::path::Path;
use vlgor_sim::clevr;
use vlgor_sim::language::CounterfactualKind;
use vlgor_sim::metaworld;
use vlgor_sim::{GoalSpec, Instruction, Level};

use crate::error::CliError;
use vlgor_sim::EnvSpec;

/// The instruction set of an imagination run.
#[derive(Clone, Debug)]
pub enum InstructionSet {
    /// Fresh instructions of a level.
    Level(Level),
    /// The source episode's instruction with its target (or behavior) replaced.
    Counterfactual(CounterfactualKind),
    /// Instructions read from a JSON-lines file, used in turn.
    File(Vec<Instruction>),
    /// Counterfactual prompts of one kind aimed at an unseen level: the source episode's
    /// target (or behavior) swapped until the goal is one of the level's (`vlgor_sim::clevr::
    /// prompts`). Sources that cannot reach the level are skipped.
    Aimed {
        level: Level,
        kind: CounterfactualKind,
    },
}

pub const SET_NAMES: &str = "seen, rephrase, counterfactual, unseen-relation, hard, \
                             counterfactual-target, counterfactual-behavior, \
                             aimed-LEVEL-target, aimed-LEVEL-behavior (LEVEL: rephrase, \
                             counterfactual, unseen-relation), or a JSON-lines file of instructions";

impl InstructionSet {
    pub fn parse(s: &str) -> Result<Self, CliError> {
        match s {
            "counterfactual-target" => {
                return Ok(InstructionSet::Counterfactual(CounterfactualKind::Target));
            }
            "counterfactual-behavior" => {
                return Ok(InstructionSet::Counterfactual(CounterfactualKind::Behavior));
            }
            _ => {}
        }
        if let Ok(level) = s.parse::<Level>() {
            return Ok(InstructionSet::Level(level));
        }
        if let Some(rest) = s.strip_prefix("aimed-") {
            let parsed = [
                ("-target", CounterfactualKind::Target),
                ("-behavior", CounterfactualKind::Behavior),
            ]
            .into_iter()
            .find_map(|(suffix, kind)| {
                let level = rest.strip_suffix(suffix)?.parse::<Level>().ok()?;
                Some(InstructionSet::Aimed { level, kind })
            });
            return parsed.ok_or_else(|| {
                CliError::Input(format!("--instructions {s}: valid sets: {SET_NAMES}"))
            });
        }
        let path = Path::new(s);
        if !path.is_file() {
            return Err(CliError::Input(format!(
                "--instructions {s}: not an instruction set nor a file; valid: {SET_NAMES}"
            )));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError::Input(format!("{}: {e}", path.display())))?;
        let mut out = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let ins: Instruction = serde_json::from_str(line).map_err(|e| {
                CliError::Input(format!(
                    "{} line {}: not an instruction object ({e}); each line must be an \
                     instruction as dataset manifests store it (text, parts, goal, level)",
                    path.display(),
                    n + 1
                ))
            })?;
            out.push(ins);
        }
        if out.is_empty() {
            return Err(CliError::Input(format!(
                "{}: no instructions",
                path.display()
            )));
        }
        Ok(InstructionSet::File(out))
    }

    /// A short name for manifests and reports.
    pub fn name(&self) -> String {
        match self {
            InstructionSet::Level(l) => l.name().to_string(),
            InstructionSet::Counterfactual(CounterfactualKind::Target) => {
                "counterfactual-target".into()
            }
            InstructionSet::Counterfactual(CounterfactualKind::Behavior) => {
                "counterfactual-behavior".into()
            }
            InstructionSet::File(_) => "file".into(),
            InstructionSet::Aimed { level, kind } => format!(
                "aimed-{level}-{}",
                match kind {
                    CounterfactualKind::Target => "target",
                    CounterfactualKind::Behavior => "behavior",
                }
            ),
        }
    }

    /// The instruction of rollout `i`, which starts from an episode pursuing `source`; `None`
    /// when this source cannot give the set's instructions (draw another source episode).
    pub fn pick(
        &self,
        source: &Instruction,
        i: usize,
        rng: &mut dyn RngCore,
    ) -> Result<Option<Instruction>, CliError> {
        let spec = EnvSpec::of_goal(&source.goal);
        if let InstructionSet::Aimed { level, kind } = self {
            return Ok(match (&source.goal, level) {
                (GoalSpec::Clevr(_), _) => clevr::prompts::aimed_prompt(source, *level, *kind, rng),
                // Meta-World's counterfactual prompts change the goal of the behavior; its
                // other levels are drawn from the level's own generator.
                (GoalSpec::MetaWorld(_), Level::Counterfactual) => {
                    Some(metaworld::counterfactual(source, *kind, rng))
                }
                (GoalSpec::MetaWorld(_), _) => Some(spec.sample_instruction(*level, rng)),
            });
        }
        self.pick_any(source, i, rng).map(Some)
    }

    fn pick_any(
        &self,
        source: &Instruction,
        i: usize,
        rng: &mut dyn RngCore,
    ) -> Result<Instruction, CliError> {
        let spec = EnvSpec::of_goal(&source.goal);
        match self {
            InstructionSet::Aimed { .. } => Err(CliError::Other(anyhow::anyhow!(
                "aimed prompts are drawn by InstructionSet::pick"
            ))),
            InstructionSet::Level(l) => Ok(spec.sample_instruction(*l, rng)),
            InstructionSet::Counterfactual(kind) => match &source.goal {
                GoalSpec::Clevr(_) => clevr::counterfactual(source, *kind, rng)
                    .or_else(|_| Ok(spec.sample_instruction(Level::Counterfactual, rng))),
                GoalSpec::MetaWorld(_) => Ok(metaworld::counterfactual(source, *kind, rng)),
            },
            InstructionSet::File(list) => {
                let fits: Vec<&Instruction> = list
                    .iter()
                    .filter(|x| EnvSpec::of_goal(&x.goal) == spec)
                    .collect();
                fits.get(i % fits.len().max(1))
                    .map(|x| (*x).clone())
                    .ok_or_else(|| {
                        CliError::Input(format!(
                            "the instruction file has no instruction for '{}' episodes",
                            spec.label()
                        ))
                    })
            }
        }
    }
}
