//! Online RL in the native simulators with the world model as action advisor (VARL).
//!
//! The loop, one vector step at a time (`online.parallel` simulators advance once each):
//! 1. on an advised step ([`vlgor_rl::online::Guidance`]: every `online.advise_every`-th vector
//!    step before `online.advice_cutoff` environment steps) the advisor suggests an action for
//!    every simulator in one batched request and the suggestions are executed; otherwise the
//!    agent explores (DQN: ε-greedy; SAC: a policy sample, uniform before
//!    `online.learning_starts`);
//! 2. the simulators step in parallel; transitions (with the suggestion, when one was made) go
//!    to the replay buffer; finished episodes are replaced by the next training episode;
//! 3. after `online.learning_starts` steps, `online.updates_per_step` updates on uniform
//!    batches, each with the guidance's BC weight;
//! 4. every `online.eval_every` steps (and at the end) the greedy policy is saved and evaluated
//!    closed-loop through [`crate::evaluation::EvalPlan`]; every `online.checkpoint_every`
//!    steps (and at the end) a resume checkpoint is written.
//!
//! Random draws of vector step t (exploration, replay sampling, SAC's noise) come from
//! generators seeded by (run seed, t), so a resumed run repeats an uninterrupted one bit for bit.

mod advisor;
pub mod compare;
pub mod compare_report;
mod hindsight;
mod slots;
mod state;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tch::{Device, Tensor};
use vlgor_rl::network::EncoderConfig;
use vlgor_rl::online::{
    Guidance, OnlineAgent, OnlineAlgo, ReplayBuffer, Transition, create_agent, policy_run_config,
    save_policy,
};
use vlgor_rl::{GoalTable, ObsSpec};
use vlgor_sim::dataset::ActionSpace;
use vlgor_sim::{Action, EnvSpec, Level};
use vlgor_vlm::{EmbeddingCache, SentenceEncoder};

use crate::cli::{AdvisorArg, RewardArg};
use crate::context::Context;
use crate::error::CliError;
use crate::evaluation::{EvalPlan, Subject, evaluate};
use advisor::{Advisor, TimedAdvisor, WorldModelAdvisor};
use slots::{Slot, SlotRecord, step_all};
pub use state::SUMMARY_FILE;
use state::{Counters, EvalRecord, RunRecord, StateMeta};

/// One `train-online` invocation.
#[derive(Clone, Debug)]
pub struct OnlinePlan {
    pub spec: EnvSpec,
    pub level: Level,
    pub algo: OnlineAlgo,
    pub advisor: AdvisorArg,
    pub reward: RewardArg,
    /// Environment steps to reach (rounded up to whole vector steps).
    pub steps: u64,
    pub out: PathBuf,
    pub vlm: Option<PathBuf>,
    pub resume: bool,
}

/// What an invocation did (also `RUN/summary.json`).
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct OnlineSummary {
    pub env_steps: u64,
    pub updates: u64,
    pub train_episodes: u64,
    pub final_success_rate: Option<f64>,
    pub evals: usize,
    pub advised_steps: u64,
    /// Hindsight-relabelled transitions stored (`online.hindsight`).
    #[serde(default)]
    pub relabelled: u64,
    pub advisor_requests: u64,
    /// The world-model stage advising (`lora`, `full` or `base`), when one does.
    pub advisor_stage: Option<String>,
    /// Wall time of this invocation, the advisor's part and its share.
    pub seconds: f64,
    pub advisor_seconds: f64,
    pub advisor_share: f64,
    /// Of `seconds`, the closed-loop evaluations'.
    pub eval_seconds: f64,
    pub env_steps_per_sec: f64,
    pub resumed_from: Option<u64>,
}

/// Seed of vector step `t`'s generators (SplitMix64 of the run seed and t).
fn step_seed(seed: u64, t: u64) -> u64 {
    let mut z = seed ^ 0x0A11_CE5E_ED00_0000 ^ t.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn rl_error(e: vlgor_rl::RlError) -> CliError {
    match e {
        vlgor_rl::RlError::Input(m) => CliError::Input(m),
        other => CliError::Other(other.into()),
    }
}

/// The run's learner, buffer, simulators and bookkeeping.
struct Run<'a> {
    ctx: &'a Context,
    plan: &'a OnlinePlan,
    space: ActionSpace,
    obs_dim: usize,
    agent: Box<dyn OnlineAgent>,
    buffer: ReplayBuffer,
    goals: GoalTable,
    goal_texts: Vec<String>,
    encoder: SentenceEncoder,
    cache: EmbeddingCache,
    slots: Vec<Slot>,
    counters: Counters,
    evals: Vec<EvalRecord>,
    guidance: Guidance,
    advisor: Option<TimedAdvisor>,
    eval_seconds: f64,
}

