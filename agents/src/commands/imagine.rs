//! `vlgor imagine`: imagined rollouts from real initial frames (world model) or states (KALM),
//! rewarded, physics-checked and written as an imagined dataset.

use crate::cli::ImagineArgs;
use crate::context::Context;
use crate::error::CliError;
use crate::imagination::Generator;
use crate::imagination::kalm::imagine_kalm;
use crate::imagination::{ImaginePlan, InstructionSet, imagine_dataset};

pub fn run(ctx: &Context, a: &ImagineArgs) -> Result<(), CliError> {
    let set = InstructionSet::parse(&a.instructions)?;
    let plan = ImaginePlan {
        env: a.env.env,
        vlm: a.vlm.clone(),
        readout: a.readout.clone(),
        from: a.from.clone(),
        horizon: a.horizon.unwrap_or(ctx.config.vlm.horizon_for(&set)),
        set,
        count: a.count,
        out: a.out.clone(),
        filter: a.filter,
        batch: ctx.config.vlm.imagine_batch,
        candidates: a.candidates,
        temperature: a.temperature,
        verified_only: a.verify,
        dynamics: a.dynamics,
        actions: ctx.config.vlm.imagine_actions,
    };
    let s = match a.generator {
        Generator::WorldModel => imagine_dataset(ctx, &plan)?,
        Generator::Kalm => imagine_kalm(ctx, &plan)?,
    };
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
        let p = &s.plausibility;
        let share = |n: usize, of: usize| 100.0 * n as f64 / of.max(1) as f64;
        for (reason, n) in &s.by_reason {
            let t = p.transitions_by_reason.get(reason).copied().unwrap_or(0);
            println!(
                "  flagged for {reason}: {n} rollouts ({:.1}%), {t} transitions ({:.1}%)",
                share(*n, s.rollouts),
                share(t, s.imagined_transitions)
            );
        }
        println!(
            "position error vs rapier replaying the actions: mean {:.4} m, largest object {:.4} m \
             ({} of {} transitions replayed)",
            p.mean_position_error_m,
            p.mean_max_position_error_m,
            p.replayed_transitions,
            s.imagined_transitions
        );
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
