//! `vlgor vlm eval`: the world model's quality on a held-out dataset.

use serde_json::json;
use vlgor_sim::dataset::Dataset;

use crate::cli::VlmEvalArgs;
use crate::context::Context;
use crate::error::CliError;
use crate::vlm_eval::evaluate;
use crate::vlm_run::{VlmRun, load_readout, write_json};

pub fn run(ctx: &Context, a: &VlmEvalArgs) -> Result<(), CliError> {
    let run = VlmRun::new(&a.run);
    let (model, stage) = match a.stage.as_deref() {
        None => {
            let (m, s) = run.load_for_inference(ctx)?;
            (m, s.to_string())
        }
        Some(s @ ("base" | "lora" | "full")) => (run.load_stage(ctx, s)?, s.to_string()),
        Some(other) => {
            return Err(CliError::Input(format!(
                "--stage {other}: valid stages are base, lora, full"
            )));
        }
    };
    let env = model.config().env;
    let readout_dir = a.readout.clone().unwrap_or_else(|| run.readout_dir());
    let readout = load_readout(ctx, &readout_dir, env)?;
    let data = Dataset::open(&a.data, Some(&env.to_string()))
        .map_err(|e| CliError::Input(e.to_string()))?;
    let report = evaluate(ctx, &model, &stage, &readout, &data, &ctx.config.vlm)?;
    let path = a.report.clone().unwrap_or_else(|| match a.stage {
        Some(_) => a.run.join(format!("eval-{stage}.json")),
        None => a.run.join("eval.json"),
    });
    write_json(&path, &report)?;
    let strips = path.parent().unwrap_or(&a.run).to_path_buf();
    crate::vlm_eval::real_vs_imagined(ctx, &model, &data, 4, &strips)?;
    if !ctx.json {
        println!(
            "world model '{stage}' of {} on {}",
            a.run.display(),
            a.data.display()
        );
        println!(
            "{:<22} {:>9} {:>7} {:>7} {:>6}",
            "metric", "PSNR dB", "SSIM", "MED", "n"
        );
        for (name, q) in [
            ("one step", report.one_step),
            ("one step (copy input)", report.copy_one_step),
            ("whole rollout", report.rollout),
            ("rollout (copy input)", report.copy_rollout),
        ] {
            println!(
                "{name:<22} {:>9.2} {:>7.4} {:>7.4} {:>6}",
                q.psnr, q.ssim, q.med, q.n
            );
        }
        println!(
            "goal-reaching rate of counterfactual rollouts: {:.1}% of {}",
            100.0 * report.goal_rate,
            report.goal_rollouts
        );
        println!("report: {}", path.display());
        println!(
            "real | imagined strips: {} and .gif",
            strips.join("real_vs_imagined.png").display()
        );
    }
    ctx.emit_json(&json!({
        "stage": report.stage,
        "one_step": report.one_step,
        "rollout": report.rollout,
        "copy_one_step": report.copy_one_step,
        "copy_rollout": report.copy_rollout,
        "goal_rate": report.goal_rate,
        "report": path.display().to_string(),
    }));
    Ok(())
}