impl Run<'_> {
    /// The goal-table row of `text`, embedding it on first sight.
    fn goal_row(&mut self, text: &str) -> Result<usize, CliError> {
        if let Some(i) = self.goals.index_of(text) {
            return Ok(i);
        }
        let _embedded = self
            .cache
            .get_or_embed(&self.encoder, &[text])
            .map_err(|e| CliError::Other(e.into()))?;
        let row = self.cache.get(text).ok_or_else(|| {
            CliError::Other(anyhow::anyhow!("no embedding produced for '{text}'"))
        })?;
        self.goals.insert(text, row).map_err(rl_error)?;
        self.goal_texts.push(text.to_string());
        Ok(self.goals.len() - 1)
    }

    fn device(&self) -> Device {
        self.ctx.device
    }

    /// States `[N, D]` and goals `[N, G]` of the slots.
    fn observe(&mut self) -> Result<(Tensor, Tensor, Vec<usize>), CliError> {
        let texts: Vec<String> = self
            .slots
            .iter()
            .map(|s| s.instruction.text.clone())
            .collect();
        let rows = texts
            .iter()
            .map(|t| self.goal_row(t))
            .collect::<Result<Vec<_>, _>>()?;
        let n = self.slots.len() as i64;
        let flat: Vec<f32> = self.slots.iter().flat_map(|s| s.obs().to_vec()).collect();
        let obs = Tensor::from_slice(&flat)
            .view([n, self.obs_dim as i64])
            .to_device(self.device());
        let g: Vec<f32> = rows
            .iter()
            .flat_map(|&r| self.goals.row(r).to_vec())
            .collect();
        let goals = Tensor::from_slice(&g)
            .view([n, self.goals.dim() as i64])
            .to_device(self.device());
        Ok((obs, goals, rows))
    }

    /// One vector step and its updates.
    fn step(&mut self) -> Result<(), CliError> {
        let c = self.ctx.config.online;
        let t = self.counters.vector_steps;
        let seed = step_seed(self.ctx.seed, t);
        tch::manual_seed(seed as i64);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (obs, goals, rows) = self.observe()?;
        let advised = self.guidance.advises(t, self.counters.env_steps);
        let (actions, advice): (Vec<Action>, Option<Vec<Action>>) = match &mut self.advisor {
            Some(a) if advised => {
                let s = a.suggest(&mut self.slots, &mut rng)?;
                (s.clone(), Some(s))
            }
            _ if self.plan.algo == OnlineAlgo::Sac
                && self.counters.env_steps < c.learning_starts as u64 =>
            {
                let a = self.slots.iter().map(|s| s.env.random_action(&mut rng));
                (a.collect(), None)
            }
            _ => {
                let eps = c.epsilon(self.counters.env_steps);
                let a = self.agent.explore(&obs, &goals, eps, &mut rng);
                (a.map_err(rl_error)?, None)
            }
        };
        if advice.is_some() {
            self.counters.advised_steps += 1;
        }
        let outcomes = step_all(&mut self.slots, &actions)?;
        for (i, outcome) in outcomes.iter().enumerate() {
            let next = self.slots[i].env.observation();
            let reward = match self.plan.reward {
                RewardArg::Sparse => outcome.success as u8 as f32,
                RewardArg::Dense => outcome.reward,
            };
            self.buffer
                .push(&Transition {
                    obs: self.slots[i].obs(),
                    next_obs: &next,
                    goal: rows[i],
                    action: actions[i],
                    reward,
                    terminal: outcome.success || outcome.terminal,
                    advice: advice.as_ref().map(|a| a[i]),
                })
                .map_err(rl_error)?;
            let slot = &mut self.slots[i];
            slot.trajectory.push(next);
            slot.record.actions.push(actions[i]);
            if slot.finished(outcome) {
                let observed = std::mem::take(&mut slot.trajectory);
                let taken = std::mem::take(&mut slot.record.actions);
                let ended = slot.record.episode;
                self.counters.episodes_finished += 1;
                self.counters.window_episodes += 1;
                self.counters.window_successes += outcome.success as u64;
                let episode = self.counters.episodes_started;
                self.counters.episodes_started += 1;
                let (spec, level) = (self.plan.spec, self.plan.level);
                slot.restart(spec, level, self.ctx.seed, episode)?;
                self.push_hindsight(&observed, &taken, ended)?;
            }
        }
        self.counters.vector_steps += 1;
        self.counters.env_steps += self.slots.len() as u64;
        if self.counters.env_steps >= c.learning_starts as u64 && !self.buffer.is_empty() {
            let w = self.guidance.bc_weight(self.counters.env_steps);
            for _ in 0..c.updates_per_step {
                let b = self
                    .buffer
                    .sample(&mut rng, c.batch_size, &self.goals, self.device());
                let losses = self.agent.update(&b, w).map_err(rl_error)?;
                if let Some((name, v)) = losses.iter().find(|(_, v)| !v.is_finite()) {
                    return Err(CliError::Other(anyhow::anyhow!(
                        "{name} became {v} at env step {}; lower online.lr",
                        self.counters.env_steps
                    )));
                }
                self.counters.last_losses = losses
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect();
            }
            self.counters.updates = self.agent.updates();
        }
        Ok(())
    }

    /// Saves the greedy policy and evaluates it closed-loop; appends the record.
    fn evaluate(&mut self) -> Result<(), CliError> {
        let started = Instant::now();
        let c = self.ctx.config.online;
        let net = self.ctx.config.rl.network;
        let index = self.evals.len() as u64 + 1;
        let run = policy_run_config(
            self.plan.spec.kind().name(),
            self.space,
            self.obs_dim,
            self.goals.dim(),
            net,
            self.ctx.seed,
            self.agent.updates(),
        );
        let dir = self.plan.out.join(state::POLICY_DIR);
        let path = save_policy(
            &dir,
            index,
            run,
            self.agent.as_ref(),
            self.counters.last_losses.clone(),
        )
        .map_err(rl_error)?;
        let outcome = evaluate(
            self.ctx,
            &EvalPlan {
                specs: vec![self.plan.spec],
                levels: vec![self.plan.level],
                episodes: c.eval_episodes,
                seeds: vec![self.ctx.seed],
                subject: Subject::Checkpoints(vec![path.clone()]),
                references: vec![],
                parallel: c.parallel.max(16),
            },
        )?;
        let k = &mut self.counters;
        let record = EvalRecord {
            env_steps: k.env_steps,
            updates: k.updates,
            train_episodes: k.episodes_finished,
            train_success_rate: (k.window_episodes > 0)
                .then(|| k.window_successes as f64 / k.window_episodes as f64),
            success_rate: outcome.subject.success_rate(),
            eval_episodes: c.eval_episodes,
            advised_steps: k.advised_steps,
            bc_weight: self.guidance.bc_weight(k.env_steps),
            losses: k.last_losses.clone(),
            checkpoint: path
                .strip_prefix(&self.plan.out)
                .unwrap_or(&path)
                .display()
                .to_string(),
        };
        tracing::info!(
            env_steps = record.env_steps,
            success = record.success_rate,
            "online evaluation"
        );
        (k.window_episodes, k.window_successes) = (0, 0);
        self.evals.push(record);
        self.eval_seconds += started.elapsed().as_secs_f64();
        state::write_evals(&self.plan.out, &self.evals)
    }

    /// Writes a resume checkpoint of the whole run.
    fn checkpoint(&self) -> Result<(), CliError> {
        let mut tensors = self.agent.state_tensors();
        tensors.extend(self.buffer.tensors());
        let n = self.goals.len();
        let table: Vec<f32> = (0..n).flat_map(|i| self.goals.row(i).to_vec()).collect();
        tensors.push((
            "goals.table".into(),
            Tensor::from_slice(&table).view([n as i64, self.goals.dim() as i64]),
        ));
        state::save_state(
            &self.plan.out,
            &tensors,
            StateMeta {
                format_version: state::FORMAT_VERSION,
                counters: self.counters.clone(),
                slots: self.slots.iter().map(|s| s.record.clone()).collect(),
                goal_texts: self.goal_texts.clone(),
                replay_len: self.buffer.len(),
                replay_head: self.buffer.head(),
                evals: self.evals.clone(),
                tensors_sha256: String::new(),
            },
        )
    }

    /// Restores a resume checkpoint.
    fn restore(&mut self, tensors_path: &Path, meta: StateMeta) -> Result<(), CliError> {
        let bad = |e: vlgor_rl::RlError| CliError::Input(e.to_string());
        let tensors: HashMap<String, Tensor> =
            vlgor_rl::checkpoint::read_tensors(tensors_path, self.device()).map_err(bad)?;
        self.agent
            .load_state(&tensors, meta.counters.updates, tensors_path)
            .map_err(bad)?;
        self.buffer
            .load(&tensors, meta.replay_len, meta.replay_head, tensors_path)
            .map_err(bad)?;
        let table = tensors.get("goals.table").ok_or_else(|| {
            CliError::Input(format!(
                "{}: missing tensor 'goals.table'",
                tensors_path.display()
            ))
        })?;
        let flat =
            Vec::<f32>::try_from(table.flatten(0, -1)).map_err(|e| CliError::Other(e.into()))?;
        let g = self.goals.dim();
        if flat.len() != meta.goal_texts.len() * g {
            return Err(CliError::Input(format!(
                "{}: the goal table does not match its {} instructions",
                tensors_path.display(),
                meta.goal_texts.len()
            )));
        }
        for (i, text) in meta.goal_texts.iter().enumerate() {
            self.goals
                .insert(text, &flat[i * g..(i + 1) * g])
                .map_err(rl_error)?;
        }
        self.goal_texts = meta.goal_texts;
        let parallel = self.ctx.config.online.parallel;
        if meta.slots.len() != parallel {
            return Err(CliError::Input(format!(
                "{}: {} running episodes recorded for online.parallel = {parallel}",
                tensors_path.display(),
                meta.slots.len(),
            )));
        }
        self.slots = meta
            .slots
            .into_iter()
            .map(|r| Slot::start(self.plan.spec, self.plan.level, self.ctx.seed, r))
            .collect::<Result<_, _>>()?;
        self.counters = meta.counters;
        self.evals = meta.evals;
        state::write_evals(&self.plan.out, &self.evals)
    }
}

