//! `vlgor check DIR`: the physics validation of `crate::ecs::validate` on any rollout directory
//! (real or imagined, user-made included), optionally with an injected fault per rollout to
//! measure the validator's recall. Prints a per-reason table (and one JSON line with --json) and
//! writes a JSON report.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use vlgor_render::{RenderConfig, Renderer};
use vlgor_sim::EnvKind;
use vlgor_sim::dataset::{Dataset, EpisodeMeta, write_atomic};
use vlgor_sim::validate::inject::{Fault, FaultTarget, InjectError, Injected, inject};
use vlgor_sim::validate::labels::Labels;
use vlgor_sim::validate::{Filter, Replayer, ValidatorConfig, Verdict, perceive};
use vlgor_vlm::perception::{ReadoutKind, StateReadout};

use crate::cli::{CheckArgs, FaultKind};
use crate::context::Context;
use crate::ecs::validate::{RolloutUnderCheck, validate_rollouts};
use crate::error::CliError;
use vlgor_sim::EnvSpec;

mod color_swap;
mod summary;

/// What was injected per rollout, and per reason in words how many rollouts could not take
/// the fault.
type Injections = (Vec<Option<Injected>>, BTreeMap<String, usize>);

use summary::{print_summary, summarise};

/// Rollouts validated per call (the progress bar advances per chunk).
const CHUNK: usize = 64;
/// Frame size rendered for frozen-frame injection into datasets without frames.
const INJECT_FRAME_SIZE: usize = 64;

fn fault_of(kind: FaultKind) -> Fault {
    match kind {
        FaultKind::Overlap => Fault::Overlap,
        FaultKind::Teleport => Fault::Teleport,
        FaultKind::WrongBall => Fault::WrongBall,
        FaultKind::FrozenFrame => Fault::FrozenFrame,
        FaultKind::ThroughTable => Fault::ThroughTable,
        FaultKind::Lift => Fault::Lift,
        FaultKind::Relabel => Fault::Relabel,
        FaultKind::ColorSwap => Fault::ColorSwap,
    }
}

/// What [`load`] takes from the command line.
struct LoadArgs<'a> {
    dir: &'a Path,
    limit: Option<usize>,
    readout: Option<&'a Path>,
    steps_per_action: Option<usize>,
}

/// Everything the command needs from the dataset, per episode.
struct Loaded {
    rollouts: Vec<RolloutUnderCheck>,
    metas: Vec<EpisodeMeta>,
    /// How the states were obtained, in words.
    states_from: &'static str,
}

/// What `vlgor check` validates and where it reports.
#[derive(Clone, Debug)]
pub struct CheckPlan {
    /// Rollout directory (dataset format), real or imagined.
    pub dir: PathBuf,
    /// A fault put into every rollout before checking (to measure the validator).
    pub inject: Option<Fault>,
    /// The JSON report written.
    pub report: PathBuf,
    /// The filter deciding the verdicts ([`Filter::Drop`] or [`Filter::Truncate`]).
    pub filter: Filter,
    /// A state readout for datasets without states.
    pub readout: Option<PathBuf>,
    /// Check only the first N episodes.
    pub limit: Option<usize>,
    /// Env steps per stored transition for datasets without states.
    pub steps_per_action: Option<usize>,
}

/// What a check found.
pub struct CheckOutcome {
    pub summary: summary::Summary,
    /// How the states were obtained, in words.
    pub states_from: &'static str,
    /// Per reason in words, rollouts that could not take the injected fault.
    pub not_injected: BTreeMap<String, usize>,
    pub seconds: f64,
}

pub fn run(ctx: &Context, args: &CheckArgs) -> Result<(), CliError> {
    if let Some(report) = &args.report {
        crate::out_paths::check_out_file(report, "--report")?;
    }
    let plan = CheckPlan {
        dir: args.dir.clone(),
        inject: args.inject.map(fault_of),
        report: args
            .report
            .clone()
            .unwrap_or_else(|| args.dir.join("check_report.json")),
        filter: args.policy,
        readout: args.readout.clone(),
        limit: args.limit,
        steps_per_action: args.steps_per_action,
    };
    let o = check(ctx, &plan)?;
    let s = &o.summary;
    if !ctx.json {
        print_summary(&plan, &o);
        println!("report: {}", plan.report.display());
    }
    let mut line = json!({
        "rollouts": s.rollouts,
        "flagged": s.flagged,
        "by_reason": s.by_reason_counts(),
        "verdicts": s.verdicts,
        "report": plan.report,
    });
    if plan.inject.is_some() {
        line["injected"] = s.injected.into();
        line["recall"] = json!((s.injected > 0).then(|| s.recall()));
    }
    ctx.emit_json(&line);
    Ok(())
}

