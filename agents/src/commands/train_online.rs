//! `vlgor train-online`: online RL (double DQN, SAC) in the simulators, optionally advised by
//! the world model (VARL); see [`crate::online`].

use vlgor_rl::online::OnlineAlgo;
use vlgor_sim::EnvSpec;
use vlgor_sim::metaworld::Task;

use crate::cli::{OnlineAlgoArg, TrainOnlineArgs};
use crate::context::Context;
use crate::error::CliError;
use crate::online::{OnlinePlan, SUMMARY_FILE, train};

pub fn run(ctx: &Context, a: &TrainOnlineArgs) -> Result<(), CliError> {
    let spec = match (a.env.env, a.task) {
        (vlgor_sim::EnvKind::Clevr, None) => EnvSpec::Clevr,
        (vlgor_sim::EnvKind::Clevr, Some(t)) => {
            return Err(CliError::Input(format!(
                "--task {t} is a Meta-World task; clevr has none"
            )));
        }
        (vlgor_sim::EnvKind::MetaWorld, t) => EnvSpec::MetaWorld(t.unwrap_or(Task::Reach)),
    };
    let algo = match a.algo {
        OnlineAlgoArg::Dqn => OnlineAlgo::Dqn,
        OnlineAlgoArg::Sac => OnlineAlgo::Sac,
    };
    let plan = OnlinePlan {
        spec,
        level: a.level,
        algo,
        advisor: a.advisor,
        reward: a.reward,
        steps: a.steps,
        out: a.out.clone(),
        vlm: a.vlm.clone(),
        resume: a.resume,
    };
    let s = train(ctx, &plan)?;
    if !ctx.json {
        println!(
            "{} env steps, {} updates, {} training episodes; final success {}; advisor {:.1}% of \
             {:.1} s ({} requests); {}",
            s.env_steps,
            s.updates,
            s.train_episodes,
            s.final_success_rate
                .map_or("n/a".into(), |v| format!("{:.3}", v)),
            100.0 * s.advisor_share,
            s.seconds,
            s.advisor_requests,
            plan.out.join(SUMMARY_FILE).display()
        );
    }
    ctx.emit_json(&serde_json::to_value(&s).map_err(|e| CliError::Other(e.into()))?);
    Ok(())
}
