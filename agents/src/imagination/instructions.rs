//! Which instruction each imagined rollout pursues: a level's instructions, the counterfactual
//! target / behavior of the source episode's instruction, or a user file.

use rand::RngCore;
use std::path::Path;
use vlgor_sim::clevr;
use vlgor_sim::language::CounterfactualKind;
use vlgor_sim::metaworld;
use vlgor_sim::{GoalSpec, Instruction, Level};

use crate::envs::EnvSpec;
use crate::error::CliError;

/// The instruction set of an imagination run.
#[derive(Clone, Debug)]
pub enum InstructionSet {
    /// Fresh instructions of a level.
    Level(Level),
    /// The source episode's instruction with its target (or behavior) replaced.
    Counterfactual(CounterfactualKind),
    /// Instructions read from a JSON-lines file, used in turn.
    File(Vec<Instruction>),
}

pub const SET_NAMES: &str = "seen, rephrase, counterfactual, hard, counterfactual-target, \
                             counterfactual-behavior, or a JSON-lines file of instructions";

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
        }
    }

    /// The instruction of rollout `i`, which starts from an episode pursuing `source`.
    pub fn pick(
        &self,
        source: &Instruction,
        i: usize,
        rng: &mut dyn RngCore,
    ) -> Result<Instruction, CliError> {
        let spec = EnvSpec::of_goal(&source.goal);
        match self {
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
