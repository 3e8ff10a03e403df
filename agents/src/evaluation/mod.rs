//! Closed-loop evaluation as a library: an [`EvalPlan`] in, an [`EvalOutcome`] out. The
//! `eval` command, the pipeline and training's periodic evaluation all run it.
//!
//! Protocol (KALM's): every (level, seed) cell is `episodes` episodes whose instruction and
//! initial state depend only on (seed, level, index) ([`crate::ecs::episode_seed`]), so two
//! policies evaluated with the same seeds meet identical episodes and can be compared pair by
//! pair ([`stats::paired`]). A run directory is evaluated as its last `eval.checkpoints` checkpoints (5), each
//! loaded once; an episode's score is its success averaged over them.

pub mod stats;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use vlgor_sim::{EnvKind, Level};

use crate::context::Context;
use crate::ecs::{Driver, EpisodeJob, EpisodeOutcome, LearnedPolicy, Scripted, episode_jobs};
use crate::error::CliError;
use crate::policies::LoadedPolicy;
use stats::{PairedDiff, mean_std, paired};
use vlgor_sim::EnvSpec;

/// Pushes within which "success within 10" counts an episode (CLEVR's multi-step levels).
pub const WITHIN_STEPS: usize = 10;

/// Whether a simulator has the "success within 10" figure: CLEVR's steps are pushes; ten
/// Meta-World env steps are 0.125 s, in which no task can finish.
pub fn has_within_steps(kind: EnvKind) -> bool {
    kind == EnvKind::Clevr
}

/// What is evaluated.
#[derive(Clone, Debug)]
pub enum Subject {
    Scripted(Scripted),
    /// Trained checkpoints (a file, or a run directory's last `eval.checkpoints`), averaged.
    Checkpoints(Vec<PathBuf>),
    /// A TorchScript module trained in PyTorch (`crate::policies::load_torchscript`'s contract).
    TorchScript(PathBuf),
}

/// One evaluation: the subject and the reference rows on the same episodes.
#[derive(Clone, Debug)]
pub struct EvalPlan {
    pub specs: Vec<EnvSpec>,
    pub levels: Vec<Level>,
    pub episodes: usize,
    pub seeds: Vec<u64>,
    pub subject: Subject,
    /// Scripted reference rows (random, expert) run on the same episodes.
    pub references: Vec<Scripted>,
    /// Simulator instances stepped together (and the learned policy's batch).
    pub parallel: usize,
}

/// KALM's step-level judges of the first push, as rates over a cell's episodes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct JudgeRates {
    /// Ours (the success of record): the named ball moved ≥ 0.15 m along the direction.
    pub state: f64,
    /// KALM's `step_level_s`: any ball moved ≥ 0.15 m along the direction.
    pub kalm_state: f64,
    /// KALM's `step_level_a`: the push names the ball and one of the direction's 3 actions.
    pub kalm_action: f64,
}

/// One (task, level) cell of one policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CellResult {
    /// `clevr` or the Meta-World task.
    pub task: String,
    pub level: Level,
    pub mean: f64,
    pub std: f64,
    /// Success rate per evaluation seed.
    pub per_seed: Vec<f64>,
    /// Success within [`WITHIN_STEPS`] pushes, mean over seeds (CLEVR's multi-step levels).
    pub within_10: Option<f64>,
    /// Step-level judges (CLEVR counterfactual), mean over seeds and checkpoints.
    pub judges: Option<JudgeRates>,
    pub mean_steps: Option<f64>,
    pub median_steps: Option<f64>,
    /// Per seed, per episode: success averaged over the checkpoints (the pairing unit).
    pub episode_success: Vec<Vec<f64>>,
}

impl CellResult {
    /// All per-episode scores, seed after seed.
    pub fn flat(&self) -> Vec<f64> {
        self.episode_success.iter().flatten().copied().collect()
    }
}

/// One policy's cells.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolicyResult {
    /// `expert`, `random`, or the checkpoint / run path.
    pub policy: String,
    /// Checkpoints averaged (0 for a scripted policy).
    pub checkpoints: usize,
    pub cells: Vec<CellResult>,
}

impl PolicyResult {
    pub fn cell(&self, task: &str, level: Level) -> Option<&CellResult> {
        self.cells
            .iter()
            .find(|c| c.task == task && c.level == level)
    }

    /// Mean success over all cells.
    pub fn success_rate(&self) -> f64 {
        let m: Vec<f64> = self.cells.iter().map(|c| c.mean).collect();
        mean_std(&m).0
    }