/// Checks the run directory and the run record (written on a fresh start).
fn check_record(ctx: &Context, plan: &OnlinePlan) -> Result<(), CliError> {
    let out = &plan.out;
    if out.exists() && !out.is_dir() {
        return Err(CliError::Input(format!(
            "--out {}: exists and is not a directory",
            out.display()
        )));
    }
    let path = out.join(state::RECORD_FILE);
    if crate::out_paths::kind_of(out).is_some() {
        return Err(CliError::Input(format!(
            "--out {}: holds another kind of vlgor directory; choose another directory",
            out.display()
        )));
    }
    let net = ctx.config.rl.network;
    let mine = RunRecord {
        format_version: state::FORMAT_VERSION,
        env: plan.spec.kind().name().to_string(),
        task: plan.spec.label().to_string(),
        level: plan.level.name().to_string(),
        algo: plan.algo.name().to_string(),
        advisor: plan.advisor,
        reward: plan.reward,
        seed: ctx.seed,
        online: ctx.config.online,
        widths: [net.text_hidden, net.feature_dim, net.joint_dim],
        vlm: plan.vlm.as_ref().map(|p| p.display().to_string()),
    };
    let stored: Option<RunRecord> = crate::vlm_run::read_json(&path)?;
    match stored {
        Some(old) if !plan.resume => Err(CliError::Input(format!(
            "--out {} already holds an online run ({}, {} env steps recorded); pass --resume to \
             continue it or choose another directory",
            out.display(),
            old.algo,
            state::latest_state(out)?.map_or(0, |(_, m)| m.counters.env_steps)
        ))),
        Some(old) if old != mine => Err(CliError::Input(format!(
            "{} was started with other settings (env, task, level, algo, advisor, reward, seed, \
             [online], network widths or --vlm); resume with the same ones or use a new --out",
            path.display()
        ))),
        Some(_) => Ok(()),
        None => crate::vlm_run::write_json(&path, &mine),
    }
}

