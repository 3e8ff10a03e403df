//! `vlgor varl`: the VARL comparison (see [`crate::online::compare`]).

use vlgor_sim::EnvSpec;
use vlgor_sim::metaworld::Task;

use crate::cli::{AdvisorArg, VarlArgs};
use crate::context::Context;
use crate::error::CliError;
use crate::online::compare::{ComparePlan, CompareTask, REPORT_FILE, compare};
use crate::online::compare_report;

pub fn run(ctx: &Context, a: &VarlArgs) -> Result<(), CliError> {
    let v = &ctx.config.varl;
    // `[<env>.varl] expert_advisor` may add or drop the oracle row per simulator.
    let advisors = |env: vlgor_sim::EnvKind| -> Result<Vec<AdvisorArg>, CliError> {
        let mut a = vec![AdvisorArg::None, AdvisorArg::WorldModel];
        if ctx.config.for_env(env)?.varl.expert_advisor {
            a.push(AdvisorArg::Expert);
        }
        Ok(a)
    };
    let mut tasks = Vec::new();
    if let Some(vlm) = &a.clevr_vlm {
        tasks.push(CompareTask {
            spec: EnvSpec::Clevr,
            vlm: vlm.clone(),
            steps: v.clevr_steps,
            threshold: v.clevr_threshold,
            advisors: advisors(vlgor_sim::EnvKind::Clevr)?,
        });
    }
    if let Some(vlm) = &a.metaworld_vlm {
        let names: Vec<Task> = v.tasks().map_err(|(k, allowed)| {
            CliError::Input(format!("config: key '{k}' must be {allowed}"))
        })?;
        for task in names {
            tasks.push(CompareTask {
                spec: EnvSpec::MetaWorld(task),
                vlm: vlm.clone(),
                steps: v.metaworld_steps,
                threshold: v.metaworld_threshold,
                advisors: advisors(vlgor_sim::EnvKind::MetaWorld)?,
            });
        }
    }
    for (flag, dir) in [
        ("--clevr-vlm", &a.clevr_vlm),
        ("--metaworld-vlm", &a.metaworld_vlm),
    ] {
        if let Some(d) = dir
            && !d.is_dir()
        {
            return Err(CliError::Input(format!(
                "{flag} {}: not a directory (a world-model run from `vlgor train-vlm` or a \
                 pipeline's vlm/)",
                d.display()
            )));
        }
    }
    let seeds = if a.seeds.is_empty() {
        v.seeds.clone()
    } else {
        a.seeds.clone()
    };
    let plan = ComparePlan {
        out: a.out.clone(),
        tasks,
        seeds,
    };
    let results = compare(ctx, &plan)?;
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    compare_report::write(&plan.out, &results, &command)?;
    if !ctx.json {
        for t in &results.tasks {
            println!(
                "{}: advised/unadvised steps to {:.2} = {}; bar {}",
                t.task,
                t.threshold,
                t.ratio.map_or("n/a".into(), |r| format!("{r:.2}x")),
                if t.meets_bar { "met" } else { "not met" }
            );
        }
        println!("{}", plan.out.join(REPORT_FILE).display());
    }
    ctx.emit_json(&serde_json::to_value(&results).map_err(|e| CliError::Other(e.into()))?);
    Ok(())
}