    /// `self − other` per cell, paired over identical episodes.
    pub fn paired_against(&self, other: &PolicyResult) -> Vec<(String, Level, PairedDiff)> {
        self.cells
            .iter()
            .filter_map(|c| {
                let o = other.cell(&c.task, c.level)?;
                Some((c.task.clone(), c.level, paired(&c.flat(), &o.flat())?))
            })
            .collect()
    }
}

/// The outcome of an [`EvalPlan`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalOutcome {
    pub env: EnvKind,
    pub seeds: Vec<u64>,
    pub episodes: usize,
    pub subject: PolicyResult,
    pub references: Vec<PolicyResult>,
}

/// Refuses levels an environment does not define.
pub fn check_levels(kind: EnvKind, levels: &[Level]) -> Result<(), CliError> {
    let allowed = Level::of_env(kind);
    for l in levels {
        if !allowed.contains(l) {
            let names: Vec<&str> = allowed.iter().map(|l| l.name()).collect();
            return Err(CliError::Input(format!(
                "level '{l}' does not exist for {}; its levels: {}",
                kind.name(),
                names.join(", ")
            )));
        }
    }
    Ok(())
}

/// Runs the plan: the subject, then each reference, on identical episodes.
pub fn evaluate(ctx: &Context, plan: &EvalPlan) -> Result<EvalOutcome, CliError> {
    let kind = plan.specs.first().map(|s| s.kind()).ok_or_else(|| {
        CliError::Input("nothing to evaluate: no environment or task given".into())
    })?;
    check_levels(kind, &plan.levels)?;
    if plan.episodes == 0 || plan.seeds.is_empty() || plan.levels.is_empty() {
        return Err(CliError::Input(
            "an evaluation needs at least one episode, one seed and one level".into(),
        ));
    }
    let cells = plan.specs.len() * plan.levels.len() * plan.seeds.len() * plan.episodes;
    let runs = match &plan.subject {
        Subject::Scripted(_) => 1,
        Subject::Checkpoints(c) => c.len(),
        Subject::TorchScript(_) => 1,
    };
    let bar = ctx.progress(
        (cells * (runs + plan.references.len())) as u64,
        &format!("eval {}", kind.name()),
    );
    let subject = match &plan.subject {
        Subject::Scripted(s) => run_scripted(plan, *s, &bar)?,
        Subject::Checkpoints(paths) => {
            let mut learned = Learned::load(ctx, paths, kind)?;
            learned.run(plan, &bar)?
        }
        Subject::TorchScript(path) => {
            let mut learned = Learned::load_torchscript(ctx, path, plan.specs[0])?;
            learned.run(plan, &bar)?
        }
    };
    let references = plan
        .references
        .iter()
        .map(|s| run_scripted(plan, *s, &bar))
        .collect::<Result<Vec<_>, _>>()?;
    bar.finish_and_clear();
    Ok(EvalOutcome {
        env: kind,
        seeds: plan.seeds.clone(),
        episodes: plan.episodes,
        subject,
        references,
    })
}

/// Every episode of the plan for one simulator, levels then seeds then index.
fn jobs_of(plan: &EvalPlan, spec: EnvSpec) -> Vec<EpisodeJob> {
    let mut jobs = Vec::new();
    for &level in &plan.levels {
        for &seed in &plan.seeds {
            jobs.extend(episode_jobs(spec, level, seed, plan.episodes));
        }
    }
    jobs
}

fn run_scripted(
    plan: &EvalPlan,
    policy: Scripted,
    bar: &indicatif::ProgressBar,
) -> Result<PolicyResult, CliError> {
    let mut cells = Vec::new();
    for &spec in &plan.specs {
        let (outcomes, _) = crate::ecs::run_episodes(
            spec,
            Driver::Scripted(policy),
            jobs_of(plan, spec),
            plan.parallel,
            bar.clone(),
        )?;
        cells.extend(score_cells(plan, spec, &[outcomes]));
    }
    Ok(PolicyResult {
        policy: policy.name().to_string(),
        checkpoints: 0,
        cells,
    })
}

