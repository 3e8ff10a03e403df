//! `vlgor imagine`: imagined rollouts from real initial frames, rewarded, physics-checked and
//! written as an imagined dataset.

use crate::cli::ImagineArgs;
use crate::context::Context;
use crate::error::CliError;
use crate::imagination::{ImaginePlan, InstructionSet, imagine_dataset};

pub fn run(ctx: &Context, a: &ImagineArgs) -> Result<(), CliError> {
    let plan = ImaginePlan {
        env: a.env.env,
        vlm: a.vlm.clone(),
        readout: a.readout.clone(),
        from: a.from.clone(),
        set: InstructionSet::parse(&a.instructions)?,
        count: a.count,
        out: a.out.clone(),
        horizon: a.horizon.unwrap_or(ctx.config.vlm.imagine_horizon),
        filter: a.filter,
        batch: ctx.config.vlm.imagine_batch,
        candidates: a.candidates,
        temperature: a.temperature,
        verified_only: a.verify,
        dynamics: a.dynamics,
    };
    let s = imagine_dataset(ctx, &plan)?;
    if !ctx.json {
        println!(
            "imagined {} rollouts ({}) with the {} model in {:.1} s ({:.0} frames/s)",
            s.rollouts, s.instructions, s.stage, s.seconds, s.imagined_frames_per_sec
        );
        println!(
            "goal reached (read-out states): {} / {}; physics: {} valid, {} truncated, {} rejected",
            s.goal_reached, s.rollouts, s.valid, s.truncated, s.rejected
        );
        if s.candidates_per_start > 1 || s.temperature > 0.0 {
            println!(
                "generate and verify: {} starts x {} candidates at temperature {}: {} verified \
                 rollouts, {} starts with one or more",
                s.starts, s.candidates_per_start, s.temperature, s.verified, s.verified_starts
            );
        }
        for (reason, n) in &s.by_reason {
            println!("  flagged for {reason}: {n}");
        }
        println!(
            "wrote {} rollouts ({} transitions, filter {}) to {}",
            s.written,
            s.transitions,
            s.filter,
            a.out.display()
        );
    }
    ctx.emit_json(&serde_json::to_value(&s).map_err(|e| CliError::Other(e.into()))?);
    Ok(())
}