/// Runs (or resumes) an online training run to `plan.steps` environment steps.
pub fn train(ctx: &Context, plan: &OnlinePlan) -> Result<OnlineSummary, CliError> {
    let start = Instant::now();
    let c = ctx.config.online;
    if plan.advisor == AdvisorArg::WorldModel && plan.vlm.is_none() {
        return Err(CliError::Input(
            "--advisor world-model needs --vlm DIR (a world-model run from `vlgor train-vlm`)"
                .into(),
        ));
    }
    let probe = plan.spec.make();
    let space = vlgor_sim::spec::action_space(probe.kind());
    plan.algo.check_action_space(space).map_err(rl_error)?;
    crate::evaluation::check_levels(plan.spec.kind(), &[plan.level])?;
    // The advisor is loaded before anything is written, so a bad --vlm leaves no directory.
    let advisor = match plan.advisor {
        AdvisorArg::None => None,
        AdvisorArg::Expert => Some(Advisor::Expert),
        AdvisorArg::WorldModel => {
            let dir = plan.vlm.as_deref().expect("checked above");
            Some(Advisor::WorldModel(Box::new(WorldModelAdvisor::load(
                ctx, dir, plan.spec,
            )?)))
        }
    };
    let resume_from = if plan.resume {
        let found = state::latest_state(&plan.out)?;
        if found.is_none() {
            return Err(CliError::Input(format!(
                "--resume: {} holds no resume checkpoint (state/step-*.json)",
                plan.out.display()
            )));
        }
        found
    } else {
        None
    };
    check_record(ctx, plan)?;

    let encoder =
        SentenceEncoder::from_env(ctx.device).map_err(|e| CliError::Input(e.to_string()))?;
    let goal_dim = encoder.dim() as usize;
    let obs_dim = probe.observation().len();
    let enc = EncoderConfig::new(
        ObsSpec::State { dim: obs_dim },
        goal_dim,
        &ctx.config.rl.network,
    );
    tch::manual_seed(ctx.seed as i64);
    let agent = create_agent(plan.algo, space, enc, &c, ctx.device).map_err(rl_error)?;
    let mut run = Run {
        ctx,
        plan,
        space,
        obs_dim,
        agent,
        buffer: ReplayBuffer::new(space, obs_dim, c.buffer_size),
        goals: GoalTable::new(goal_dim),
        goal_texts: Vec::new(),
        encoder,
        cache: EmbeddingCache::default(),
        slots: Vec::with_capacity(c.parallel),
        counters: Counters::default(),
        evals: Vec::new(),
        guidance: Guidance::new(&c, advisor.is_some()),
        advisor: advisor.map(TimedAdvisor::new),
        eval_seconds: 0.0,
    };
    let resumed_from = match resume_from {
        Some((tensors, meta)) => {
            let at = meta.counters.env_steps;
            run.restore(&tensors, meta)?;
            Some(at)
        }
        None => {
            for i in 0..c.parallel {
                let record = SlotRecord {
                    episode: i as u64,
                    actions: vec![],
                };
                run.slots
                    .push(Slot::start(plan.spec, plan.level, ctx.seed, record)?);
            }
            run.counters.episodes_started = c.parallel as u64;
            None
        }
    };

    let done_at = run.counters.env_steps;
    let bar = ctx.progress(
        plan.steps.saturating_sub(done_at),
        &format!("train-online {} {}", plan.spec.label(), plan.algo),
    );
    let crossed = |every: usize, before: u64, after: u64| {
        every > 0 && before / every as u64 != after / every as u64
    };
    while run.counters.env_steps < plan.steps {
        let before = run.counters.env_steps;
        run.step()?;
        let after = run.counters.env_steps;
        bar.set_position(after - done_at);
        let last = after >= plan.steps;
        if crossed(c.eval_every, before, after) || last {
            run.evaluate()?;
        }
        if crossed(c.checkpoint_every, before, after) || last {
            run.checkpoint()?;
        }
    }
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();
    let (advisor_seconds, advisor_requests) = run
        .advisor
        .as_ref()
        .map_or((0.0, 0), |a| (a.seconds, a.requests));
    let stepped = run.counters.env_steps - done_at;
    let summary = OnlineSummary {
        env_steps: run.counters.env_steps,
        updates: run.counters.updates,
        train_episodes: run.counters.episodes_finished,
        final_success_rate: run.evals.last().map(|e| e.success_rate),
        evals: run.evals.len(),
        advised_steps: run.counters.advised_steps,
        relabelled: run.counters.relabelled,
        advisor_requests,
        advisor_stage: run.advisor.as_ref().and_then(|a| match &a.advisor {
            Advisor::WorldModel(m) => Some(m.stage.to_string()),
            Advisor::Expert => None,
        }),
        seconds,
        advisor_seconds,
        advisor_share: advisor_seconds / seconds.max(1e-9),
        eval_seconds: run.eval_seconds,
        env_steps_per_sec: stepped as f64 / seconds.max(1e-9),
        resumed_from,
    };
    crate::vlm_run::write_json(&plan.out.join(SUMMARY_FILE), &summary)?;
    Ok(summary)
}