/// Scores the cells of `spec` from one outcome list per checkpoint (same jobs, same order).
fn score_cells(plan: &EvalPlan, spec: EnvSpec, runs: &[Vec<EpisodeOutcome>]) -> Vec<CellResult> {
    // (level, seed) -> per-episode accumulators
    #[derive(Default)]
    struct Acc {
        success: Vec<f64>,
        within: Vec<f64>,
        steps: Vec<usize>,
        judges: Option<JudgeRates>,
    }
    let k = runs.len() as f64;
    let mut acc: BTreeMap<(Level, u64), Acc> = BTreeMap::new();
    for outcomes in runs {
        for o in outcomes {
            let a = acc.entry((o.level, o.eval_seed)).or_default();
            if a.success.len() < plan.episodes {
                a.success.resize(plan.episodes, 0.0);
                a.within.resize(plan.episodes, 0.0);
            }
            if o.success {
                a.success[o.index] += 1.0 / k;
                a.steps.push(o.steps);
                if o.steps <= WITHIN_STEPS {
                    a.within[o.index] += 1.0 / k;
                }
            }
            if let Some(j) = o.judges {
                let n = k * plan.episodes as f64;
                let r = a.judges.get_or_insert_with(JudgeRates::default);
                r.state += j.state as u8 as f64 / n;
                r.kalm_state += j.kalm_state as u8 as f64 / n;
                r.kalm_action += j.kalm_action as u8 as f64 / n;
            }
        }
    }
    let kind = spec.kind();
    plan.levels
        .iter()
        .map(|&level| {
            let seeds: Vec<&Acc> = plan
                .seeds
                .iter()
                .filter_map(|s| acc.get(&(level, *s)))
                .collect();
            let rate = |v: &Vec<f64>| v.iter().sum::<f64>() / v.len().max(1) as f64;
            let per_seed: Vec<f64> = seeds.iter().map(|a| rate(&a.success)).collect();
            let (mean, std) = mean_std(&per_seed);
            let step_level = level.is_step_level(kind);
            let within: Vec<f64> = seeds.iter().map(|a| rate(&a.within)).collect();
            let judges: Vec<JudgeRates> = seeds.iter().filter_map(|a| a.judges).collect();
            let mut steps: Vec<usize> = seeds.iter().flat_map(|a| a.steps.clone()).collect();
            steps.sort_unstable();
            CellResult {
                task: spec.label().to_string(),
                level,
                mean,
                std,
                per_seed,
                within_10: (!step_level && has_within_steps(kind)).then(|| mean_std(&within).0),
                judges: (step_level && !judges.is_empty()).then(|| {
                    let n = judges.len() as f64;
                    JudgeRates {
                        state: judges.iter().map(|j| j.state).sum::<f64>() / n,
                        kalm_state: judges.iter().map(|j| j.kalm_state).sum::<f64>() / n,
                        kalm_action: judges.iter().map(|j| j.kalm_action).sum::<f64>() / n,
                    }
                }),
                mean_steps: (!steps.is_empty())
                    .then(|| steps.iter().sum::<usize>() as f64 / steps.len() as f64),
                median_steps: median(&steps),
                episode_success: seeds.iter().map(|a| a.success.clone()).collect(),
            }
        })
        .collect()
}

fn median(sorted: &[usize]) -> Option<f64> {
    let n = sorted.len();
    (n > 0).then(|| {
        if n % 2 == 1 {
            sorted[n / 2] as f64
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) as f64 / 2.0
        }
    })
}

/// Trained checkpoints (or one TorchScript module) under evaluation, each loaded once, with one
/// renderer for all of them and the frozen encoder that embeds their goals.
pub struct Learned {
    paths: Vec<PathBuf>,
    policies: Vec<Option<LoadedPolicy>>,
    renderer: Option<vlgor_render::Renderer>,
    /// Frame size the renderer was made for.
    frame_shape: Option<(usize, usize)>,
    encoder: vlgor_vlm::SentenceEncoder,
    cache: vlgor_vlm::EmbeddingCache,
}

impl Learned {
    /// Loads every checkpoint of `paths` (refusing another env's) and one renderer.
    pub fn load(ctx: &Context, paths: &[PathBuf], env: EnvKind) -> Result<Learned, CliError> {
        let encoder = vlgor_vlm::SentenceEncoder::from_env(ctx.device)
            .map_err(|e| CliError::Input(e.to_string()))?;
        let mut learned = Learned::with_encoder(encoder);
        learned.set_checkpoints(ctx, paths, Some(env))?;
        Ok(learned)
    }

    /// Loads the TorchScript module at `path`, probed against `spec`'s contract, and its
    /// renderer.
    pub fn load_torchscript(
        ctx: &Context,
        path: &std::path::Path,
        spec: EnvSpec,
    ) -> Result<Learned, CliError> {
        let encoder = vlgor_vlm::SentenceEncoder::from_env(ctx.device)
            .map_err(|e| CliError::Input(e.to_string()))?;
        let policy = crate::policies::load_torchscript(ctx, path, spec, encoder.dim() as usize)?;
        let mut learned = Learned::with_encoder(encoder);
        learned.install(
            ctx,
            &[path.to_path_buf()],
            vec![Some(LoadedPolicy::TorchScript(policy))],
        )?;
        Ok(learned)
    }