/// Validates the rollouts of `plan.dir` and writes the JSON report to `plan.report`.
pub fn check(ctx: &Context, plan: &CheckPlan) -> Result<CheckOutcome, CliError> {
    let args = plan;
    let policy = plan.filter;
    if args.limit == Some(0) {
        return Err(CliError::Input("--limit must be at least 1".into()));
    }
    if args.steps_per_action == Some(0) {
        return Err(CliError::Input(
            "--steps-per-action must be at least 1".into(),
        ));
    }
    let data = Dataset::open(&args.dir, None).map_err(|e| CliError::Input(e.to_string()))?;
    let env: EnvKind = data.manifest.env.parse()?;
    let has_states = data.manifest.state_dim > 0;
    let cfg = if has_states {
        ValidatorConfig::for_true_states(env)
    } else {
        ValidatorConfig::for_env(env)
    };
    let load_args = LoadArgs {
        dir: &args.dir,
        limit: args.limit,
        readout: args.readout.as_deref(),
        steps_per_action: args.steps_per_action,
    };
    let mut loaded = load(ctx, &data, env, &load_args)?;
    drop(data);

    let fault = args.inject;
    let (injected, not_applicable) = match fault {
        Some(f) => inject_all(ctx, f, &mut loaded, &cfg, &args.dir)?,
        None => (vec![None; loaded.rollouts.len()], BTreeMap::new()),
    };
    let start = std::time::Instant::now();
    let rollouts = std::mem::take(&mut loaded.rollouts);
    let label = format!("check {}", args.dir.display());
    let verdicts = check_all(ctx, rollouts, &cfg, policy, &label)?;
    let secs = start.elapsed().as_secs_f64();

    let summary = summarise(&verdicts, &injected, fault);
    let report = json!({
        "dir": args.dir,
        "env": env.name(),
        "states_from": loaded.states_from,
        "policy": policy.name(),
        "config": cfg,
        "seconds": secs,
        "summary": summary.json(),
        "not_injected": not_applicable,
        "episodes": loaded.metas.iter().zip(&verdicts).zip(&injected).map(|((m, v), inj)| json!({
            "index": m.index,
            "seed": m.seed,
            "instruction": m.instruction.text,
            "injected": inj,
            "verdict": v,
        })).collect::<Vec<_>>(),
    });
    let bytes = serde_json::to_vec_pretty(&report).map_err(anyhow::Error::from)?;
    write_atomic(&plan.report, &bytes).map_err(|e| CliError::Other(e.into()))?;
    Ok(CheckOutcome {
        summary,
        states_from: loaded.states_from,
        not_injected: not_applicable,
        seconds: secs,
    })
}

/// Puts `fault` into every rollout (frames rendered first for frozen frames); returns what was
/// injected per rollout and, per reason in words, how many rollouts could not take it.
fn inject_all(
    ctx: &Context,
    fault: Fault,
    loaded: &mut Loaded,
    cfg: &ValidatorConfig,
    dir: &Path,
) -> Result<Injections, CliError> {
    if matches!(fault, Fault::FrozenFrame | Fault::ColorSwap) {
        render_missing_frames(ctx, &mut loaded.rollouts)?;
    }
    if fault == Fault::ColorSwap {
        return color_swap::inject_all(ctx, loaded, cfg, dir);
    }
    let mut injected = vec![None; loaded.rollouts.len()];
    let mut not_applicable = BTreeMap::<String, usize>::new();
    let mut rp = Replayer::new();
    for (i, r) in loaded.rollouts.iter_mut().enumerate() {
        let mut rng =
            ChaCha8Rng::seed_from_u64(ctx.seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let target = FaultTarget {
            goal: &r.goal,
            states: &mut r.states,
            actions: &r.actions,
            frames: r.frames.as_deref_mut(),
            labels: r.labels.as_mut(),
            steps_per_action: r.steps_per_action,
        };
        match inject(fault, target, &mut rp, cfg, &mut rng) {
            Ok(x) => injected[i] = Some(x),
            Err(InjectError::NotApplicable { why, .. }) => {
                *not_applicable.entry(why).or_default() += 1;
            }
            Err(InjectError::Sim(e)) => {
                return Err(CliError::Input(format!(
                    "{}: episode {}: {e}",
                    dir.display(),
                    loaded.metas[i].index
                )));
            }
        }
    }
    Ok((injected, not_applicable))
}

/// Validates `rollouts` in chunks with a progress bar.
fn check_all(
    ctx: &Context,
    mut rollouts: Vec<RolloutUnderCheck>,
    cfg: &ValidatorConfig,
    policy: Filter,
    label: &str,
) -> Result<Vec<Verdict>, CliError> {
    let bar = ctx.progress(rollouts.len() as u64, label);
    let mut renderer = frame_renderer(ctx, &rollouts)?;
    let mut verdicts: Vec<Verdict> = Vec::with_capacity(rollouts.len());
    while !rollouts.is_empty() {
        let rest = rollouts.split_off(CHUNK.min(rollouts.len()));
        let chunk = std::mem::replace(&mut rollouts, rest);
        let len = chunk.len() as u64;
        verdicts.extend(validate_rollouts(chunk, cfg, policy, renderer.as_mut())?);
        bar.inc(len);
    }
    bar.finish_and_clear();
    Ok(verdicts)
}

/// The validator's quality on a real dataset with states (the pipeline's statistics): false
/// alarms on the rollouts as they are, and for every fault kind, the share of rollouts that
/// took the fault and were flagged with its reason. Writes nothing.
pub fn validator_statistics(
    ctx: &Context,
    dir: &Path,
) -> Result<crate::pipeline::ValidatorRecord, CliError> {
    let data = Dataset::open(dir, None).map_err(|e| CliError::Input(e.to_string()))?;
    let env: EnvKind = data.manifest.env.parse()?;
    let cfg = if data.manifest.state_dim > 0 {
        ValidatorConfig::for_true_states(env)
    } else {
        ValidatorConfig::for_env(env)
    };
    let args = LoadArgs {
        dir,
        limit: None,
        readout: None,
        steps_per_action: None,
    };
    let clean = load(ctx, &data, env, &args)?;
    drop(data);
    let policy = Filter::Drop;
    let n = clean.rollouts.len();
    let verdicts = check_all(ctx, clean.rollouts.clone(), &cfg, policy, "validator: real")?;
    let flagged = verdicts.iter().filter(|v| !v.violations.is_empty()).count();
    let (mut caught, mut injected) = (0usize, 0usize);
    let mut per_fault = BTreeMap::new();
    for fault in Fault::ALL {
        let mut copy = Loaded {
            rollouts: clean.rollouts.clone(),
            metas: clean.metas.clone(),
            states_from: clean.states_from,
        };
        let (inj, not_applicable) = inject_all(ctx, fault, &mut copy, &cfg, dir)?;
        let label = format!("validator: {fault}");
        let v = check_all(ctx, copy.rollouts, &cfg, policy, &label)?;
        let s = summarise(&v, &inj, Some(fault));
        caught += s.caught;
        injected += s.injected;
        per_fault.insert(
            fault.name().to_string(),
            crate::pipeline::FaultRecord {
                injected: s.injected,
                recall: (s.injected > 0).then(|| s.recall()),
                not_injected: not_applicable,
            },
        );
    }
    Ok(crate::pipeline::ValidatorRecord {
        rollouts: n,
        real_flagged: flagged,
        real_false_alarm_rate: flagged as f64 / n.max(1) as f64,
        injected,
        injected_recall: (injected > 0).then(|| caught as f64 / injected as f64),
        per_fault,
        config: serde_json::to_value(&cfg).map_err(anyhow::Error::from)?,
    })
}

/// Builds the rollouts of the selected episodes: stored states, or states rebuilt from the
/// perceived states (read by `--readout` from the frames, or the stored observations).
fn load(ctx: &Context, data: &Dataset, env: EnvKind, args: &LoadArgs) -> Result<Loaded, CliError> {
    let count = args.limit.unwrap_or(usize::MAX).min(data.episodes.len());
    let metas: Vec<EpisodeMeta> = data.episodes[..count].to_vec();
    let frame_spec = data.manifest.frames.clone();
    if let Some(f) = &frame_spec
        && f.width != f.height
    {
        return Err(CliError::Input(format!(
            "{}: frames are {}x{}; the frame check needs square frames",
            args.dir.display(),
            f.width,
            f.height
        )));
    }
    let has_states = data.manifest.state_dim > 0;
    let readout = match (args.readout, has_states) {
        (Some(path), false) => {
            let Some(f) = &frame_spec else {
                return Err(CliError::Input(format!(
                    "{}: --readout needs stored frames, and this dataset has none",
                    args.dir.display()
                )));
            };
            let mut r = StateReadout::new(ReadoutKind::for_env(env), f.height as i64, ctx.device)
                .map_err(|e| CliError::Input(format!("--readout: {e}")))?;
            r.load(path)
                .map_err(|e| CliError::Input(format!("--readout {}: {e}", path.display())))?;
            Some(r)
        }
        _ => None,
    };
    let states_from = match (has_states, readout.is_some()) {
        (true, _) => "stored simulator states",
        (false, true) => "states read out of the frames (--readout)",
        (false, false) => "stored observations (perceived states)",
    };
    let h = if has_states {
        1
    } else {
        // The world model's keyframe stride: what imagined datasets store per transition.
        args.steps_per_action
            .unwrap_or(vlgor_vlm::world_model::config::default_horizon(env))
    };
    let mut rp = Replayer::new();
    let mut rollouts = Vec::with_capacity(count);
    for m in &metas {
        let rows = m.first_row..m.first_row + m.length + 1;
        let frames = match (&frame_spec, &data.frames) {
            (Some(f), Some(all)) => {
                let n = f.height * f.width * 3;
                Some(
                    rows.clone()
                        .map(|r| all[r * n..(r + 1) * n].to_vec())
                        .collect::<Vec<_>>(),
                )
            }
            _ => None,
        };
        let bad = |e: String| {
            CliError::Input(format!("{}: episode {}: {e}", args.dir.display(), m.index))
        };
        let spec = EnvSpec::of_goal(&m.instruction.goal);
        if spec.kind() != env {
            return Err(bad(format!(
                "its instruction is for {}, the dataset for {env}",
                spec.kind()
            )));
        }
        let mut sim = spec.make();
        sim.reset(m.seed, &m.instruction)
            .map_err(|e| bad(e.to_string()))?;
        let states = if has_states {
            rows.clone().map(|r| data.state(r).to_vec()).collect()
        } else {
            let perceived: Vec<Vec<f32>> = match (&readout, &frames) {
                (Some(r), Some(fr)) => r
                    .read(&fr.concat(), fr.len())
                    .map_err(|e| bad(format!("readout: {e}")))?,
                _ => rows
                    .clone()
                    .map(|r| perceive(env, data.observation(r)))
                    .collect(),
            };
            let base = sim.state();
            perceived
                .iter()
                .map(|p| rp.perceived_to_state(&m.instruction.goal, &base, p))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad(e.to_string()))?
        };
        let tr = m.first_transition..m.first_transition + m.length;
        let actions = tr.clone().map(|t| data.actions.get(t)).collect();
        let labels = Labels {
            rewards: data.rewards[tr.clone()].to_vec(),
            success: data.success[tr.clone()].iter().map(|&x| x != 0).collect(),
            terminals: data.terminals[tr].iter().map(|&x| x != 0).collect(),
        };
        rollouts.push(RolloutUnderCheck {
            goal: m.instruction.goal.clone(),
            states,
            frame_size: frame_spec.as_ref().map_or(0, |f| f.height),
            camera: frame_spec
                .as_ref()
                .map_or_else(|| sim.cameras()[0].to_string(), |f| f.camera.clone()),
            frames,
            actions,
            steps_per_action: h,
            labels: Some(labels),
        });
    }
    Ok(Loaded {
        rollouts,
        metas,
        states_from,
    })
}