    /// An evaluator without checkpoints yet (training's periodic evaluation).
    pub fn with_encoder(encoder: vlgor_vlm::SentenceEncoder) -> Learned {
        Learned {
            paths: vec![],
            policies: vec![],
            renderer: None,
            frame_shape: None,
            encoder,
            cache: Default::default(),
        }
    }

    fn set_checkpoints(
        &mut self,
        ctx: &Context,
        paths: &[PathBuf],
        env: Option<EnvKind>,
    ) -> Result<(), CliError> {
        let mut policies = Vec::with_capacity(paths.len());
        for p in paths {
            tracing::debug!(checkpoint = %p.display(), "loading policy checkpoint");
            let policy = crate::policies::load(ctx, p, env.map(|e| e.name()))?;
            policies.push(Some(LoadedPolicy::Checkpoint(Box::new(policy))));
        }
        self.install(ctx, paths, policies)
    }

    /// Holds `policies` (loaded from `paths`) and a renderer at their frame size.
    fn install(
        &mut self,
        ctx: &Context,
        paths: &[PathBuf],
        policies: Vec<Option<LoadedPolicy>>,
    ) -> Result<(), CliError> {
        // One renderer serves every checkpoint of the same frame size (state policies: none).
        let shape = policies.first().and_then(|p| p.as_ref()?.frame_shape());
        if shape != self.frame_shape {
            self.renderer = crate::policies::renderer_for(ctx, shape)?;
            self.frame_shape = shape;
        }
        self.paths = paths.to_vec();
        self.policies = policies;
        Ok(())
    }

    /// Every checkpoint on every job of the plan; cells scored over the checkpoints.
    fn run(
        &mut self,
        plan: &EvalPlan,
        bar: &indicatif::ProgressBar,
    ) -> Result<PolicyResult, CliError> {
        let mut cells = Vec::new();
        for &spec in &plan.specs {
            let jobs = jobs_of(plan, spec);
            let mut runs = Vec::with_capacity(self.policies.len());
            for k in 0..self.policies.len() {
                runs.push(self.run_jobs(k, spec, jobs.clone(), plan.parallel, bar)?);
            }
            cells.extend(score_cells(plan, spec, &runs));
        }
        let policy = match self.paths.as_slice() {
            [one] => one.display().to_string(),
            many => many
                .first()
                .and_then(|p| p.parent())
                .map_or_else(String::new, |d| d.display().to_string()),
        };
        Ok(PolicyResult {
            policy,
            checkpoints: self.policies.len(),
            cells,
        })
    }

    /// Runs `jobs` with checkpoint `k`.
    fn run_jobs(
        &mut self,
        k: usize,
        spec: EnvSpec,
        jobs: Vec<EpisodeJob>,
        parallel: usize,
        bar: &indicatif::ProgressBar,
    ) -> Result<Vec<EpisodeOutcome>, CliError> {
        let texts: Vec<&str> = jobs.iter().map(|j| j.instruction.text.as_str()).collect();
        let goals = vlgor_rl::GoalTable::for_texts(&self.encoder, &mut self.cache, &texts)
            .map_err(|e| CliError::Other(e.into()))?;
        let policy = self.policies[k]
            .take()
            .ok_or_else(|| CliError::Other(anyhow::anyhow!("checkpoint {k} is in use")))?;
        let driver = Driver::Learned(Box::new(LearnedPolicy {
            policy,
            goals,
            renderer: self.renderer.take(),
            camera: None,
        }));
        let (outcomes, back) = crate::ecs::run_episodes(spec, driver, jobs, parallel, bar.clone())?;
        if let Driver::Learned(l) = back {
            self.policies[k] = Some(l.policy);
            self.renderer = l.renderer;
        }
        Ok(outcomes)
    }

    /// Closed-loop success rate of one `checkpoint` over `episodes` episodes of `level`
    /// (evaluation seed = the context's).
    pub fn success_rate(
        &mut self,
        ctx: &Context,
        checkpoint: &std::path::Path,
        spec: EnvSpec,
        level: Level,
        episodes: usize,
    ) -> Result<f64, CliError> {
        self.set_checkpoints(ctx, &[checkpoint.to_path_buf()], None)?;
        let jobs = episode_jobs(spec, level, ctx.seed, episodes);
        let hidden = indicatif::ProgressBar::hidden();
        let outcomes = self.run_jobs(0, spec, jobs, 16, &hidden)?;
        Ok(outcomes.iter().filter(|o| o.success).count() as f64 / outcomes.len().max(1) as f64)
    }
}