/// Renders frames from the states of rollouts without frames (for frozen-frame and colour-swap
/// injection).
fn render_missing_frames(
    ctx: &Context,
    rollouts: &mut [RolloutUnderCheck],
) -> Result<(), CliError> {
    if rollouts.iter().all(|r| r.frames.is_some()) {
        return Ok(());
    }
    let mut renderer = Renderer::new(RenderConfig {
        width: INJECT_FRAME_SIZE as u32,
        height: INJECT_FRAME_SIZE as u32,
        supersample: ctx.config.render.supersample,
    })
    .map_err(|e| CliError::Other(e.into()))?;
    let bar = ctx.progress(
        rollouts.len() as u64,
        "render frames for frozen-frame injection",
    );
    let mut rp = Replayer::new();
    for r in rollouts.iter_mut().filter(|r| r.frames.is_none()) {
        let env = rp.env(&r.goal)?;
        let scenes = r
            .states
            .iter()
            .map(|s| {
                env.set_state(s)?;
                env.scene(&r.camera)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let batch = renderer
            .render_batch(&scenes)
            .map_err(|e| CliError::Other(e.into()))?;
        let n = batch.frame_len();
        r.frames = Some(batch.pixels.chunks_exact(n).map(<[u8]>::to_vec).collect());
        r.frame_size = INJECT_FRAME_SIZE;
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(())
}

/// A renderer at the frame size of the rollouts with frames (the configured supersampling, so
/// frames stored by `vlgor collect --frames` re-render identically).
fn frame_renderer(
    ctx: &Context,
    rollouts: &[RolloutUnderCheck],
) -> Result<Option<Renderer>, CliError> {
    let Some(size) = rollouts
        .iter()
        .find(|r| r.frames.is_some())
        .map(|r| r.frame_size)
    else {
        return Ok(None);
    };
    Renderer::new(RenderConfig {
        width: size as u32,
        height: size as u32,
        supersample: ctx.config.render.supersample,
    })
    .map(Some)
    .map_err(|e| CliError::Other(e.into()))
}
